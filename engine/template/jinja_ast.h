// The syntax tree of a parsed Jinja template: expressions (Expr) and
// statements (Node). Made by the parser, read-only afterwards; every node
// keeps the line and column it started at for error messages.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "template/jinja_value.h"

namespace tokamak::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind {
    Literal,   // literal
    Name,      // name
    List,      // args: items; name "tuple" for (a, b)
    Dict,      // args: key0, value0, key1, value1, ...
    GetAttr,   // args[0].name
    GetItem,   // args[0][args[1]]
    Slice,     // args[0][args[1]:args[2]:args[3]] (null parts absent)
    Call,      // args[0](args[1..], kwargs)
    Filter,    // args[0] | name(args[1..], kwargs)
    Test,      // args[0] is [not] name(args[1..])
    Neg,       // -args[0]
    Pos,       // +args[0]
    Not,       // not args[0]
    And,       // args[0] and args[1]
    Or,        // args[0] or args[1]
    Binary,    // args[0] <name> args[1]: + - * / // % ** ~
    Compare,   // args[0] ops[0] args[1] ops[1] args[2] ...: == != < <= > >= in notin
    CondExpr,  // args[1] if args[0] else args[2] (args[2] may be null)
  };
  Kind kind = Kind::Literal;
  int line = 0;
  int column = 0;
  Value literal;
  std::string name;
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  std::vector<std::string> ops;  // Compare operators
  bool negate = false;           // Test: "is not"
};

struct Node;
using Body = std::vector<std::unique_ptr<Node>>;

struct MacroParam {
  std::string name;
  ExprPtr default_value;  // null: required
};

struct Node {
  enum class Kind {
    Text,      // text
    Output,    // {{ expr }}
    If,        // branches: (condition, body); a final else has a null condition
    For,       // for targets in expr [if filter]: body [else: else_body]
    Set,       // set targets = expr, or set targets[0].attr = expr
    SetBlock,  // set targets[0] %}body{% endset
    Macro,     // macro name(params): body
    Break,
    Continue,
    Scope,  // body rendered in place ({% generation %})
  };
  Kind kind = Kind::Text;
  int line = 0;
  int column = 0;
  std::string text;
  ExprPtr expr;
  ExprPtr filter;
  std::vector<std::pair<ExprPtr, Body>> branches;
  std::vector<std::string> targets;
  std::string attr;  // Set on a namespace attribute
  std::string name;  // Macro
  std::vector<MacroParam> params;
  Body body;
  Body else_body;
};

}  // namespace tokamak::jinja
