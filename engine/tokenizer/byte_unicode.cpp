#include "tokenizer/byte_unicode.h"

#include "tokenizer/utf8.h"

namespace tokamak {

ByteUnicode::ByteUnicode() {
  cp_to_byte_.fill(-1);
  char32_t next_extra = 0x100;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    const char32_t cp = printable ? static_cast<char32_t>(b) : next_extra++;
    utf8::append(byte_text_[b], cp);
    cp_to_byte_[cp] = static_cast<int16_t>(b);
  }
}

void ByteUnicode::encode(std::string_view bytes, std::string& out) const {
  for (char c : bytes) out.append(byte_text_[static_cast<uint8_t>(c)]);
}

std::string ByteUnicode::decode_text(std::string_view text) const {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t n = utf8::valid_sequence_length(text, pos);
    if (n == 0) {  // not UTF-8: keep the byte
      out.push_back(text[pos++]);
      continue;
    }
    const int b = decode(utf8::decode(text, pos, n));
    if (b >= 0) {
      out.push_back(static_cast<char>(b));
    } else {
      out.append(text.substr(pos, n));
    }
    pos += n;
  }
  return out;
}

const ByteUnicode& byte_unicode() {
  static const ByteUnicode instance;
  return instance;
}

}  // namespace tokamak
