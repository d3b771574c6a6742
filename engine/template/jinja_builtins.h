// The filters, tests, methods and globals a chat template can use: jinja2's
// built-ins, Python's str/dict/list methods that are safe in the sandbox, and
// transformers' raise_exception, strftime_now and tojson.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "template/jinja_value.h"

namespace tokamak::jinja {

bool is_filter(std::string_view name);
bool is_test(std::string_view name);

// All throw TemplateError on a type error ("can only concatenate ...").
Value apply_filter(const std::string& name, const Value& input, CallArgs& args, Interpreter& in);
bool apply_test(const std::string& name, const Value& input, CallArgs& args, Interpreter& in);

// obj.name (a method is returned bound) and obj[key], as jinja2's sandbox
// resolves them; a missing one is an Undefined that says what was missing.
Value get_attribute(const Value& obj, const std::string& name);
Value get_item(const Value& obj, const Value& key);

// range, namespace, dict, raise_exception, strftime_now.
ValueItems global_functions();

// Python's `in`: substring, list member or dict key.
bool contains(const Value& container, const Value& item);

// What `for x in v` and the sequence filters walk over: list items, dict
// keys, string characters (undefined: nothing). Anything else fails with
// context + "'<type>' object is not iterable".
ValueList iterable_items(const Value& v, std::string_view context);

}  // namespace tokamak::jinja
