// Byte-level BPE tokenizer, as GPT-2 and llama.cpp's llm_tokenizer_bpe: the
// pre-tokenizer regex cuts the text into words, each word's bytes become
// GPT-2's byte characters, and adjacent pairs are merged lowest merge rank
// first. With ignore_merges (Llama 3) a word that is itself a token is
// emitted whole.
#pragma once

#include <array>
#include <memory>

#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/special_tokens.h"
#include "tokenizer/token_index.h"
#include "tokenizer/tokenizer.h"

namespace tokamak {

class BpeTokenizer final : public Tokenizer {
 public:
  static Result<std::unique_ptr<Tokenizer>> create(Vocab vocab);

  std::vector<int32_t> encode(std::string_view text, const EncodeOptions& options) const override;

  // Merges whose parts or result are not tokens (ignored), for diagnostics.
  size_t num_skipped_merges() const { return num_skipped_merges_; }

 protected:
  std::string piece_bytes(const std::string& text, TokenType type) const override;

 private:
  explicit BpeTokenizer(Vocab vocab);
  Status build_merges();
  void encode_word(std::string_view word, std::string& scratch, std::vector<int32_t>& out) const;

  struct Merge {
    int32_t rank;
    int32_t result;  // token id of the joined pair
  };
  static uint64_t pair_key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }

  TokenIndex index_;
  SpecialTokens special_;
  std::unique_ptr<PreTokenizer> pre_;
  bool ignore_merges_ = false;
  std::array<int32_t, 256> byte_tokens_;  // token of each byte's character (or -1)
  MergeTable merges_;                     // (left id, right id) -> rank, merged id
  size_t num_skipped_merges_ = 0;
};

}  // namespace tokamak
