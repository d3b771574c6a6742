// UTF-8 helpers shared by the tokenizers and the decoders (internal to
// tk_tokenizer; the public repair_utf8/complete_utf8_prefix are in tokenizer.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tokamak::utf8 {

// Length of the well-formed UTF-8 sequence starting at s[pos], or 0 when the
// bytes there are not one (bad lead byte, bad continuation, overlong,
// surrogate, above U+10FFFF, or cut off by the end of s).
size_t valid_sequence_length(std::string_view s, size_t pos);

// Number of bytes at s[pos] that form the maximal subpart of an ill-formed
// sequence (Unicode 15, 3.9 "U+FFFD substitution of maximal subparts"):
// at least 1. Precondition: valid_sequence_length(s, pos) == 0.
size_t invalid_subpart_length(std::string_view s, size_t pos);

// Decodes the well-formed sequence of `length` bytes at s[pos].
char32_t decode(std::string_view s, size_t pos, size_t length);

// Appends the UTF-8 encoding of cp (cp <= 0x10FFFF, not a surrogate).
void append(std::string& out, char32_t cp);

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

}  // namespace tokamak::utf8
