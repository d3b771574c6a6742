// BlockPool: the KV blocks of the backend's pool, handed out by id with
// reference counts and a prefix cache. The backend only reads and writes the
// blocks it is given; the pool alone decides who holds which block.
//
//   block state    ref_count  in free list  hash
//   held           >= 1       no            maybe (full, published block)
//   cached         0          yes (back)    yes   revived by take_cached()
//   empty          0          yes (front)   no
//
// The free list is one doubly linked list over block ids: allocate() pops
// from the front, so empty blocks go first and cached ones are evicted in
// least-recently-freed order (a freed cached block goes to the back).
//
// Prefix caching: a full block is named by hash_block(parent hash, its
// block_size tokens), chained from kNoParent for block 0, so a hash names the
// whole prefix up to the end of the block. publish() records it once the
// block's K/V are written; take_cached() finds it again. The pool keeps each
// published block's tokens and parent hash and compares them on lookup, so a
// 64-bit hash collision is a miss, never a wrong block.
//
// Contracts: a block is freed only by a holder (free() of a block whose
// ref_count is 0, or of an id outside the pool, is a programming error: it is
// ignored and counted in num_bad_frees(), never a double free); a block held
// by more than one sequence is full and never written.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

namespace tokamak {

using BlockHash = uint64_t;

class BlockPool {
 public:
  static constexpr BlockHash kNoParent = 0x6b76'6361'6368'6531ull;

  // Block ids [0, num_blocks). enable_caching false: publish() and
  // take_cached() do nothing.
  BlockPool(int32_t num_blocks, int32_t block_size, bool enable_caching);

  int32_t num_blocks() const { return num_blocks_; }
  int32_t block_size() const { return block_size_; }
  bool caching() const { return caching_; }
  int32_t num_free() const { return num_free_; }  // empty + cached: what allocate() can take
  int32_t num_used() const { return num_blocks_ - num_free_; }  // ref_count >= 1
  int32_t num_cached() const { return num_cached_free_; }       // ref_count 0 with a hash
  int32_t ref_count(int32_t block) const { return ref_count_[block]; }
  int64_t num_bad_frees() const { return num_bad_frees_; }

  // Appends n blocks (ref_count 1, no hash) to `out`, evicting cached blocks
  // as needed. False, with `out` unchanged, when fewer than n are free.
  bool allocate(int32_t n, std::vector<int32_t>& out);
  // Drops one reference to each block; a block reaching 0 goes to the free
  // list (front when empty, back when it holds a published hash).
  void free(std::span<const int32_t> blocks);

  // The hash of a full block given its parent's hash (kNoParent for the
  // first block) and its block_size tokens.
  static BlockHash hash_block(BlockHash parent, std::span<const int32_t> tokens);
  // Marks a full, written, held block as the cached copy of (parent, tokens)
  // whose hash is `hash`. Ignored when another block already holds that hash
  // or the block already has one.
  void publish(int32_t block, BlockHash hash, BlockHash parent, std::span<const int32_t> tokens);
  // The cached block with this hash and exactly these parent and tokens,
  // with one more reference (revived from the free list when at 0), or
  // nullopt.
  std::optional<int32_t> take_cached(BlockHash hash, BlockHash parent,
                                     std::span<const int32_t> tokens);

 private:
  static constexpr int32_t kNone = -1;
  void unlink(int32_t block);
  void push_front(int32_t block);
  void push_back(int32_t block);
  void forget_hash(int32_t block);

  int32_t num_blocks_;
  int32_t block_size_;
  bool caching_;
  int32_t num_free_ = 0;
  int32_t num_cached_free_ = 0;
  int64_t num_bad_frees_ = 0;
  std::vector<int32_t> ref_count_;  // (num_blocks)
  std::vector<int32_t> prev_;       // (num_blocks) free-list links; kNone at the ends
  std::vector<int32_t> next_;       // (num_blocks)
  std::vector<bool> in_free_list_;  // (num_blocks)
  int32_t head_ = kNone;
  int32_t tail_ = kNone;
  // Published blocks.
  std::vector<bool> has_hash_;     // (num_blocks)
  std::vector<BlockHash> hash_;    // (num_blocks)
  std::vector<BlockHash> parent_;  // (num_blocks)
  std::vector<int32_t> tokens_;    // (num_blocks, block_size)
  std::unordered_map<BlockHash, int32_t> by_hash_;
};

}  // namespace tokamak
