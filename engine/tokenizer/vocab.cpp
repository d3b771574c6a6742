#include "tokenizer/vocab.h"

#include <algorithm>
#include <array>
#include <string_view>

#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"

namespace tokamak {
namespace {

constexpr std::string_view kModel = "tokenizer.ggml.model";
constexpr std::string_view kPre = "tokenizer.ggml.pre";
constexpr std::string_view kTokens = "tokenizer.ggml.tokens";
constexpr std::string_view kScores = "tokenizer.ggml.scores";
constexpr std::string_view kTokenType = "tokenizer.ggml.token_type";
constexpr std::string_view kMerges = "tokenizer.ggml.merges";
constexpr std::string_view kBos = "tokenizer.ggml.bos_token_id";
constexpr std::string_view kEos = "tokenizer.ggml.eos_token_id";
constexpr std::string_view kUnk = "tokenizer.ggml.unknown_token_id";
constexpr std::string_view kPad = "tokenizer.ggml.padding_token_id";
constexpr std::string_view kEot = "tokenizer.ggml.eot_token_id";
constexpr std::string_view kEom = "tokenizer.ggml.eom_token_id";
constexpr std::string_view kAddBos = "tokenizer.ggml.add_bos_token";
constexpr std::string_view kAddEos = "tokenizer.ggml.add_eos_token";
constexpr std::string_view kAddSpacePrefix = "tokenizer.ggml.add_space_prefix";

// Control tokens with these texts end generation (llama.cpp's list, plus
// Llama 3's <|end_of_text|>, which base models emit at the end of a text).
constexpr std::array<std::string_view, 8> kEogTexts = {
    "<|eot_id|>",    "<|eom_id|>",    "<|im_end|>",      "<|end|>",
    "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "</s>"};

std::string where(const gguf::File& file, std::string_view key) {
  return file.path() + ": " + std::string(key);
}

Result<const gguf::Array*> find_array(const gguf::File& file, std::string_view key, bool required) {
  const gguf::Value* value = file.find(key);
  if (value == nullptr) {
    if (!required) return static_cast<const gguf::Array*>(nullptr);
    return make_error(ErrorCode::BadFormat, where(file, key) + " is missing");
  }
  const gguf::Array* array = value->as_array();
  if (array == nullptr) {
    return make_error(ErrorCode::BadFormat, where(file, key) + " should be an array but is " +
                                                std::string(gguf::value_type_name(value->type())));
  }
  return array;
}

Result<std::vector<std::string>> read_strings(const gguf::File& file, std::string_view key,
                                              bool required) {
  TK_ASSIGN(const gguf::Array* array, find_array(file, key, required));
  std::vector<std::string> out;
  if (array == nullptr) return out;
  out.reserve(array->items.size());
  for (const gguf::Value& item : array->items) {
    const std::string* s = item.as_string();
    if (s == nullptr) {
      return make_error(ErrorCode::BadFormat,
                        where(file, key) + " should hold strings but holds " +
                            std::string(gguf::value_type_name(array->elem_type)));
    }
    out.push_back(*s);
  }
  return out;
}

// A token id key: absent -> -1; 0xFFFFFFFF (llama.cpp's "none" as u32) -> -1.
Result<int32_t> read_id(const gguf::File& file, std::string_view key, int32_t num_tokens) {
  const gguf::Value* value = file.find(key);
  if (value == nullptr) return -1;
  const std::optional<int64_t> id = value->as_int();
  if (!value->is_integer() || !id) {
    return make_error(ErrorCode::BadFormat, where(file, key) + " should be an integer but is " +
                                                std::string(gguf::value_type_name(value->type())));
  }
  if (*id == -1 || *id == 0xFFFFFFFFll) return -1;
  if (*id < 0 || *id >= num_tokens) {
    return make_error(ErrorCode::BadFormat, where(file, key) + " = " + std::to_string(*id) +
                                                " is outside the vocabulary of " +
                                                std::to_string(num_tokens) + " tokens");
  }
  return static_cast<int32_t>(*id);
}

Result<bool> read_bool(const gguf::File& file, std::string_view key, bool fallback) {
  const gguf::Value* value = file.find(key);
  if (value == nullptr) return fallback;
  const std::optional<bool> b = value->as_bool();
  if (!b) {
    return make_error(ErrorCode::BadFormat, where(file, key) + " should be a bool but is " +
                                                std::string(gguf::value_type_name(value->type())));
  }
  return *b;
}

Status read_scores_and_types(const gguf::File& file, Vocab& vocab) {
  const size_t num_tokens = vocab.tokens.size();
  TK_ASSIGN(const gguf::Array* scores, find_array(file, kScores, false));
  if (scores != nullptr) {
    if (scores->items.size() != num_tokens) {
      return make_error(ErrorCode::BadFormat,
                        where(file, kScores) + " has " + std::to_string(scores->items.size()) +
                            " entries for " + std::to_string(num_tokens) + " tokens");
    }
    vocab.scores.reserve(num_tokens);
    for (const gguf::Value& v : scores->items) {
      const std::optional<double> f = v.as_float();
      if (!f) return make_error(ErrorCode::BadFormat, where(file, kScores) + " should hold floats");
      vocab.scores.push_back(static_cast<float>(*f));
    }
  }
  TK_ASSIGN(const gguf::Array* types, find_array(file, kTokenType, false));
  if (types == nullptr) {  // llama.cpp treats a missing array as all normal
    vocab.types.assign(num_tokens, TokenType::Normal);
    return {};
  }
  if (types->items.size() != num_tokens) {
    return make_error(ErrorCode::BadFormat,
                      where(file, kTokenType) + " has " + std::to_string(types->items.size()) +
                          " entries for " + std::to_string(num_tokens) + " tokens");
  }
  vocab.types.reserve(num_tokens);
  for (size_t i = 0; i < num_tokens; ++i) {
    const std::optional<int64_t> t = types->items[i].as_int();
    if (!t || *t < 0 || *t > static_cast<int64_t>(TokenType::Byte)) {
      return make_error(ErrorCode::BadFormat, where(file, kTokenType) + "[" + std::to_string(i) +
                                                  "] is not a token type 0..6");
    }
    vocab.types.push_back(static_cast<TokenType>(*t));
  }
  return {};
}

// eos, eot, eom and the control tokens whose text marks an end of turn.
std::vector<int32_t> end_of_generation_ids(const Vocab& vocab, int32_t eot_id, int32_t eom_id) {
  std::vector<int32_t> ids;
  for (int32_t id : {vocab.eos_id, eot_id, eom_id}) {
    if (id >= 0) ids.push_back(id);
  }
  const size_t num_typed = std::min(vocab.tokens.size(), vocab.types.size());
  for (size_t id = 0; id < num_typed; ++id) {
    if (vocab.types[id] != TokenType::Control) continue;
    if (std::find(kEogTexts.begin(), kEogTexts.end(), vocab.tokens[id]) != kEogTexts.end()) {
      ids.push_back(static_cast<int32_t>(id));
    }
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

}  // namespace

Result<Vocab> Vocab::from_gguf(const gguf::File& file) {
  Vocab vocab;
  const gguf::Value* model_value = file.find(kModel);
  if (model_value == nullptr || model_value->as_string() == nullptr) {
    return make_error(ErrorCode::BadFormat, where(file, kModel) + " is missing (no vocabulary)");
  }
  const std::string& model = *model_value->as_string();
  if (model == "llama") {
    vocab.kind = VocabKind::Spm;
  } else if (model == "gpt2") {
    vocab.kind = VocabKind::Bpe;
  } else {
    return make_error(ErrorCode::Unsupported, where(file, kModel) + " = '" + model +
                                                  "' is not supported (only 'llama' = "
                                                  "SentencePiece and 'gpt2' = byte-level BPE)");
  }
  if (const gguf::Value* pre = file.find(kPre); pre != nullptr && pre->as_string() != nullptr) {
    vocab.pre = *pre->as_string();
  }
  TK_ASSIGN(vocab.tokens, read_strings(file, kTokens, true));
  if (vocab.tokens.empty())
    return make_error(ErrorCode::BadFormat, where(file, kTokens) + " is empty");
  if (vocab.tokens.size() > 0x7FFFFFFF) {
    return make_error(ErrorCode::BadFormat, where(file, kTokens) + " has too many tokens");
  }
  TK_TRY(read_scores_and_types(file, vocab));
  if (vocab.kind == VocabKind::Bpe) {
    TK_ASSIGN(vocab.merges, read_strings(file, kMerges, false));
  }

  const int32_t n = vocab.size();
  TK_ASSIGN(vocab.bos_id, read_id(file, kBos, n));
  TK_ASSIGN(vocab.eos_id, read_id(file, kEos, n));
  TK_ASSIGN(vocab.unk_id, read_id(file, kUnk, n));
  TK_ASSIGN(vocab.pad_id, read_id(file, kPad, n));
  TK_ASSIGN(const int32_t eot_id, read_id(file, kEot, n));
  TK_ASSIGN(const int32_t eom_id, read_id(file, kEom, n));
  vocab.eog_ids = end_of_generation_ids(vocab, eot_id, eom_id);

  const bool spm = vocab.kind == VocabKind::Spm;
  TK_ASSIGN(vocab.add_bos, read_bool(file, kAddBos, spm));
  TK_ASSIGN(vocab.add_eos, read_bool(file, kAddEos, false));
  TK_ASSIGN(vocab.add_space_prefix, read_bool(file, kAddSpacePrefix, spm));
  return vocab;
}

void Vocab::to_gguf(gguf::Writer& writer) const {
  using gguf::Value;
  const bool spm = kind == VocabKind::Spm;
  writer.set(std::string(kModel), Value::string(spm ? "llama" : "gpt2"));
  if (!spm) writer.set(std::string(kPre), Value::string(pre));
  writer.set(std::string(kTokens), Value::string_array(tokens));
  if (!scores.empty()) writer.set(std::string(kScores), Value::f32_array(scores));
  std::vector<int32_t> type_values(types.size());
  std::transform(types.begin(), types.end(), type_values.begin(),
                 [](TokenType t) { return static_cast<int32_t>(t); });
  writer.set(std::string(kTokenType), Value::i32_array(type_values));
  if (!merges.empty()) writer.set(std::string(kMerges), Value::string_array(merges));
  for (auto [key, id] : {std::pair{kBos, bos_id}, std::pair{kEos, eos_id}, std::pair{kUnk, unk_id},
                         std::pair{kPad, pad_id}}) {
    if (id >= 0) writer.set(std::string(key), Value::u32(static_cast<uint32_t>(id)));
  }
  // End-of-generation ids that from_gguf would not find again by itself
  // (eos and control tokens with known texts are found): the first goes
  // under eot, the next under eom.
  const std::vector<int32_t> implied = end_of_generation_ids(*this, -1, -1);
  std::vector<int32_t> extra;
  for (int32_t id : eog_ids) {
    if (std::find(implied.begin(), implied.end(), id) == implied.end()) extra.push_back(id);
  }
  if (extra.size() > 0) writer.set(std::string(kEot), Value::u32(static_cast<uint32_t>(extra[0])));
  if (extra.size() > 1) writer.set(std::string(kEom), Value::u32(static_cast<uint32_t>(extra[1])));
  writer.set(std::string(kAddBos), Value::boolean(add_bos));
  writer.set(std::string(kAddEos), Value::boolean(add_eos));
  writer.set(std::string(kAddSpacePrefix), Value::boolean(add_space_prefix));
}

}  // namespace tokamak
