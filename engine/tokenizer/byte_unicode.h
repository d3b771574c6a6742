// GPT-2's reversible byte <-> Unicode mapping used by byte-level BPE: the 188
// printable bytes (! .. ~, ¡ .. ¬, ® .. ÿ) stand for themselves, the other 68
// map in order to U+0100 .. U+0143 (so ' ' is 'Ġ' U+0120, '\n' is 'Ċ' U+010A).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace tokamak {

class ByteUnicode {
 public:
  ByteUnicode();

  // UTF-8 text of the character that stands for byte b.
  std::string_view encode(uint8_t b) const { return byte_text_[b]; }
  // Appends the mapped characters of every byte of bytes.
  void encode(std::string_view bytes, std::string& out) const;
  // The byte a code point stands for, or -1 if it is not one of the 256.
  int decode(char32_t cp) const { return cp < kMaxCodePoint ? cp_to_byte_[cp] : -1; }
  // Maps text back to bytes; characters outside the mapping are kept as they are.
  std::string decode_text(std::string_view text) const;

 private:
  static constexpr char32_t kMaxCodePoint = 0x144;
  std::array<std::string, 256> byte_text_;
  std::array<int16_t, kMaxCodePoint> cp_to_byte_;
};

// The one shared instance (immutable after construction).
const ByteUnicode& byte_unicode();

}  // namespace tokamak
