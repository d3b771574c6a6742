#include "template/jinja_interpreter.h"

#include <cmath>
#include <string>
#include <unordered_set>
#include <utility>

#include "template/jinja_builtins.h"
#include "template/jinja_error.h"

namespace tokamak::jinja {

void require_defined(const Value& v) {
  if (v.is_undefined()) fail(v.str().empty() ? "a value is undefined" : v.str());
}

Interpreter::Interpreter(const RenderLimits& limits, std::tm now) : limits_(limits), now_(now) {}

std::string Interpreter::render(const Body& body, const ValueItems& variables) {
  const ValueWorkLimits work(limits_.max_output_bytes, 16 * limits_.max_loop_iterations);
  Scope globals{global_functions(), nullptr};
  for (const auto& [k, v] : variables) globals.vars.emplace_back(k, v);
  Scope top{{}, &globals};
  root_ = scope_ = &top;
  std::string out;
  exec(body, out);
  root_ = scope_ = nullptr;
  return out;
}

void Interpreter::check_size(size_t num_bytes) const {
  if (num_bytes > limits_.max_output_bytes) {
    fail("output exceeds the limit of " + std::to_string(limits_.max_output_bytes) + " bytes");
  }
}

void Interpreter::count_iterations(int64_t n) {
  num_iterations_ += n;
  if (num_iterations_ > limits_.max_loop_iterations) {
    fail("loop iterations exceed the limit of " + std::to_string(limits_.max_loop_iterations));
  }
}

void Interpreter::append(std::string& out, std::string_view s) const {
  check_size(out.size() + s.size());
  out += s;
}

// ---- statements ------------------------------------------------------------------

Interpreter::Flow Interpreter::exec(const Body& body, std::string& out) {
  for (const auto& n : body) {
    const Flow f = exec_node(*n, out);
    if (f != Flow::Normal) return f;
  }
  return Flow::Normal;
}

Interpreter::Flow Interpreter::exec_node(const Node& n, std::string& out) {
  line_ = n.line;
  column_ = n.column;
  switch (n.kind) {
    case Node::Kind::Text:
      append(out, n.text);
      break;
    case Node::Kind::Output: {
      const Value v = eval(*n.expr);
      append(out, v.is_string() ? v.str() : to_str(v));
      break;
    }
    case Node::Kind::If:
      for (const auto& [cond, body] : n.branches) {
        if (!cond || eval(*cond).truthy()) return exec(body, out);
      }
      break;
    case Node::Kind::For:
      return exec_for(n, out);
    case Node::Kind::Set: {
      Value v = eval(*n.expr);
      line_ = n.line;
      column_ = n.column;
      exec_set(n, std::move(v));
      break;
    }
    case Node::Kind::SetBlock: {
      std::string captured;
      exec(n.body, captured);
      assign(n.targets[0], Value::string(std::move(captured)));
      break;
    }
    case Node::Kind::Macro:
      assign(n.name, make_macro(n));
      break;
    case Node::Kind::Break:
      return Flow::Break;
    case Node::Kind::Continue:
      return Flow::Continue;
    case Node::Kind::Scope:
      return exec(n.body, out);
  }
  return Flow::Normal;
}

namespace {

Value loop_object(const ValueList& items, size_t i) {
  const auto n = static_cast<int64_t>(items.size());
  const auto k = static_cast<int64_t>(i);
  ValueItems loop = {
      {"index", Value::integer(k + 1)},
      {"index0", Value::integer(k)},
      {"revindex", Value::integer(n - k)},
      {"revindex0", Value::integer(n - k - 1)},
      {"first", Value::boolean(k == 0)},
      {"last", Value::boolean(k == n - 1)},
      {"length", Value::integer(n)},
      {"depth", Value::integer(1)},
      {"depth0", Value::integer(0)},
      {"previtem", k > 0 ? items[i - 1] : Value::undefined("there is no previous item")},
      {"nextitem", k + 1 < n ? items[i + 1] : Value::undefined("there is no next item")},
      {"cycle", Value::callable("cycle",
                                [k](CallArgs& a, Interpreter&) {
                                  if (a.positional.empty()) fail("no items for cycling given");
                                  return a.positional[static_cast<size_t>(k) % a.positional.size()];
                                })},
  };
  return Value::map(std::move(loop));
}

}  // namespace

Interpreter::Flow Interpreter::exec_for(const Node& n, std::string& out) {
  ValueList all = iterable_items(eval(*n.expr), "");
  Scope* outer = scope_;
  auto bind = [&](Scope& s, const Value& item) {
    if (n.targets.size() == 1) {
      s.vars.emplace_back(n.targets[0], item);
      return;
    }
    const ValueList parts = iterable_items(item, "");
    if (parts.size() != n.targets.size()) {
      fail("cannot unpack " + std::to_string(parts.size()) + " values into " +
           std::to_string(n.targets.size()) + " loop variables");
    }
    for (size_t t = 0; t < parts.size(); ++t) s.vars.emplace_back(n.targets[t], parts[t]);
  };
  ValueList items;
  if (n.filter) {
    for (const Value& item : all) {
      count_iterations(1);
      Scope s{{}, outer};
      bind(s, item);
      scope_ = &s;
      const bool keep = eval(*n.filter).truthy();
      scope_ = outer;
      if (keep) items.push_back(item);
    }
  } else {
    items = std::move(all);
  }
  for (size_t i = 0; i < items.size(); ++i) {
    count_iterations(1);
    Scope s{{}, outer};
    s.vars.emplace_back("loop", loop_object(items, i));
    bind(s, items[i]);
    scope_ = &s;
    const Flow f = exec(n.body, out);
    scope_ = outer;
    if (f == Flow::Break) break;
  }
  if (items.empty()) return exec(n.else_body, out);
  return Flow::Normal;
}

namespace {

// Whether `v` is or holds (in lists and dicts) a namespace. Namespaces are
// never stored inside namespaces: no cycles, no chains deeper than the value
// depth limit. Each shared list or dict is visited once.
bool holds_namespace(const Value& v, std::unordered_set<const void*>& seen) {
  if (v.is_namespace()) return true;
  if (v.is_list() && seen.insert(&v.items()).second) {
    for (const Value& item : v.items()) {
      if (holds_namespace(item, seen)) return true;
    }
  }
  if (v.is_map() && seen.insert(&v.entries()).second) {
    for (const auto& [k, item] : v.entries()) {
      if (holds_namespace(item, seen)) return true;
    }
  }
  return false;
}

}  // namespace

void Interpreter::exec_set(const Node& n, Value v) {
  if (!n.attr.empty()) {
    const Value target = lookup(n.targets[0]);
    if (!target.is_namespace()) {
      fail("cannot assign attribute '" + n.attr + "' on '" + n.targets[0] +
           "': only a namespace() has assignable attributes");
    }
    if (v.is_callable()) fail("a namespace attribute cannot hold a macro or function");
    std::unordered_set<const void*> seen;
    if (holds_namespace(v, seen)) fail("a namespace attribute cannot hold a namespace");
    for (auto& [k, e] : target.namespace_entries()) {
      if (k == n.attr) {
        e = std::move(v);
        return;
      }
    }
    target.namespace_entries().emplace_back(n.attr, std::move(v));
    return;
  }
  if (n.targets.size() == 1) {
    assign(n.targets[0], std::move(v));
    return;
  }
  const ValueList parts = iterable_items(v, "");
  if (parts.size() != n.targets.size()) {
    fail("cannot unpack " + std::to_string(parts.size()) + " values into " +
         std::to_string(n.targets.size()) + " variables");
  }
  for (size_t t = 0; t < parts.size(); ++t) assign(n.targets[t], parts[t]);
}

Value Interpreter::make_macro(const Node& n) {
  const Node* macro = &n;
  return Value::callable(n.name, [macro](CallArgs& args, Interpreter& in) {
    if (in.depth_ >= in.limits_.max_recursion_depth) {
      fail("macro calls nested deeper than the limit of " +
           std::to_string(in.limits_.max_recursion_depth));
    }
    if (args.positional.size() > macro->params.size()) {
      fail("macro '" + macro->name + "' takes " + std::to_string(macro->params.size()) +
           " arguments, " + std::to_string(args.positional.size()) + " given");
    }
    Scope s{{}, in.root_};
    Scope* saved = in.scope_;
    in.scope_ = &s;
    for (size_t i = 0; i < macro->params.size(); ++i) {
      const MacroParam& p = macro->params[i];
      Value v;
      bool given = false;
      if (i < args.positional.size()) {
        v = args.positional[i];
        given = true;
      }
      for (const auto& [k, kv] : args.named) {
        if (k == p.name) {
          v = kv;
          given = true;
        }
      }
      if (!given) {
        v = p.default_value ? in.eval(*p.default_value)
                            : Value::undefined("'" + p.name + "' is undefined");
      }
      s.vars.emplace_back(p.name, std::move(v));
    }
    ++in.depth_;
    std::string out;
    in.exec(macro->body, out);
    --in.depth_;
    in.scope_ = saved;
    return Value::string(std::move(out));
  });
}

Value Interpreter::lookup(const std::string& name) const {
  for (const Scope* s = scope_; s != nullptr; s = s->parent) {
    for (auto it = s->vars.rbegin(); it != s->vars.rend(); ++it) {
      if (it->first == name) return it->second;
    }
  }
  return Value::undefined("'" + name + "' is undefined");
}

void Interpreter::assign(const std::string& name, Value v) {
  for (auto& [k, e] : scope_->vars) {
    if (k == name) {
      e = std::move(v);
      return;
    }
  }
  scope_->vars.emplace_back(name, std::move(v));
}

Value Interpreter::call(const Value& callee, CallArgs& args) {
  require_defined(callee);
  if (!callee.is_callable())
    fail("'" + std::string(callee.type_name()) + "' object is not callable");
  const int line = line_, column = column_;
  Value result = callee.fn().fn(args, *this);
  line_ = line;
  column_ = column;
  return result;
}

}  // namespace tokamak::jinja
