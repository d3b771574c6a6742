#include "store/prompt_render.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "template/chat_template.h"
#include "template/jinja_error.h"
#include "template/jinja_parser.h"

namespace tokamak {
namespace {

using jinja::Body;
using jinja::Expr;
using jinja::Node;

// Names the renderer provides itself (jinja2's globals and ours).
bool is_global(const std::string& name) {
  static const std::set<std::string> kGlobals = {
      "range",  "namespace", "dict", "raise_exception", "strftime_now", "lipsum",
      "cycler", "joiner",    "True", "False",           "None",         "true",
      "false",  "none"};
  return kGlobals.count(name) > 0;
}

// Collects the names read before being set, scope by scope: a for loop's
// targets and a macro's parameters live inside it; `set` at one level is
// seen by what follows it at that level and inside.
class VariableFinder {
 public:
  std::vector<std::string> found;

  void body(const Body& b, std::set<std::string>& declared) {
    for (const auto& n : b) node(*n, declared);
  }

 private:
  void use(const std::string& name, const std::set<std::string>& declared) {
    if (declared.count(name) || is_global(name)) return;
    if (std::find(found.begin(), found.end(), name) == found.end()) found.push_back(name);
  }

  void expr(const Expr* e, const std::set<std::string>& declared) {
    if (!e) return;
    if (e->kind == Expr::Kind::Name) use(e->name, declared);
    for (const auto& a : e->args) expr(a.get(), declared);
    for (const auto& [k, v] : e->kwargs) expr(v.get(), declared);
  }

  void node(const Node& n, std::set<std::string>& declared) {
    switch (n.kind) {
      case Node::Kind::Output:
        expr(n.expr.get(), declared);
        break;
      case Node::Kind::If:
        for (const auto& [cond, b] : n.branches) {
          expr(cond.get(), declared);
          body(b, declared);
        }
        break;
      case Node::Kind::For: {
        expr(n.expr.get(), declared);
        std::set<std::string> inner = declared;
        inner.insert(n.targets.begin(), n.targets.end());
        inner.insert("loop");
        expr(n.filter.get(), inner);
        body(n.body, inner);
        body(n.else_body, declared);
        break;
      }
      case Node::Kind::Set:
        expr(n.expr.get(), declared);
        if (!n.attr.empty() && !n.targets.empty()) {
          use(n.targets[0], declared);  // {% set ns.x = ... %} reads ns
        } else {
          declared.insert(n.targets.begin(), n.targets.end());
        }
        break;
      case Node::Kind::SetBlock:
        body(n.body, declared);
        declared.insert(n.targets.begin(), n.targets.end());
        break;
      case Node::Kind::Macro: {
        declared.insert(n.name);
        std::set<std::string> inner = declared;
        for (const auto& p : n.params) {
          expr(p.default_value.get(), declared);
          inner.insert(p.name);
        }
        inner.insert({"varargs", "kwargs", "caller"});
        body(n.body, inner);
        break;
      }
      case Node::Kind::Scope: {
        std::set<std::string> inner = declared;
        body(n.body, inner);
        break;
      }
      default:
        break;
    }
  }
};

}  // namespace

Result<std::vector<std::string>> prompt_variables(std::string_view body, const std::string& name) {
  // parse() gives the located message for a bad template.
  TK_TRY(ChatTemplate::parse(std::string(body), name));
  try {
    const Body tree = jinja::parse_template(body);
    VariableFinder finder;
    std::set<std::string> declared;
    finder.body(tree, declared);
    return finder.found;
  } catch (const jinja::TemplateError& e) {
    return make_error(ErrorCode::BadFormat,
                      fmt::format("{}:{}:{}: {}", name, e.line, e.column, e.message));
  }
}

Result<std::string> render_prompt(std::string_view body, const std::string& name,
                                  const nlohmann::ordered_json& values, bool allow_missing) {
  if (!values.is_object()) {
    return make_error(ErrorCode::InvalidArgument,
                      fmt::format("{}: variable values must be a JSON object", name));
  }
  TK_ASSIGN(std::vector<std::string> needed, prompt_variables(body, name));
  std::vector<std::string> missing;
  for (const std::string& v : needed) {
    if (!values.contains(v)) missing.push_back(v);
  }
  if (!missing.empty() && !allow_missing) {
    return make_error(ErrorCode::InvalidArgument,
                      fmt::format("{}: no value for {} {} (it uses {})", name,
                                  missing.size() == 1 ? "variable" : "variables",
                                  fmt::join(missing, ", "), fmt::join(needed, ", ")));
  }
  TK_ASSIGN(ChatTemplate t, ChatTemplate::parse(std::string(body), name));
  ChatInput in;
  in.add_generation_prompt = false;
  // The chat variables are set where the renderer expects them; the rest are extra.
  for (const auto& [k, v] : values.items()) {
    if (k == "messages" && v.is_array()) {
      in.messages = v;
    } else if (k == "tools") {
      in.tools = v;
    } else if (k == "documents") {
      in.documents = v;
    } else if (k == "add_generation_prompt" && v.is_boolean()) {
      in.add_generation_prompt = v.get<bool>();
    } else if (k == "bos_token" && v.is_string()) {
      in.bos_token = v.get<std::string>();
    } else if (k == "eos_token" && v.is_string()) {
      in.eos_token = v.get<std::string>();
    } else {
      in.extra[k] = v;
    }
  }
  return t.render(in);
}

}  // namespace tokamak
