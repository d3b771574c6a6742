// A forward step allocates nothing: every buffer is sized when the backend is
// made. Global operator new is replaced in this test binary to count heap
// allocations (on any thread) while steps run.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <numeric>
#include <vector>

#include "alloc_counter.h"
#include "cpu/cpu_backend.h"
#include "engine/model/tiny_gguf.h"

namespace tokamak {
namespace {

TEST(CpuBackend, ForwardStepsDoNotAllocate) {
  if (!TOKAMAK_COUNT_ALLOCATIONS) GTEST_SKIP() << "allocations are not counted under ASan";
  testing::TinyConfig c;
  c.weight_type = TensorType::Q4_K;
  c.dim = 512;  // large enough that matmuls and attention use both threads
  c.hidden_dim = 1024;
  auto model = testing::make_tiny_model(c);
  ASSERT_TRUE(model.ok()) << model.error().message;
  CpuBackendOptions options;
  options.num_threads = 2;
  options.kv = {16, 16};
  auto made = make_cpu_backend(*model, options);
  ASSERT_TRUE(made.ok()) << made.error().message;
  Backend& backend = **made;

  std::vector<int32_t> tokens(200), positions(200), token_seq(200, 0), rows(200);
  for (int32_t i = 0; i < 200; ++i) tokens[i] = (i * 13 + 1) % 64;
  std::iota(positions.begin(), positions.end(), 0);
  std::iota(rows.begin(), rows.end(), 0);
  std::vector<int32_t> table(16);
  std::iota(table.rbegin(), table.rend(), 0);  // blocks 15, 14, ... 0
  const StepSequence seq{table};
  std::vector<float> logits(200 * 64);

  // One warm-up step: first calls may set up process-wide tables (quant's
  // f16 scale table is built on first use).
  {
    const int32_t token = 1, zero = 0;
    StepPlan warm{{&token, 1}, {&zero, 1}, {&zero, 1}, {&seq, 1}, {&zero, 1}};
    ASSERT_TRUE(backend.forward(warm, std::span<float>(logits.data(), 64)).ok());
  }
  g_allocations = 0;
  g_counting = true;
  // A prefill of 200 tokens with logits for every row, then decode steps.
  StepPlan prefill{tokens, positions, token_seq, {&seq, 1}, rows};
  Status s = backend.forward(prefill, logits);
  for (int32_t pos = 200; pos < 210 && s.ok(); ++pos) {
    const int32_t token = pos % 64, zero = 0;
    StepPlan decode{{&token, 1}, {&pos, 1}, {&zero, 1}, {&seq, 1}, {&zero, 1}};
    s = backend.forward(decode, std::span<float>(logits.data(), 64));
  }
  g_counting = false;
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(g_allocations.load(), 0);
}

}  // namespace
}  // namespace tokamak
