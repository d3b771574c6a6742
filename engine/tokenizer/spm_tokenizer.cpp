#include "tokenizer/spm_tokenizer.h"

#include <cstdio>
#include <queue>

#include "tokenizer/utf8.h"

namespace tokamak {
namespace {

constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // U+2581 "▁"

struct Symbol {
  int32_t prev;
  int32_t next;
  uint32_t offset;  // into the escaped text
  uint32_t size_bytes;
};

struct Bigram {
  int32_t left;
  int32_t right;
  float score;
  uint32_t size_bytes;
  // Highest score first; on a tie the leftmost pair.
  bool operator<(const Bigram& other) const {
    return score < other.score || (score == other.score && left > other.left);
  }
};

std::string escape_spaces(std::string_view text, bool add_prefix) {
  std::string out;
  out.reserve(text.size() + 3 + text.size() / 4);
  if (add_prefix) out.append(kSpaceMark);
  for (char c : text) {
    if (c == ' ') {
      out.append(kSpaceMark);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

SpmTokenizer::SpmTokenizer(Vocab vocab)
    : Tokenizer(std::move(vocab)), index_(vocab_), special_(vocab_) {
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    int32_t id = index_.find(name);
    if (id < 0) id = index_.find(std::string_view(reinterpret_cast<const char*>(&b), 1));
    if (id < 0) id = vocab_.unk_id;
    byte_tokens_[b] = id;
  }
}

Result<std::unique_ptr<Tokenizer>> SpmTokenizer::create(Vocab vocab) {
  return std::unique_ptr<Tokenizer>(new SpmTokenizer(std::move(vocab)));
}

std::vector<int32_t> SpmTokenizer::encode(std::string_view text,
                                          const EncodeOptions& options) const {
  std::vector<int32_t> out;
  if (options.add_bos && vocab_.add_bos && vocab_.bos_id >= 0) out.push_back(vocab_.bos_id);
  bool prev_special = true;  // a space prefix goes before the first word
  for (const Fragment& fragment : special_.partition(text, options.parse_special)) {
    if (fragment.token >= 0) {
      out.push_back(fragment.token);
      prev_special = true;
      continue;
    }
    encode_piece(escape_spaces(fragment.text, vocab_.add_space_prefix && prev_special), out);
    prev_special = false;
  }
  if (options.add_eos && vocab_.add_eos && vocab_.eos_id >= 0) out.push_back(vocab_.eos_id);
  return out;
}

void SpmTokenizer::append_bytes(std::string_view piece, std::vector<int32_t>& out) const {
  for (char c : piece) {
    const int32_t id = byte_tokens_[static_cast<uint8_t>(c)];
    if (id >= 0) out.push_back(id);
  }
}

void SpmTokenizer::encode_piece(std::string_view text, std::vector<int32_t>& out) const {
  // Cut into UTF-8 characters; an ill-formed byte is a symbol of its own.
  std::vector<Symbol> symbols;
  symbols.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    size_t n = utf8::valid_sequence_length(text, pos);
    if (n == 0) n = 1;
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back({index - 1, pos + n == text.size() ? -1 : index + 1,
                       static_cast<uint32_t>(pos), static_cast<uint32_t>(n)});
    pos += n;
  }

  std::priority_queue<Bigram> queue;
  auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const uint32_t size = symbols[left].size_bytes + symbols[right].size_bytes;
    const int32_t id = index_.find(text.substr(symbols[left].offset, size));
    if (id < 0) return;
    queue.push({left, right, score(id), size});
  };
  for (int32_t i = 1; i < static_cast<int32_t>(symbols.size()); ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    const Bigram bigram = queue.top();
    queue.pop();
    Symbol& left = symbols[bigram.left];
    Symbol& right = symbols[bigram.right];
    // Stale: one side was merged away or grew since the pair was queued.
    if (left.size_bytes == 0 || right.size_bytes == 0 ||
        left.size_bytes + right.size_bytes != bigram.size_bytes) {
      continue;
    }
    left.size_bytes += right.size_bytes;
    right.size_bytes = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = bigram.left;
    try_add(left.prev, bigram.left);
    try_add(bigram.left, left.next);
  }

  for (int32_t i = symbols.empty() ? -1 : 0; i != -1; i = symbols[i].next) {
    const std::string_view piece = text.substr(symbols[i].offset, symbols[i].size_bytes);
    const int32_t id = index_.find(piece);
    if (id >= 0) {
      out.push_back(id);
    } else {
      append_bytes(piece, out);
    }
  }
}

std::string SpmTokenizer::piece_bytes(const std::string& text, TokenType type) const {
  if (type == TokenType::Byte) {
    unsigned value = 0;
    if (text.size() == 6 && std::sscanf(text.c_str(), "<0x%2X>", &value) == 1) {
      return std::string(1, static_cast<char>(value));
    }
    return text;
  }
  std::string out;  // "▁" stands for a space
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    if (text.compare(pos, kSpaceMark.size(), kSpaceMark) == 0) {
      out.push_back(' ');
      pos += kSpaceMark.size();
    } else {
      out.push_back(text[pos++]);
    }
  }
  return out;
}

}  // namespace tokamak
