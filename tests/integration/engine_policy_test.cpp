// What distinguishes the policies, seen through the public API: KV held by a
// running sequence (continuous reserves prompt + max_tokens, paged grows
// block by block), partial batches of static and dynamic still run, stats()
// and submit() may be called from a callback, follow-up turns submitted from
// a Finished callback reuse the cached prefix, and bad options are refused
// with the numbers.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <string>
#include <vector>

#include "integration/engine_harness.h"

namespace tokamak::test {
namespace {

EngineOptions policy_options(BatchPolicy policy) {
  EngineOptions o;
  o.policy = policy;
  o.max_sequences = 8;
  o.max_step_tokens = 64;
  o.batch_size = 8;
  o.max_batch_delay_ms = 30.0;
  o.max_context = kContext;
  return o;
}

int32_t blocks_for(int32_t positions, int32_t block_size) {
  return (positions + block_size - 1) / block_size;
}

// stats() from inside the first TokenDelta's callback: continuous holds the
// reservation for prompt + max_tokens, paged only what the prompt filled.
TEST(EnginePolicy, KvHeldByARunningSequence) {
  ASSERT_TRUE(aidreams_model());
  std::mt19937_64 rng(1);
  const int32_t prompt = 10, max_tokens = 100;
  const Request req = [&] {
    Request r = greedy_request(random_prompt(rng, prompt), max_tokens);
    r.ignore_eos = true;
    return r;
  }();
  for (BatchPolicy policy : {BatchPolicy::Continuous, BatchPolicy::Paged}) {
    SCOPED_TRACE(std::string(policy_name(policy)));
    BackendShape shape;
    auto engine = make_engine(policy_options(policy), shape);
    ASSERT_TRUE(engine);
    Engine* e = engine.get();
    EngineStats at_first{};
    Recorder rec;
    auto r = rec.submit(*engine, req, [e, &at_first](RequestRecord& rr, const EngineEvent& ev) {
      if (std::holds_alternative<TokenDelta>(ev) && rr.ids.size() == 1) at_first = e->stats();
    });
    rec.wait_all(*engine, 30.0, "one request, stats from its callback");
    expect_ended_once(*r);
    EXPECT_EQ(r->fin.reason, "length");
    EXPECT_EQ(at_first.num_running, 1);
    if (policy == BatchPolicy::Continuous) {
      // Positions 0 .. prompt + max_tokens - 2 are ever written (the last id is not fed).
      EXPECT_GE(at_first.kv_blocks_used, blocks_for(prompt + max_tokens - 1, shape.block_size));
      EXPECT_LE(at_first.kv_blocks_used, blocks_for(prompt + max_tokens, shape.block_size));
    } else {
      EXPECT_GE(at_first.kv_blocks_used, blocks_for(prompt, shape.block_size));
      EXPECT_LE(at_first.kv_blocks_used, blocks_for(prompt + 1, shape.block_size));
    }
    const EngineStats st = settled_stats(*engine);
    expect_idle(st, 1);
    EXPECT_GE(st.kv_waste_percent, 0.0);
    EXPECT_LE(st.kv_waste_percent, 100.0);
    destroy_engine(engine);
  }
}

// Fewer requests than batch_size: static and dynamic must still run them
// (dynamic after max_batch_delay_ms), and never more than batch_size at once.
TEST(EnginePolicy, PartialBatchesRun) {
  ASSERT_TRUE(aidreams_model());
  std::mt19937_64 rng(2);
  for (BatchPolicy policy : {BatchPolicy::Static, BatchPolicy::Dynamic}) {
    SCOPED_TRACE(std::string(policy_name(policy)));
    EngineOptions o = policy_options(policy);
    o.batch_size = 4;
    auto engine = make_engine(o, BackendShape{});
    ASSERT_TRUE(engine);
    Recorder rec;
    std::vector<std::shared_ptr<RequestRecord>> recs;
    for (int i = 0; i < 7; ++i) {  // one full batch and a partial one
      recs.push_back(rec.submit(*engine, greedy_request(random_prompt(rng, 5 + i), 12)));
    }
    rec.wait_all(*engine, 30.0, "partial batches");
    for (const auto& r : recs) expect_ended_once(*r);
    const EngineStats st = settled_stats(*engine);
    expect_idle(st, 7);
    EXPECT_LE(st.peak_running, 4);
    EXPECT_GE(st.mean_running, 1.0);
    EXPECT_LE(st.mean_running, st.peak_running);
    // And a single request alone, long after the others.
    auto alone = rec.submit(*engine, greedy_request({kAidreamsBos}, 3));
    rec.wait_all(*engine, 30.0, "a single request under a batching policy");
    expect_ended_once(*alone);
    destroy_engine(engine);
  }
}

// A chat: each Finished callback submits the next turn (the whole history
// plus a few new tokens) from the engine thread. Turns after the first find
// their history in the prefix cache, and every turn gives the Generator's ids.
TEST(EnginePolicy, FollowUpTurnsFromTheCallbackReuseTheCache) {
  ASSERT_TRUE(aidreams_model());
  constexpr int kTurns = 4;
  auto engine = make_engine(policy_options(BatchPolicy::Paged), BackendShape{});
  ASSERT_TRUE(engine);
  Engine* e = engine.get();
  Recorder rec;
  std::mt19937_64 rng(3);
  std::vector<std::vector<int32_t>> user_turns;
  for (int i = 0; i < kTurns; ++i) {
    const std::vector<int32_t> t = random_prompt(rng, 9);
    user_turns.emplace_back(t.begin() + 1, t.end());  // 8 tokens, no BOS
  }
  std::atomic<int> turn{0};
  std::vector<Request> submitted(kTurns);
  Recorder::Hook next;
  next = [&](RequestRecord& r, const EngineEvent& ev) {
    if (!std::holds_alternative<Finished>(ev)) return;
    const int t = turn.fetch_add(1) + 1;
    if (t >= kTurns) return;
    Request q = r.request;
    q.prompt.insert(q.prompt.end(), r.ids.begin(), r.ids.end());
    q.prompt.insert(q.prompt.end(), user_turns[t].begin(), user_turns[t].end());
    submitted[t] = q;
    rec.submit(*e, q, next);
  };
  Request first = greedy_request({kAidreamsBos}, 16);
  first.prompt.insert(first.prompt.end(), user_turns[0].begin(), user_turns[0].end());
  submitted[0] = first;
  rec.submit(*engine, first, next);
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (rec.records().size() < kTurns && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ASSERT_EQ(rec.records().size(), static_cast<size_t>(kTurns));
  rec.wait_all(*engine, 30.0, "chat turns");
  const auto records = rec.records();
  ReferenceGenerator gen;
  for (int t = 0; t < kTurns; ++t) {
    const RequestRecord& r = *records[t];
    SCOPED_TRACE("turn " + std::to_string(t) + ": " + r.describe());
    expect_ended_once(r);
    const Reference ref = gen.run(submitted[t]);
    EXPECT_EQ(r.ids, ref.ids) << id_diff(r.ids, ref.ids);
    if (t > 0) {
      // The previous turn's prompt + output, in whole blocks, minus at most one block.
      const int32_t prev =
          static_cast<int32_t>(submitted[t - 1].prompt.size() + records[t - 1]->ids.size()) - 1;
      EXPECT_GE(r.fin.timings.num_cached_tokens, (prev / 16 - 1) * 16);
    }
  }
  expect_idle(settled_stats(*engine), kTurns);
  destroy_engine(engine);
}

TEST(EnginePolicy, BadOptionsAreRefusedWithTheNumbers) {
  ASSERT_TRUE(aidreams_model());
  struct Bad {
    std::string what;
    EngineOptions options;
    std::string must_name;
  };
  std::vector<Bad> bad;
  EngineOptions o;
  o.max_kv_blocks = 65;  // the backend has 64
  bad.push_back({"max_kv_blocks 65 > 64", o, "65"});
  o = EngineOptions{};
  o.max_sequences = 0;
  bad.push_back({"max_sequences 0", o, "max_sequences"});
  o = EngineOptions{};
  o.max_step_tokens = -3;
  bad.push_back({"max_step_tokens -3", o, "-3"});
  o = EngineOptions{};
  o.batch_size = 0;
  bad.push_back({"batch_size 0", o, "batch_size"});
  o = EngineOptions{};
  o.max_context = -1;
  bad.push_back({"max_context -1", o, "-1"});
  for (const Bad& b : bad) {
    SCOPED_TRACE(b.what);
    auto backend = make_backend(BackendShape{});
    ASSERT_TRUE(backend);
    auto engine = Engine::create(backend, aidreams_tokenizer(), b.options);
    ASSERT_FALSE(engine.ok());
    EXPECT_NE(engine.error().message.find(b.must_name), std::string::npos)
        << engine.error().message;
  }
  auto no_backend = Engine::create(nullptr, aidreams_tokenizer(), EngineOptions{});
  EXPECT_FALSE(no_backend.ok());
  for (const std::string_view name : {"none", "static", "dynamic", "continuous", "paged"}) {
    auto p = parse_policy(name);
    ASSERT_TRUE(p.ok()) << name;
    EXPECT_EQ(policy_name(*p), name);
  }
  auto unknown = parse_policy("vllm");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("vllm"), std::string::npos) << unknown.error().message;
}

}  // namespace
}  // namespace tokamak::test
