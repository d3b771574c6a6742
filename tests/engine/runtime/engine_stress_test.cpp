// Many requests of random lengths arriving at random times, some cancelled,
// over a KV pool small enough to force preemption: every request ends
// exactly once, every block returns to the pool, and the greedy outputs of
// those that ran to the end are the reference's, in every policy.
#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "runtime/engine.h"
#include "runtime_test_util.h"

namespace tokamak {
namespace {

using test::AidreamsRuntime;
using test::Collector;

class EngineStress : public ::testing::TestWithParam<BatchPolicy> {};

TEST_P(EngineStress, RandomRequestsAndCancelsEndExactlyOnce) {
  AidreamsRuntime a(/*num_blocks=*/24, /*max_step=*/48);
  ASSERT_TRUE(a.backend);
  EngineOptions o;
  o.policy = GetParam();
  o.max_context = 128;
  o.max_sequences = 8;
  o.max_step_tokens = 48;
  o.batch_size = 4;
  o.max_batch_delay_ms = 2;
  auto e = Engine::create(a.backend, a.tokenizer, o);
  ASSERT_TRUE(e.ok()) << e.error().message;
  std::unique_ptr<Engine> engine = std::move(e).value();

  const std::vector<int32_t> ref = test::aidreams_greedy_ids();
  std::mt19937 rng(1234 + static_cast<int>(GetParam()));
  Collector c;
  struct Sent {
    RequestId id;
    size_t start;
    int32_t max_tokens;
    bool cancelled;
  };
  std::vector<Sent> sent;
  for (int i = 0; i < 120; ++i) {
    const size_t start = std::uniform_int_distribution<size_t>(0, 110)(rng);
    const int32_t max_tokens =
        std::uniform_int_distribution<int32_t>(1, static_cast<int32_t>(127 - start))(rng);
    const RequestId id =
        c.submit(*engine, {test::reference_prompt(start), test::greedy(), {}, max_tokens});
    const bool cancel = rng() % 6 == 0;
    sent.push_back({id, start, max_tokens, cancel});
    if (rng() % 4 == 0) std::this_thread::sleep_for(std::chrono::microseconds(rng() % 3000));
    if (cancel) engine->cancel(id);
  }
  ASSERT_TRUE(c.wait(std::chrono::seconds(300)));
  int num_completed = 0;
  for (const Sent& s : sent) {
    const test::Outcome out = c.get(s.id);
    ASSERT_EQ(out.num_ends, 1) << "request " << s.id;
    ASSERT_TRUE(out.finished) << out.err.message;
    // Whatever ran, ran right (a cancelled request stops early).
    const std::vector<int32_t> expected(ref.begin() + s.start,
                                        ref.begin() + s.start + out.ids.size());
    EXPECT_EQ(out.ids, expected) << "request " << s.id << " from " << s.start;
    if (out.fin.reason == "cancelled") {
      EXPECT_TRUE(s.cancelled);
    } else {
      EXPECT_EQ(out.fin.reason, "length");
      EXPECT_EQ(static_cast<int32_t>(out.ids.size()), s.max_tokens);
      ++num_completed;
    }
  }
  EXPECT_GT(num_completed, 60);
  const EngineStats st = engine->stats();
  EXPECT_EQ(st.num_submitted, 120);
  EXPECT_EQ(st.num_finished, 120);
  EXPECT_EQ(st.num_running, 0);
  EXPECT_EQ(st.num_waiting, 0);
  EXPECT_EQ(st.kv_blocks_used, 0);
  EXPECT_LE(st.peak_running, 8);
  // Reserved KV is never taken back. (Whether paged preempts here depends on
  // arrival times; preemption has its own deterministic tests.)
  if (GetParam() != BatchPolicy::Paged) EXPECT_EQ(st.num_preemptions, 0);
}

INSTANTIATE_TEST_SUITE_P(All, EngineStress,
                         ::testing::Values(BatchPolicy::None, BatchPolicy::Static,
                                           BatchPolicy::Dynamic, BatchPolicy::Continuous,
                                           BatchPolicy::Paged),
                         [](const auto& info) { return std::string(policy_name(info.param)); });

}  // namespace
}  // namespace tokamak
