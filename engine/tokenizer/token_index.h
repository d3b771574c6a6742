// Token text -> id look-up over a Vocab's token strings: an open-addressing
// hash table of ids (the texts stay in the Vocab, which must outlive the
// index and stay unchanged). The first of duplicate texts wins.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/vocab.h"

namespace tokamak {

class TokenIndex {
 public:
  explicit TokenIndex(const Vocab& vocab);

  // The id of the token with exactly this text, or -1.
  int32_t find(std::string_view text) const;

  static uint64_t hash(std::string_view text);

 private:
  struct Slot {
    uint32_t tag = 0;  // high bits of the hash
    int32_t id = -1;   // -1: empty
  };
  const Vocab& vocab_;
  std::vector<Slot> slots_;  // (capacity), a power of two
  uint64_t mask_ = 0;
};

// (left id, right id) -> (rank, merged id) for byte-level BPE merges, in an
// open-addressing table.
class MergeTable {
 public:
  struct Merge {
    int32_t rank = -1;
    int32_t result = -1;
  };
  void reserve(size_t num_merges);
  // Keeps the first (lowest-rank) merge of a pair.
  void insert(int32_t left, int32_t right, Merge merge);
  // nullptr when the pair does not merge.
  const Merge* find(int32_t left, int32_t right) const;
  size_t size() const { return size_; }

 private:
  struct Slot {
    uint64_t key = kEmpty;
    Merge merge;
  };
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  static uint64_t key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }
  size_t index_of(uint64_t key) const {
    return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> 17) & mask_;
  }
  void grow();

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace tokamak
