// Batching must not change results: the same requests, run through every
// policy with different batch limits, step budgets (chunked prefill), KV
// block sizes and arrival orders, give exactly the ids of the single-sequence
// Generator; from BOS alone, the ids of llama2.c (greedy_from_bos.txt).
// Seeded sampling is reproducible per request in the same way.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "integration/engine_harness.h"

namespace tokamak::test {
namespace {

enum class Arrival { InOrder, Reversed, ShuffledWithDelays };

struct Config {
  EngineOptions options;
  BackendShape shape;
  Arrival arrival = Arrival::InOrder;
};

EngineOptions with(BatchPolicy policy, int32_t max_sequences, int32_t max_step_tokens,
                   int32_t batch_size = 8, bool prefix_caching = true) {
  EngineOptions o;
  o.policy = policy;
  o.max_sequences = max_sequences;
  o.max_step_tokens = max_step_tokens;
  o.batch_size = batch_size;
  o.max_batch_delay_ms = 5.0;
  o.prefix_caching = prefix_caching;
  return o;
}

BackendShape shape(int32_t block_size, int32_t num_blocks, int32_t max_step_tokens = 512) {
  BackendShape s;
  s.block_size = block_size;
  s.num_blocks = num_blocks;
  s.max_step_tokens = max_step_tokens;
  s.num_threads = 1;
  return s;
}

std::vector<Config> configs() {
  return {
      {with(BatchPolicy::None, 64, 512), shape(16, 64), Arrival::InOrder},
      {with(BatchPolicy::Static, 64, 512, 3), shape(16, 64), Arrival::Reversed},
      {with(BatchPolicy::Dynamic, 64, 512, 4), shape(16, 64), Arrival::ShuffledWithDelays},
      {with(BatchPolicy::Continuous, 4, 64), shape(16, 64), Arrival::ShuffledWithDelays},
      {with(BatchPolicy::Continuous, 16, 512), shape(16, 128), Arrival::InOrder},
      {with(BatchPolicy::Paged, 64, 512), shape(16, 64), Arrival::InOrder},
      {with(BatchPolicy::Paged, 3, 7), shape(5, 200), Arrival::ShuffledWithDelays},
      {with(BatchPolicy::Paged, 8, 3), shape(16, 64), Arrival::Reversed},
      {with(BatchPolicy::Paged, 16, 16, 8, false), shape(1, 1024), Arrival::ShuffledWithDelays},
  };
}

// Prompts of many lengths (block boundaries around 16 included), two sharing
// a prefix, one of natural text; prompt + max_tokens never exceeds the context.
std::vector<Request> greedy_requests() {
  std::mt19937_64 rng(20261121);
  std::vector<Request> out;
  out.push_back(greedy_request({kAidreamsBos}, 127));
  for (int32_t n : {2, 7, 15, 16, 17, 33, 64, 90, 120}) {
    out.push_back(greedy_request(random_prompt(rng, n), std::min(40, kContext - n)));
  }
  std::vector<int32_t> shared = random_prompt(rng, 40);
  for (int i = 0; i < 2; ++i) {
    std::vector<int32_t> p = shared;
    std::vector<int32_t> tail = random_prompt(rng, 6);
    p.insert(p.end(), tail.begin() + 1, tail.end());
    out.push_back(greedy_request(p, 30));
  }
  const std::vector<int32_t> dream = aidreams_greedy_ids();
  std::vector<int32_t> natural = {kAidreamsBos};
  natural.insert(natural.end(), dream.begin(), dream.begin() + 30);
  out.push_back(greedy_request(natural, 50));
  return out;
}

// Seeded sampling with assorted chains, some with penalties (sampled on the host).
std::vector<Request> seeded_requests() {
  std::mt19937_64 rng(77);
  std::vector<Request> out;
  for (int i = 0; i < 10; ++i) {
    Request r;
    const int32_t n = 1 + static_cast<int32_t>(rng() % 60);
    r.prompt = random_prompt(rng, n);
    r.max_tokens = std::min<int32_t>(48, kContext - n);
    r.sampling.temperature = 0.6f + 0.1f * (i % 8);
    r.sampling.top_k = (i % 3 == 0) ? 0 : (i % 3 == 1 ? 20 : 100);
    r.sampling.top_p = (i % 4 == 0) ? 1.0f : 0.9f;
    r.sampling.min_p = (i % 5 == 0) ? 0.0f : 0.05f;
    if (i % 4 == 3) {
      r.sampling.repeat_penalty = 1.15f;
      r.sampling.frequency_penalty = 0.1f;
    }
    r.sampling.seed = 1000 + i * 7919;
    out.push_back(r);
  }
  return out;
}

std::vector<Reference> references(const std::vector<Request>& requests) {
  ReferenceGenerator gen;
  std::vector<Reference> refs;
  for (const Request& r : requests) refs.push_back(gen.run(r));
  return refs;
}

// Runs `requests` through one engine in the config's arrival order; returns
// the records in the order of `requests`.
std::vector<std::shared_ptr<RequestRecord>> run_all(const Config& c,
                                                    const std::vector<Request>& requests) {
  const auto t0 = Clock::now();
  auto engine = make_engine(c.options, c.shape);
  if (!engine) return {};
  std::vector<size_t> order(requests.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::mt19937_64 rng(5);
  if (c.arrival == Arrival::Reversed) std::reverse(order.begin(), order.end());
  if (c.arrival == Arrival::ShuffledWithDelays) std::shuffle(order.begin(), order.end(), rng);
  Recorder rec;
  std::vector<std::shared_ptr<RequestRecord>> out(requests.size());
  for (size_t i : order) {
    out[i] = rec.submit(*engine, requests[i]);
    if (c.arrival == Arrival::ShuffledWithDelays) {
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 3000));
    }
  }
  rec.wait_all(*engine, 60.0, config_name(c.options, c.shape));
  expect_idle(settled_stats(*engine), static_cast<int64_t>(requests.size()));
  const EngineStats st = engine->stats();
  EXPECT_LE(st.peak_running, c.options.max_sequences);
  if (c.options.policy == BatchPolicy::None) {
    EXPECT_EQ(st.peak_running, 1);
  }
  if (c.options.policy == BatchPolicy::Static || c.options.policy == BatchPolicy::Dynamic) {
    EXPECT_LE(st.peak_running, c.options.batch_size);
  }
  destroy_engine(engine);
  std::printf("%-110s %6.0f ms, %lld steps, peak running %d\n",
              config_name(c.options, c.shape).c_str(),
              std::chrono::duration<double, std::milli>(Clock::now() - t0).count(),
              static_cast<long long>(st.num_steps), st.peak_running);
  return out;
}

void expect_same_as_reference(const std::vector<Request>& requests,
                              const std::vector<Reference>& refs,
                              const std::vector<std::shared_ptr<RequestRecord>>& got) {
  ASSERT_EQ(got.size(), requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    const RequestRecord& r = *got[i];
    SCOPED_TRACE("request #" + std::to_string(i) + ": " + r.describe());
    expect_ended_once(r);
    ASSERT_TRUE(r.finished);
    EXPECT_EQ(r.fin.reason, refs[i].reason);
    EXPECT_EQ(r.ids, refs[i].ids) << id_diff(r.ids, refs[i].ids);
    EXPECT_EQ(r.text, refs[i].text);
  }
}

TEST(EngineGreedy, GeneratorReferenceMatchesLlama2c) {
  ASSERT_TRUE(aidreams_model());
  const std::vector<int32_t> expected = aidreams_greedy_ids();
  ASSERT_EQ(expected.size(), kAidreamsNumGreedyIds);
  ReferenceGenerator gen;
  EXPECT_EQ(gen.run(greedy_request({kAidreamsBos}, 127)).ids, expected);
}

TEST(EngineGreedy, EveryPolicyAndBatchGivesTheGeneratorsIds) {
  ASSERT_TRUE(aidreams_model());
  const std::vector<Request> requests = greedy_requests();
  const std::vector<Reference> refs = references(requests);
  const std::vector<int32_t> expected = aidreams_greedy_ids();
  for (const Config& c : configs()) {
    SCOPED_TRACE(config_name(c.options, c.shape));
    const auto got = run_all(c, requests);
    ASSERT_FALSE(got.empty());
    expect_same_as_reference(requests, refs, got);
    EXPECT_EQ(got[0]->ids, expected) << "BOS only: " << id_diff(got[0]->ids, expected);
  }
}

TEST(EngineGreedy, SeededSamplingIsReproducibleWhateverTheBatch) {
  ASSERT_TRUE(aidreams_model());
  const std::vector<Request> requests = seeded_requests();
  const std::vector<Reference> refs = references(requests);
  const std::vector<Config> cs = {
      {with(BatchPolicy::None, 64, 512), shape(16, 64), Arrival::InOrder},
      {with(BatchPolicy::Continuous, 4, 64), shape(16, 64), Arrival::Reversed},
      {with(BatchPolicy::Paged, 3, 7), shape(5, 200), Arrival::ShuffledWithDelays},
      {with(BatchPolicy::Paged, 64, 512), shape(16, 64), Arrival::InOrder},
  };
  for (const Config& c : cs) {
    SCOPED_TRACE(config_name(c.options, c.shape));
    const auto got = run_all(c, requests);
    ASSERT_FALSE(got.empty());
    expect_same_as_reference(requests, refs, got);
  }
}

// The same seeded request several times in one batch: every copy draws the
// same ids (each request owns its generator; none shares another's draws).
TEST(EngineGreedy, SameSeedInOneBatchGivesSameIds) {
  ASSERT_TRUE(aidreams_model());
  Request r;
  r.prompt = {kAidreamsBos};
  r.max_tokens = 80;
  r.sampling.temperature = 1.0f;
  r.sampling.seed = 424242;
  ReferenceGenerator gen;
  const Reference ref = gen.run(r);
  Request other = r;
  other.sampling.seed = 31337;
  const std::vector<Request> requests = {r, other, r, other, r};
  auto engine = make_engine(with(BatchPolicy::Paged, 8, 512), shape(16, 64));
  ASSERT_TRUE(engine);
  Recorder rec;
  std::vector<std::shared_ptr<RequestRecord>> got;
  for (const Request& q : requests) got.push_back(rec.submit(*engine, q));
  rec.wait_all(*engine, 60.0, "same seed in one batch");
  for (size_t i = 0; i < got.size(); i += 2) {
    expect_ended_once(*got[i]);
    EXPECT_EQ(got[i]->ids, ref.ids) << id_diff(got[i]->ids, ref.ids);
  }
  EXPECT_EQ(got[1]->ids, got[3]->ids);
  EXPECT_NE(got[1]->ids, got[0]->ids) << "different seeds should (almost surely) differ";
  destroy_engine(engine);
}

}  // namespace
}  // namespace tokamak::test
