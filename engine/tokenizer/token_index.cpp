#include "tokenizer/token_index.h"

#include <bit>

namespace tokamak {

uint64_t TokenIndex::hash(std::string_view text) {
  // FNV-1a, then a final mix so that both the low bits (slot) and the high
  // bits (tag) are well spread.
  uint64_t h = 0xCBF29CE484222325ull;
  for (char c : text) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001B3ull;
  }
  h ^= h >> 29;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 32;
  return h;
}

TokenIndex::TokenIndex(const Vocab& vocab) : vocab_(vocab) {
  const size_t capacity = std::bit_ceil(std::max<size_t>(16, vocab.tokens.size() * 2));
  slots_.resize(capacity);
  mask_ = capacity - 1;
  for (int32_t id = 0; id < vocab.size(); ++id) {
    const std::string& text = vocab.tokens[id];
    const uint64_t h = hash(text);
    const auto tag = static_cast<uint32_t>(h >> 32);
    for (uint64_t i = h & mask_;; i = (i + 1) & mask_) {
      Slot& slot = slots_[i];
      if (slot.id < 0) {
        slot = {tag, id};
        break;
      }
      if (slot.tag == tag && vocab.tokens[slot.id] == text) break;  // duplicate: keep first
    }
  }
}

int32_t TokenIndex::find(std::string_view text) const {
  const uint64_t h = hash(text);
  const auto tag = static_cast<uint32_t>(h >> 32);
  for (uint64_t i = h & mask_;; i = (i + 1) & mask_) {
    const Slot& slot = slots_[i];
    if (slot.id < 0) return -1;
    if (slot.tag == tag && vocab_.tokens[slot.id] == text) return slot.id;
  }
}

void MergeTable::reserve(size_t num_merges) {
  const size_t capacity = std::bit_ceil(std::max<size_t>(16, num_merges * 2));
  if (capacity <= slots_.size()) return;
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(capacity, Slot{});
  mask_ = capacity - 1;
  size_ = 0;
  for (const Slot& s : old) {
    if (s.key != kEmpty) {
      insert(static_cast<int32_t>(s.key >> 32), static_cast<int32_t>(s.key & 0xFFFFFFFF), s.merge);
    }
  }
}

void MergeTable::grow() { reserve(std::max<size_t>(16, slots_.size())); }

void MergeTable::insert(int32_t left, int32_t right, Merge merge) {
  if ((size_ + 1) * 2 > slots_.size()) grow();
  const uint64_t k = key(left, right);
  for (size_t i = index_of(k);; i = (i + 1) & mask_) {
    Slot& slot = slots_[i];
    if (slot.key == kEmpty) {
      slot = {k, merge};
      ++size_;
      return;
    }
    if (slot.key == k) return;
  }
}

const MergeTable::Merge* MergeTable::find(int32_t left, int32_t right) const {
  if (slots_.empty()) return nullptr;
  const uint64_t k = key(left, right);
  for (size_t i = index_of(k);; i = (i + 1) & mask_) {
    const Slot& slot = slots_[i];
    if (slot.key == kEmpty) return nullptr;
    if (slot.key == k) return &slot.merge;
  }
}

}  // namespace tokamak
