// Attribute and item access, Python's str/dict/list methods, the globals,
// and the string helpers they share with the filters.
#include <algorithm>
#include <array>
#include <charconv>
#include <ctime>
#include <string>

#include "template/jinja_builtins.h"
#include "template/jinja_error.h"
#include "template/jinja_interpreter.h"
#include "template/jinja_text.h"

namespace tokamak::jinja {
namespace {

const Value* arg(CallArgs& a, size_t i, std::string_view name) {
  if (i < a.positional.size()) return &a.positional[i];
  for (const auto& [k, v] : a.named) {
    if (k == name) return &v;
  }
  return nullptr;
}

std::string string_arg(CallArgs& a, size_t i, std::string_view name, std::string_view method) {
  const Value* v = arg(a, i, name);
  if (v == nullptr) fail(std::string(method) + "() missing argument '" + std::string(name) + "'");
  if (!v->is_string()) {
    fail(std::string(method) + "() argument '" + std::string(name) + "' must be str, not " +
         std::string(v->type_name()));
  }
  return v->str();
}

// strip/lstrip/rstrip with optional characters.
Value strip_method(const std::string& s, CallArgs& a, bool left, bool right) {
  const Value* chars = arg(a, 0, "chars");
  if (chars == nullptr || chars->is_none()) return Value::string(py_strip(s, left, right));
  return Value::string(strip_chars(s, chars->str(), left, right));
}

bool affix_matches(const std::string& s, const Value& affix, bool prefix) {
  auto one = [&](const Value& v) {
    if (!v.is_string()) fail("startswith/endswith first argument must be str or a tuple of str");
    const std::string& t = v.str();
    if (t.size() > s.size()) return false;
    return prefix ? s.compare(0, t.size(), t) == 0
                  : s.compare(s.size() - t.size(), t.size(), t) == 0;
  };
  if (affix.is_list()) {
    return std::any_of(affix.items().begin(), affix.items().end(), one);
  }
  return one(affix);
}

// str.format with "{}", "{0}" and "{name}" fields (no format specs).
std::string format_method(const std::string& fmt, CallArgs& a) {
  std::string out;
  size_t next_auto = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    const char c = fmt[i];
    if (c == '}' && i + 1 < fmt.size() && fmt[i + 1] == '}') {
      out += '}';
      ++i;
      continue;
    }
    if (c != '{') {
      out += c;
      continue;
    }
    if (i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out += '{';
      ++i;
      continue;
    }
    const size_t close = fmt.find('}', i);
    if (close == std::string::npos) fail("Single '{' encountered in format string");
    const std::string field = fmt.substr(i + 1, close - i - 1);
    const Value* v = nullptr;
    if (field.empty()) {
      v = next_auto < a.positional.size() ? &a.positional[next_auto++] : nullptr;
    } else if (std::all_of(field.begin(), field.end(),
                           [](char d) { return d >= '0' && d <= '9'; })) {
      size_t k = 0;  // past size_t: no such argument either
      const auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), k);
      v = ec == std::errc() && k < a.positional.size() ? &a.positional[k] : nullptr;
    } else {
      for (const auto& [k, kv] : a.named) {
        if (k == field) v = &kv;
      }
    }
    if (v == nullptr) fail("format(): no argument for field '{" + field + "}'");
    out += to_str(*v);
    i = close;
  }
  return out;
}

Value string_method(const std::string& s, const std::string& name, CallArgs& a, Interpreter& in) {
  if (name == "strip") return strip_method(s, a, true, true);
  if (name == "lstrip") return strip_method(s, a, true, false);
  if (name == "rstrip") return strip_method(s, a, false, true);
  if (name == "upper") return Value::string(to_upper(s));
  if (name == "lower") return Value::string(to_lower(s));
  if (name == "title") return Value::string(py_title(s));
  if (name == "capitalize") return Value::string(capitalize(s));
  if (name == "startswith" || name == "endswith") {
    const Value* affix = arg(a, 0, "prefix");
    if (affix == nullptr) fail(name + "() takes at least 1 argument (0 given)");
    return Value::boolean(affix_matches(s, *affix, name == "startswith"));
  }
  if (name == "split" || name == "rsplit") {
    const Value* sep = arg(a, 0, "sep");
    const Value* max = arg(a, 1, "maxsplit");
    const int64_t maxsplit = max != nullptr && max->is_int_like() ? max->as_int() : -1;
    std::vector<std::string> parts;
    if (sep == nullptr || sep->is_none()) {
      parts = split_whitespace(s, maxsplit);
    } else {
      if (sep->str().empty()) fail("empty separator");
      parts = split(s, sep->str(), maxsplit, name == "rsplit");
    }
    ValueList items;
    for (auto& p : parts) items.push_back(Value::string(std::move(p)));
    return Value::list(std::move(items));
  }
  if (name == "splitlines") {
    ValueList items;
    for (auto& p : split_lines(s)) items.push_back(Value::string(std::move(p)));
    return Value::list(std::move(items));
  }
  if (name == "replace") {
    const Value* count = arg(a, 2, "count");
    return Value::string(replace(s, string_arg(a, 0, "old", name), string_arg(a, 1, "new", name),
                                 count != nullptr && count->is_int_like() ? count->as_int() : -1,
                                 in));
  }
  if (name == "format") return Value::string(format_method(s, a));
  if (name == "join") {
    const Value* items = arg(a, 0, "iterable");
    if (items == nullptr || !items->is_list()) fail("join() needs a list of strings");
    std::string out;
    for (size_t i = 0; i < items->items().size(); ++i) {
      if (i) out += s;
      if (!items->items()[i].is_string())
        fail("sequence item " + std::to_string(i) + ": expected str instance");
      out += items->items()[i].str();
      in.check_size(out.size());
    }
    return Value::string(std::move(out));
  }
  if (name == "find" || name == "rfind" || name == "count" || name == "index") {
    const std::string sub = string_arg(a, 0, "sub", name);
    if (name == "count") return Value::integer(count_occurrences(s, sub));
    const size_t at = name == "rfind" ? s.rfind(sub) : s.find(sub);
    if (at == std::string::npos) {
      if (name == "index") fail("substring not found");
      return Value::integer(-1);
    }
    return Value::integer(static_cast<int64_t>(num_codepoints(std::string_view(s).substr(0, at))));
  }
  if (name == "isdigit" || name == "isalpha" || name == "isalnum" || name == "isspace" ||
      name == "isupper" || name == "islower") {
    return Value::boolean(classify(s, name));
  }
  fail("'str' object has no method '" + name + "'");
}

Value map_method(const Value& m, const std::string& name, CallArgs& a) {
  if (name == "items") {
    ValueList items;
    for (const auto& [k, v] : m.entries()) items.push_back(Value::tuple({Value::string(k), v}));
    return Value::list(std::move(items));
  }
  if (name == "keys") {
    ValueList items;
    for (const auto& [k, v] : m.entries()) items.push_back(Value::string(k));
    return Value::list(std::move(items));
  }
  if (name == "values") {
    ValueList items;
    for (const auto& [k, v] : m.entries()) items.push_back(v);
    return Value::list(std::move(items));
  }
  if (name == "copy") return m;
  // get
  const Value* key = arg(a, 0, "key");
  if (key == nullptr) fail("get expected at least 1 argument, got 0");
  const Value* dflt = arg(a, 1, "default");
  const Value* found = key->is_string() ? m.find(key->str()) : nullptr;
  if (found != nullptr) return *found;
  return dflt != nullptr ? *dflt : Value::none();
}

constexpr std::array<std::string_view, 25> kStringMethods = {
    "strip",      "lstrip",   "rstrip",  "upper",  "lower",      "title",   "capitalize",
    "startswith", "endswith", "split",   "rsplit", "splitlines", "replace", "format",
    "join",       "find",     "rfind",   "count",  "index",      "isdigit", "isalpha",
    "isalnum",    "isspace",  "isupper", "islower"};
constexpr std::array<std::string_view, 5> kMapMethods = {"items", "keys", "values", "get", "copy"};
constexpr std::array<std::string_view, 6> kUnsafeMapMethods = {"pop",    "popitem", "setdefault",
                                                               "update", "clear",   "fromkeys"};
constexpr std::array<std::string_view, 7> kUnsafeListMethods = {
    "append", "extend", "insert", "pop", "remove", "reverse", "sort"};

template <size_t N>
bool one_of(const std::array<std::string_view, N>& names, std::string_view n) {
  return std::find(names.begin(), names.end(), n) != names.end();
}

Value bound(const Value& obj, const std::string& name) {
  return Value::callable(name, [obj, name](CallArgs& a, Interpreter& in) -> Value {
    if (obj.is_string()) return string_method(obj.str(), name, a, in);
    if (obj.is_map()) return map_method(obj, name, a);
    // list.index / list.count
    const Value* x = arg(a, 0, "value");
    if (x == nullptr) fail(name + "() takes exactly one argument (0 given)");
    int64_t n = 0;
    for (size_t i = 0; i < obj.items().size(); ++i) {
      if (!equals(obj.items()[i], *x)) continue;
      if (name == "index") return Value::integer(static_cast<int64_t>(i));
      ++n;
    }
    if (name == "index") fail(to_repr(*x) + " is not in list");
    return Value::integer(n);
  });
}

Value missing(const Value& obj, const std::string& name) {
  return Value::undefined("'" + std::string(obj.type_name()) + " object' has no attribute '" +
                          name + "'");
}

}  // namespace

Value get_attribute(const Value& obj, const std::string& name) {
  switch (obj.kind()) {
    case Value::Kind::Map: {
      if (one_of(kMapMethods, name)) return bound(obj, name);
      if (one_of(kUnsafeMapMethods, name)) {
        return Value::undefined("access to attribute '" + name + "' of 'dict' object is unsafe.");
      }
      const Value* v = obj.find(name);
      return v != nullptr ? *v : missing(obj, name);
    }
    case Value::Kind::Namespace: {
      const Value* v = obj.find(name);
      return v != nullptr ? *v : missing(obj, name);
    }
    case Value::Kind::String:
      if (one_of(kStringMethods, name)) return bound(obj, name);
      return missing(obj, name);
    case Value::Kind::List:
      if (name == "index" || name == "count") return bound(obj, name);
      if (one_of(kUnsafeListMethods, name)) {
        return Value::undefined("access to attribute '" + name + "' of 'list' object is unsafe.");
      }
      return missing(obj, name);
    default:
      return missing(obj, name);
  }
}

Value get_item(const Value& obj, const Value& key) {
  if ((obj.is_map() || obj.is_namespace()) && key.is_string()) {
    const Value* v = obj.find(key.str());
    if (v != nullptr) return *v;
    if (obj.is_namespace()) return missing(obj, key.str());
    return get_attribute(obj, key.str());
  }
  if ((obj.is_list() || obj.is_string()) && key.is_int_like()) {
    int64_t i = key.as_int();
    if (obj.is_list()) {
      const auto n = static_cast<int64_t>(obj.items().size());
      if (i < 0) i += n;
      if (i >= 0 && i < n) return obj.items()[static_cast<size_t>(i)];
    } else {
      const auto offsets = codepoint_offsets(obj.str());
      const auto n = static_cast<int64_t>(offsets.size());
      if (i < 0) i += n;
      if (i >= 0 && i < n) {
        const auto u = static_cast<size_t>(i);
        const size_t end = u + 1 < offsets.size() ? offsets[u + 1] : obj.str().size();
        return Value::string(obj.str().substr(offsets[u], end - offsets[u]));
      }
    }
    return Value::undefined("'" + std::string(obj.type_name()) + " object' has no element " +
                            std::to_string(key.as_int()));
  }
  if (key.is_string()) return get_attribute(obj, key.str());
  return Value::undefined("'" + std::string(obj.type_name()) + " object' has no element " +
                          to_repr(key));
}

bool contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::Undefined:
      return false;
    case Value::Kind::String:
      if (!item.is_string()) {
        require_defined(item);
        fail("'in <string>' requires string as left operand, not " + std::string(item.type_name()));
      }
      return container.str().find(item.str()) != std::string::npos;
    case Value::Kind::List:
      return std::any_of(container.items().begin(), container.items().end(),
                         [&](const Value& v) { return equals(v, item); });
    case Value::Kind::Map:
      return item.is_string() && container.find(item.str()) != nullptr;
    default:
      fail("argument of type '" + std::string(container.type_name()) + "' is not iterable");
  }
}

ValueItems global_functions() {
  ValueItems g;
  g.emplace_back(
      "range", Value::callable("range", [](CallArgs& a, Interpreter& in) {
        int64_t start = 0, stop = 0, step = 1;
        for (const Value& v : a.positional) {
          if (!v.is_int_like())
            fail("range() arguments must be integers, not " + std::string(v.type_name()));
        }
        const auto& p = a.positional;
        if (p.size() == 1) {
          stop = p[0].as_int();
        } else if (p.size() == 2 || p.size() == 3) {
          start = p[0].as_int();
          stop = p[1].as_int();
          if (p.size() == 3) step = p[2].as_int();
        } else {
          fail("range expected 1 to 3 arguments, got " + std::to_string(p.size()));
        }
        if (step == 0) fail("range() arg 3 must not be zero");
        ValueList items;
        for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
          in.count_iterations(1);
          items.push_back(Value::integer(i));
        }
        return Value::list(std::move(items));
      }));
  auto make_items = [](CallArgs& a) {
    ValueItems items;
    for (const Value& v : a.positional) {
      if (!v.is_map()) fail("namespace()/dict() takes keyword arguments or a dict");
      for (const auto& e : v.entries()) items.push_back(e);
    }
    for (const auto& e : a.named) items.push_back(e);
    return items;
  };
  g.emplace_back("namespace", Value::callable("namespace", [make_items](CallArgs& a, Interpreter&) {
                   return Value::make_namespace(make_items(a));
                 }));
  g.emplace_back("dict", Value::callable("dict", [make_items](CallArgs& a, Interpreter&) {
                   return Value::map(make_items(a));
                 }));
  g.emplace_back("raise_exception",
                 Value::callable("raise_exception", [](CallArgs& a, Interpreter&) -> Value {
                   const Value* msg = arg(a, 0, "message");
                   throw TemplateError{msg != nullptr ? to_str(*msg) : "", 0, 0, true};
                 }));
  g.emplace_back("strftime_now", Value::callable("strftime_now", [](CallArgs& a, Interpreter& in) {
                   const std::string fmt = string_arg(a, 0, "format", "strftime_now");
                   if (fmt.empty()) return Value::string("");
                   std::vector<char> buf(fmt.size() * 8 + 64);
                   const size_t n = std::strftime(buf.data(), buf.size(), fmt.c_str(), &in.now());
                   return Value::string(std::string(buf.data(), n));
                 }));
  return g;
}

}  // namespace tokamak::jinja
