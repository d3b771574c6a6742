// Interpreter: expressions (the statements are in jinja_interpreter.cpp).
#include <cmath>
#include <string>
#include <utility>

#include "template/jinja_builtins.h"
#include "template/jinja_error.h"
#include "template/jinja_interpreter.h"

namespace tokamak::jinja {
namespace {

[[noreturn]] void unsupported(std::string_view op, const Value& a, const Value& b) {
  require_defined(a);
  require_defined(b);
  fail("unsupported operand type(s) for " + std::string(op) + ": '" + std::string(a.type_name()) +
       "' and '" + std::string(b.type_name()) + "'");
}

Value checked(bool overflow, const int64_t& result) {
  if (overflow) fail("integer overflow");
  return Value::integer(result);
}

int64_t floor_div(int64_t a, int64_t b) {
  if (b == 0) fail("integer division or modulo by zero");
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int64_t py_mod(int64_t a, int64_t b) {
  if (b == 0) fail("integer division or modulo by zero");
  int64_t r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

Value arithmetic(const std::string& op, const Value& a, const Value& b) {
  const bool ints = a.is_int_like() && b.is_int_like();
  const int64_t x = a.as_int(), y = b.as_int();
  const double fx = a.as_double(), fy = b.as_double();
  int64_t r = 0;
  if (op == "+") {
    if (ints) {
      const bool overflow = __builtin_add_overflow(x, y, &r);
      return checked(overflow, r);
    }
    return Value::number(fx + fy);
  }
  if (op == "-") {
    if (ints) {
      const bool overflow = __builtin_sub_overflow(x, y, &r);
      return checked(overflow, r);
    }
    return Value::number(fx - fy);
  }
  if (op == "*") {
    if (ints) {
      const bool overflow = __builtin_mul_overflow(x, y, &r);
      return checked(overflow, r);
    }
    return Value::number(fx * fy);
  }
  if (op == "/") {
    if (fy == 0) fail("division by zero");
    return Value::number(fx / fy);
  }
  if (op == "//") {
    if (ints) return Value::integer(floor_div(x, y));
    if (fy == 0) fail("float floor division by zero");
    return Value::number(std::floor(fx / fy));
  }
  if (op == "%") {
    if (ints) return Value::integer(py_mod(x, y));
    if (fy == 0) fail("float modulo");
    double m = std::fmod(fx, fy);
    if (m != 0 && ((m < 0) != (fy < 0))) m += fy;
    return Value::number(m);
  }
  // "**"
  if (ints && y >= 0) {
    int64_t result = 1;
    for (int64_t k = 0; k < y; ++k) {
      if (__builtin_mul_overflow(result, x, &result)) fail("integer overflow");
      if (result == 0 || result == 1) break;
    }
    return Value::integer(result);
  }
  return Value::number(std::pow(fx, fy));
}

Value repeat(const Value& seq, int64_t times, Interpreter& in) {
  if (times <= 0) return seq.is_string() ? Value::string("") : Value::list({});
  if (seq.is_string()) {
    in.check_size(seq.str().size() * static_cast<size_t>(times));
    std::string out;
    for (int64_t k = 0; k < times; ++k) out += seq.str();
    return Value::string(std::move(out));
  }
  in.check_size(seq.items().size() * static_cast<size_t>(times));
  ValueList out;
  for (int64_t k = 0; k < times; ++k) out.insert(out.end(), seq.items().begin(), seq.items().end());
  return Value::list(std::move(out));
}

// <, <=, >, >= on numbers, strings or lists (lexicographic).
int order(const Value& a, const Value& b, const std::string& op) {
  if (a.is_number() && b.is_number()) {
    const double x = a.as_double(), y = b.as_double();
    if (a.is_int_like() && b.is_int_like())
      return a.as_int() < b.as_int() ? -1 : a.as_int() > b.as_int();
    return x < y ? -1 : x > y;
  }
  if (a.is_string() && b.is_string()) return a.str().compare(b.str()) < 0 ? -1 : a.str() > b.str();
  if (a.is_list() && b.is_list()) {
    const auto& l = a.items();
    const auto& r = b.items();
    for (size_t i = 0; i < l.size() && i < r.size(); ++i) {
      if (!equals(l[i], r[i])) return order(l[i], r[i], op);
    }
    return l.size() < r.size() ? -1 : l.size() > r.size();
  }
  require_defined(a);
  require_defined(b);
  fail("'" + op + "' not supported between instances of '" + std::string(a.type_name()) +
       "' and '" + std::string(b.type_name()) + "'");
}

}  // namespace

Value Interpreter::eval(const Expr& e) {
  at(e);
  switch (e.kind) {
    case Expr::Kind::Literal:
      return e.literal;
    case Expr::Kind::Name:
      return lookup(e.name);
    case Expr::Kind::List: {
      ValueList items;
      for (const auto& a : e.args) items.push_back(eval(*a));
      return e.name == "tuple" ? Value::tuple(std::move(items)) : Value::list(std::move(items));
    }
    case Expr::Kind::Dict: {
      ValueItems items;
      for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
        const Value k = eval(*e.args[i]);
        if (!k.is_string())
          fail("dict keys must be strings, not '" + std::string(k.type_name()) + "'");
        Value v = eval(*e.args[i + 1]);
        bool replaced = false;
        for (auto& [ek, ev] : items) {
          if (ek == k.str()) {
            ev = v;
            replaced = true;
          }
        }
        if (!replaced) items.emplace_back(k.str(), std::move(v));
      }
      return Value::map(std::move(items));
    }
    case Expr::Kind::GetAttr: {
      const Value obj = eval(*e.args[0]);
      at(e);
      require_defined(obj);
      return get_attribute(obj, e.name);
    }
    case Expr::Kind::GetItem: {
      const Value obj = eval(*e.args[0]);
      const Value key = eval(*e.args[1]);
      at(e);
      require_defined(obj);
      return get_item(obj, key);
    }
    case Expr::Kind::Slice:
      return eval_slice(e);
    case Expr::Kind::Call:
      return eval_call(e);
    case Expr::Kind::Filter: {
      const Value input = eval(*e.args[0]);
      CallArgs args;
      eval_arguments(e, args);
      at(e);
      return apply_filter(e.name, input, args, *this);
    }
    case Expr::Kind::Test: {
      const Value input = eval(*e.args[0]);
      CallArgs args;
      eval_arguments(e, args);
      at(e);
      return Value::boolean(apply_test(e.name, input, args, *this) != e.negate);
    }
    case Expr::Kind::Neg:
    case Expr::Kind::Pos: {
      const Value v = eval(*e.args[0]);
      at(e);
      if (!v.is_number()) {
        require_defined(v);
        fail("bad operand type for unary " + std::string(e.kind == Expr::Kind::Neg ? "-" : "+") +
             ": '" + std::string(v.type_name()) + "'");
      }
      if (e.kind == Expr::Kind::Pos) return v.is_int_like() ? Value::integer(v.as_int()) : v;
      if (v.is_int_like()) return arithmetic("-", Value::integer(0), v);
      return Value::number(-v.as_double());
    }
    case Expr::Kind::Not:
      return Value::boolean(!eval(*e.args[0]).truthy());
    case Expr::Kind::And: {
      Value l = eval(*e.args[0]);
      return l.truthy() ? eval(*e.args[1]) : l;
    }
    case Expr::Kind::Or: {
      Value l = eval(*e.args[0]);
      return l.truthy() ? l : eval(*e.args[1]);
    }
    case Expr::Kind::Binary:
      return eval_binary(e);
    case Expr::Kind::Compare:
      return eval_compare(e);
    case Expr::Kind::CondExpr: {
      if (eval(*e.args[0]).truthy()) return eval(*e.args[1]);
      return e.args[2] ? eval(*e.args[2]) : Value::undefined("the condition was false");
    }
  }
  fail("unknown expression");
}

Value Interpreter::eval_binary(const Expr& e) {
  const Value a = eval(*e.args[0]);
  const Value b = eval(*e.args[1]);
  at(e);
  const std::string& op = e.name;
  if (op == "~") {
    std::string s = to_str(a);
    const std::string t = to_str(b);
    check_size(s.size() + t.size());
    return Value::string(s + t);
  }
  if (a.is_number() && b.is_number()) return arithmetic(op, a, b);
  if (op == "+" && a.is_string() && b.is_string()) {
    check_size(a.str().size() + b.str().size());
    return Value::string(a.str() + b.str());
  }
  if (op == "+" && a.is_list() && b.is_list()) {
    check_size(a.items().size() + b.items().size());
    ValueList items = a.items();
    items.insert(items.end(), b.items().begin(), b.items().end());
    return Value::list(std::move(items));
  }
  if (op == "*" && (a.is_string() || a.is_list()) && b.is_int_like())
    return repeat(a, b.as_int(), *this);
  if (op == "*" && (b.is_string() || b.is_list()) && a.is_int_like())
    return repeat(b, a.as_int(), *this);
  if (op == "+" && a.is_string() && !b.is_undefined()) {
    fail("can only concatenate str (not \"" + std::string(b.type_name()) + "\") to str");
  }
  unsupported(op, a, b);
}

Value Interpreter::eval_compare(const Expr& e) {
  Value left = eval(*e.args[0]);
  for (size_t i = 0; i < e.ops.size(); ++i) {
    Value right = eval(*e.args[i + 1]);
    at(e);
    const std::string& op = e.ops[i];
    bool ok = false;
    if (op == "==") {
      ok = equals(left, right);
    } else if (op == "!=") {
      ok = !equals(left, right);
    } else if (op == "in") {
      ok = contains(right, left);
    } else if (op == "notin") {
      ok = !contains(right, left);
    } else {
      const int c = order(left, right, op);
      ok = op == "<" ? c < 0 : op == "<=" ? c <= 0 : op == ">" ? c > 0 : c >= 0;
    }
    if (!ok) return Value::boolean(false);
    left = std::move(right);
  }
  return Value::boolean(true);
}

void Interpreter::eval_arguments(const Expr& e, CallArgs& args) {
  for (size_t i = 1; i < e.args.size(); ++i) args.positional.push_back(eval(*e.args[i]));
  for (const auto& [k, v] : e.kwargs) args.named.emplace_back(k, eval(*v));
}

Value Interpreter::eval_call(const Expr& e) {
  const Value callee = eval(*e.args[0]);
  CallArgs args;
  eval_arguments(e, args);
  at(e);
  return call(callee, args);
}

Value Interpreter::eval_slice(const Expr& e) {
  const Value obj = eval(*e.args[0]);
  int64_t parts[3] = {0, 0, 1};
  bool given[3] = {false, false, false};
  for (int k = 0; k < 3; ++k) {
    if (!e.args[static_cast<size_t>(k) + 1]) continue;
    const Value v = eval(*e.args[static_cast<size_t>(k) + 1]);
    if (v.is_none()) continue;
    if (!v.is_int_like()) fail("slice indices must be integers or None");
    parts[k] = v.as_int();
    given[k] = true;
  }
  at(e);
  require_defined(obj);
  if (!obj.is_string() && !obj.is_list()) {
    fail("'" + std::string(obj.type_name()) + "' object is not subscriptable");
  }
  const int64_t step = parts[2];
  if (step == 0) fail("slice step cannot be zero");
  std::vector<size_t> offsets;
  int64_t n = 0;
  if (obj.is_string()) {
    offsets = codepoint_offsets(obj.str());
    n = static_cast<int64_t>(offsets.size());
  } else {
    n = static_cast<int64_t>(obj.items().size());
  }
  // Python's slice.indices().
  auto clamp = [&](int64_t v, bool has, int64_t dflt) {
    if (!has) return dflt;
    if (v < 0) v += n;
    if (step > 0) return v < 0 ? 0 : (v > n ? n : v);
    return v < 0 ? -1 : (v >= n ? n - 1 : v);
  };
  const int64_t start = clamp(parts[0], given[0], step > 0 ? 0 : n - 1);
  const int64_t stop = clamp(parts[1], given[1], step > 0 ? n : -1);
  std::string s;
  ValueList items;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
    const auto u = static_cast<size_t>(i);
    if (obj.is_string()) {
      const size_t end = u + 1 < offsets.size() ? offsets[u + 1] : obj.str().size();
      s.append(obj.str(), offsets[u], end - offsets[u]);
    } else {
      items.push_back(obj.items()[u]);
    }
  }
  return obj.is_string() ? Value::string(std::move(s)) : Value::list(std::move(items));
}

}  // namespace tokamak::jinja
