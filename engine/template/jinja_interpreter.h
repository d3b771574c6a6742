// Jinja interpreter: renders a parsed template over a set of variables, with
// jinja2's semantics as transformers uses it (sandboxed: no I/O, immutable
// lists and dicts) and hard limits on output size, loop iterations and macro
// recursion. Errors are thrown as TemplateError; the current location is
// tracked so that errors raised inside filters and methods can be placed.
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <vector>

#include "template/jinja_ast.h"
#include "template/jinja_value.h"

namespace tokamak::jinja {

struct RenderLimits {
  size_t max_output_bytes = size_t{8} << 20;  // also bounds every string and list built
  int64_t max_loop_iterations = 1'000'000;    // all loops, range() and filters together
  int max_recursion_depth = 100;              // nested macro calls
};

class Interpreter {
 public:
  // `now` is what strftime_now() formats (local time, like datetime.now()).
  Interpreter(const RenderLimits& limits, std::tm now);

  std::string render(const Body& body, const ValueItems& variables);

  // For builtins: call a macro or function value; the limits.
  Value call(const Value& callee, CallArgs& args);
  void check_size(size_t num_bytes) const;
  void count_iterations(int64_t n);
  const std::tm& now() const { return now_; }
  int line() const { return line_; }
  int column() const { return column_; }

 private:
  struct Scope {
    ValueItems vars;
    Scope* parent = nullptr;
  };
  enum class Flow { Normal, Break, Continue };

  Flow exec(const Body& body, std::string& out);
  Flow exec_node(const Node& n, std::string& out);
  Flow exec_for(const Node& n, std::string& out);
  void exec_set(const Node& n, Value v);
  void append(std::string& out, std::string_view s) const;

  Value eval(const Expr& e);
  Value eval_binary(const Expr& e);
  Value eval_compare(const Expr& e);
  Value eval_call(const Expr& e);
  Value eval_slice(const Expr& e);
  void eval_arguments(const Expr& e, CallArgs& args);
  Value make_macro(const Node& n);
  Value lookup(const std::string& name) const;
  void assign(const std::string& name, Value v);
  void at(const Expr& e) {
    line_ = e.line;
    column_ = e.column;
  }

  RenderLimits limits_;
  std::tm now_;
  Scope* scope_ = nullptr;
  Scope* root_ = nullptr;
  int64_t num_iterations_ = 0;
  int depth_ = 0;
  int line_ = 0;
  int column_ = 0;
};

// `v` must not be Undefined for this operation: throws its hint.
void require_defined(const Value& v);

}  // namespace tokamak::jinja
