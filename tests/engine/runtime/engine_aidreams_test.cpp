// The Engine over the real CPU backend and the real aidreams260K model:
// greedy ids must be the reference's (greedy_from_bos.txt, computed by
// llama2.c's own math) whatever the policy and the batch a request ran in.
#include <gtest/gtest.h>

#include <thread>

#include "runtime/engine.h"
#include "runtime_test_util.h"

namespace tokamak {
namespace {

using test::AidreamsRuntime;
using test::Collector;
using test::greedy;
using test::reference_prompt;

std::vector<int32_t> reference_after(size_t n, size_t count) {
  const std::vector<int32_t> ref = test::aidreams_greedy_ids();
  const size_t end = std::min(ref.size(), n + count);
  return std::vector<int32_t>(ref.begin() + std::min(n, ref.size()), ref.begin() + end);
}

std::unique_ptr<Engine> make_engine(const AidreamsRuntime& a, EngineOptions o) {
  if (o.max_context == 0) o.max_context = 128;  // the model's context
  auto e = Engine::create(a.backend, a.tokenizer, o);
  if (!e.ok()) {
    ADD_FAILURE() << e.error().message;
    return nullptr;
  }
  return std::move(e).value();
}

TEST(EngineAidreams, GreedyFromBosMatchesTheReference) {
  AidreamsRuntime a;
  ASSERT_TRUE(a.backend);
  auto engine = make_engine(a, {});
  ASSERT_TRUE(engine);
  Collector c;
  const RequestId id = c.submit(*engine, {{test::kAidreamsBos}, greedy(), {}, 127});
  ASSERT_TRUE(c.wait());
  const test::Outcome o = c.get(id);
  EXPECT_EQ(o.ids, test::aidreams_greedy_ids());
  ASSERT_TRUE(o.finished);
  EXPECT_EQ(o.num_ends, 1);
  EXPECT_EQ(o.fin.reason, "length");
  const RequestTimings& t = o.fin.timings;
  EXPECT_EQ(t.num_generated_tokens, 127);
  EXPECT_EQ(t.num_prompt_tokens, 1);
  EXPECT_EQ(t.num_cached_tokens, 0);
  EXPECT_EQ(t.num_preemptions, 0);
  EXPECT_LE(t.queue_ms, t.ttft_ms);  // the order of events, not their speed
  EXPECT_LE(t.ttft_ms, t.e2e_ms);
  EXPECT_GT(t.decode_tokens_per_second, 0.0);
  EXPECT_EQ(o.text, a.tokenizer->decode(o.ids));
  EXPECT_EQ(engine->stats().kv_blocks_used, 0);
  // 127 tokens from one prompt token: 127 steps, then the engine sleeps
  // (no steps while idle).
  EXPECT_EQ(engine->stats().num_steps, 127);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_EQ(engine->stats().num_steps, 127);
}

// Requests that start at different points of the reference, all at once:
// each continues with the reference, in every policy.
class EnginePolicies : public ::testing::TestWithParam<BatchPolicy> {};

TEST_P(EnginePolicies, BatchedGreedyMatchesTheReference) {
  AidreamsRuntime a(/*num_blocks=*/40, /*max_step=*/64);
  ASSERT_TRUE(a.backend);
  EngineOptions o;
  o.policy = GetParam();
  o.max_sequences = 6;
  o.max_step_tokens = 64;  // prompts of up to 100 tokens take several chunks
  o.batch_size = 4;
  o.max_batch_delay_ms = 5;
  auto engine = make_engine(a, o);
  ASSERT_TRUE(engine);
  Collector c;
  const std::vector<size_t> starts{0, 5, 17, 40, 63, 64, 90, 100, 3, 31};
  std::vector<RequestId> ids;
  for (size_t s : starts) {
    const int32_t max_tokens = static_cast<int32_t>(std::min<size_t>(20, 127 - s));
    ids.push_back(c.submit(*engine, {reference_prompt(s), greedy(), {}, max_tokens}));
  }
  ASSERT_TRUE(c.wait());
  for (size_t i = 0; i < starts.size(); ++i) {
    const test::Outcome out = c.get(ids[i]);
    ASSERT_TRUE(out.finished) << out.err.message;
    EXPECT_EQ(out.num_ends, 1);
    EXPECT_EQ(out.fin.reason, "length");
    EXPECT_EQ(out.ids, reference_after(starts[i], out.ids.size())) << "start " << starts[i];
    EXPECT_EQ(out.ids.size(), std::min<size_t>(20, 127 - starts[i]));
  }
  const EngineStats st = engine->stats();
  EXPECT_EQ(st.num_finished, static_cast<int64_t>(starts.size()));
  EXPECT_EQ(st.kv_blocks_used, 0);
  EXPECT_EQ(st.num_running, 0);
  EXPECT_EQ(st.num_waiting, 0);
  if (GetParam() == BatchPolicy::None) {
    EXPECT_EQ(st.peak_running, 1);
  } else {
    EXPECT_GT(st.peak_running, 1);
  }
  EXPECT_LE(st.peak_running,
            GetParam() == BatchPolicy::Static || GetParam() == BatchPolicy::Dynamic ? 4 : 6);
}

INSTANTIATE_TEST_SUITE_P(All, EnginePolicies,
                         ::testing::Values(BatchPolicy::None, BatchPolicy::Static,
                                           BatchPolicy::Dynamic, BatchPolicy::Continuous,
                                           BatchPolicy::Paged),
                         [](const auto& info) { return std::string(policy_name(info.param)); });

}  // namespace
}  // namespace tokamak
