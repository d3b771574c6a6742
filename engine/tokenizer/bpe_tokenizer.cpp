#include "tokenizer/bpe_tokenizer.h"

#include <queue>

#include "tokenizer/byte_unicode.h"

namespace tokamak {
namespace {

struct Symbol {
  int32_t prev;
  int32_t next;
  int32_t id;  // token id, -1 once merged into its left neighbour
};

struct Bigram {
  int32_t left;
  int32_t right;
  int32_t rank;
  int32_t left_id;  // the ids the pair had when queued (stale check)
  int32_t right_id;
  int32_t result;
  // Lowest rank first; on a tie the leftmost pair.
  bool operator<(const Bigram& other) const {
    return rank > other.rank || (rank == other.rank && left > other.left);
  }
};

}  // namespace

BpeTokenizer::BpeTokenizer(Vocab vocab)
    : Tokenizer(std::move(vocab)), index_(vocab_), special_(vocab_) {
  const ByteUnicode& bytes = byte_unicode();
  for (int b = 0; b < 256; ++b)
    byte_tokens_[b] = index_.find(bytes.encode(static_cast<uint8_t>(b)));
}

Result<std::unique_ptr<Tokenizer>> BpeTokenizer::create(Vocab vocab) {
  TK_ASSIGN(PreTokenizer::Spec spec, PreTokenizer::spec_for(vocab.pre));
  std::unique_ptr<BpeTokenizer> tokenizer(new BpeTokenizer(std::move(vocab)));
  TK_ASSIGN(tokenizer->pre_, PreTokenizer::create(spec.pattern));
  tokenizer->ignore_merges_ = spec.ignore_merges;
  TK_TRY(tokenizer->build_merges());
  return std::unique_ptr<Tokenizer>(std::move(tokenizer));
}

Status BpeTokenizer::build_merges() {
  merges_.reserve(vocab_.merges.size());
  std::string joined;
  for (size_t rank = 0; rank < vocab_.merges.size(); ++rank) {
    const std::string& merge = vocab_.merges[rank];
    const size_t space = merge.find(' ', 1);
    if (space == std::string::npos) {
      return make_error(ErrorCode::BadFormat, "BPE merge " + std::to_string(rank) + " '" + merge +
                                                  "' is not two pieces separated by a space");
    }
    const std::string_view left(merge.data(), space);
    const std::string_view right = std::string_view(merge).substr(space + 1);
    joined.assign(left);
    joined.append(right);
    const int32_t left_id = index_.find(left);
    const int32_t right_id = index_.find(right);
    const int32_t result = index_.find(joined);
    if (left_id < 0 || right_id < 0 || result < 0) {
      ++num_skipped_merges_;
      continue;
    }
    merges_.insert(left_id, right_id, {static_cast<int32_t>(rank), result});
  }
  return {};
}

std::vector<int32_t> BpeTokenizer::encode(std::string_view text,
                                          const EncodeOptions& options) const {
  std::vector<int32_t> out;
  if (options.add_bos && vocab_.add_bos && vocab_.bos_id >= 0) out.push_back(vocab_.bos_id);
  std::vector<std::string_view> words;
  std::string scratch;
  for (const Fragment& fragment : special_.partition(text, options.parse_special)) {
    if (fragment.token >= 0) {
      out.push_back(fragment.token);
      continue;
    }
    words.clear();
    pre_->split(fragment.text, words);
    for (std::string_view word : words) encode_word(word, scratch, out);
  }
  if (options.add_eos && vocab_.add_eos && vocab_.eos_id >= 0) out.push_back(vocab_.eos_id);
  return out;
}

void BpeTokenizer::encode_word(std::string_view word, std::string& scratch,
                               std::vector<int32_t>& out) const {
  if (ignore_merges_) {
    scratch.clear();
    byte_unicode().encode(word, scratch);
    const int32_t id = index_.find(scratch);
    if (id >= 0) {
      out.push_back(id);
      return;
    }
  }
  // One symbol per byte (each byte is one character of the byte-level text).
  std::vector<Symbol> symbols(word.size());
  for (size_t i = 0; i < word.size(); ++i) {
    const auto index = static_cast<int32_t>(i);
    symbols[i] = {index - 1, i + 1 == word.size() ? -1 : index + 1,
                  byte_tokens_[static_cast<uint8_t>(word[i])]};
  }
  std::priority_queue<Bigram> queue;
  auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const int32_t left_id = symbols[left].id;
    const int32_t right_id = symbols[right].id;
    if (left_id < 0 || right_id < 0) return;
    const MergeTable::Merge* merge = merges_.find(left_id, right_id);
    if (merge == nullptr) return;
    queue.push({left, right, merge->rank, left_id, right_id, merge->result});
  };
  for (int32_t i = 1; i < static_cast<int32_t>(symbols.size()); ++i) try_add(i - 1, i);

  std::vector<bool> merged_away(symbols.size(), false);
  while (!queue.empty()) {
    const Bigram bigram = queue.top();
    queue.pop();
    Symbol& left = symbols[bigram.left];
    Symbol& right = symbols[bigram.right];
    if (merged_away[bigram.left] || merged_away[bigram.right] || left.id != bigram.left_id ||
        right.id != bigram.right_id) {
      continue;  // stale
    }
    left.id = bigram.result;
    merged_away[bigram.right] = true;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = bigram.left;
    try_add(left.prev, bigram.left);
    try_add(bigram.left, left.next);
  }
  for (int32_t i = symbols.empty() ? -1 : 0; i != -1; i = symbols[i].next) {
    if (symbols[i].id >= 0) {
      out.push_back(symbols[i].id);
    } else if (vocab_.unk_id >= 0) {
      out.push_back(vocab_.unk_id);  // a byte with no token of its own
    }
  }
}

std::string BpeTokenizer::piece_bytes(const std::string& text, TokenType) const {
  return byte_unicode().decode_text(text);  // GPT-2 byte characters -> bytes
}

}  // namespace tokamak
