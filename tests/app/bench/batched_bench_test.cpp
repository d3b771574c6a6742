// bench batched on the CPU with the real aidreams260K model: every sequence
// of a batch generates what greedy decoding from BOS gives (the ids in
// ../shared/data), the figures follow from the times, and sizes the pool or
// the context cannot hold are refused with the numbers.
#include "bench/batched_bench.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "aidreams.h"
#include "cpu/cpu_backend.h"
#include "model/model.h"

namespace tokamak {
namespace {

constexpr int32_t kPoolBlocks = 40;  // 640 positions

std::unique_ptr<Backend> aidreams_backend(int32_t max_step_tokens) {
  auto m = Model::load(test::kAidreamsGguf);
  if (!m.ok()) return nullptr;
  CpuBackendOptions o;
  o.num_threads = 1;
  o.kv.num_blocks = kPoolBlocks;
  o.max_step_tokens = max_step_tokens;
  auto b = make_cpu_backend(*m, o);
  return b.ok() ? std::move(b).value() : nullptr;
}

int32_t aidreams_context() {
  auto m = Model::load(test::kAidreamsGguf);
  return m.ok() ? (*m)->spec().context_length : 0;
}

TEST(BatchedBench, EverySequenceOfABatchGeneratesTheGreedyIdsFromBos) {
  const std::vector<int32_t> expected = test::aidreams_greedy_ids();
  ASSERT_EQ(expected.size(), test::kAidreamsNumGreedyIds);
  auto backend = aidreams_backend(512);
  ASSERT_NE(backend, nullptr);
  BatchedBenchOptions o;
  o.prompt = {test::kAidreamsBos};
  o.warmup = 0;
  o.repetitions = 1;
  // TG decode steps give TG + 1 ids: the one from the prompt, then one per step.
  const int32_t tg = static_cast<int32_t>(expected.size()) - 1;
  for (int32_t b : {1, 4}) {
    auto p = run_batched_point(*backend, aidreams_context(), 1, tg, b, o);
    ASSERT_TRUE(p.ok()) << p.error().message;
    ASSERT_EQ(p->generated.size(), static_cast<size_t>(b));
    for (int32_t s = 0; s < b; ++s)
      EXPECT_EQ(p->generated[s], expected) << "B " << b << " seq " << s;
    EXPECT_EQ(p->num_steps, 1 + tg);  // one prefill step, then the decodes
  }
}

TEST(BatchedBench, ChunkedPrefillAndBatchingGiveEachSequenceItsOwnIds) {
  // Random prompts of 37 tokens, prefilled through 16-token steps (prompts
  // cut across steps): each sequence of B = 3 must generate what it
  // generates alone with the same prompt (same seed: same prompts in order).
  auto chunked = aidreams_backend(16);
  auto whole = aidreams_backend(512);
  ASSERT_NE(chunked, nullptr);
  ASSERT_NE(whole, nullptr);
  BatchedBenchOptions o;
  o.warmup = 0;
  o.repetitions = 1;
  o.seed = 7;
  auto batch = run_batched_point(*chunked, aidreams_context(), 37, 12, 3, o);
  ASSERT_TRUE(batch.ok()) << batch.error().message;
  EXPECT_EQ(batch->num_steps, (3 * 37 + 15) / 16 + 12);
  auto alone = run_batched_point(*whole, aidreams_context(), 37, 12, 1, o);
  ASSERT_TRUE(alone.ok()) << alone.error().message;
  ASSERT_EQ(batch->generated.size(), 3u);
  EXPECT_EQ(batch->generated[0], alone->generated[0]);
  EXPECT_EQ(batch->generated[0].size(), 13u);
  EXPECT_NE(batch->generated[0], batch->generated[1]);  // different prompts, different text
}

TEST(BatchedBench, FiguresFollowFromTheMedianTimes) {
  auto backend = aidreams_backend(512);
  ASSERT_NE(backend, nullptr);
  BatchedBenchOptions o;
  o.warmup = 1;
  o.repetitions = 3;
  auto p = run_batched_point(*backend, aidreams_context(), 20, 10, 2, o);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->kv_tokens, 2 * 30);
  ASSERT_EQ(p->prefill_s.samples.size(), 3u);
  ASSERT_EQ(p->decode_s.samples.size(), 3u);
  EXPECT_GT(p->decode_s.median, 0.0);
  EXPECT_LE(p->decode_s.min, p->decode_s.median);
  EXPECT_GE(p->decode_s.max, p->decode_s.median);
  EXPECT_DOUBLE_EQ(p->decode_tokens_per_second, 2 * 10 / p->decode_s.median);
  EXPECT_DOUBLE_EQ(p->prefill_tokens_per_second, 2 * 20 / p->prefill_s.median);
  EXPECT_DOUBLE_EQ(p->total_s, p->prefill_s.median + p->decode_s.median);
  EXPECT_DOUBLE_EQ(p->total_tokens_per_second, 2 * 30 / p->total_s);
  const nlohmann::json j = to_json(*p);
  EXPECT_EQ(j["batch_size"], 2);
  EXPECT_EQ(j["decode_s"]["samples"].size(), 3u);
  const std::string table = batched_report_table({*p});
  EXPECT_NE(table.find("S_TG t/s"), std::string::npos);
  EXPECT_NE(table.find(fmt::format("{:.2f}", p->decode_tokens_per_second)), std::string::npos)
      << table;
}

TEST(BatchedBench, SizesThePoolOrTheContextCannotHoldAreRefused) {
  auto backend = aidreams_backend(512);
  ASSERT_NE(backend, nullptr);
  const int32_t ctx = aidreams_context();
  BatchedBenchOptions o;
  // 6 sequences of 120 positions need 6 x 8 = 48 blocks of 16; the pool has 40.
  EXPECT_EQ(batched_bench_blocks(90, 30, 6, 16), 48);
  auto pool = run_batched_point(*backend, ctx, 90, 30, 6, o);
  ASSERT_FALSE(pool.ok());
  EXPECT_NE(pool.error().message.find("need 48 KV blocks of 16; the pool has 40"),
            std::string::npos)
      << pool.error().message;
  auto context = run_batched_point(*backend, ctx, ctx, 1, 1, o);
  ASSERT_FALSE(context.ok());
  EXPECT_NE(context.error().message.find("exceed the context"), std::string::npos);
  auto zero = run_batched_point(*backend, ctx, 8, 8, 0, o);
  ASSERT_FALSE(zero.ok());
  EXPECT_EQ(zero.error().code, ErrorCode::InvalidArgument);
}

}  // namespace
}  // namespace tokamak
