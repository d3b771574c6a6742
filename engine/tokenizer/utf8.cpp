#include "tokenizer/utf8.h"

#include "tokenizer/tokenizer.h"

namespace tokamak {
namespace utf8 {
namespace {

// Expected sequence length for a lead byte; 0 for bytes that cannot start one
// (continuation bytes 80..BF, overlong leads C0/C1, F5..FF).
size_t lead_length(uint8_t b) {
  if (b < 0x80) return 1;
  if (b >= 0xC2 && b <= 0xDF) return 2;
  if (b >= 0xE0 && b <= 0xEF) return 3;
  if (b >= 0xF0 && b <= 0xF4) return 4;
  return 0;
}

// Whether `second` may follow `lead` (Unicode Table 3-7: the second byte's
// range excludes overlongs, surrogates and code points above U+10FFFF).
bool second_byte_ok(uint8_t lead, uint8_t second) {
  switch (lead) {
    case 0xE0:
      return second >= 0xA0 && second <= 0xBF;
    case 0xED:
      return second >= 0x80 && second <= 0x9F;
    case 0xF0:
      return second >= 0x90 && second <= 0xBF;
    case 0xF4:
      return second >= 0x80 && second <= 0x8F;
    default:
      return second >= 0x80 && second <= 0xBF;
  }
}

bool is_continuation(uint8_t b) { return (b & 0xC0) == 0x80; }

// Number of leading bytes at s[pos] that agree with a well-formed sequence
// (1..n), and the expected length n (0 for a bad lead byte).
size_t matching_prefix(std::string_view s, size_t pos, size_t* expected) {
  const auto lead = static_cast<uint8_t>(s[pos]);
  const size_t n = lead_length(lead);
  *expected = n;
  if (n <= 1) return 1;
  size_t k = 1;
  while (k < n && pos + k < s.size()) {
    const auto b = static_cast<uint8_t>(s[pos + k]);
    const bool ok = (k == 1) ? second_byte_ok(lead, b) : is_continuation(b);
    if (!ok) break;
    ++k;
  }
  return k;
}

}  // namespace

size_t valid_sequence_length(std::string_view s, size_t pos) {
  size_t expected = 0;
  const size_t k = matching_prefix(s, pos, &expected);
  return (expected != 0 && k == expected) ? expected : 0;
}

size_t invalid_subpart_length(std::string_view s, size_t pos) {
  size_t expected = 0;
  return matching_prefix(s, pos, &expected);
}

char32_t decode(std::string_view s, size_t pos, size_t length) {
  const auto b0 = static_cast<uint8_t>(s[pos]);
  if (length == 1) return b0;
  char32_t cp = b0 & (0x7F >> length);
  for (size_t i = 1; i < length; ++i) cp = (cp << 6) | (static_cast<uint8_t>(s[pos + i]) & 0x3F);
  return cp;
}

void append(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace utf8

std::string repair_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t n = utf8::valid_sequence_length(s, pos);
    if (n != 0) {
      out.append(s.substr(pos, n));
      pos += n;
    } else {
      out.append(utf8::kReplacement);
      pos += utf8::invalid_subpart_length(s, pos);
    }
  }
  return out;
}

size_t complete_utf8_prefix(std::string_view s) {
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t n = utf8::valid_sequence_length(s, pos);
    if (n != 0) {
      pos += n;
      continue;
    }
    const size_t k = utf8::invalid_subpart_length(s, pos);
    // A subpart that runs into the end of s may still be completed by the
    // bytes that come next: hold it back.
    if (pos + k == s.size() && k < 4 && static_cast<uint8_t>(s[pos]) >= 0xC2 &&
        static_cast<uint8_t>(s[pos]) <= 0xF4) {
      return pos;
    }
    pos += k;
  }
  return pos;
}

}  // namespace tokamak
