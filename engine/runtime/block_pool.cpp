#include "runtime/block_pool.h"

#include <algorithm>
#include <cassert>

namespace tokamak {
namespace {

// splitmix64's finaliser: a full-avalanche 64-bit mix.
uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

}  // namespace

BlockPool::BlockPool(int32_t num_blocks, int32_t block_size, bool enable_caching)
    : num_blocks_(std::max(num_blocks, 0)),
      block_size_(std::max(block_size, 1)),
      caching_(enable_caching),
      ref_count_(num_blocks_, 0),
      prev_(num_blocks_, kNone),
      next_(num_blocks_, kNone),
      in_free_list_(num_blocks_, false),
      has_hash_(num_blocks_, false),
      hash_(num_blocks_, 0),
      parent_(num_blocks_, 0) {
  if (caching_) tokens_.resize(static_cast<size_t>(num_blocks_) * block_size_);
  for (int32_t b = 0; b < num_blocks_; ++b) push_back(b);
}

void BlockPool::unlink(int32_t b) {
  assert(in_free_list_[b]);
  if (prev_[b] != kNone)
    next_[prev_[b]] = next_[b];
  else
    head_ = next_[b];
  if (next_[b] != kNone)
    prev_[next_[b]] = prev_[b];
  else
    tail_ = prev_[b];
  prev_[b] = next_[b] = kNone;
  in_free_list_[b] = false;
  --num_free_;
  if (has_hash_[b]) --num_cached_free_;
}

void BlockPool::push_front(int32_t b) {
  prev_[b] = kNone;
  next_[b] = head_;
  if (head_ != kNone)
    prev_[head_] = b;
  else
    tail_ = b;
  head_ = b;
  in_free_list_[b] = true;
  ++num_free_;
  if (has_hash_[b]) ++num_cached_free_;
}

void BlockPool::push_back(int32_t b) {
  next_[b] = kNone;
  prev_[b] = tail_;
  if (tail_ != kNone)
    next_[tail_] = b;
  else
    head_ = b;
  tail_ = b;
  in_free_list_[b] = true;
  ++num_free_;
  if (has_hash_[b]) ++num_cached_free_;
}

void BlockPool::forget_hash(int32_t b) {
  if (!has_hash_[b]) return;
  auto it = by_hash_.find(hash_[b]);
  if (it != by_hash_.end() && it->second == b) by_hash_.erase(it);
  has_hash_[b] = false;
}

bool BlockPool::allocate(int32_t n, std::vector<int32_t>& out) {
  if (n <= 0) return true;
  if (n > num_free_) return false;
  for (int32_t i = 0; i < n; ++i) {
    const int32_t b = head_;
    unlink(b);
    forget_hash(b);  // evicted: its prefix is no longer cached
    ref_count_[b] = 1;
    out.push_back(b);
  }
  return true;
}

void BlockPool::free(std::span<const int32_t> blocks) {
  // Freed in reverse so that, of one sequence's cached blocks, the tail of its
  // prefix is evicted before the head (a shorter shared prefix stays longer).
  for (auto it = blocks.rbegin(); it != blocks.rend(); ++it) {
    const int32_t b = *it;
    if (b < 0 || b >= num_blocks_ || ref_count_[b] <= 0) {  // never a double free
      ++num_bad_frees_;
      continue;
    }
    if (--ref_count_[b] > 0) continue;
    if (has_hash_[b])
      push_back(b);
    else
      push_front(b);
  }
}

BlockHash BlockPool::hash_block(BlockHash parent, std::span<const int32_t> tokens) {
  uint64_t h = mix64(parent ^ 0x9e3779b97f4a7c15ull);
  for (int32_t t : tokens) h = mix64(h ^ static_cast<uint32_t>(t)) + 0x9e3779b97f4a7c15ull;
  return mix64(h ^ tokens.size());
}

void BlockPool::publish(int32_t b, BlockHash hash, BlockHash parent,
                        std::span<const int32_t> tokens) {
  if (!caching_ || b < 0 || b >= num_blocks_ || has_hash_[b] || ref_count_[b] <= 0) return;
  if (static_cast<int32_t>(tokens.size()) != block_size_) return;
  if (!by_hash_.emplace(hash, b).second) return;  // another block holds this prefix
  has_hash_[b] = true;
  hash_[b] = hash;
  parent_[b] = parent;
  std::copy(tokens.begin(), tokens.end(), tokens_.begin() + static_cast<size_t>(b) * block_size_);
}

std::optional<int32_t> BlockPool::take_cached(BlockHash hash, BlockHash parent,
                                              std::span<const int32_t> tokens) {
  if (!caching_ || static_cast<int32_t>(tokens.size()) != block_size_) return std::nullopt;
  auto it = by_hash_.find(hash);
  if (it == by_hash_.end()) return std::nullopt;
  const int32_t b = it->second;
  const auto stored = tokens_.begin() + static_cast<size_t>(b) * block_size_;
  if (parent_[b] != parent || !std::equal(tokens.begin(), tokens.end(), stored))
    return std::nullopt;
  if (ref_count_[b] == 0) unlink(b);
  ++ref_count_[b];
  return b;
}

}  // namespace tokamak
