// BlockPool: reference counts, the free list and its eviction order, the
// prefix hash chain, and that nothing is ever freed twice.
#include "runtime/block_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>

namespace tokamak {
namespace {

std::vector<int32_t> block_tokens(int32_t first, int32_t block_size = 4) {
  std::vector<int32_t> t(block_size);
  std::iota(t.begin(), t.end(), first);
  return t;
}

TEST(BlockPool, AllocatesDistinctBlocksUntilEmpty) {
  BlockPool pool(8, 4, false);
  EXPECT_EQ(pool.num_free(), 8);
  std::vector<int32_t> a;
  ASSERT_TRUE(pool.allocate(5, a));
  ASSERT_EQ(a.size(), 5u);
  std::vector<int32_t> b;
  EXPECT_FALSE(pool.allocate(4, b));  // only 3 left: all or nothing
  EXPECT_TRUE(b.empty());
  ASSERT_TRUE(pool.allocate(3, b));
  std::set<int32_t> all(a.begin(), a.end());
  all.insert(b.begin(), b.end());
  EXPECT_EQ(all.size(), 8u);
  EXPECT_EQ(*all.begin(), 0);
  EXPECT_EQ(*all.rbegin(), 7);
  EXPECT_EQ(pool.num_free(), 0);
  EXPECT_EQ(pool.num_used(), 8);
  for (int32_t id : all) EXPECT_EQ(pool.ref_count(id), 1);
  pool.free(a);
  pool.free(b);
  EXPECT_EQ(pool.num_free(), 8);
  EXPECT_EQ(pool.num_used(), 0);
}

TEST(BlockPool, NeverFreesTwice) {
  BlockPool pool(4, 4, false);
  std::vector<int32_t> a;
  ASSERT_TRUE(pool.allocate(2, a));
  pool.free(a);
  EXPECT_EQ(pool.num_free(), 4);
  pool.free(a);  // a second time: ignored
  const std::vector<int32_t> outside{-1, 4, 100};
  pool.free(outside);
  EXPECT_EQ(pool.num_free(), 4);
  EXPECT_EQ(pool.num_bad_frees(), 5);
  // The free list is intact: exactly 4 distinct blocks come out.
  std::vector<int32_t> b;
  ASSERT_TRUE(pool.allocate(4, b));
  EXPECT_EQ(std::set<int32_t>(b.begin(), b.end()).size(), 4u);
  EXPECT_FALSE(pool.allocate(1, b));
}

TEST(BlockPool, HashChainsNameTheWholePrefix) {
  const auto t0 = block_tokens(10), t1 = block_tokens(20);
  const BlockHash h0 = BlockPool::hash_block(BlockPool::kNoParent, t0);
  const BlockHash h1 = BlockPool::hash_block(h0, t1);
  EXPECT_EQ(h0, BlockPool::hash_block(BlockPool::kNoParent, t0));  // deterministic
  EXPECT_NE(h1, BlockPool::hash_block(BlockPool::kNoParent, t1));  // the parent matters
  const BlockHash other0 = BlockPool::hash_block(BlockPool::kNoParent, block_tokens(11));
  EXPECT_NE(h1, BlockPool::hash_block(other0, t1));
  auto swapped = t0;
  std::swap(swapped[0], swapped[1]);
  EXPECT_NE(h0, BlockPool::hash_block(BlockPool::kNoParent, swapped));  // order matters
}

TEST(BlockPool, SharedBlocksCountReferences) {
  BlockPool pool(4, 4, true);
  const auto t = block_tokens(1);
  const BlockHash h = BlockPool::hash_block(BlockPool::kNoParent, t);
  std::vector<int32_t> a;
  ASSERT_TRUE(pool.allocate(1, a));
  pool.publish(a[0], h, BlockPool::kNoParent, t);
  const auto hit = pool.take_cached(h, BlockPool::kNoParent, t);
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(*hit, a[0]);
  EXPECT_EQ(pool.ref_count(a[0]), 2);
  EXPECT_EQ(pool.num_used(), 1);
  pool.free(a);
  EXPECT_EQ(pool.ref_count(a[0]), 1);  // still held by the second sequence
  EXPECT_EQ(pool.num_free(), 3);
  pool.free(std::vector<int32_t>{*hit});
  EXPECT_EQ(pool.num_free(), 4);
  EXPECT_EQ(pool.num_cached(), 1);  // free, but its prefix is still cached
  const auto again = pool.take_cached(h, BlockPool::kNoParent, t);
  ASSERT_TRUE(again.has_value());  // revived from the free list
  EXPECT_EQ(*again, a[0]);
  EXPECT_EQ(pool.num_free(), 3);
  EXPECT_EQ(pool.num_cached(), 0);
}

TEST(BlockPool, LookupChecksTokensAndParentNotOnlyTheHash) {
  BlockPool pool(2, 4, true);
  const auto t = block_tokens(1);
  std::vector<int32_t> a;
  ASSERT_TRUE(pool.allocate(1, a));
  pool.publish(a[0], /*hash=*/42, BlockPool::kNoParent, t);
  EXPECT_FALSE(pool.take_cached(42, BlockPool::kNoParent, block_tokens(2)).has_value());
  EXPECT_FALSE(pool.take_cached(42, /*parent=*/7, t).has_value());
  EXPECT_FALSE(pool.take_cached(43, BlockPool::kNoParent, t).has_value());
  EXPECT_TRUE(pool.take_cached(42, BlockPool::kNoParent, t).has_value());
}

TEST(BlockPool, EmptyBlocksGoFirstThenCachedOnesLeastRecentlyFreed) {
  BlockPool pool(4, 4, true);
  std::vector<int32_t> held;
  ASSERT_TRUE(pool.allocate(4, held));
  // Blocks 0..2 get published prefixes, freed at different times; block 3
  // is freed without a hash.
  BlockHash parent = BlockPool::kNoParent;
  std::vector<BlockHash> hashes;
  for (int i = 0; i < 3; ++i) {
    const auto t = block_tokens(10 * i);
    const BlockHash h = BlockPool::hash_block(parent, t);
    pool.publish(held[i], h, parent, t);
    hashes.push_back(h);
    parent = h;
  }
  pool.free(std::vector<int32_t>{held[1]});  // freed first: least recent
  pool.free(std::vector<int32_t>{held[0]});
  pool.free(std::vector<int32_t>{held[3]});  // empty
  pool.free(std::vector<int32_t>{held[2]});  // most recent
  EXPECT_EQ(pool.num_cached(), 3);
  std::vector<int32_t> order;
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(pool.allocate(1, order));
  EXPECT_EQ(order, (std::vector<int32_t>{held[3], held[1], held[0], held[2]}));
  EXPECT_EQ(pool.num_cached(), 0);
  // Evicted blocks are no longer found.
  pool.free(order);
  EXPECT_FALSE(pool.take_cached(hashes[1], hashes[0], block_tokens(10)).has_value());
}

TEST(BlockPool, OneSequencesTailIsEvictedBeforeItsHead) {
  BlockPool pool(3, 4, true);
  std::vector<int32_t> seq;
  ASSERT_TRUE(pool.allocate(3, seq));
  BlockHash parent = BlockPool::kNoParent;
  for (int i = 0; i < 3; ++i) {
    const auto t = block_tokens(4 * i);
    const BlockHash h = BlockPool::hash_block(parent, t);
    pool.publish(seq[i], h, parent, t);
    parent = h;
  }
  pool.free(seq);  // the whole table at once
  std::vector<int32_t> order;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(pool.allocate(1, order));
  EXPECT_EQ(order, (std::vector<int32_t>{seq[2], seq[1], seq[0]}));
}

TEST(BlockPool, PublishKeepsTheFirstBlockOfAPrefix) {
  BlockPool pool(2, 4, true);
  const auto t = block_tokens(5);
  const BlockHash h = BlockPool::hash_block(BlockPool::kNoParent, t);
  std::vector<int32_t> a;
  ASSERT_TRUE(pool.allocate(2, a));
  pool.publish(a[0], h, BlockPool::kNoParent, t);
  pool.publish(a[1], h, BlockPool::kNoParent, t);  // same content computed twice
  pool.free(a);
  EXPECT_EQ(pool.num_cached(), 1);
  const auto hit = pool.take_cached(h, BlockPool::kNoParent, t);
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(*hit, a[0]);
}

TEST(BlockPool, WithoutCachingNothingIsFound) {
  BlockPool pool(2, 4, false);
  const auto t = block_tokens(5);
  const BlockHash h = BlockPool::hash_block(BlockPool::kNoParent, t);
  std::vector<int32_t> a;
  ASSERT_TRUE(pool.allocate(1, a));
  pool.publish(a[0], h, BlockPool::kNoParent, t);
  EXPECT_FALSE(pool.take_cached(h, BlockPool::kNoParent, t).has_value());
  pool.free(a);
  EXPECT_EQ(pool.num_cached(), 0);
}

}  // namespace
}  // namespace tokamak
