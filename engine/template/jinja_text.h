// Python string operations on UTF-8 text, as chat templates call them
// (str.strip, split, splitlines, replace, title, upper, ...). Whitespace is
// Python's (Unicode-aware); case mapping covers ASCII, Latin-1, Latin
// Extended-A, Greek and Cyrillic.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tokamak::jinja {

class Interpreter;

bool is_py_space(uint32_t cp);
std::string py_strip(std::string_view s, bool left, bool right);
std::string strip_chars(std::string_view s, std::string_view chars, bool left, bool right);
std::string to_upper(std::string_view s);
std::string to_lower(std::string_view s);
std::string py_title(std::string_view s);     // str.title()
std::string jinja_title(std::string_view s);  // the |title filter
std::string capitalize(std::string_view s);
std::vector<std::string> split_whitespace(std::string_view s, int64_t maxsplit);
std::vector<std::string> split(std::string_view s, std::string_view sep, int64_t maxsplit,
                               bool from_right);
std::vector<std::string> split_lines(std::string_view s);
// Bounded by the interpreter's output limit.
std::string replace(std::string_view s, std::string_view old_text, std::string_view new_text,
                    int64_t count, const Interpreter& in);
int64_t count_occurrences(std::string_view s, std::string_view sub);
// isdigit / isalpha / isalnum / isspace / isupper / islower
bool classify(std::string_view s, std::string_view what);

}  // namespace tokamak::jinja
