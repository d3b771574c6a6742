// Engine behaviour on aidreams260K over the CPU backend: preemption under a
// tiny KV pool, prefix caching, requests that cannot run, cancellation,
// shutdown, backend failures, and agreement with the single-sequence
// Generator for sampling with a seed, penalties and stop strings.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "generate/generator.h"
#include "runtime/engine.h"
#include "runtime_test_util.h"

namespace tokamak {
namespace {

using test::AidreamsRuntime;
using test::Collector;
using test::greedy;
using test::Outcome;
using test::reference_prompt;

std::vector<int32_t> reference_after(size_t n, size_t count) {
  const std::vector<int32_t> ref = test::aidreams_greedy_ids();
  return std::vector<int32_t>(ref.begin() + n, ref.begin() + std::min(ref.size(), n + count));
}

std::unique_ptr<Engine> make_engine(const AidreamsRuntime& a, EngineOptions o) {
  auto e = Engine::create(a.backend, a.tokenizer, o);
  if (!e.ok()) {
    ADD_FAILURE() << e.error().message;
    return nullptr;
  }
  return std::move(e).value();
}

EngineOptions paged(int32_t max_context = 128) {
  EngineOptions o;
  o.policy = BatchPolicy::Paged;
  o.max_context = max_context;
  return o;
}

TEST(EngineBehaviour, PreemptionUnderATinyPoolKeepsGreedyOutputs) {
  AidreamsRuntime a(/*num_blocks=*/64, /*max_step=*/64);
  ASSERT_TRUE(a.backend);
  EngineOptions o = paged();
  o.max_kv_blocks = 10;  // 160 positions for 6 sequences growing to ~110
  o.max_step_tokens = 64;
  auto engine = make_engine(a, o);
  ASSERT_TRUE(engine);
  Collector c;
  const std::vector<size_t> starts{0, 10, 20, 30, 40, 50};
  std::vector<RequestId> ids;
  for (size_t s : starts) {
    ids.push_back(c.submit(*engine, {reference_prompt(s), greedy(), {}, 60}));
  }
  ASSERT_TRUE(c.wait());
  int num_preempted = 0;
  for (size_t i = 0; i < starts.size(); ++i) {
    const Outcome out = c.get(ids[i]);
    ASSERT_TRUE(out.finished) << out.err.message;
    EXPECT_EQ(out.num_ends, 1);
    EXPECT_EQ(out.fin.reason, "length");
    EXPECT_EQ(out.ids, reference_after(starts[i], 60)) << "start " << starts[i];
    num_preempted += out.fin.timings.num_preemptions > 0;
  }
  const EngineStats st = engine->stats();
  EXPECT_GT(st.num_preemptions, 0);
  EXPECT_GT(num_preempted, 0);
  EXPECT_EQ(st.kv_blocks_total, 10);
  EXPECT_EQ(st.kv_blocks_used, 0);
  EXPECT_LT(st.kv_waste_percent, 25.0);  // paged: only partly filled last blocks
}

TEST(EngineBehaviour, PrefixCachingComputesFewerTokensForTheSameOutput) {
  for (bool caching : {true, false}) {
    AidreamsRuntime a;
    ASSERT_TRUE(a.backend);
    EngineOptions o = paged();
    o.prefix_caching = caching;
    auto engine = make_engine(a, o);
    ASSERT_TRUE(engine);
    Collector c;
    const RequestId first = c.submit(*engine, {reference_prompt(60), greedy(), {}, 10});
    ASSERT_TRUE(c.wait());
    EXPECT_EQ(engine->stats().kv_blocks_cached, caching ? 4 : 0);  // 70 tokens computed
    const RequestId second = c.submit(*engine, {reference_prompt(60), greedy(), {}, 10});
    // A prompt that shares only the first block.
    std::vector<int32_t> diverging = reference_prompt(30);
    diverging[20] = 7;
    const RequestId third = c.submit(*engine, {diverging, greedy(), {}, 1});
    ASSERT_TRUE(c.wait());
    const Outcome a1 = c.get(first), a2 = c.get(second), a3 = c.get(third);
    ASSERT_TRUE(a1.finished && a2.finished && a3.finished);
    EXPECT_EQ(a1.ids, reference_after(60, 10));
    EXPECT_EQ(a2.ids, a1.ids);
    EXPECT_EQ(a1.fin.timings.num_cached_tokens, 0);
    // 61 prompt tokens: 3 full blocks before the last token.
    EXPECT_EQ(a2.fin.timings.num_cached_tokens, caching ? 48 : 0);
    EXPECT_EQ(a3.fin.timings.num_cached_tokens, caching ? 16 : 0);
    EXPECT_EQ(engine->stats().num_prefix_hit_tokens, caching ? 64 : 0);
    EXPECT_EQ(engine->stats().kv_blocks_used, 0);
  }
}

TEST(EngineBehaviour, RequestsThatCannotRunGetAnErrorWhileOthersFinish) {
  AidreamsRuntime a;
  ASSERT_TRUE(a.backend);
  EngineOptions o = paged(/*max_context=*/0);
  o.max_kv_blocks = 4;  // 64 positions: the pool limits the context
  auto engine = make_engine(a, o);
  ASSERT_TRUE(engine);
  Collector c;
  const RequestId ok1 = c.submit(*engine, {reference_prompt(3), greedy(), {}, 20});
  const RequestId too_long = c.submit(*engine, {reference_prompt(64), greedy(), {}, 5});  // 65
  const RequestId fills = c.submit(*engine, {reference_prompt(59), greedy(), {}, 50});    // 60
  const RequestId empty = c.submit(*engine, {{}, greedy(), {}, 5});
  const RequestId bad_id = c.submit(*engine, {{1, 600}, greedy(), {}, 5});
  SamplingParams bad_sampling;
  bad_sampling.top_p = -1;
  const RequestId bad_params = c.submit(*engine, {{1}, bad_sampling, {}, 5});
  const RequestId no_tokens = c.submit(*engine, {{1}, greedy(), {}, 0});
  const RequestId ok2 = c.submit(*engine, {reference_prompt(20), greedy(), {}, 20});
  ASSERT_TRUE(c.wait());
  for (RequestId id : {ok1, ok2}) {
    const Outcome out = c.get(id);
    ASSERT_TRUE(out.finished) << out.err.message;
    EXPECT_EQ(out.fin.reason, "length");
  }
  EXPECT_EQ(c.get(ok1).ids, reference_after(3, 20));
  EXPECT_EQ(c.get(ok2).ids, reference_after(20, 20));
  const Outcome tl = c.get(too_long);
  ASSERT_TRUE(tl.failed);
  EXPECT_EQ(tl.err.code, ErrorCode::ContextFull);
  EXPECT_NE(tl.err.message.find("65 tokens"), std::string::npos) << tl.err.message;
  EXPECT_NE(tl.err.message.find("64 positions"), std::string::npos) << tl.err.message;
  EXPECT_TRUE(tl.ids.empty());
  // 60 prompt tokens in 64 positions: 5 tokens, the last one never stored.
  const Outcome f = c.get(fills);
  ASSERT_TRUE(f.finished);
  EXPECT_EQ(f.fin.reason, "length");
  EXPECT_EQ(f.ids, reference_after(59, 5));
  for (RequestId id : {empty, bad_id, bad_params, no_tokens}) {
    const Outcome out = c.get(id);
    EXPECT_TRUE(out.failed) << id;
    EXPECT_EQ(out.num_ends, 1);
    EXPECT_FALSE(out.err.message.empty());
  }
  EXPECT_EQ(c.get(bad_params).err.code, ErrorCode::InvalidArgument);
  EXPECT_NE(c.get(bad_id).err.message.find("600"), std::string::npos);
  EXPECT_EQ(engine->stats().num_finished, 8);
  EXPECT_EQ(engine->stats().kv_blocks_used, 0);
}

TEST(EngineBehaviour, CancelEndsRunningAndWaitingRequests) {
  AidreamsRuntime a;
  ASSERT_TRUE(a.backend);
  EngineOptions o = paged();
  o.policy = BatchPolicy::None;  // the second request waits behind the first
  auto engine = make_engine(a, o);
  ASSERT_TRUE(engine);
  Collector c;
  std::atomic<int> num_tokens{0};
  Engine* e = engine.get();
  std::atomic<RequestId> first_id{0};
  // Cancels itself from its own callback after 5 tokens (cancel never blocks).
  const RequestId first = e->submit({{1}, greedy(), {}, 127}, [&](const EngineEvent& ev) {
    if (std::holds_alternative<TokenDelta>(ev) && ++num_tokens == 5) e->cancel(first_id.load());
    c.callback()(ev);
  });
  first_id = first;
  const RequestId second = c.submit(*engine, {{1}, greedy(), {}, 127});
  engine->cancel(second);
  engine->cancel(12345);  // unknown: ignored
  // The collector did not count `first`: wait for it by hand.
  for (int i = 0; i < 2000 && !c.get(first).finished; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_TRUE(c.wait());
  const Outcome o1 = c.get(first), o2 = c.get(second);
  ASSERT_TRUE(o1.finished);
  EXPECT_EQ(o1.fin.reason, "cancelled");
  EXPECT_GE(o1.ids.size(), 5u);
  EXPECT_LT(o1.ids.size(), 127u);
  EXPECT_EQ(o1.ids, reference_after(0, o1.ids.size()));
  ASSERT_TRUE(o2.finished);
  EXPECT_EQ(o2.fin.reason, "cancelled");
  EXPECT_EQ(o2.num_ends, 1);
  EXPECT_EQ(engine->stats().kv_blocks_used, 0);
}

TEST(EngineBehaviour, DestructorCancelsEverythingExactlyOnce) {
  AidreamsRuntime a;
  ASSERT_TRUE(a.backend);
  Collector c;
  std::vector<RequestId> ids;
  {
    EngineOptions o = paged();
    o.max_sequences = 2;
    auto engine = make_engine(a, o);
    ASSERT_TRUE(engine);
    for (int i = 0; i < 6; ++i) ids.push_back(c.submit(*engine, {{1}, greedy(), {}, 127}));
  }
  ASSERT_TRUE(c.wait(std::chrono::seconds(1)));  // every end came before the destructor returned
  for (RequestId id : ids) {
    const Outcome o = c.get(id);
    EXPECT_EQ(o.num_ends, 1);
    ASSERT_TRUE(o.finished);
    EXPECT_TRUE(o.fin.reason == "cancelled" || o.fin.reason == "length") << o.fin.reason;
  }
}

// Delegates to the CPU backend; fails steps on demand.
class FlakyBackend final : public Backend {
 public:
  explicit FlakyBackend(std::shared_ptr<Backend> inner) : inner_(std::move(inner)) {}
  std::string name() const override { return "flaky"; }
  const KvCacheConfig& kv_config() const override { return inner_->kv_config(); }
  int32_t vocab_size() const override { return inner_->vocab_size(); }
  int32_t max_step_tokens() const override { return inner_->max_step_tokens(); }
  Status forward(const StepPlan& plan, std::span<float> logits) override {
    while (hold) std::this_thread::yield();
    const int n = ++step;
    if (faulted || (!failed_once && static_cast<int>(plan.sequences.size()) == fail_with)) {
      failed_once = true;
      return make_error(ErrorCode::DeviceFault, "injected fault in step " + std::to_string(n));
    }
    return inner_->forward(plan, logits);
  }
  std::atomic<int> step{0};
  // Fails the first step that carries this many sequences.
  std::atomic<int> fail_with{-1};
  std::atomic<bool> failed_once{false};
  std::atomic<bool> faulted{false};
  // Steps wait while set (so that a test's requests meet in one step).
  std::atomic<bool> hold{false};

 private:
  std::shared_ptr<Backend> inner_;
};

TEST(EngineBehaviour, AFailedStepErrorsItsRequestsAndTheEngineGoesOn) {
  AidreamsRuntime a;
  ASSERT_TRUE(a.backend);
  auto flaky = std::make_shared<FlakyBackend>(a.backend);
  flaky->fail_with = 2;
  auto e = Engine::create(flaky, a.tokenizer, paged());
  ASSERT_TRUE(e.ok()) << e.error().message;
  auto engine = std::move(e).value();
  Collector c;
  // r1 cannot run ahead (and finish) before r2 arrives: its steps wait.
  flaky->hold = true;
  const RequestId r1 = c.submit(*engine, {{1}, greedy(), {}, 20});
  const RequestId r2 = c.submit(*engine, {reference_prompt(10), greedy(), {}, 20});
  flaky->hold = false;
  ASSERT_TRUE(c.wait());
  for (RequestId id : {r1, r2}) {
    const Outcome o = c.get(id);
    ASSERT_TRUE(o.failed);
    EXPECT_EQ(o.num_ends, 1);
    EXPECT_EQ(o.err.code, ErrorCode::DeviceFault);
    EXPECT_NE(o.err.message.find("injected fault in step"), std::string::npos) << o.err.message;
  }
  const RequestId r3 = c.submit(*engine, {{1}, greedy(), {}, 20});
  ASSERT_TRUE(c.wait());
  EXPECT_EQ(c.get(r3).ids, reference_after(0, 20));
  // A backend that stays faulted: every request errors, nothing hangs.
  flaky->faulted = true;
  std::vector<RequestId> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(c.submit(*engine, {{1}, greedy(), {}, 20}));
  ASSERT_TRUE(c.wait());
  for (RequestId id : ids) EXPECT_TRUE(c.get(id).failed);
  EXPECT_EQ(engine->stats().kv_blocks_used, 0);
}

TEST(EngineBehaviour, ACallbackThatThrowsDoesNotStopTheEngine) {
  AidreamsRuntime a;
  ASSERT_TRUE(a.backend);
  auto engine = make_engine(a, paged());
  ASSERT_TRUE(engine);
  std::atomic<int> num_events{0};
  engine->submit({{1}, greedy(), {}, 5}, [&](const EngineEvent&) {
    ++num_events;
    throw std::runtime_error("client bug");
  });
  Collector c;
  const RequestId id = c.submit(*engine, {{1}, greedy(), {}, 10});
  ASSERT_TRUE(c.wait());
  EXPECT_EQ(c.get(id).ids, reference_after(0, 10));
  EXPECT_EQ(num_events.load(), 6);  // 5 tokens and the end, each delivered once
}

// The Generator on its own backend: the single-sequence reference.
std::vector<int32_t> generator_ids(const std::vector<int32_t>& prompt, const SamplingParams& s,
                                   std::vector<std::string> stop, int32_t max_tokens,
                                   std::string* text, std::string* reason) {
  AidreamsRuntime g;
  Generator gen(*g.backend, *g.tokenizer, GeneratorOptions{128});
  std::vector<int32_t> ids;
  auto r = gen.generate({prompt, s, std::move(stop), max_tokens}, [&](const GenerationEvent& e) {
    if (const auto* t = std::get_if<TokenEvent>(&e)) {
      ids.push_back(t->id);
      if (text) *text += t->text;
    }
  });
  EXPECT_TRUE(r.ok());
  if (r.ok() && reason) *reason = r->finish_reason;
  return ids;
}

TEST(EngineBehaviour, SeededSamplingMatchesTheGeneratorInABatch) {
  AidreamsRuntime a;
  ASSERT_TRUE(a.backend);
  auto engine = make_engine(a, paged());
  ASSERT_TRUE(engine);
  SamplingParams plain;  // temperature 0.8, top-k 40, top-p 0.95, min-p 0.05
  SamplingParams penalised = plain;
  penalised.repeat_penalty = 1.3f;  // sampled on the host
  penalised.frequency_penalty = 0.2f;
  Collector c;
  std::vector<std::pair<RequestId, SamplingParams>> runs;
  for (uint64_t seed : {1u, 2u, 3u}) {
    plain.seed = penalised.seed = seed;
    runs.emplace_back(c.submit(*engine, {reference_prompt(4), plain, {}, 40}), plain);
    runs.emplace_back(c.submit(*engine, {reference_prompt(4), penalised, {}, 40}), penalised);
  }
  ASSERT_TRUE(c.wait());
  for (const auto& [id, params] : runs) {
    std::string text, reason;
    const auto expected = generator_ids(reference_prompt(4), params, {}, 40, &text, &reason);
    const Outcome o = c.get(id);
    ASSERT_TRUE(o.finished);
    EXPECT_EQ(o.ids, expected) << "seed " << params.seed << " penalty " << params.repeat_penalty;
    EXPECT_EQ(o.text, text);
    EXPECT_EQ(o.fin.reason, reason);
  }
}

TEST(EngineBehaviour, StopStringsEndTheRequestAsInTheGenerator) {
  AidreamsRuntime a;
  ASSERT_TRUE(a.backend);
  auto engine = make_engine(a, paged());
  ASSERT_TRUE(engine);
  // A stop string taken from the middle of the reference text, spanning
  // tokens.
  const std::vector<int32_t> ref = test::aidreams_greedy_ids();
  const std::string tail =
      a.tokenizer->decode(std::vector<int32_t>(ref.begin() + 30, ref.begin() + 34));
  ASSERT_GE(tail.size(), 6u);
  const std::string stop = tail.substr(2, 5);
  Collector c;
  const RequestId id = c.submit(*engine, {{1}, greedy(), {stop}, 127});
  ASSERT_TRUE(c.wait());
  std::string text, reason;
  const auto expected = generator_ids({1}, greedy(), {stop}, 127, &text, &reason);
  const Outcome o = c.get(id);
  ASSERT_TRUE(o.finished);
  EXPECT_EQ(o.fin.reason, "stop");
  EXPECT_EQ(reason, "stop");
  EXPECT_EQ(o.ids, expected);
  EXPECT_EQ(o.text, text);
  EXPECT_EQ(o.text.find(stop), std::string::npos);
  EXPECT_LT(o.ids.size(), 40u);
}

}  // namespace
}  // namespace tokamak
