#include "synth/byte_vocab.h"

#include <string>
#include <string_view>

#include "tokenizer/byte_unicode.h"

namespace tokamak::synth {

Result<Vocab> make_byte_vocab(int32_t vocab_size) {
  if (vocab_size < 258) {
    return make_error(ErrorCode::InvalidArgument,
                      "a byte-level vocabulary needs at least 258 tokens (256 bytes, BOS, EOS); "
                      "asked for " +
                          std::to_string(vocab_size));
  }
  const ByteUnicode& bu = byte_unicode();
  Vocab v;
  v.kind = VocabKind::Bpe;
  v.pre = "gpt-2";
  v.add_bos = true;
  v.add_eos = false;
  v.add_space_prefix = false;
  v.tokens.reserve(static_cast<size_t>(vocab_size));
  for (int b = 0; b < 256; ++b) v.tokens.emplace_back(bu.encode(static_cast<uint8_t>(b)));
  v.types.assign(256, TokenType::Normal);

  // Characters to extend tokens with: lower-case letters by English
  // frequency first, then space, the rest of printable ASCII.
  std::string alphabet = "etaoinshrdlcumwfgypbvkjxqz ";
  for (int c = 0x21; c < 0x7f; ++c) {
    if (alphabet.find(static_cast<char>(c)) == std::string::npos)
      alphabet.push_back(static_cast<char>(c));
  }
  const int32_t num_fillers = vocab_size - 258;
  // Breadth-first: level-k tokens are level-(k-1) tokens plus one character.
  size_t frontier_begin = 0;  // index in `words` (raw bytes) of the current level
  std::vector<std::string> words;
  for (char c : alphabet) words.emplace_back(1, c);
  size_t frontier_end = words.size();
  int32_t made = 0;
  while (made < num_fillers) {
    for (size_t w = frontier_begin; w < frontier_end && made < num_fillers; ++w) {
      for (char c : alphabet) {
        if (made >= num_fillers) break;
        std::string left, right, word = words[w] + c;
        bu.encode(words[w], left);
        bu.encode(std::string_view(&c, 1), right);
        v.merges.push_back(left + " " + right);
        v.tokens.push_back(left + right);
        v.types.push_back(TokenType::Normal);
        words.push_back(std::move(word));
        ++made;
      }
    }
    frontier_begin = frontier_end;
    frontier_end = words.size();
  }
  v.bos_id = static_cast<int32_t>(v.tokens.size());
  v.tokens.emplace_back("<|begin_of_text|>");
  v.types.push_back(TokenType::Control);
  v.eos_id = static_cast<int32_t>(v.tokens.size());
  v.tokens.emplace_back("<|end_of_text|>");
  v.types.push_back(TokenType::Control);
  v.eog_ids = {v.eos_id};
  return v;
}

}  // namespace tokamak::synth
