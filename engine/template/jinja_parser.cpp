#include "template/jinja_parser.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <initializer_list>
#include <string>
#include <utility>

#include "template/jinja_builtins.h"
#include "template/jinja_error.h"
#include "template/jinja_lexer.h"

namespace tokamak::jinja {
namespace {

using T = Token::Type;

class Parser {
 public:
  Parser(std::vector<Token> tokens, const ParseLimits& limits)
      : toks_(std::move(tokens)), limits_(limits) {}

  Body parse_all() {
    Body body;
    std::string end;
    parse_body(body, {}, end, toks_[0], "");
    return body;
  }

 private:
  // ---- token stream ----
  const Token& cur() const { return toks_[pos_]; }
  const Token& peek(size_t k = 1) const { return toks_[std::min(pos_ + k, toks_.size() - 1)]; }
  const Token& advance() {
    const Token& t = toks_[pos_];
    if (pos_ + 1 < toks_.size()) ++pos_;
    return t;
  }
  bool is_op(std::string_view op) const { return cur().type == T::Op && cur().text == op; }
  bool is_name(std::string_view n) const { return cur().type == T::Name && cur().text == n; }
  bool accept_op(std::string_view op) {
    if (!is_op(op)) return false;
    advance();
    return true;
  }
  bool accept_name(std::string_view n) {
    if (!is_name(n)) return false;
    advance();
    return true;
  }

  [[noreturn]] void fail_here(std::string message) const {
    fail(std::move(message), cur().line, cur().column);
  }
  [[noreturn]] void fail_expected(std::string_view what) const {
    const Token& prev = toks_[pos_ > 0 ? pos_ - 1 : 0];
    fail_here("expected " + std::string(what) + " after " + describe(prev) + ", found " +
              describe(cur()));
  }
  void expect_op(std::string_view op) {
    if (!accept_op(op)) fail_expected("'" + std::string(op) + "'");
  }
  std::string expect_name(std::string_view what) {
    if (cur().type != T::Name) fail_expected(what);
    return advance().text;
  }
  void expect_block_end() {
    if (cur().type != T::BlockEnd) fail_expected("'%}'");
    advance();
  }

  struct DepthGuard {
    DepthGuard(Parser& p, const Token& at) : p_(p) {
      if (++p_.depth_ > p_.limits_.max_nesting) {
        fail(
            "nested deeper than the limit of " + std::to_string(p_.limits_.max_nesting) + " levels",
            at.line, at.column);
      }
    }
    ~DepthGuard() { --p_.depth_; }
    Parser& p_;
  };

  static ExprPtr make(Expr::Kind kind, const Token& at) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = at.line;
    e->column = at.column;
    return e;
  }
  static ExprPtr binary(Expr::Kind kind, const Token& at, ExprPtr l, ExprPtr r,
                        std::string op = {}) {
    auto e = make(kind, at);
    e->name = std::move(op);
    e->args.push_back(std::move(l));
    e->args.push_back(std::move(r));
    return e;
  }

  // ---- statements ----

  // Parses nodes until a block tag named in `ends` (left unconsumed except its
  // name, returned in `end`); the end of the template is only fine at top level.
  void parse_body(Body& body, std::initializer_list<std::string_view> ends, std::string& end,
                  const Token& opener, std::string_view opener_name) {
    // Inside a block, unknown filters and tests fail only if evaluated (as in jinja2).
    struct BlockDepth {
      explicit BlockDepth(int& d, bool inside) : d_(d), inside_(inside) { d_ += inside_; }
      ~BlockDepth() { d_ -= inside_; }
      int& d_;
      bool inside_;
    } block_depth(block_depth_, ends.size() > 0);
    for (;;) {
      const Token& t = cur();
      if (t.type == T::End) {
        if (ends.size() == 0) return;
        fail("unclosed '" + std::string(opener_name) + "' block: expected '{% " +
                 std::string(*(ends.end() - 1)) + " %}' before the end of the template",
             opener.line, opener.column);
      }
      if (t.type == T::Text) {
        auto n = node(Node::Kind::Text, t);
        n->text = advance().text;
        body.push_back(std::move(n));
      } else if (t.type == T::VarBegin) {
        advance();
        auto n = node(Node::Kind::Output, t);
        n->expr = parse_expression();
        if (cur().type != T::VarEnd) fail_expected("'}}'");
        advance();
        body.push_back(std::move(n));
      } else {
        const Token& tag = peek();
        for (std::string_view e : ends) {
          if (tag.type == T::Name && tag.text == e) {
            advance();
            end = advance().text;
            return;
          }
        }
        if (ends.size() > 0 && tag.type == T::Name &&
            (tag.text == "elif" || tag.text == "else" || tag.text.rfind("end", 0) == 0)) {
          fail("unexpected '" + tag.text + "': the innermost open block is '" +
                   std::string(opener_name) + "' (line " + std::to_string(opener.line) +
                   "), expected '{% " + std::string(*(ends.end() - 1)) + " %}'",
               tag.line, tag.column);
        }
        advance();
        body.push_back(statement(t));
      }
    }
  }

  std::unique_ptr<Node> node(Node::Kind kind, const Token& at) {
    auto n = std::make_unique<Node>();
    n->kind = kind;
    n->line = at.line;
    n->column = at.column;
    return n;
  }

  std::unique_ptr<Node> statement(const Token& open) {
    DepthGuard guard(*this, open);
    if (cur().type != T::Name) fail_expected("a tag name");
    const Token& tag = advance();
    const std::string& w = tag.text;
    if (w == "if") return if_statement(open);
    if (w == "for") return for_statement(open);
    if (w == "set") return set_statement(open);
    if (w == "macro") return macro_statement(open);
    if (w == "generation") {
      auto n = node(Node::Kind::Scope, open);
      expect_block_end();
      std::string end;
      parse_body(n->body, {"endgeneration"}, end, open, "generation");
      expect_block_end();
      return n;
    }
    if (w == "break" || w == "continue") {
      if (loop_depth_ == 0) fail("'" + w + "' outside of a for loop", tag.line, tag.column);
      auto n = node(w == "break" ? Node::Kind::Break : Node::Kind::Continue, open);
      expect_block_end();
      return n;
    }
    if (w == "elif" || w == "else" || w.rfind("end", 0) == 0) {
      fail("unexpected '" + w + "': no open block it could belong to", tag.line, tag.column);
    }
    fail("unknown tag '" + w + "'", tag.line, tag.column);
  }

  std::unique_ptr<Node> if_statement(const Token& open) {
    auto n = node(Node::Kind::If, open);
    ExprPtr cond = parse_expression();
    for (;;) {
      expect_block_end();
      Body body;
      std::string end;
      parse_body(body, {"elif", "else", "endif"}, end, open, "if");
      n->branches.emplace_back(std::move(cond), std::move(body));
      if (end == "elif") {
        cond = parse_expression();
        continue;
      }
      if (end == "else") {
        expect_block_end();
        Body else_body;
        parse_body(else_body, {"endif"}, end, open, "if");
        n->branches.emplace_back(nullptr, std::move(else_body));
      }
      expect_block_end();
      return n;
    }
  }

  std::unique_ptr<Node> for_statement(const Token& open) {
    auto n = node(Node::Kind::For, open);
    const bool paren = accept_op("(");
    do {
      n->targets.push_back(expect_name("a loop variable"));
    } while (accept_op(","));
    if (paren) expect_op(")");
    if (!accept_name("in")) fail_expected("'in'");
    n->expr = parse_or();
    if (accept_name("if")) n->filter = parse_expression();
    if (is_name("recursive")) fail_here("recursive for loops are not supported");
    expect_block_end();
    ++loop_depth_;
    std::string end;
    parse_body(n->body, {"else", "endfor"}, end, open, "for");
    --loop_depth_;
    if (end == "else") {
      expect_block_end();
      parse_body(n->else_body, {"endfor"}, end, open, "for");
    }
    expect_block_end();
    return n;
  }

  std::unique_ptr<Node> set_statement(const Token& open) {
    auto n = node(Node::Kind::Set, open);
    n->targets.push_back(expect_name("a variable name"));
    if (accept_op(".")) {
      n->attr = expect_name("an attribute name");
    } else {
      while (accept_op(",")) n->targets.push_back(expect_name("a variable name"));
    }
    if (cur().type == T::BlockEnd && n->targets.size() == 1 && n->attr.empty()) {
      advance();
      n->kind = Node::Kind::SetBlock;
      std::string end;
      parse_body(n->body, {"endset"}, end, open, "set");
      expect_block_end();
      return n;
    }
    expect_op("=");
    n->expr = parse_tuple_or_expression();
    expect_block_end();
    return n;
  }

  std::unique_ptr<Node> macro_statement(const Token& open) {
    auto n = node(Node::Kind::Macro, open);
    n->name = expect_name("a macro name");
    expect_op("(");
    while (!is_op(")")) {
      if (!n->params.empty()) expect_op(",");
      MacroParam p;
      p.name = expect_name("a parameter name");
      if (accept_op("=")) p.default_value = parse_expression();
      n->params.push_back(std::move(p));
    }
    advance();
    expect_block_end();
    const int saved_loops = loop_depth_;
    loop_depth_ = 0;
    std::string end;
    parse_body(n->body, {"endmacro"}, end, open, "macro");
    loop_depth_ = saved_loops;
    if (cur().type == T::Name && cur().text == n->name) advance();
    expect_block_end();
    return n;
  }

  // ---- expressions ----

  ExprPtr parse_tuple_or_expression() {
    const Token& at = cur();
    ExprPtr first = parse_expression();
    if (!is_op(",")) return first;
    auto list = make(Expr::Kind::List, at);
    list->name = "tuple";
    list->args.push_back(std::move(first));
    while (accept_op(",")) {
      if (cur().type == T::BlockEnd) break;
      list->args.push_back(parse_expression());
    }
    return list;
  }

  ExprPtr parse_expression() {
    DepthGuard guard(*this, cur());
    ExprPtr e = parse_or();
    while (is_name("if")) {
      const Token& at = advance();
      auto c = make(Expr::Kind::CondExpr, at);
      c->args.push_back(parse_or());
      c->args.push_back(std::move(e));
      c->args.push_back(accept_name("else") ? parse_expression() : nullptr);
      e = std::move(c);
    }
    return e;
  }

  ExprPtr parse_or() {
    ExprPtr l = parse_and();
    while (is_name("or")) {
      const Token& at = advance();
      l = binary(Expr::Kind::Or, at, std::move(l), parse_and());
    }
    return l;
  }

  ExprPtr parse_and() {
    ExprPtr l = parse_not();
    while (is_name("and")) {
      const Token& at = advance();
      l = binary(Expr::Kind::And, at, std::move(l), parse_not());
    }
    return l;
  }

  ExprPtr parse_not() {
    if (is_name("not")) {
      DepthGuard guard(*this, cur());
      const Token& at = advance();
      auto e = make(Expr::Kind::Not, at);
      e->args.push_back(parse_not());
      return e;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    const Token& at = cur();
    ExprPtr first = parse_math1();
    ExprPtr cmp;
    for (;;) {
      std::string op;
      if (cur().type == T::Op && (cur().text == "==" || cur().text == "!=" || cur().text == "<" ||
                                  cur().text == "<=" || cur().text == ">" || cur().text == ">=")) {
        op = advance().text;
      } else if (is_name("in")) {
        advance();
        op = "in";
      } else if (is_name("not") && peek().type == T::Name && peek().text == "in") {
        advance();
        advance();
        op = "notin";
      } else {
        break;
      }
      if (!cmp) {
        cmp = make(Expr::Kind::Compare, at);
        cmp->args.push_back(std::move(first));
      }
      cmp->ops.push_back(op);
      cmp->args.push_back(parse_math1());
    }
    return cmp ? std::move(cmp) : std::move(first);
  }

  template <class Next>
  ExprPtr left_assoc(std::initializer_list<std::string_view> ops, Next next) {
    ExprPtr l = (this->*next)();
    for (;;) {
      bool matched = false;
      for (std::string_view op : ops) {
        if (is_op(op)) {
          const Token& at = advance();
          l = binary(Expr::Kind::Binary, at, std::move(l), (this->*next)(), std::string(op));
          matched = true;
          break;
        }
      }
      if (!matched) return l;
    }
  }
  ExprPtr parse_math1() { return left_assoc({"+", "-"}, &Parser::parse_concat); }
  ExprPtr parse_concat() { return left_assoc({"~"}, &Parser::parse_math2); }
  ExprPtr parse_math2() { return left_assoc({"*", "/", "//", "%"}, &Parser::parse_pow); }
  ExprPtr parse_pow() { return left_assoc({"**"}, &Parser::parse_unary_filtered); }
  ExprPtr parse_unary_filtered() { return parse_unary(true); }

  ExprPtr parse_unary(bool with_filter) {
    DepthGuard guard(*this, cur());
    ExprPtr e;
    if (is_op("-") || is_op("+")) {
      const Token& at = advance();
      e = make(at.text == "-" ? Expr::Kind::Neg : Expr::Kind::Pos, at);
      e->args.push_back(parse_unary(false));
    } else {
      e = parse_postfix(parse_primary());
    }
    return with_filter ? parse_filters(std::move(e)) : std::move(e);
  }

  ExprPtr parse_primary() {
    const Token& t = cur();
    switch (t.type) {
      case T::Name: {
        advance();
        auto e = make(Expr::Kind::Literal, t);
        if (t.text == "true" || t.text == "True") {
          e->literal = Value::boolean(true);
        } else if (t.text == "false" || t.text == "False") {
          e->literal = Value::boolean(false);
        } else if (t.text == "none" || t.text == "None") {
          e->literal = Value::none();
        } else {
          e->kind = Expr::Kind::Name;
          e->name = t.text;
        }
        return e;
      }
      case T::String: {
        std::string s;
        while (cur().type == T::String) s += advance().text;
        auto e = make(Expr::Kind::Literal, t);
        e->literal = Value::string(std::move(s));
        return e;
      }
      case T::Int:
      case T::Float:
        return number_literal();
      case T::Op:
        if (t.text == "(") return parenthesised();
        if (t.text == "[") return list_literal();
        if (t.text == "{") return dict_literal();
        [[fallthrough]];
      default:
        fail_here("expected an expression, found " + describe(t));
    }
  }

  ExprPtr number_literal() {
    const Token& t = advance();
    auto e = make(Expr::Kind::Literal, t);
    if (t.type == T::Float) {
      e->literal = Value::number(std::strtod(t.text.c_str(), nullptr));
      return e;
    }
    errno = 0;
    const long long v = std::strtoll(t.text.c_str(), nullptr, 10);
    if (errno == ERANGE) fail("integer literal " + t.text + " is out of range", t.line, t.column);
    e->literal = Value::integer(v);
    return e;
  }

  ExprPtr parenthesised() {
    const Token& at = advance();
    if (accept_op(")")) {
      auto empty = make(Expr::Kind::List, at);
      empty->name = "tuple";
      return empty;
    }
    ExprPtr e = parse_expression();
    if (is_op(",")) {
      auto list = make(Expr::Kind::List, at);
      list->name = "tuple";
      list->args.push_back(std::move(e));
      while (accept_op(",")) {
        if (is_op(")")) break;
        list->args.push_back(parse_expression());
      }
      e = std::move(list);
    }
    expect_op(")");
    return e;
  }

  ExprPtr list_literal() {
    const Token& at = advance();
    auto list = make(Expr::Kind::List, at);
    while (!is_op("]")) {
      if (!list->args.empty()) {
        expect_op(",");
        if (is_op("]")) break;
      }
      list->args.push_back(parse_expression());
    }
    advance();
    return list;
  }

  ExprPtr dict_literal() {
    const Token& at = advance();
    auto dict = make(Expr::Kind::Dict, at);
    while (!is_op("}")) {
      if (!dict->args.empty()) {
        expect_op(",");
        if (is_op("}")) break;
      }
      dict->args.push_back(parse_expression());
      expect_op(":");
      dict->args.push_back(parse_expression());
    }
    advance();
    return dict;
  }

  ExprPtr parse_postfix(ExprPtr e) {
    for (;;) {
      if (is_op(".")) {
        const Token& at = advance();
        if (cur().type == T::Int) {
          auto item = make(Expr::Kind::GetItem, at);
          item->args.push_back(std::move(e));
          item->args.push_back(number_literal());
          e = std::move(item);
          continue;
        }
        auto g = make(Expr::Kind::GetAttr, at);
        g->name = expect_name("an attribute name");
        g->args.push_back(std::move(e));
        e = std::move(g);
      } else if (is_op("[")) {
        e = subscript(std::move(e));
      } else if (is_op("(")) {
        e = call(std::move(e));
      } else {
        return e;
      }
    }
  }

  ExprPtr subscript(ExprPtr obj) {
    const Token& at = advance();
    ExprPtr parts[3];
    int num_parts = 0;
    bool is_slice = false;
    for (;;) {
      if (!is_op(":") && !is_op("]")) parts[num_parts] = parse_expression();
      if (num_parts == 0 && parts[0] && is_op(",")) {  // x[a, b]: a tuple key
        auto key = make(Expr::Kind::List, at);
        key->name = "tuple";
        key->args.push_back(std::move(parts[0]));
        while (accept_op(",") && !is_op("]")) key->args.push_back(parse_expression());
        parts[0] = std::move(key);
        break;
      }
      if (is_op(":") && num_parts < 2) {
        advance();
        is_slice = true;
        ++num_parts;
        continue;
      }
      break;
    }
    expect_op("]");
    if (!is_slice) {
      if (!parts[0]) fail("expected an index inside '[]'", at.line, at.column);
      return binary(Expr::Kind::GetItem, at, std::move(obj), std::move(parts[0]));
    }
    auto s = make(Expr::Kind::Slice, at);
    s->args.push_back(std::move(obj));
    for (auto& p : parts) s->args.push_back(std::move(p));
    return s;
  }

  // Arguments "(a, b, k=v)" after the callee; fills e->args (after e->args[0]) and kwargs.
  void call_arguments(Expr& e) {
    expect_op("(");
    bool first = true;
    while (!is_op(")")) {
      if (!first) {
        expect_op(",");
        if (is_op(")")) break;
      }
      first = false;
      if (cur().type == T::Name && peek().type == T::Op && peek().text == "=") {
        std::string key = advance().text;
        advance();
        e.kwargs.emplace_back(std::move(key), parse_expression());
      } else {
        if (!e.kwargs.empty()) fail_here("positional argument after a keyword argument");
        e.args.push_back(parse_expression());
      }
    }
    advance();
  }

  ExprPtr call(ExprPtr callee) {
    auto c = make(Expr::Kind::Call, cur());
    c->line = callee->line;
    c->column = callee->column;
    c->args.push_back(std::move(callee));
    call_arguments(*c);
    return c;
  }

  ExprPtr parse_filters(ExprPtr e) {
    for (;;) {
      if (is_op("|")) {
        advance();
        const Token& name = cur();
        auto f = make(Expr::Kind::Filter, name);
        f->name = expect_name("a filter name");
        if (!is_filter(f->name) && block_depth_ == 0) {
          fail("unknown filter '" + f->name + "'", name.line, name.column);
        }
        f->args.push_back(std::move(e));
        if (is_op("(")) call_arguments(*f);
        e = std::move(f);
      } else if (is_name("is")) {
        e = test(std::move(e));
      } else if (is_op("(")) {
        e = call(std::move(e));
      } else {
        return e;
      }
    }
  }

  ExprPtr test(ExprPtr subject) {
    advance();
    const bool negate = accept_name("not");
    const Token& name = cur();
    auto t = make(Expr::Kind::Test, name);
    t->negate = negate;
    t->name = expect_name("a test name");
    if (!is_test(t->name) && block_depth_ == 0) {
      fail("unknown test '" + t->name + "'", name.line, name.column);
    }
    t->args.push_back(std::move(subject));
    const Token& c = cur();
    if (is_op("(")) {
      call_arguments(*t);
    } else if ((c.type == T::Name && c.text != "else" && c.text != "or" && c.text != "and") ||
               c.type == T::String || c.type == T::Int || c.type == T::Float || is_op("[") ||
               is_op("{")) {
      if (is_name("is")) fail_here("tests cannot be chained with 'is'");
      t->args.push_back(parse_postfix(parse_primary()));
    }
    return t;
  }

  std::vector<Token> toks_;
  ParseLimits limits_;
  size_t pos_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;
  int block_depth_ = 0;
};

}  // namespace

Body parse_template(std::string_view source, const ParseLimits& limits) {
  return Parser(tokenize(source), limits).parse_all();
}

}  // namespace tokamak::jinja
