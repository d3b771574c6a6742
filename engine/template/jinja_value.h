// jinja::Value: the data a chat template computes with, shaped like the
// Python objects jinja2 sees when transformers renders a template (None,
// bool, int, float, str, list, dict, jinja's Undefined and namespace, and
// callables such as macros and bound methods like dict.items).
//
// Lists and dicts are immutable and shared (the sandbox forbids mutating
// them); a namespace is the one mutable object. Dicts keep insertion order
// (json.dumps and iteration follow it) and have string keys.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tokamak::jinja {

class Value;
class Interpreter;

using ValueList = std::vector<Value>;
using ValueItems = std::vector<std::pair<std::string, Value>>;

struct CallArgs {
  std::vector<Value> positional;
  ValueItems named;
};

// A native function or a macro; `fn` throws TemplateError on failure.
struct Callable {
  std::string name;
  std::function<Value(CallArgs&, Interpreter&)> fn;
};

class Value {
 public:
  enum class Kind : uint8_t {
    Undefined,
    None,
    Bool,
    Int,
    Float,
    String,
    List,
    Map,
    Namespace,
    Callable
  };

  Value() = default;  // Undefined
  static Value undefined(std::string hint = {});
  static Value none();
  static Value boolean(bool b);
  static Value integer(int64_t i);
  static Value number(double d);
  static Value string(std::string s);
  static Value list(ValueList items);
  static Value tuple(ValueList items);  // a list that prints as (a, b)
  static Value map(ValueItems items);
  static Value make_namespace(ValueItems items);
  static Value callable(std::string name, std::function<Value(CallArgs&, Interpreter&)> fn);
  // JSON null/bool/number/string/array/object → None/bool/int or float/str/list/dict.
  static Value from_json(const nlohmann::ordered_json& j);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::Undefined; }
  bool is_none() const { return kind_ == Kind::None; }
  bool is_string() const { return kind_ == Kind::String; }
  bool is_number() const {
    return kind_ == Kind::Int || kind_ == Kind::Float || kind_ == Kind::Bool;
  }
  bool is_int_like() const { return kind_ == Kind::Int || kind_ == Kind::Bool; }
  bool is_list() const { return kind_ == Kind::List; }
  bool is_tuple() const { return kind_ == Kind::List && tuple_; }
  bool is_map() const { return kind_ == Kind::Map; }
  bool is_namespace() const { return kind_ == Kind::Namespace; }
  bool is_callable() const { return kind_ == Kind::Callable; }

  bool as_bool() const { return b_; }
  int64_t as_int() const { return kind_ == Kind::Bool ? (b_ ? 1 : 0) : i_; }
  double as_double() const { return kind_ == Kind::Float ? d_ : static_cast<double>(as_int()); }
  const std::string& str() const { return s_; }  // String; for Undefined the hint
  const ValueList& items() const { return *list_; }
  const ValueItems& entries() const { return *map_; }  // Map and Namespace
  ValueItems& namespace_entries() const { return *map_; }
  const Callable& fn() const { return *fn_; }

  // Map/Namespace key lookup; nullptr when absent.
  const Value* find(std::string_view key) const;

  bool truthy() const;
  int depth() const { return depth_; }
  // Python's type name, as in "'dict object' has no attribute".
  std::string_view type_name() const;

 private:
  Kind kind_ = Kind::Undefined;
  bool b_ = false;
  bool tuple_ = false;
  uint16_t depth_ = 0;  // how deeply lists and dicts nest inside (0 for scalars)
  int64_t i_ = 0;
  double d_ = 0;
  std::string s_;
  std::shared_ptr<const ValueList> list_;
  std::shared_ptr<ValueItems> map_;
  std::shared_ptr<const Callable> fn_;
};

// Lists, dicts and namespaces nest at most this deep (deeper ones are refused
// when built, so that printing, comparing and freeing never recurse deeper).
inline constexpr int kMaxValueDepth = 200;

// Bounds on the work of printing and comparing values during one render, so
// that values sharing sub-lists (a DAG built by `set l = [l, l]`) cannot blow
// up: while alive, printing stops past `max_bytes` and printing plus
// comparing past `max_steps` visited values, with a TemplateError.
class ValueWorkLimits {
 public:
  ValueWorkLimits(size_t max_bytes, int64_t max_steps);
  ~ValueWorkLimits();
  ValueWorkLimits(const ValueWorkLimits&) = delete;
  ValueWorkLimits& operator=(const ValueWorkLimits&) = delete;

 private:
  size_t saved_bytes_;
  int64_t saved_steps_;
};

// Python's ==, as jinja2 evaluates it (1 == 1.0 == True; dicts by content).
bool equals(const Value& a, const Value& b);

// str(v) and repr(v) as Python prints them ({{ v }} uses str; lists and dicts
// print their items with repr). Undefined prints as "".
std::string to_str(const Value& v);
std::string to_repr(const Value& v);
std::string py_float_repr(double d);

struct JsonOptions {
  bool ensure_ascii = false;
  int indent = -1;             // < 0: one line
  std::string indent_text;     // used instead of `indent` spaces when non-empty
  std::string item_separator;  // empty: ", " on one line, "," with indent
  std::string key_separator = ": ";
  bool sort_keys = false;
};

// json.dumps(v, ...) as Python writes it; throws TemplateError for values
// that are not JSON (Undefined, namespaces, callables).
std::string to_json(const Value& v, const JsonOptions& options);

// UTF-8 helpers: code points of `s` (invalid bytes count as one each).
std::vector<size_t> codepoint_offsets(std::string_view s);
size_t num_codepoints(std::string_view s);
void append_utf8(std::string& out, uint32_t cp);

}  // namespace tokamak::jinja
