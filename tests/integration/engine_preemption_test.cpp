// A KV pool far smaller than what the running sequences need forces the
// paged scheduler to preempt (free the newest sequence's blocks, recompute
// later). Outputs must not change: greedy and seeded ids equal the
// Generator's, everything finishes, every block comes back. The other
// policies, given the same small pool, must also finish everything correctly.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <thread>
#include <vector>

#include "integration/engine_harness.h"

namespace tokamak::test {
namespace {

// Eight requests that each fill the context: 1024 positions in all against a
// pool of 12 blocks of 16 (192 positions).
std::vector<Request> long_requests(bool seeded) {
  std::mt19937_64 rng(seeded ? 11 : 10);
  std::vector<Request> out;
  for (int i = 0; i < 8; ++i) {
    const int32_t n = 20 + 3 * i;
    Request r = greedy_request(random_prompt(rng, n), kContext - n);
    if (seeded) {
      r.sampling.temperature = 0.9f;
      r.sampling.top_k = 0;
      r.sampling.top_p = 0.95f;
      r.sampling.min_p = 0.0f;
      r.sampling.seed = 555 + i;
      if (i % 3 == 0) r.sampling.repeat_penalty = 1.2f;  // host-side sampling with history
    }
    out.push_back(r);
  }
  return out;
}

EngineOptions small_pool_options(BatchPolicy policy) {
  EngineOptions o;
  o.policy = policy;
  o.max_sequences = 8;
  o.max_step_tokens = 32;
  o.batch_size = 4;
  o.max_batch_delay_ms = 2.0;
  return o;
}

BackendShape small_pool(int32_t block_size = 16, int32_t num_blocks = 12) {
  BackendShape s;
  s.block_size = block_size;
  s.num_blocks = num_blocks;
  s.num_threads = 1;
  return s;
}

struct RunResult {
  std::vector<std::shared_ptr<RequestRecord>> records;
  EngineStats stats;
};

RunResult run(const EngineOptions& options, const BackendShape& shape,
              const std::vector<Request>& requests) {
  RunResult out;
  auto engine = make_engine(options, shape);
  if (!engine) return out;
  Recorder rec;
  for (const Request& r : requests) out.records.push_back(rec.submit(*engine, r));
  rec.wait_all(*engine, 60.0, config_name(options, shape));
  out.stats = settled_stats(*engine);
  expect_idle(out.stats, static_cast<int64_t>(requests.size()));
  destroy_engine(engine);
  return out;
}

void expect_reference_outputs(const std::vector<Request>& requests, const RunResult& got) {
  ReferenceGenerator gen;
  ASSERT_EQ(got.records.size(), requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    const RequestRecord& r = *got.records[i];
    SCOPED_TRACE("request #" + std::to_string(i) + ": " + r.describe());
    const Reference ref = gen.run(requests[i]);
    expect_ended_once(r);
    ASSERT_TRUE(r.finished);
    EXPECT_EQ(r.fin.reason, ref.reason);
    EXPECT_EQ(r.ids, ref.ids) << id_diff(r.ids, ref.ids);
    EXPECT_EQ(r.text, ref.text);
  }
}

int64_t sum_preemptions(const RunResult& got) {
  int64_t n = 0;
  for (const auto& r : got.records) n += r->fin.timings.num_preemptions;
  return n;
}

TEST(EnginePreemption, PagedPreemptsAndKeepsGreedyOutputs) {
  ASSERT_TRUE(aidreams_model());
  const std::vector<Request> requests = long_requests(false);
  for (const BackendShape& shape : {small_pool(16, 12), small_pool(5, 40), small_pool(1, 200)}) {
    SCOPED_TRACE("block_size " + std::to_string(shape.block_size));
    const RunResult got = run(small_pool_options(BatchPolicy::Paged), shape, requests);
    EXPECT_GT(got.stats.num_preemptions, 0) << "the pool was meant to be too small";
    EXPECT_EQ(sum_preemptions(got), got.stats.num_preemptions)
        << "per-request num_preemptions should add up to the engine's";
    expect_reference_outputs(requests, got);
  }
}

TEST(EnginePreemption, PagedPreemptionKeepsSeededOutputs) {
  ASSERT_TRUE(aidreams_model());
  const std::vector<Request> requests = long_requests(true);
  const RunResult got = run(small_pool_options(BatchPolicy::Paged), small_pool(), requests);
  EXPECT_GT(got.stats.num_preemptions, 0);
  expect_reference_outputs(requests, got);
}

TEST(EnginePreemption, PagedPreemptionWithoutPrefixCaching) {
  ASSERT_TRUE(aidreams_model());
  const std::vector<Request> requests = long_requests(false);
  EngineOptions options = small_pool_options(BatchPolicy::Paged);
  options.prefix_caching = false;
  const RunResult got = run(options, small_pool(), requests);
  EXPECT_GT(got.stats.num_preemptions, 0);
  expect_reference_outputs(requests, got);
}

TEST(EnginePreemption, EveryPolicyFinishesOnASmallPool) {
  ASSERT_TRUE(aidreams_model());
  const std::vector<Request> requests = long_requests(false);
  for (BatchPolicy policy :
       {BatchPolicy::None, BatchPolicy::Static, BatchPolicy::Dynamic, BatchPolicy::Continuous}) {
    SCOPED_TRACE(std::string(policy_name(policy)));
    const RunResult got = run(small_pool_options(policy), small_pool(), requests);
    expect_reference_outputs(requests, got);
  }
}

// Cancelling while sequences are being preempted and recomputed: every
// request still ends once and the pool is empty at the end.
TEST(EnginePreemption, CancelDuringPreemption) {
  ASSERT_TRUE(aidreams_model());
  const std::vector<Request> requests = long_requests(false);
  auto engine = make_engine(small_pool_options(BatchPolicy::Paged), small_pool());
  ASSERT_TRUE(engine);
  Recorder rec;
  std::vector<std::shared_ptr<RequestRecord>> recs;
  for (int round = 0; round < 3; ++round) {
    for (const Request& r : requests) recs.push_back(rec.submit(*engine, r));
    std::this_thread::sleep_for(std::chrono::milliseconds(3 + 4 * round));
    for (size_t i = recs.size() - requests.size(); i < recs.size(); i += 2) {
      engine->cancel(recs[i]->id);
    }
  }
  rec.wait_all(*engine, 60.0, "cancel during preemption");
  ReferenceGenerator gen;
  for (size_t i = 0; i < recs.size(); ++i) {
    const RequestRecord& r = *recs[i];
    SCOPED_TRACE(r.describe());
    expect_ended_once(r);
    const Reference ref = gen.run(requests[i % requests.size()]);
    ASSERT_TRUE(r.finished);
    const size_t n = std::min(r.ids.size(), ref.ids.size());
    EXPECT_TRUE(std::equal(r.ids.begin(), r.ids.begin() + n, ref.ids.begin()))
        << id_diff(r.ids, ref.ids);
    if (r.fin.reason != "cancelled") {
      EXPECT_EQ(r.ids, ref.ids);
    }
  }
  expect_idle(settled_stats(*engine), static_cast<int64_t>(recs.size()));
  destroy_engine(engine);
}

// The smallest pool that holds one full-context sequence (8 blocks of 16)
// and twelve requests that each need all of it: the engine must keep making
// progress (no livelock of sequences preempting each other) under every policy.
TEST(EnginePreemption, PoolOfOneSequenceMakesProgress) {
  ASSERT_TRUE(aidreams_model());
  std::mt19937_64 rng(12);
  std::vector<Request> requests;
  for (int i = 0; i < 12; ++i) {
    const int32_t n = 1 + static_cast<int32_t>(rng() % 60);
    requests.push_back(greedy_request(random_prompt(rng, n), kContext - n));
  }
  for (BatchPolicy policy : {BatchPolicy::Paged, BatchPolicy::Continuous, BatchPolicy::Static,
                             BatchPolicy::Dynamic, BatchPolicy::None}) {
    SCOPED_TRACE(std::string(policy_name(policy)));
    EngineOptions options = small_pool_options(policy);
    options.max_step_tokens = 16;
    const RunResult got = run(options, small_pool(16, 8), requests);
    expect_reference_outputs(requests, got);
  }
}

// Sequences sharing cached prefix blocks are preempted and recomputed while
// others still read those blocks: reference counts must keep shared blocks
// alive and every block must come back in the end.
TEST(EnginePreemption, PreemptingSequencesThatShareCachedBlocks) {
  ASSERT_TRUE(aidreams_model());
  std::mt19937_64 rng(13);
  const std::vector<int32_t> prefix = random_prompt(rng, 48);
  std::vector<Request> requests;
  for (int i = 0; i < 10; ++i) {
    std::vector<int32_t> p = prefix;
    const std::vector<int32_t> tail = random_prompt(rng, 1 + i);
    p.insert(p.end(), tail.begin() + 1, tail.end());
    Request r = greedy_request(p, kContext - static_cast<int32_t>(p.size()));
    if (i % 2) {
      r.sampling.temperature = 0.9f;
      r.sampling.seed = 7000 + i;
    }
    requests.push_back(r);
  }
  EngineOptions options = small_pool_options(BatchPolicy::Paged);
  options.max_sequences = 10;
  const RunResult got = run(options, small_pool(16, 14), requests);
  EXPECT_GT(got.stats.num_preemptions, 0);
  EXPECT_GT(got.stats.num_prefix_hit_tokens, 0);
  expect_reference_outputs(requests, got);
}

}  // namespace
}  // namespace tokamak::test
