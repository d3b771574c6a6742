// Destroying an engine with requests in flight — waiting, prefilling,
// decoding, some with callbacks that call back into the engine — ends every
// one of them exactly once (Finished "cancelled", or its natural end), sends
// nothing after the destructor returns, and does not hang.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "integration/engine_harness.h"

namespace tokamak::test {
namespace {

class EngineShutdown : public ::testing::TestWithParam<BatchPolicy> {
 protected:
  static EngineOptions options() {
    EngineOptions o;
    o.policy = GetParam();
    o.max_sequences = 8;
    o.max_step_tokens = 32;
    o.batch_size = 4;
    o.max_batch_delay_ms = 20.0;
    return o;
  }
  static BackendShape shape() {
    BackendShape s;
    s.num_blocks = 24;
    s.num_threads = 1;
    return s;
  }
};

// Checks each record after the engine is gone; counts events arriving later.
void expect_all_ended(Recorder& rec, size_t expected) {
  const auto records = rec.records();
  EXPECT_EQ(records.size(), expected);
  for (const auto& r : records) {
    const RequestRecord snap = rec.snapshot(*r);
    SCOPED_TRACE(snap.describe());
    expect_ended_once(snap);
    if (snap.finished && snap.fin.reason != "cancelled") {
      EXPECT_TRUE(snap.fin.reason == "length" || snap.fin.reason == "eos") << snap.fin.reason;
    }
  }
}

TEST_P(EngineShutdown, DestroyWithRequestsInFlight) {
  ASSERT_TRUE(aidreams_model());
  std::mt19937_64 rng(GetParam() == BatchPolicy::None ? 1 : 2);
  for (int delay_ms : {0, 1, 5, 20}) {
    SCOPED_TRACE("destroyed after " + std::to_string(delay_ms) + " ms");
    auto engine = make_engine(options(), shape());
    ASSERT_TRUE(engine);
    Recorder rec;
    for (int i = 0; i < 40; ++i) {
      const int32_t n = 1 + static_cast<int32_t>(rng() % 90);
      Request r = greedy_request(random_prompt(rng, n), kContext - n);
      r.ignore_eos = true;
      rec.submit(*engine, r);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    destroy_engine(engine);
    expect_all_ended(rec, 40);
    // Nothing may arrive after the destructor returned.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    expect_all_ended(rec, 40);
  }
}

TEST_P(EngineShutdown, DestroyRightAfterCreateAndIdle) {
  ASSERT_TRUE(aidreams_model());
  for (int i = 0; i < 10; ++i) {
    auto engine = make_engine(options(), shape());
    ASSERT_TRUE(engine);
    if (i % 2) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    destroy_engine(engine);
  }
  auto engine = make_engine(options(), shape());
  ASSERT_TRUE(engine);
  Recorder rec;
  rec.submit(*engine, greedy_request({kAidreamsBos}, 5));
  rec.wait_all(*engine, 30.0, "one request");
  std::this_thread::sleep_for(std::chrono::milliseconds(30));  // engine idle
  destroy_engine(engine);
  expect_all_ended(rec, 1);
}

// Callbacks that cancel other requests and submit follow-ups while the
// engine is being destroyed: the follow-ups end exactly once too.
TEST_P(EngineShutdown, CallbacksCallingTheEngineDuringShutdown) {
  ASSERT_TRUE(aidreams_model());
  auto engine = make_engine(options(), shape());
  ASSERT_TRUE(engine);
  Engine* e = engine.get();
  Recorder rec;
  std::atomic<int> follow_ups{0};
  std::vector<std::shared_ptr<RequestRecord>> recs;
  for (int i = 0; i < 12; ++i) {
    const RequestId victim = recs.empty() ? 0 : recs.back()->id;
    Recorder::Hook hook = [e, victim, &rec, &follow_ups](RequestRecord&, const EngineEvent& ev) {
      if (std::holds_alternative<TokenDelta>(ev)) {
        e->cancel(victim);
      } else if (follow_ups.fetch_add(1) < 6) {  // an end event: submit one more
        rec.submit(*e, greedy_request({kAidreamsBos}, 100));
      }
    };
    recs.push_back(rec.submit(*engine, greedy_request({kAidreamsBos}, 100), hook));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  destroy_engine(engine);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  expect_all_ended(rec, rec.records().size());
  EXPECT_GE(rec.records().size(), 12u);
}

// Submitting from several threads while another destroys the engine is the
// caller's bug; but submitting right up to the destructor must still end
// every submitted request once.
TEST_P(EngineShutdown, RepeatedCreateSubmitDestroy) {
  ASSERT_TRUE(aidreams_model());
  std::mt19937_64 rng(3);
  Recorder rec;
  size_t total = 0;
  for (int round = 0; round < 15; ++round) {
    auto engine = make_engine(options(), shape());
    ASSERT_TRUE(engine);
    const int n = 1 + static_cast<int>(rng() % 12);
    for (int i = 0; i < n; ++i) {
      Request r = greedy_request(random_prompt(rng, 1 + static_cast<int32_t>(rng() % 60)), 30);
      if (i % 3 == 0) r.sampling.temperature = 0.7f;
      auto rr = rec.submit(*engine, r);
      if (i % 4 == 1) engine->cancel(rr->id);
    }
    total += n;
    if (round % 3 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(round));
    destroy_engine(engine);
  }
  expect_all_ended(rec, total);
}

INSTANTIATE_TEST_SUITE_P(Policies, EngineShutdown,
                         ::testing::Values(BatchPolicy::None, BatchPolicy::Static,
                                           BatchPolicy::Dynamic, BatchPolicy::Continuous,
                                           BatchPolicy::Paged),
                         [](const auto& info) { return std::string(policy_name(info.param)); });

}  // namespace
}  // namespace tokamak::test
