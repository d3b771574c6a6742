// Internals shared by vocab_import.cpp and vocab_import_hf.cpp.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "tokenizer/vocab.h"

namespace tokamak::vocab_detail {

Result<std::string> read_file(const std::string& path);
// "<0xXX>" with two hex digits.
bool is_byte_token_text(const std::string& text);
// bos/eos/unk/pad ids within the vocabulary.
Status validate(const Vocab& vocab, const std::string& path);

// What a SentencePiece ModelProto says beyond libsentencepiece's accessors.
struct SpmModelInfo {
  std::vector<TokenType> types;  // per piece (the proto's enum = llama.cpp's numbering)
  bool add_dummy_prefix = true;
};
// Reads the protobuf wire format of a ModelProto (pieces = field 1,
// normalizer_spec = field 3).
Result<SpmModelInfo> parse_spm_model(std::string_view proto, const std::string& path);

// Tokens from a JSON object {"text": id, ...}. Ids must be unique and cover
// 0..n-1, where n = max(num_tokens_at_least, max id + 1); with allow_gaps,
// missing ids become "[PAD<id>]" tokens of type Unused. Types: Normal.
Status fill_tokens_from_json(const nlohmann::json& token_to_id, const std::string& path,
                             Vocab& vocab, size_t num_tokens_at_least = 0, bool allow_gaps = false);

// GPT-2 vocab.bpe text: one "left right" merge per line; a first line
// starting with "#version" is a header; empty lines are skipped.
Status parse_merges_text(std::string_view text, const std::string& path,
                         std::vector<std::string>& merges);

}  // namespace tokamak::vocab_detail
