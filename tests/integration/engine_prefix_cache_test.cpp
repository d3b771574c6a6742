// Prefix caching (paged): requests sharing a long prompt prefix reuse its
// full KV blocks — stats and Finished timings say so — and their outputs are
// exactly those of prefix_caching = false and of the Generator. Edge cases: a
// prompt entirely in the cache (its last token must still be computed),
// sharing with a sequence that is still running, and cached blocks evicted
// and reused for other prompts.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "integration/engine_harness.h"

namespace tokamak::test {
namespace {

constexpr int32_t kBlock = 16;
constexpr int32_t kPrefix = 64;  // 4 full blocks

EngineOptions paged(bool prefix_caching, int32_t max_sequences = 16) {
  EngineOptions o;
  o.policy = BatchPolicy::Paged;
  o.max_sequences = max_sequences;
  o.max_step_tokens = 128;
  o.prefix_caching = prefix_caching;
  return o;
}

BackendShape pool(int32_t num_blocks = 64) {
  BackendShape s;
  s.block_size = kBlock;
  s.num_blocks = num_blocks;
  s.num_threads = 1;
  return s;
}

std::vector<int32_t> with_tail(const std::vector<int32_t>& prefix, std::mt19937_64& rng,
                               int32_t tail) {
  std::vector<int32_t> p = prefix;
  const std::vector<int32_t> t = random_prompt(rng, tail + 1);
  p.insert(p.end(), t.begin() + 1, t.end());
  return p;
}

// The first request alone (so its blocks are cached when it ends), then the
// rest at once.
std::vector<std::shared_ptr<RequestRecord>> run_first_then_rest(
    Engine& engine, const std::vector<Request>& requests) {
  Recorder first, rest;
  std::vector<std::shared_ptr<RequestRecord>> out;
  out.push_back(first.submit(engine, requests[0]));
  first.wait_all(engine, 60.0, "first request");
  settled_stats(engine);
  for (size_t i = 1; i < requests.size(); ++i) out.push_back(rest.submit(engine, requests[i]));
  rest.wait_all(engine, 60.0, "requests sharing the prefix");
  return out;
}

TEST(EnginePrefixCache, SharedPrefixIsReusedWithIdenticalOutputs) {
  ASSERT_TRUE(aidreams_model());
  std::mt19937_64 rng(8);
  const std::vector<int32_t> prefix = random_prompt(rng, kPrefix);
  std::vector<Request> requests;
  for (int i = 0; i < 6; ++i) requests.push_back(greedy_request(with_tail(prefix, rng, 10), 20));
  requests[3].sampling.temperature = 0.8f;  // one seeded request too
  requests[3].sampling.seed = 99;

  ReferenceGenerator gen;
  std::vector<Reference> refs;
  for (const Request& r : requests) refs.push_back(gen.run(r));

  std::vector<std::vector<int32_t>> ids_without;
  {
    auto engine = make_engine(paged(false), pool());
    ASSERT_TRUE(engine);
    const auto got = run_first_then_rest(*engine, requests);
    const EngineStats st = settled_stats(*engine);
    expect_idle(st, 6);
    EXPECT_EQ(st.num_prefix_hit_tokens, 0) << "prefix caching is off";
    EXPECT_EQ(st.kv_blocks_cached, 0) << "prefix caching is off";
    for (const auto& r : got) {
      EXPECT_EQ(r->fin.timings.num_cached_tokens, 0);
      ids_without.push_back(r->ids);
    }
    destroy_engine(engine);
  }
  auto engine = make_engine(paged(true), pool());
  ASSERT_TRUE(engine);
  const auto got = run_first_then_rest(*engine, requests);
  const EngineStats st = settled_stats(*engine);
  expect_idle(st, 6);
  EXPECT_GT(st.num_prefix_hit_tokens, 0);
  EXPECT_GT(st.kv_blocks_cached, 0) << "finished prompts' full blocks should stay cached";
  int64_t sum_cached = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const RequestRecord& r = *got[i];
    SCOPED_TRACE("request #" + std::to_string(i) + ": " + r.describe());
    expect_ended_once(r);
    ASSERT_TRUE(r.finished);
    EXPECT_EQ(r.ids, refs[i].ids) << id_diff(r.ids, refs[i].ids);
    EXPECT_EQ(r.ids, ids_without[i]);
    EXPECT_EQ(r.text, refs[i].text);
    const int32_t cached = r.fin.timings.num_cached_tokens;
    sum_cached += cached;
    if (i == 0) {
      EXPECT_EQ(cached, 0) << "nothing was cached before the first request";
    } else {
      EXPECT_EQ(cached, kPrefix) << "the 4 shared full blocks should all be hits";
    }
  }
  EXPECT_EQ(sum_cached, st.num_prefix_hit_tokens)
      << "stats' prefix hits should add up the requests' cached tokens";
  destroy_engine(engine);
}

// The same prompt again, its length a whole number of blocks: every block is
// cached, yet the last token must be run again for its logits.
TEST(EnginePrefixCache, FullyCachedPromptStillComputesItsLastToken) {
  ASSERT_TRUE(aidreams_model());
  std::mt19937_64 rng(9);
  for (int32_t n : {kPrefix, kPrefix + 1, kBlock, 1}) {
    SCOPED_TRACE("prompt " + std::to_string(n));
    const Request req = greedy_request(random_prompt(rng, n), 24);
    ReferenceGenerator gen;
    const Reference ref = gen.run(req);
    auto engine = make_engine(paged(true), pool());
    ASSERT_TRUE(engine);
    const auto got = run_first_then_rest(*engine, {req, req, req});
    for (const auto& r : got) {
      SCOPED_TRACE(r->describe());
      expect_ended_once(*r);
      EXPECT_EQ(r->ids, ref.ids) << id_diff(r->ids, ref.ids);
      EXPECT_LT(r->fin.timings.num_cached_tokens, n) << "at least one token must be computed";
    }
    if (n > kBlock) {
      EXPECT_GT(got[1]->fin.timings.num_cached_tokens, 0);
    }
    expect_idle(settled_stats(*engine), 3);
    destroy_engine(engine);
  }
}

// Requests sharing a prefix submitted together, and a sharer arriving while
// the owner is still decoding: shared blocks must not be written by anyone.
TEST(EnginePrefixCache, SharingWithRunningSequences) {
  ASSERT_TRUE(aidreams_model());
  std::mt19937_64 rng(10);
  const std::vector<int32_t> prefix = random_prompt(rng, kPrefix);
  std::vector<Request> requests;
  for (int i = 0; i < 8; ++i) {
    requests.push_back(greedy_request(with_tail(prefix, rng, i % 3 == 0 ? 0 : i), 40));
  }
  ReferenceGenerator gen;
  auto engine = make_engine(paged(true, 4), pool());
  ASSERT_TRUE(engine);
  Recorder rec;
  std::vector<std::shared_ptr<RequestRecord>> got;
  for (const Request& r : requests) {
    got.push_back(rec.submit(*engine, r));
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  rec.wait_all(*engine, 60.0, "sharing with running sequences");
  for (size_t i = 0; i < got.size(); ++i) {
    SCOPED_TRACE(got[i]->describe());
    expect_ended_once(*got[i]);
    const Reference ref = gen.run(requests[i]);
    EXPECT_EQ(got[i]->ids, ref.ids) << id_diff(got[i]->ids, ref.ids);
  }
  expect_idle(settled_stats(*engine), static_cast<int64_t>(requests.size()));
  destroy_engine(engine);
}

// A pool too small to keep everything cached: other prompts evict the cached
// prefix (and reuse its blocks for other contents); the first prompt run
// again must still give its own ids, whether or not anything was still cached.
TEST(EnginePrefixCache, EvictedBlocksAreNotMistakenForTheOldPrefix) {
  ASSERT_TRUE(aidreams_model());
  std::mt19937_64 rng(12);
  const Request a = greedy_request(random_prompt(rng, kPrefix + 5), 30);
  std::vector<Request> others;
  for (int i = 0; i < 6; ++i) others.push_back(greedy_request(random_prompt(rng, 100), 20));
  ReferenceGenerator gen;
  const Reference ref_a = gen.run(a);
  auto engine = make_engine(paged(true, 2), pool(12));
  ASSERT_TRUE(engine);
  Recorder rec;
  auto first = rec.submit(*engine, a);
  rec.wait_all(*engine, 60.0, "first run of A");
  std::vector<std::shared_ptr<RequestRecord>> got_others;
  for (const Request& r : others) got_others.push_back(rec.submit(*engine, r));
  rec.wait_all(*engine, 60.0, "prompts evicting A's blocks");
  auto again = rec.submit(*engine, a);
  rec.wait_all(*engine, 60.0, "second run of A");
  EXPECT_EQ(first->ids, ref_a.ids) << id_diff(first->ids, ref_a.ids);
  EXPECT_EQ(again->ids, ref_a.ids) << id_diff(again->ids, ref_a.ids);
  for (size_t i = 0; i < others.size(); ++i) {
    SCOPED_TRACE(got_others[i]->describe());
    expect_ended_once(*got_others[i]);
    const Reference ref = gen.run(others[i]);
    EXPECT_EQ(got_others[i]->ids, ref.ids) << id_diff(got_others[i]->ids, ref.ids);
  }
  const EngineStats st = settled_stats(*engine);
  expect_idle(st, 8);
  EXPECT_LE(st.kv_blocks_cached, 12);
  destroy_engine(engine);
}

}  // namespace
}  // namespace tokamak::test
