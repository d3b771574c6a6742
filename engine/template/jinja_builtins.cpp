// Filters and tests (methods, attributes and globals: jinja_methods.cpp).
#include "template/jinja_builtins.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <string>

#include "template/jinja_error.h"
#include "template/jinja_interpreter.h"
#include "template/jinja_text.h"

namespace tokamak::jinja {
namespace {

constexpr std::array<std::string_view, 39> kFilters = {
    "abs",     "attr",    "capitalize", "count",  "d",      "default",    "dictsort", "e",
    "escape",  "first",   "float",      "indent", "int",    "items",      "join",     "last",
    "length",  "list",    "lower",      "map",    "max",    "min",        "reject",   "rejectattr",
    "replace", "reverse", "round",      "safe",   "select", "selectattr", "sort",     "string",
    "sum",     "title",   "tojson",     "trim",   "unique", "upper",      "wordcount"};
constexpr std::array<std::string_view, 33> kTests = {
    "boolean", "callable", "defined",  "divisibleby", "eq",       "equalto", "escaped",
    "even",    "false",    "filter",   "float",       "ge",       "gt",      "greaterthan",
    "in",      "integer",  "iterable", "le",          "lessthan", "lower",   "lt",
    "mapping", "ne",       "none",     "number",      "odd",      "sameas",  "sequence",
    "string",  "test",     "true",     "undefined",   "upper"};

const Value* arg(CallArgs& a, size_t i, std::string_view name) {
  if (i < a.positional.size()) return &a.positional[i];
  for (const auto& [k, v] : a.named) {
    if (k == name) return &v;
  }
  return nullptr;
}

// The items a filter walks over (lists, dict keys, string characters).
ValueList sequence(const Value& v, std::string_view filter) {
  return iterable_items(v, "filter '" + std::string(filter) + "': ");
}

// Dotted attribute path ("a.b" or "0") as jinja's make_attrgetter reads it.
Value attribute_path(const Value& v, const Value& attribute) {
  if (attribute.is_int_like()) return get_item(v, attribute);
  Value cur = v;
  const std::string path = to_str(attribute);
  size_t pos = 0;
  for (;;) {
    const size_t dot = path.find('.', pos);
    const std::string part =
        path.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
    const bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit);
    int64_t index = 0;  // past int64: looked up as a string key (nothing has it)
    const bool fits =
        numeric && std::from_chars(part.data(), part.data() + part.size(), index).ec == std::errc();
    cur = fits ? get_item(cur, Value::integer(index)) : get_item(cur, Value::string(part));
    if (dot == std::string::npos) return cur;
    pos = dot + 1;
  }
}

// select/reject/selectattr/rejectattr: positional[first_test_arg] names the test.
Value select_items(const Value& input, CallArgs& a, Interpreter& in, bool want, bool by_attr,
                   std::string_view filter) {
  const ValueList items = sequence(input, filter);
  size_t k = 0;
  Value attribute;
  if (by_attr) {
    if (a.positional.empty()) fail(std::string(filter) + "() needs an attribute name");
    attribute = a.positional[k++];
  }
  std::string test;
  if (k < a.positional.size()) test = to_str(a.positional[k++]);
  if (!test.empty() && !is_test(test)) fail("unknown test '" + test + "'");
  CallArgs test_args;
  test_args.positional.assign(a.positional.begin() + static_cast<std::ptrdiff_t>(k),
                              a.positional.end());
  ValueList out;
  for (const Value& item : items) {
    in.count_iterations(1);
    const Value subject = by_attr ? attribute_path(item, attribute) : item;
    const bool pass = test.empty() ? subject.truthy() : apply_test(test, subject, test_args, in);
    if (pass == want) out.push_back(item);
  }
  return Value::list(std::move(out));
}

Value map_filter(const Value& input, CallArgs& a, Interpreter& in) {
  const ValueList items = sequence(input, "map");
  ValueList out;
  const Value* attribute = nullptr;
  for (const auto& [k, v] : a.named) {
    if (k == "attribute") attribute = &v;
  }
  if (attribute != nullptr) {
    const Value* dflt = nullptr;
    for (const auto& [k, v] : a.named) {
      if (k == "default") dflt = &v;
    }
    for (const Value& item : items) {
      in.count_iterations(1);
      Value v = attribute_path(item, *attribute);
      out.push_back(v.is_undefined() && dflt != nullptr ? *dflt : v);
    }
    return Value::list(std::move(out));
  }
  if (a.positional.empty()) fail("map() needs a filter name or attribute=");
  const std::string filter = to_str(a.positional[0]);
  if (!is_filter(filter)) fail("unknown filter '" + filter + "'");
  CallArgs rest;
  rest.positional.assign(a.positional.begin() + 1, a.positional.end());
  rest.named = a.named;
  for (const Value& item : items) {
    in.count_iterations(1);
    CallArgs call = rest;
    out.push_back(apply_filter(filter, item, call, in));
  }
  return Value::list(std::move(out));
}

Value tojson_filter(const Value& input, CallArgs& a) {
  JsonOptions o;
  if (const Value* v = arg(a, 0, "ensure_ascii")) o.ensure_ascii = v->truthy();
  if (const Value* v = arg(a, 1, "indent"); v != nullptr && !v->is_none()) {
    if (v->is_string()) {
      o.indent_text = v->str();
      o.indent = 0;
    } else {
      o.indent = static_cast<int>(std::clamp<int64_t>(v->as_int(), 0, 64));
    }
  }
  if (const Value* v = arg(a, 2, "separators");
      v != nullptr && v->is_list() && v->items().size() == 2) {
    o.item_separator = to_str(v->items()[0]);
    o.key_separator = to_str(v->items()[1]);
  }
  if (const Value* v = arg(a, 3, "sort_keys")) o.sort_keys = v->truthy();
  return Value::string(to_json(input, o));
}

std::string indent_filter(const std::string& text, CallArgs& a) {
  std::string pad(4, ' ');
  if (const Value* w = arg(a, 0, "width")) {
    pad = w->is_string()
              ? w->str()
              : std::string(static_cast<size_t>(std::clamp<int64_t>(w->as_int(), 0, 256)), ' ');
  }
  const Value* first = arg(a, 1, "first");
  const Value* blank = arg(a, 2, "blank");
  const auto lines = split_lines(text + "\n");
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) out += '\n';
    const bool indent = i > 0 && (!lines[i].empty() || (blank != nullptr && blank->truthy()));
    if (indent) out += pad;
    out += lines[i];
  }
  if (first != nullptr && first->truthy()) out = pad + out;
  return out;
}

Value number_filter(const Value& input, CallArgs& a, bool to_int) {
  const Value* dflt = arg(a, 0, "default");
  const Value fallback = dflt ? *dflt : to_int ? Value::integer(0) : Value::number(0.0);
  if (input.is_number()) {
    return to_int ? Value::integer(input.is_int_like() ? input.as_int()
                                                       : static_cast<int64_t>(input.as_double()))
                  : Value::number(input.as_double());
  }
  if (!input.is_string()) return fallback;
  const std::string s = py_strip(input.str(), true, true);
  char* end = nullptr;
  errno = 0;
  if (to_int) {
    const long long v = std::strtoll(s.c_str(), &end, 10);
    if (!s.empty() && *end == '\0' && errno == 0) return Value::integer(v);
  }
  const double d = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0') return fallback;
  return to_int ? Value::integer(static_cast<int64_t>(d)) : Value::number(d);
}

Value sort_filter(const Value& input, CallArgs& a, std::string_view filter) {
  ValueList items = sequence(input, filter);
  const Value* attribute = arg(a, 2, "attribute");
  const Value* reverse = arg(a, 0, "reverse");
  auto key = [&](const Value& v) { return attribute ? attribute_path(v, *attribute) : v; };
  auto less = [&](const Value& l, const Value& r) {
    const Value x = key(l), y = key(r);
    if (x.is_number() && y.is_number()) return x.as_double() < y.as_double();
    if (x.is_string() && y.is_string()) return to_lower(x.str()) < to_lower(y.str());
    fail("filter 'sort': cannot compare '" + std::string(x.type_name()) + "' and '" +
         std::string(y.type_name()) + "'");
  };
  std::stable_sort(items.begin(), items.end(), less);
  if (reverse != nullptr && reverse->truthy()) std::reverse(items.begin(), items.end());
  return Value::list(std::move(items));
}

Value html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return Value::string(std::move(out));
}

}  // namespace

bool is_filter(std::string_view name) {
  return std::find(kFilters.begin(), kFilters.end(), name) != kFilters.end();
}
bool is_test(std::string_view name) {
  return std::find(kTests.begin(), kTests.end(), name) != kTests.end();
}

Value apply_filter(const std::string& name, const Value& input, CallArgs& a, Interpreter& in) {
  if (!is_filter(name)) fail("unknown filter '" + name + "'");
  if (name == "default" || name == "d") {
    const Value* dflt = arg(a, 0, "default_value");
    const Value* boolean = arg(a, 1, "boolean");
    const bool use = input.is_undefined() || (boolean && boolean->truthy() && !input.truthy());
    return use ? (dflt ? *dflt : Value::string("")) : input;
  }
  if (name == "safe") return input;
  if (name == "tojson") return tojson_filter(input, a);
  if (name == "length" || name == "count") {
    switch (input.kind()) {
      case Value::Kind::Undefined:
        return Value::integer(0);
      case Value::Kind::String:
        return Value::integer(static_cast<int64_t>(num_codepoints(input.str())));
      case Value::Kind::List:
        return Value::integer(static_cast<int64_t>(input.items().size()));
      case Value::Kind::Map:
      case Value::Kind::Namespace:
        return Value::integer(static_cast<int64_t>(input.entries().size()));
      default:
        fail("object of type '" + std::string(input.type_name()) + "' has no len()");
    }
  }
  if (name == "items") {
    if (input.is_undefined()) return Value::list({});
    if (!input.is_map()) fail("Can only get item pairs from a mapping.");
    ValueList items;
    for (const auto& [k, v] : input.entries()) items.push_back(Value::tuple({Value::string(k), v}));
    return Value::list(std::move(items));
  }
  if (name == "list") return Value::list(sequence(input, name));
  if (name == "first" || name == "last") {
    const ValueList items = sequence(input, name);
    if (items.empty()) return Value::undefined("No " + name + " item, sequence was empty.");
    return name == "first" ? items.front() : items.back();
  }
  if (name == "join") {
    const Value* sep = arg(a, 0, "d");
    const Value* attribute = arg(a, 1, "attribute");
    std::string out;
    bool firstItem = true;
    for (const Value& item : sequence(input, name)) {
      if (!firstItem) out += sep ? to_str(*sep) : "";
      firstItem = false;
      out += to_str(attribute ? attribute_path(item, *attribute) : item);
      in.check_size(out.size());
    }
    return Value::string(std::move(out));
  }
  if (name == "map") return map_filter(input, a, in);
  if (name == "select" || name == "reject")
    return select_items(input, a, in, name == "select", false, name);
  if (name == "selectattr" || name == "rejectattr") {
    return select_items(input, a, in, name == "selectattr", true, name);
  }
  if (name == "attr") {
    const Value* n = arg(a, 0, "name");
    if (n == nullptr) fail("attr() needs a name");
    return get_attribute(input, to_str(*n));
  }
  if (name == "int" || name == "float") return number_filter(input, a, name == "int");
  if (name == "abs") {
    if (!input.is_number())
      fail("bad operand type for abs(): '" + std::string(input.type_name()) + "'");
    return input.is_int_like() ? Value::integer(std::llabs(input.as_int()))
                               : Value::number(std::fabs(input.as_double()));
  }
  if (name == "round") {
    // Python's round(): correctly rounded, ties to even; floor/ceil on value * 10**p.
    const Value* precision = arg(a, 0, "precision");
    const Value* method = arg(a, 1, "method");
    const int digits =
        precision ? static_cast<int>(std::clamp<int64_t>(precision->as_int(), 0, 15)) : 0;
    const std::string m = method ? to_str(*method) : "common";
    const double x = input.as_double();
    if (m == "floor" || m == "ceil") {
      const double scale = std::pow(10.0, digits);
      return Value::number((m == "ceil" ? std::ceil(x * scale) : std::floor(x * scale)) / scale);
    }
    if (m != "common") fail("method must be common, ceil or floor");
    if (!std::isfinite(x)) return Value::number(x);
    char buf[400];
    std::snprintf(buf, sizeof buf, "%.*f", digits, x);
    return Value::number(std::strtod(buf, nullptr));
  }
  if (name == "sort" || name == "dictsort") {
    if (name == "dictsort") {
      Value pairs = apply_filter("items", input, a, in);
      CallArgs by_key;
      ValueList items = pairs.items();
      std::stable_sort(items.begin(), items.end(), [](const Value& l, const Value& r) {
        return to_lower(l.items()[0].str()) < to_lower(r.items()[0].str());
      });
      return Value::list(std::move(items));
    }
    return sort_filter(input, a, name);
  }
  if (name == "unique") {
    ValueList out;
    for (const Value& item : sequence(input, name)) {
      if (std::none_of(out.begin(), out.end(), [&](const Value& o) { return equals(o, item); }))
        out.push_back(item);
    }
    return Value::list(std::move(out));
  }
  if (name == "reverse") {
    if (input.is_string()) {
      ValueList chars = sequence(input, name);
      std::string out;
      for (auto it = chars.rbegin(); it != chars.rend(); ++it) out += it->str();
      return Value::string(std::move(out));
    }
    ValueList items = sequence(input, name);
    std::reverse(items.begin(), items.end());
    return Value::list(std::move(items));
  }
  if (name == "sum" || name == "min" || name == "max") {
    const ValueList items = sequence(input, name);
    const Value* attribute = arg(a, name == "sum" ? 0 : 1, "attribute");
    if (name == "sum") {
      const Value* start = arg(a, 1, "start");
      Value total = start ? *start : Value::integer(0);
      for (const Value& item : items) {
        const Value v = attribute ? attribute_path(item, *attribute) : item;
        if (!v.is_number() || !total.is_number()) fail("filter 'sum': items must be numbers");
        total = total.is_int_like() && v.is_int_like()
                    ? Value::integer(total.as_int() + v.as_int())
                    : Value::number(total.as_double() + v.as_double());
      }
      return total;
    }
    if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
    CallArgs none;
    const ValueList sorted = sort_filter(Value::list(items), none, name).items();
    return name == "min" ? sorted.front() : sorted.back();
  }
  const std::string text = to_str(input);
  if (name == "trim") {
    const Value* chars = arg(a, 0, "chars");
    if (chars != nullptr && !chars->is_none())
      return Value::string(strip_chars(text, to_str(*chars), true, true));
    return Value::string(py_strip(text, true, true));
  }
  if (name == "string") return input.is_string() ? input : Value::string(text);
  if (name == "upper") return Value::string(to_upper(text));
  if (name == "lower") return Value::string(to_lower(text));
  if (name == "capitalize") return Value::string(capitalize(text));
  if (name == "title") return Value::string(jinja_title(text));
  if (name == "escape" || name == "e") return html_escape(text);
  if (name == "indent") {
    std::string out = indent_filter(text, a);
    in.check_size(out.size());
    return Value::string(std::move(out));
  }
  if (name == "wordcount")
    return Value::integer(static_cast<int64_t>(split_whitespace(text, -1).size()));
  if (name == "replace") {
    const Value* old_text = arg(a, 0, "old");
    const Value* new_text = arg(a, 1, "new");
    const Value* count = arg(a, 2, "count");
    if (old_text == nullptr || new_text == nullptr) fail("replace() needs old and new strings");
    return Value::string(replace(text, to_str(*old_text), to_str(*new_text),
                                 count && count->is_int_like() ? count->as_int() : -1, in));
  }
  fail("unknown filter '" + name + "'");
}

bool apply_test(const std::string& name, const Value& v, CallArgs& a, Interpreter& in) {
  (void)in;
  if (!is_test(name)) fail("unknown test '" + name + "'");
  using K = Value::Kind;
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "string") return v.is_string();
  if (name == "mapping") return v.is_map();
  if (name == "iterable") {
    return v.is_undefined() || v.is_list() || v.is_map() || v.is_string();
  }
  if (name == "sequence") return v.is_list() || v.is_map() || v.is_string() || v.is_undefined();
  if (name == "number") return v.is_number();
  if (name == "integer") return v.kind() == K::Int;
  if (name == "float") return v.kind() == K::Float;
  if (name == "boolean") return v.kind() == K::Bool;
  if (name == "true") return v.kind() == K::Bool && v.as_bool();
  if (name == "false") return v.kind() == K::Bool && !v.as_bool();
  if (name == "callable") return v.is_callable();
  if (name == "escaped") return false;
  if (name == "filter") return v.is_string() && is_filter(v.str());
  if (name == "test") return v.is_string() && is_test(v.str());
  if (name == "lower") return v.is_string() && to_lower(v.str()) == v.str();
  if (name == "upper") return v.is_string() && to_upper(v.str()) == v.str();
  if (name == "odd" || name == "even" || name == "divisibleby") {
    if (!v.is_int_like())
      fail("test '" + name + "' needs an integer, not " + std::string(v.type_name()));
    if (name == "divisibleby") {
      const Value* n = arg(a, 0, "num");
      if (n == nullptr || !n->is_int_like() || n->as_int() == 0)
        fail("divisibleby needs a non-zero integer");
      return v.as_int() % n->as_int() == 0;
    }
    return (v.as_int() % 2 != 0) == (name == "odd");
  }
  const Value* other = arg(a, 0, "other");
  if (other == nullptr) fail("test '" + name + "' needs an argument");
  if (name == "in") return contains(*other, v);
  if (name == "sameas") return equals(v, *other) && v.kind() == other->kind();
  if (name == "eq" || name == "equalto") return equals(v, *other);
  if (name == "ne") return !equals(v, *other);
  const bool numbers = v.is_number() && other->is_number();
  const bool strings = v.is_string() && other->is_string();
  if (!numbers && !strings) {
    fail("test '" + name + "' cannot compare '" + std::string(v.type_name()) + "' and '" +
         std::string(other->type_name()) + "'");
  }
  const int c = numbers
                    ? (v.as_double() < other->as_double() ? -1 : v.as_double() > other->as_double())
                    : v.str().compare(other->str());
  if (name == "lt" || name == "lessthan") return c < 0;
  if (name == "le") return c <= 0;
  if (name == "gt" || name == "greaterthan") return c > 0;
  return c >= 0;  // ge
}

ValueList iterable_items(const Value& v, std::string_view context) {
  switch (v.kind()) {
    case Value::Kind::Undefined:
      return {};
    case Value::Kind::List:
      return v.items();
    case Value::Kind::Map: {
      ValueList keys;
      for (const auto& [k, e] : v.entries()) keys.push_back(Value::string(k));
      return keys;
    }
    case Value::Kind::String: {
      ValueList chars;
      const auto offsets = codepoint_offsets(v.str());
      for (size_t i = 0; i < offsets.size(); ++i) {
        const size_t end = i + 1 < offsets.size() ? offsets[i + 1] : v.str().size();
        chars.push_back(Value::string(v.str().substr(offsets[i], end - offsets[i])));
      }
      return chars;
    }
    default:
      fail(std::string(context) + "'" + std::string(v.type_name()) + "' object is not iterable");
  }
}

}  // namespace tokamak::jinja
