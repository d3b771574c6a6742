#include "template/jinja_text.h"

#include <algorithm>

#include "template/jinja_interpreter.h"
#include "template/jinja_value.h"

namespace tokamak::jinja {
namespace {

std::vector<uint32_t> decode(std::string_view s) {
  std::vector<uint32_t> cps;
  const auto offsets = codepoint_offsets(s);
  cps.reserve(offsets.size());
  for (size_t i = 0; i < offsets.size(); ++i) {
    const size_t end = i + 1 < offsets.size() ? offsets[i + 1] : s.size();
    const auto c0 = static_cast<unsigned char>(s[offsets[i]]);
    const size_t n = end - offsets[i];
    if (n == 1) {
      cps.push_back(c0);
      continue;
    }
    uint32_t cp = c0 & (0x7F >> n);
    for (size_t k = 1; k < n; ++k)
      cp = (cp << 6) | (static_cast<unsigned char>(s[offsets[i] + k]) & 0x3F);
    cps.push_back(cp);
  }
  return cps;
}

std::string encode(const std::vector<uint32_t>& cps) {
  std::string out;
  for (uint32_t cp : cps) append_utf8(out, cp);
  return out;
}

// Simple (one-to-one) case mappings; 0 when the code point has none.
uint32_t upper_of(uint32_t c) {
  if (c >= 'a' && c <= 'z') return c - 32;
  if ((c >= 0xE0 && c <= 0xFE && c != 0xF7)) return c - 32;
  if (c == 0xFF) return 0x178;
  if (c >= 0x100 && c <= 0x17F && c != 0x130 && c != 0x131 && c != 0x138 && c != 0x149) {
    const bool odd_lower = (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E);
    if (odd_lower ? (c % 2 == 0) : (c % 2 == 1)) return c - 1;
    return 0;
  }
  if (c >= 0x3B1 && c <= 0x3C9 && c != 0x3C2) return c - 32;
  if (c >= 0x430 && c <= 0x44F) return c - 32;
  if (c >= 0x450 && c <= 0x45F) return c - 80;
  return 0;
}

uint32_t lower_of(uint32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
  if (c == 0x178) return 0xFF;
  if (c >= 0x100 && c <= 0x17F && c != 0x130 && c != 0x131 && c != 0x138 && c != 0x149) {
    const bool odd_lower = (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E);
    if (odd_lower ? (c % 2 == 1) : (c % 2 == 0)) return c + 1;
    return 0;
  }
  if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 32;
  if (c >= 0x410 && c <= 0x42F) return c + 32;
  if (c >= 0x400 && c <= 0x40F) return c + 80;
  return 0;
}

uint32_t up(uint32_t c) {
  const uint32_t u = upper_of(c);
  return u ? u : c;
}
uint32_t low(uint32_t c) {
  const uint32_t l = lower_of(c);
  return l ? l : c;
}
bool is_cased(uint32_t c) { return upper_of(c) != 0 || lower_of(c) != 0 || c == 0xDF; }
bool is_upper_cp(uint32_t c) { return lower_of(c) != 0; }
bool is_lower_cp(uint32_t c) { return upper_of(c) != 0 || c == 0xDF; }

bool in_set(uint32_t c, const std::vector<uint32_t>& set) {
  return std::find(set.begin(), set.end(), c) != set.end();
}

}  // namespace

bool is_py_space(uint32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

std::string py_strip(std::string_view s, bool left, bool right) {
  const auto cps = decode(s);
  size_t b = 0, e = cps.size();
  while (left && b < e && is_py_space(cps[b])) ++b;
  while (right && e > b && is_py_space(cps[e - 1])) --e;
  return encode(std::vector<uint32_t>(cps.begin() + static_cast<std::ptrdiff_t>(b),
                                      cps.begin() + static_cast<std::ptrdiff_t>(e)));
}

std::string strip_chars(std::string_view s, std::string_view chars, bool left, bool right) {
  const auto cps = decode(s);
  const auto set = decode(chars);
  size_t b = 0, e = cps.size();
  while (left && b < e && in_set(cps[b], set)) ++b;
  while (right && e > b && in_set(cps[e - 1], set)) --e;
  return encode(std::vector<uint32_t>(cps.begin() + static_cast<std::ptrdiff_t>(b),
                                      cps.begin() + static_cast<std::ptrdiff_t>(e)));
}

std::string to_upper(std::string_view s) {
  auto cps = decode(s);
  std::string out;
  for (uint32_t c : cps) {
    if (c == 0xDF) {
      out += "SS";
    } else {
      append_utf8(out, up(c));
    }
  }
  return out;
}

std::string to_lower(std::string_view s) {
  auto cps = decode(s);
  for (auto& c : cps) c = low(c);
  return encode(cps);
}

std::string py_title(std::string_view s) {
  auto cps = decode(s);
  bool prev_cased = false;
  for (auto& c : cps) {
    const bool cased = is_cased(c);
    c = prev_cased ? low(c) : up(c);
    prev_cased = cased;
  }
  return encode(cps);
}

std::string jinja_title(std::string_view s) {
  // Words start after runs of "-", whitespace, "(", "{", "[" and "<".
  auto cps = decode(s);
  bool word_start = true;
  for (auto& c : cps) {
    const bool separator =
        c == '-' || is_py_space(c) || c == '(' || c == '{' || c == '[' || c == '<';
    if (separator) {
      word_start = true;
      continue;
    }
    c = word_start ? up(c) : low(c);
    word_start = false;
  }
  return encode(cps);
}

std::string capitalize(std::string_view s) {
  auto cps = decode(s);
  for (size_t i = 0; i < cps.size(); ++i) cps[i] = i == 0 ? up(cps[i]) : low(cps[i]);
  return encode(cps);
}

std::vector<std::string> split_whitespace(std::string_view s, int64_t maxsplit) {
  const auto cps = decode(s);
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < cps.size()) {
    while (i < cps.size() && is_py_space(cps[i])) ++i;
    if (i == cps.size()) break;
    if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
      parts.push_back(
          encode(std::vector<uint32_t>(cps.begin() + static_cast<std::ptrdiff_t>(i), cps.end())));
      // Python keeps the remainder's trailing whitespace only when it was not split off.
      return parts;
    }
    size_t j = i;
    while (j < cps.size() && !is_py_space(cps[j])) ++j;
    parts.push_back(encode(std::vector<uint32_t>(cps.begin() + static_cast<std::ptrdiff_t>(i),
                                                 cps.begin() + static_cast<std::ptrdiff_t>(j))));
    i = j;
  }
  return parts;
}

std::vector<std::string> split(std::string_view s, std::string_view sep, int64_t maxsplit,
                               bool from_right) {
  std::vector<std::string> parts;
  if (!from_right) {
    size_t pos = 0;
    for (;;) {
      const size_t at = s.find(sep, pos);
      if (at == std::string_view::npos ||
          (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit)) {
        parts.emplace_back(s.substr(pos));
        return parts;
      }
      parts.emplace_back(s.substr(pos, at - pos));
      pos = at + sep.size();
    }
  }
  size_t end = s.size();
  for (;;) {
    const size_t at = end >= sep.size() ? s.rfind(sep, end - sep.size()) : std::string_view::npos;
    if (at == std::string_view::npos ||
        (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit)) {
      parts.emplace_back(s.substr(0, end));
      break;
    }
    parts.emplace_back(s.substr(at + sep.size(), end - at - sep.size()));
    end = at;
  }
  std::reverse(parts.begin(), parts.end());
  return parts;
}

std::vector<std::string> split_lines(std::string_view s) {
  const auto cps = decode(s);
  std::vector<std::string> lines;
  std::vector<uint32_t> cur;
  for (size_t i = 0; i < cps.size(); ++i) {
    const uint32_t c = cps[i];
    const bool brk = c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || (c >= 0x1C && c <= 0x1E) ||
                     c == 0x85 || c == 0x2028 || c == 0x2029;
    if (!brk) {
      cur.push_back(c);
      continue;
    }
    if (c == '\r' && i + 1 < cps.size() && cps[i + 1] == '\n') ++i;
    lines.push_back(encode(cur));
    cur.clear();
  }
  if (!cur.empty()) lines.push_back(encode(cur));
  return lines;
}

std::string replace(std::string_view s, std::string_view old_text, std::string_view new_text,
                    int64_t count, const Interpreter& in) {
  std::string out;
  int64_t n = 0;
  if (old_text.empty()) {
    const auto offsets = codepoint_offsets(s);
    for (size_t i = 0; i <= offsets.size(); ++i) {
      if (count < 0 || n < count) {
        out += new_text;
        ++n;
      }
      if (i < offsets.size()) {
        const size_t end = i + 1 < offsets.size() ? offsets[i + 1] : s.size();
        out += s.substr(offsets[i], end - offsets[i]);
      }
      in.check_size(out.size());
    }
    return out;
  }
  size_t pos = 0;
  for (;;) {
    const size_t at = s.find(old_text, pos);
    if (at == std::string_view::npos || (count >= 0 && n == count)) break;
    out += s.substr(pos, at - pos);
    out += new_text;
    in.check_size(out.size());
    pos = at + old_text.size();
    ++n;
  }
  out += s.substr(pos);
  in.check_size(out.size());
  return out;
}

int64_t count_occurrences(std::string_view s, std::string_view sub) {
  if (sub.empty()) return static_cast<int64_t>(num_codepoints(s)) + 1;
  int64_t n = 0;
  for (size_t pos = s.find(sub); pos != std::string_view::npos; pos = s.find(sub, pos + sub.size()))
    ++n;
  return n;
}

bool classify(std::string_view s, std::string_view what) {
  const auto cps = decode(s);
  if (cps.empty()) return false;
  auto digit = [](uint32_t c) { return c >= '0' && c <= '9'; };
  auto alpha = [](uint32_t c) {
    return is_cased(c) || (c >= 0x80 && !is_py_space(c) && c > 0x2FF);
  };
  if (what == "isdigit") return std::all_of(cps.begin(), cps.end(), digit);
  if (what == "isalpha") return std::all_of(cps.begin(), cps.end(), alpha);
  if (what == "isalnum") {
    return std::all_of(cps.begin(), cps.end(), [&](uint32_t c) { return digit(c) || alpha(c); });
  }
  if (what == "isspace") return std::all_of(cps.begin(), cps.end(), is_py_space);
  bool any_cased = false;
  for (uint32_t c : cps) {
    if (what == "isupper" && is_lower_cp(c)) return false;
    if (what == "islower" && is_upper_cp(c)) return false;
    any_cased = any_cased || is_cased(c);
  }
  return any_cased;
}

}  // namespace tokamak::jinja
