// SentencePiece-style tokenizer, as llama.cpp's llm_tokenizer_spm: spaces
// become "▁" (a leading one is added when the vocab says so), the text is cut
// into UTF-8 characters, and the adjacent pair whose joined piece is a token
// with the highest score is merged until none is left; pieces that are not
// tokens fall back to <0xXX> byte tokens.
#pragma once

#include <array>
#include <memory>

#include "tokenizer/special_tokens.h"
#include "tokenizer/token_index.h"
#include "tokenizer/tokenizer.h"

namespace tokamak {

class SpmTokenizer final : public Tokenizer {
 public:
  static Result<std::unique_ptr<Tokenizer>> create(Vocab vocab);

  std::vector<int32_t> encode(std::string_view text, const EncodeOptions& options) const override;

 protected:
  std::string piece_bytes(const std::string& text, TokenType type) const override;

 private:
  explicit SpmTokenizer(Vocab vocab);
  // Tokenizes one stretch of raw text (spaces already escaped) into out.
  void encode_piece(std::string_view text, std::vector<int32_t>& out) const;
  void append_bytes(std::string_view piece, std::vector<int32_t>& out) const;
  float score(int32_t id) const {
    return id < (int32_t)vocab_.scores.size() ? vocab_.scores[id] : 0.0f;
  }

  TokenIndex index_;
  SpecialTokens special_;
  std::array<int32_t, 256> byte_tokens_;  // <0xXX> token of each byte (or unk, or -1)
};

}  // namespace tokamak
