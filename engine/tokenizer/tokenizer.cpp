#include "tokenizer/tokenizer.h"

#include <algorithm>

#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/spm_tokenizer.h"

namespace tokamak {
namespace {

Status check_vocab(const Vocab& vocab) {
  const auto num_tokens = vocab.tokens.size();
  if (num_tokens == 0) return make_error(ErrorCode::BadFormat, "vocabulary has no tokens");
  if (vocab.types.size() != num_tokens) {
    return make_error(ErrorCode::BadFormat,
                      "vocabulary has " + std::to_string(num_tokens) + " tokens but " +
                          std::to_string(vocab.types.size()) + " token types");
  }
  if (!vocab.scores.empty() && vocab.scores.size() != num_tokens) {
    return make_error(ErrorCode::BadFormat, "vocabulary has " + std::to_string(num_tokens) +
                                                " tokens but " +
                                                std::to_string(vocab.scores.size()) + " scores");
  }
  for (auto [name, id] : {std::pair{"bos", vocab.bos_id}, std::pair{"eos", vocab.eos_id},
                          std::pair{"unknown", vocab.unk_id}, std::pair{"padding", vocab.pad_id}}) {
    if (id < -1 || id >= vocab.size()) {
      return make_error(ErrorCode::BadFormat, std::string(name) + " token id " +
                                                  std::to_string(id) + " is outside the " +
                                                  std::to_string(num_tokens) + "-token vocabulary");
    }
  }
  return {};
}

// SPM vocabularies that prefix a space drop it again from the first piece.
bool strips_first_space(const Vocab& vocab) {
  return vocab.kind == VocabKind::Spm && vocab.add_space_prefix;
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> Tokenizer::create(Vocab vocab) {
  TK_TRY(check_vocab(vocab));
  if (vocab.kind == VocabKind::Spm) return SpmTokenizer::create(std::move(vocab));
  return BpeTokenizer::create(std::move(vocab));
}

bool Tokenizer::is_end_of_generation(int32_t id) const {
  if (id < 0) return false;
  if (id == vocab_.eos_id) return true;
  return std::find(vocab_.eog_ids.begin(), vocab_.eog_ids.end(), id) != vocab_.eog_ids.end();
}

std::string Tokenizer::token_bytes(int32_t id, bool render_special) const {
  if (id < 0 || id >= vocab_.size()) return {};
  const std::string& text = vocab_.tokens[id];
  switch (vocab_.types[id]) {
    case TokenType::Normal:
    case TokenType::Undefined:
    case TokenType::Byte:
      return piece_bytes(text, vocab_.types[id]);
    case TokenType::UserDefined:
      return text;
    case TokenType::Control:
    case TokenType::Unknown:
      return render_special ? text : std::string();
    case TokenType::Unused:
      return {};
  }
  return {};
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool render_special) const {
  std::string bytes;
  bool at_start = strips_first_space(vocab_);
  for (int32_t id : ids) {
    std::string piece = token_bytes(id, render_special);
    if (at_start && !piece.empty() && vocab_.types[id] != TokenType::Control) {
      if (piece[0] == ' ') piece.erase(0, 1);
      at_start = false;
    }
    bytes += piece;
  }
  return repair_utf8(bytes);
}

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, bool render_special)
    : tokenizer_(tokenizer),
      render_special_(render_special),
      at_start_(strips_first_space(tokenizer.vocab())) {}

std::string StreamDecoder::push(int32_t id) {
  std::string piece = tokenizer_.token_bytes(id, render_special_);
  if (at_start_ && !piece.empty() && tokenizer_.vocab().types[id] != TokenType::Control) {
    if (piece[0] == ' ') piece.erase(0, 1);
    at_start_ = false;
  }
  pending_ += piece;
  const size_t complete = complete_utf8_prefix(pending_);
  std::string out = repair_utf8(std::string_view(pending_).substr(0, complete));
  pending_.erase(0, complete);
  return out;
}

std::string StreamDecoder::flush() {
  std::string out = repair_utf8(pending_);
  pending_.clear();
  return out;
}

}  // namespace tokamak
