// A decode step of the CUDA backend allocates nothing once its graphs are
// captured: no host heap allocation (global operator new is replaced in
// this test binary and counts while the steps run; it only counts, so the
// other tests are unaffected) and no device memory (the free device memory
// is the same before and after).
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <numeric>
#include <vector>

#include "alloc_counter.h"
#include "cuda/cuda_backend.h"
#include "engine/model/tiny_gguf.h"
#include "gpu_test_util.h"

namespace tokamak {
namespace {

TEST(CudaNoAlloc, DecodeStepsAllocateNothingOnHostOrDevice) {
  TK_REQUIRE_CUDA_DEVICE();
  if (!TOKAMAK_COUNT_ALLOCATIONS) GTEST_SKIP() << "allocations are not counted under ASan";
  testing::TinyConfig c;
  c.weight_type = TensorType::Q8_0;
  auto model = testing::make_tiny_model(c);
  ASSERT_TRUE(model.ok()) << model.error().message;
  CudaBackendOptions o;
  o.kv = {4, 64};
  o.max_step_tokens = 16;
  auto made = make_cuda_backend(*model, o);
  ASSERT_TRUE(made.ok()) << made.error().message;
  Backend& backend = **made;

  // 4 sequences of 16 blocks each; decode steps of 1..4 of them.
  std::vector<std::vector<int32_t>> tables(4, std::vector<int32_t>(16));
  for (int s = 0; s < 4; ++s) std::iota(tables[s].begin(), tables[s].end(), 16 * s);
  std::vector<StepSequence> seqs;
  for (const auto& t : tables) seqs.push_back({t});
  std::vector<int32_t> tokens(4), positions(4), token_seq(4), rows(4), ids(4);
  std::vector<float> logits(4 * backend.vocab_size());
  std::vector<RowSampling> sampling(4);
  for (auto& r : sampling) r.temperature = 0.8f, r.top_k = 20, r.top_p = 0.9f, r.u = 0.37;
  std::iota(token_seq.begin(), token_seq.end(), 0);
  std::iota(rows.begin(), rows.end(), 0);
  auto step = [&](int pos, int n, bool sampled) -> Status {
    for (int i = 0; i < n; ++i) tokens[i] = (7 * pos + i) % 64, positions[i] = pos;
    const StepPlan plan{{tokens.data(), static_cast<size_t>(n)},
                        {positions.data(), static_cast<size_t>(n)},
                        {token_seq.data(), static_cast<size_t>(n)},
                        seqs,
                        {rows.data(), static_cast<size_t>(n)}};
    if (sampled)
      return backend.forward_sampled(plan, {sampling.data(), static_cast<size_t>(n)},
                                     {ids.data(), static_cast<size_t>(n)});
    return backend.forward(plan, {logits.data(), static_cast<size_t>(n) * backend.vocab_size()});
  };
  // Warm-up: capture the graphs of buckets 1, 2 and 4.
  for (int pos = 0; pos < 4; ++pos) ASSERT_TRUE(step(pos, pos + 1, pos % 2 == 0).ok());

  size_t free_before = 0, free_after = 0, total = 0;
  ASSERT_EQ(cudaMemGetInfo(&free_before, &total), cudaSuccess);
  std::vector<Status> results;
  results.reserve(40);
  g_allocations = 0;
  g_counting = true;
  for (int pos = 4; pos < 44; ++pos) results.push_back(step(pos, 1 + pos % 4, pos % 3 != 0));
  g_counting = false;
  ASSERT_EQ(cudaMemGetInfo(&free_after, &total), cudaSuccess);
  for (const Status& s : results) ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(g_allocations.load(), 0) << "heap allocations during 40 decode steps";
  EXPECT_EQ(free_after, free_before) << "device memory taken during the decode steps";
  EXPECT_EQ(cuda::testing::num_decode_graphs(backend), 3);
}

}  // namespace
}  // namespace tokamak
