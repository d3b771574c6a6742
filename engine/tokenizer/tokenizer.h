// Text <-> token ids for a Vocab: SentencePiece-style (score-driven merges
// with byte fallback) or byte-level BPE (rank-driven merges after a
// pre-tokenizer regex, run through PCRE2 with JIT).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "tokenizer/vocab.h"

namespace tokamak {

struct EncodeOptions {
  bool add_bos = true;         // prepend BOS if the vocab says to add one
  bool parse_special = false;  // recognise control (and unknown) token text
  bool add_eos = true;         // append EOS if the vocab says to add one (add_eos_token)
};
// User-defined tokens (Hugging Face added tokens that are not "special") are
// always recognised in the text, as llama.cpp and Hugging Face do.

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Fails on an unsupported model or pre-tokenizer, naming it.
  static Result<std::unique_ptr<Tokenizer>> create(Vocab vocab);

  const Vocab& vocab() const { return vocab_; }
  int32_t bos_id() const { return vocab_.bos_id; }
  int32_t eos_id() const { return vocab_.eos_id; }
  bool is_end_of_generation(int32_t id) const;

  virtual std::vector<int32_t> encode(std::string_view text,
                                      const EncodeOptions& options) const = 0;

  // The bytes a token stands for (byte tokens -> that byte, SPM "▁" -> ' ',
  // byte-level BPE characters -> their bytes). Control tokens decode to ""
  // unless `render_special`. May be an incomplete UTF-8 sequence.
  std::string token_bytes(int32_t id, bool render_special = false) const;

  // Whole-sequence decode (UTF-8 repaired).
  std::string decode(const std::vector<int32_t>& ids, bool render_special = false) const;

 protected:
  explicit Tokenizer(Vocab vocab) : vocab_(std::move(vocab)) {}
  // The bytes of a Normal, Undefined or Byte token's stored text (the one
  // part of token_bytes that depends on the kind of vocabulary).
  virtual std::string piece_bytes(const std::string& text, TokenType type) const = 0;
  Vocab vocab_;
};

// Incremental detokenizer for streaming: push one id at a time; it returns
// only text made of whole UTF-8 characters and holds back a partial one.
// Invalid bytes become U+FFFD. For SPM vocabularies the space that the
// tokenizer prefixed to the first word is removed.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer, bool render_special = false);
  std::string push(int32_t id);
  std::string flush();  // whatever is held back, repaired with U+FFFD

 private:
  const Tokenizer& tokenizer_;
  bool render_special_;
  bool at_start_ = true;
  std::string pending_;
};

// Replaces every invalid UTF-8 sequence in s with U+FFFD.
std::string repair_utf8(std::string_view s);
// Length of the longest prefix of s made of complete, valid-or-invalid
// sequences, keeping back only a trailing incomplete but possibly valid one.
size_t complete_utf8_prefix(std::string_view s);

}  // namespace tokamak
