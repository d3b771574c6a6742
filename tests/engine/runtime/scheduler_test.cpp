// The Scheduler on its own (no backend): chunked prefill under the token
// budget, decodes first, each policy's admission, KV reservation and growth,
// preemption of the newest sequence when the pool runs out.
#include "runtime/scheduler.h"

#include <gtest/gtest.h>

#include "aidreams.h"
#include "model/model.h"

namespace tokamak {
namespace {

std::shared_ptr<const Model> aidreams() {
  static std::shared_ptr<const Model> model = [] {
    auto m = Model::load(test::kAidreamsGguf);
    return m.ok() ? std::shared_ptr<const Model>(std::move(m).value()) : nullptr;
  }();
  return model;
}

// A scheduler over a pool of num_blocks blocks of 4 tokens; steps are
// "run" by committing them and appending id 7 for every sampled sequence.
struct Harness {
  Harness(BatchPolicy policy, int32_t num_blocks, int32_t max_step, int32_t max_sequences = 8,
          int32_t batch_size = 2)
      : pool(num_blocks, 4, policy == BatchPolicy::Paged),
        sched(SchedulerOptions{max_sequences, max_step, num_blocks * 4}, pool,
              make_batching_policy(options(policy, batch_size))) {}

  static EngineOptions options(BatchPolicy policy, int32_t batch_size) {
    EngineOptions o;
    o.policy = policy;
    o.batch_size = batch_size;
    o.max_batch_delay_ms = 100;
    return o;
  }

  // The prompt repeats `token` (default: one per sequence, so that prompts
  // share no prefix unless a test says so).
  Sequence* add(int32_t prompt_len, int32_t max_tokens, Clock::time_point at = Clock::now(),
                int32_t token = 0) {
    Request r;
    r.prompt.assign(prompt_len, token > 0 ? token : static_cast<int32_t>(10 + next_id));
    r.max_tokens = max_tokens;
    auto seq =
        std::make_unique<Sequence>(next_id++, std::move(r), nullptr, aidreams()->tokenizer(), at);
    Sequence* s = seq.get();
    sched.add(std::move(seq));
    return s;
  }

  // Plans and runs one step; returns {sequence id: tokens fed}.
  std::map<RequestId, int32_t> step(Clock::time_point now = Clock::now()) {
    const ScheduledStep& st = sched.schedule(now);
    std::map<RequestId, int32_t> fed;
    for (const Sequence* s : st.sequences) fed[s->id] = s->num_scheduled;
    EXPECT_EQ(st.plan.tokens.size(), static_cast<size_t>(st.num_tokens));
    EXPECT_EQ(st.plan.logits_rows.size(), st.sampled.size());
    const std::vector<Sequence*> sampled = st.sampled;
    sched.commit_step();
    for (Sequence* s : sampled) {
      s->tokens.push_back(7);
      if (s->num_generated() >= s->max_tokens) done.push_back(sched.remove(s));
    }
    return fed;
  }

  BlockPool pool;
  Scheduler sched;
  RequestId next_id = 1;
  std::vector<std::unique_ptr<Sequence>> done;  // ended: kept so tests may look at them
};

using Fed = std::map<RequestId, int32_t>;

TEST(Scheduler, LongPromptIsFedInChunksOfTheBudget) {
  ASSERT_TRUE(aidreams());
  Harness h(BatchPolicy::Paged, 32, /*max_step=*/8);
  Sequence* s = h.add(20, 3);
  EXPECT_EQ(h.step(), (Fed{{1, 8}}));
  EXPECT_EQ(s->num_computed_tokens, 8);
  EXPECT_EQ(s->num_generated(), 0);  // no logits before the last chunk
  EXPECT_EQ(h.step(), (Fed{{1, 8}}));
  EXPECT_EQ(h.step(), (Fed{{1, 4}}));
  EXPECT_EQ(s->num_generated(), 1);
  EXPECT_EQ(h.step(), (Fed{{1, 1}}));  // then one token per step
  EXPECT_EQ(h.step(), (Fed{{1, 1}}));
  EXPECT_EQ(h.sched.num_running(), 0);  // max_tokens 3 reached
  EXPECT_EQ(h.pool.num_used(), 0);
}

TEST(Scheduler, RunningDecodesAreNeverStalledByANewLongPrompt) {
  ASSERT_TRUE(aidreams());
  Harness h(BatchPolicy::Paged, 64, /*max_step=*/8);
  h.add(3, 50);
  h.add(3, 50);
  EXPECT_EQ(h.step(), (Fed{{1, 3}, {2, 3}}));
  h.add(40, 5);  // arrives while 1 and 2 decode
  for (int i = 0; i < 5; ++i) {
    // Both decodes every step; the prompt gets the rest of the budget.
    EXPECT_EQ(h.step(), (Fed{{1, 1}, {2, 1}, {3, 6}})) << "step " << i;
  }
  EXPECT_EQ(h.step(), (Fed{{1, 1}, {2, 1}, {3, 6}}));
  EXPECT_EQ(h.step(), (Fed{{1, 1}, {2, 1}, {3, 4}}));  // 40 = 6 * 6 + 4
  EXPECT_EQ(h.step(), (Fed{{1, 1}, {2, 1}, {3, 1}}));
}

TEST(Scheduler, OlderPromptsGetTheBudgetFirst) {
  ASSERT_TRUE(aidreams());
  Harness h(BatchPolicy::Paged, 64, /*max_step=*/10);
  h.add(7, 2);
  h.add(7, 2);
  h.add(7, 2);
  EXPECT_EQ(h.step(), (Fed{{1, 7}, {2, 3}}));
  EXPECT_EQ(h.step(), (Fed{{1, 1}, {2, 4}, {3, 5}}));
  EXPECT_EQ(h.step(), (Fed{{2, 1}, {3, 2}}));  // 1 finished (2 tokens)
}

// Sequences fed one token come first in the plan (a backend runs them as
// one batch of decode rows), then the prompt chunks, each group in
// scheduling order; tokens, positions, token_seq and logits rows follow.
TEST(Scheduler, PlanListsDecodesBeforePromptChunks) {
  ASSERT_TRUE(aidreams());
  Harness h(BatchPolicy::Paged, 64, /*max_step=*/12);
  h.add(5, 2);   // 1: prompt 5, then one decode before it ends
  h.add(9, 20);  // 2: its prompt takes two steps
  EXPECT_EQ(h.step(), (Fed{{1, 5}, {2, 7}}));
  h.add(3, 20);  // 3: arrives while 1 decodes and 2 finishes its prompt
  const ScheduledStep& st = h.sched.schedule(Clock::now());
  ASSERT_EQ(st.sequences.size(), 3u);
  // Running order is 1 (decode), 2 (2-token chunk), 3 (new prompt); 1 first.
  EXPECT_EQ(st.sequences[0]->id, 1u);
  EXPECT_EQ(st.sequences[1]->id, 2u);
  EXPECT_EQ(st.sequences[2]->id, 3u);
  EXPECT_EQ(std::vector<int32_t>(st.plan.token_seq.begin(), st.plan.token_seq.end()),
            (std::vector<int32_t>{0, 1, 1, 2, 2, 2}));
  EXPECT_EQ(std::vector<int32_t>(st.plan.positions.begin(), st.plan.positions.end()),
            (std::vector<int32_t>{5, 7, 8, 0, 1, 2}));
  EXPECT_EQ(std::vector<int32_t>(st.plan.logits_rows.begin(), st.plan.logits_rows.end()),
            (std::vector<int32_t>{0, 2, 5}));
  ASSERT_EQ(st.sampled.size(), 3u);
  EXPECT_EQ(st.sampled[0]->id, 1u);
  EXPECT_EQ(st.sampled[2]->id, 3u);
  h.sched.commit_step();
  // Reordered: static admits its batch together, so the newer 2 feeds its
  // one prompt token while the older 1 still has a chunk to go.
  Harness g(BatchPolicy::Static, 64, /*max_step=*/8, /*max_sequences=*/8, /*batch_size=*/2);
  g.add(10, 3);
  g.add(1, 3);
  EXPECT_EQ(g.step(), (Fed{{1, 8}}));
  const ScheduledStep& st2 = g.sched.schedule(Clock::now());
  ASSERT_EQ(st2.sequences.size(), 2u);
  EXPECT_EQ(st2.sequences[0]->id, 2u);
  EXPECT_EQ(st2.sequences[1]->id, 1u);
  EXPECT_EQ(std::vector<int32_t>(st2.plan.token_seq.begin(), st2.plan.token_seq.end()),
            (std::vector<int32_t>{0, 1, 1}));
  EXPECT_EQ(std::vector<int32_t>(st2.plan.positions.begin(), st2.plan.positions.end()),
            (std::vector<int32_t>{0, 8, 9}));
  EXPECT_EQ(st2.plan.sequences[0].block_table.data(), st2.sequences[0]->block_table.data());
  ASSERT_EQ(st2.sampled.size(), 2u);
  EXPECT_EQ(st2.sampled[0]->id, 2u);
}

TEST(Scheduler, NoneRunsOneRequestAtATime) {
  ASSERT_TRUE(aidreams());
  Harness h(BatchPolicy::None, 64, 16);
  h.add(4, 2);
  h.add(4, 2);
  EXPECT_EQ(h.step(), (Fed{{1, 4}}));
  EXPECT_EQ(h.step(), (Fed{{1, 1}}));
  EXPECT_EQ(h.step(), (Fed{{2, 4}}));
}

TEST(Scheduler, StaticRunsEachBatchToCompletion) {
  ASSERT_TRUE(aidreams());
  Harness h(BatchPolicy::Static, 64, /*max_step=*/6, 8, /*batch_size=*/3);
  h.add(4, 1);
  h.add(4, 4);
  h.add(4, 4);
  h.add(2, 1);
  // The batch {1, 2, 3} is admitted together even though the budget feeds
  // only part of it in the first step.
  EXPECT_EQ(h.step(), (Fed{{1, 4}, {2, 2}}));
  EXPECT_EQ(h.sched.num_running(), 2);  // 1 ended after its one token
  EXPECT_EQ(h.sched.num_waiting(), 1);
  EXPECT_EQ(h.step(), (Fed{{2, 2}, {3, 4}}));
  // 4 waits although slots and budget are free: the batch is not done.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(h.step(), (Fed{{2, 1}, {3, 1}}));
  EXPECT_EQ(h.sched.num_running(), 0);
  EXPECT_EQ(h.step(), (Fed{{4, 2}}));
}

TEST(Scheduler, DynamicWaitsForAFullBatchOrTheDelay) {
  ASSERT_TRUE(aidreams());
  Harness h(BatchPolicy::Dynamic, 64, 16, 8, /*batch_size=*/2);  // delay 100 ms
  const Clock::time_point t0 = Clock::now();
  h.add(4, 1, t0);
  EXPECT_FALSE(h.sched.has_work(t0 + std::chrono::milliseconds(50)));
  const auto at = h.sched.next_admission(t0 + std::chrono::milliseconds(50));
  ASSERT_TRUE(at.has_value());
  const double wait_ms = std::chrono::duration<double, std::milli>(*at - t0).count();
  EXPECT_NEAR(wait_ms, 100.0, 1.0);
  EXPECT_TRUE(h.step(t0 + std::chrono::milliseconds(50)).empty());
  EXPECT_EQ(h.step(t0 + std::chrono::milliseconds(100)), (Fed{{1, 4}}));  // the delay passed
  // A full batch goes at once.
  const Clock::time_point t1 = Clock::now();
  h.add(4, 1, t1);
  h.add(4, 1, t1);
  EXPECT_TRUE(h.sched.has_work(t1));
  EXPECT_EQ(h.step(t1), (Fed{{2, 4}, {3, 4}}));
}

TEST(Scheduler, ContinuousReservesPromptPlusMaxTokensAtAdmission) {
  ASSERT_TRUE(aidreams());
  Harness h(BatchPolicy::Continuous, /*num_blocks=*/8, 32);
  h.add(5, 11);  // 16 positions: 4 blocks
  h.add(5, 7);   // 12 positions: 3 blocks
  h.add(5, 3);   // 8 positions: 2 blocks, do not fit next to the others
  EXPECT_EQ(h.step(), (Fed{{1, 5}, {2, 5}}));
  EXPECT_EQ(h.pool.num_used(), 7);
  EXPECT_EQ(h.sched.num_waiting(), 1);
  for (int i = 0; i < 6; ++i) h.step();  // 2 ends after 7 tokens
  EXPECT_EQ(h.step(), (Fed{{1, 1}, {3, 5}}));
  EXPECT_EQ(h.pool.num_used(), 6);
}

TEST(Scheduler, PagedGrowsBlockByBlock) {
  ASSERT_TRUE(aidreams());
  Harness h(BatchPolicy::Paged, 8, 32);
  Sequence* s = h.add(5, 20);
  h.step();
  EXPECT_EQ(s->block_table.size(), 2u);  // positions 0-4
  for (int i = 0; i < 3; ++i) h.step();  // positions 5, 6, 7
  EXPECT_EQ(s->block_table.size(), 2u);
  h.step();  // position 8
  EXPECT_EQ(s->block_table.size(), 3u);
}

TEST(Scheduler, OutOfBlocksPreemptsTheNewestAndResumesIt) {
  ASSERT_TRUE(aidreams());
  Harness h(BatchPolicy::Paged, /*num_blocks=*/4, 32);  // 16 positions in all
  Sequence* a = h.add(6, 9);
  Sequence* b = h.add(6, 9);
  EXPECT_EQ(h.step(), (Fed{{1, 6}, {2, 6}}));  // 2 blocks each
  EXPECT_EQ(h.pool.num_used(), 4);
  h.step();  // position 6, then 7: still in block 1
  h.step();
  // Position 8 needs a third block each: the newest (b) is preempted.
  EXPECT_EQ(h.step(), (Fed{{1, 1}}));
  EXPECT_EQ(h.sched.counters().num_preemptions, 1);
  EXPECT_EQ(b->num_preemptions, 1);
  EXPECT_EQ(b->num_computed_tokens, 0);
  EXPECT_TRUE(b->block_table.empty());
  EXPECT_EQ(b->num_generated(), 3);  // its generated ids are kept
  EXPECT_EQ(h.sched.num_waiting(), 1);
  // a runs to the end (14 positions fed), then b recomputes its 9 tokens.
  while (a->num_generated() < 8) h.step();
  h.step();  // a's last token; a ends, its blocks return
  EXPECT_EQ(h.sched.num_running(), 0);
  EXPECT_EQ(h.step(), (Fed{{2, 9}}));
  EXPECT_EQ(b->num_generated(), 4);
  while (h.sched.num_running() > 0) h.step();
  EXPECT_EQ(b->num_generated(), 9);
  EXPECT_EQ(h.pool.num_used(), 0);
}

TEST(Scheduler, PrefixCacheHitsSkipFullBlocksButNeverTheLastToken) {
  ASSERT_TRUE(aidreams());
  Harness h(BatchPolicy::Paged, 16, 32);
  const Clock::time_point now = Clock::now();
  h.add(10, 1, now, /*token=*/5);
  EXPECT_EQ(h.step(), (Fed{{1, 10}}));  // blocks 0, 1 full and published
  EXPECT_EQ(h.pool.num_cached(), 2);
  Sequence* b = h.add(10, 1, now, 5);
  EXPECT_EQ(h.step(), (Fed{{2, 2}}));
  EXPECT_EQ(b->num_cached_tokens, 8);
  EXPECT_EQ(h.sched.counters().num_prefix_hit_tokens, 8);
  // A prompt of exactly two blocks: the second is recomputed (its last
  // token's logits are needed).
  Sequence* c = h.add(8, 1, now, 5);
  EXPECT_EQ(h.step(), (Fed{{3, 4}}));
  EXPECT_EQ(c->num_cached_tokens, 4);
}

}  // namespace
}  // namespace tokamak
