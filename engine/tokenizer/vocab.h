// The vocabulary of a model, as GGUF stores it under tokenizer.ggml.*:
//   model ("llama" = SentencePiece-style, "gpt2" = byte-level BPE),
//   pre (pre-tokenizer name for BPE: "llama-bpe", "qwen2", "gpt-2", "default"),
//   tokens[], scores[] (SPM), token_type[], merges[] (BPE "a b"),
//   bos/eos/unknown/padding ids, add_bos_token, add_eos_token, add_space_prefix.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"

namespace tokamak {
namespace gguf {
class File;
class Writer;
}  // namespace gguf

// Numbered as llama.cpp's llama_token_type (values on disk).
enum class TokenType : int32_t {
  Undefined = 0,
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6,
};

enum class VocabKind { Spm, Bpe };

struct Vocab {
  VocabKind kind = VocabKind::Spm;
  std::string pre = "default";      // BPE pre-tokenizer name
  std::vector<std::string> tokens;  // (vocab_size) piece text as stored
  std::vector<float> scores;        // (vocab_size) or empty
  std::vector<TokenType> types;     // (vocab_size)
  std::vector<std::string> merges;  // BPE only, "left right", rank = index
  int32_t bos_id = -1;
  int32_t eos_id = -1;
  int32_t unk_id = -1;
  int32_t pad_id = -1;
  std::vector<int32_t> eog_ids;  // end-of-generation ids (eos, eot, im_end ...)
  bool add_bos = true;
  bool add_eos = false;
  bool add_space_prefix = true;  // SPM: prepend a space to the text

  int32_t size() const { return static_cast<int32_t>(tokens.size()); }

  // Reads tokenizer.ggml.* from a GGUF file, validating sizes and ids.
  // model "llama" -> Spm, "gpt2" -> Bpe, anything else -> Unsupported.
  // Missing keys: add_bos = add_space_prefix = (kind == Spm), add_eos false,
  // types all Normal, ids -1 (0xFFFFFFFF also means none). eog_ids = eos,
  // eot_token_id, eom_token_id and the Control tokens whose text is one of
  // <|eot_id|> <|eom_id|> <|im_end|> <|end|> <end_of_turn> <|endoftext|>
  // <|end_of_text|> </s> (sorted, unique).
  static Result<Vocab> from_gguf(const gguf::File& file);
  // Writes the same keys (used by converters and synth): model, pre (BPE),
  // tokens, scores (if any), token_type, merges (if any), the ids that are
  // >= 0 (as u32), add_bos/add_eos/add_space_prefix, and eot/eom_token_id for
  // up to two eog_ids that from_gguf would not find by itself.
  void to_gguf(gguf::Writer& writer) const;
};

}  // namespace tokamak
