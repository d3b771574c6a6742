// The CUDA backend's decode step: CUDA graphs (per batch-size bucket) against
// the same backend without graphs over a multi-sequence decode with changing
// batch sizes and scattered block tables; the CPU backend as the reference
// for the KV contents afterwards (padding tokens must not touch real blocks);
// sampling on the device (forward_sampled) against sample_row on the logits
// forward() returns; the faulted state after a failing device call.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "cpu/cpu_backend.h"
#include "cuda/cuda_backend.h"
#include "engine/model/tiny_gguf.h"
#include "gpu_test_util.h"
#include "model/model.h"

namespace tokamak {
namespace {

using gpu_testing::rel_max_diff;
using testing::TinyConfig;

constexpr int32_t kBlockSize = 4;
constexpr int32_t kNumSeqs = 6;
constexpr int32_t kBlocksPerSeq = 8;  // 32 positions each

std::shared_ptr<const Model> tiny_model(TensorType type) {
  TinyConfig c;
  c.weight_type = type;
  c.embd_type = type;
  c.num_heads = 8;
  c.num_kv_heads = 2;
  auto m = testing::make_tiny_model(c);
  EXPECT_TRUE(m.ok()) << m.error().message;
  return m.ok() ? *m : nullptr;
}

std::unique_ptr<Backend> make_backend(std::shared_ptr<const Model> model, bool cuda, bool graphs) {
  const KvCacheConfig kv{kBlockSize, kNumSeqs * kBlocksPerSeq};
  Result<std::unique_ptr<Backend>> b = make_error(ErrorCode::InvalidArgument, "unset");
  if (cuda) {
    CudaBackendOptions o;
    o.kv = kv;
    o.max_step_tokens = 16;
    o.use_graphs = graphs;
    b = make_cuda_backend(std::move(model), o);
  } else {
    CpuBackendOptions o;
    o.kv = kv;
    o.max_step_tokens = 16;
    o.num_threads = 2;
    b = make_cpu_backend(std::move(model), o);
  }
  EXPECT_TRUE(b.ok()) << b.error().message;
  return b.ok() ? std::move(b).value() : nullptr;
}

// Sequences with scattered, interleaved block tables over the whole pool
// (every block belongs to some sequence: a stray write would land in one).
struct Sequences {
  std::vector<std::vector<int32_t>> tables;
  std::vector<int32_t> length;  // tokens in the cache
  std::vector<int32_t> last;    // the token to feed next
  Sequences() {
    std::vector<int32_t> blocks(kNumSeqs * kBlocksPerSeq);
    std::iota(blocks.begin(), blocks.end(), 0);
    std::shuffle(blocks.begin(), blocks.end(), std::mt19937(7));
    for (int32_t s = 0; s < kNumSeqs; ++s) {
      tables.emplace_back(blocks.begin() + s * kBlocksPerSeq,
                          blocks.begin() + (s + 1) * kBlocksPerSeq);
      length.push_back(0);
      last.push_back(1 + s);
    }
  }
  std::vector<StepSequence> views() const {
    std::vector<StepSequence> v;
    for (const auto& t : tables) v.push_back({t});
    return v;
  }
};

// One step of `active` sequences' next tokens (a decode step when each
// appears once), logits of every token in reverse order.
struct Step {
  std::vector<int32_t> tokens, positions, token_seq, rows;
  std::vector<StepSequence> seqs;
  StepPlan plan() const { return {tokens, positions, token_seq, seqs, rows}; }
};

Step decode_step(const Sequences& s, const std::vector<int32_t>& active) {
  Step st;
  st.seqs = s.views();
  for (int32_t a : active) {
    st.tokens.push_back(s.last[a]);
    st.positions.push_back(s.length[a]);
    st.token_seq.push_back(a);
  }
  for (int32_t i = static_cast<int32_t>(active.size()) - 1; i >= 0; --i) st.rows.push_back(i);
  return st;
}

int32_t argmax_row(const std::vector<float>& logits, size_t row, int32_t vocab) {
  const float* r = logits.data() + row * vocab;
  return static_cast<int32_t>(std::max_element(r, r + vocab) - r);
}

TEST(CudaDecodeStep, GraphsMatchNoGraphsOverAMultiSequenceDecode) {
  TK_REQUIRE_CUDA_DEVICE();
  auto model = tiny_model(TensorType::Q8_0);
  ASSERT_TRUE(model);
  auto graphs = make_backend(model, true, true);
  auto plain = make_backend(model, true, false);
  auto cpu = make_backend(model, false, false);
  ASSERT_TRUE(graphs && plain && cpu);
  const int32_t vocab = graphs->vocab_size();
  Sequences seqs;
  // Prompts of different lengths, one sequence per (non-decode) step.
  for (int32_t s = 0; s < kNumSeqs; ++s) {
    Step st;
    st.seqs = seqs.views();
    for (int32_t p = 0; p < 3 + s; ++p) {
      st.tokens.push_back((7 * s + 3 * p + 1) % vocab);
      st.positions.push_back(p);
      st.token_seq.push_back(s);
    }
    for (Backend* b : {graphs.get(), plain.get(), cpu.get()})
      ASSERT_TRUE(b->forward(st.plan(), {}).ok());
    seqs.length[s] = 3 + s;
  }
  // Decode steps over changing subsets: batch sizes 1..6 (buckets 1, 2, 4, 8).
  std::mt19937 rng(11);
  for (int step = 0; step < 24; ++step) {
    std::vector<int32_t> active(kNumSeqs);
    std::iota(active.begin(), active.end(), 0);
    std::shuffle(active.begin(), active.end(), rng);
    active.resize(1 + step % kNumSeqs);
    active.erase(
        std::remove_if(active.begin(), active.end(),
                       [&](int32_t a) { return seqs.length[a] >= kBlocksPerSeq * kBlockSize; }),
        active.end());
    if (active.empty()) continue;
    const Step st = decode_step(seqs, active);
    std::vector<float> lg(st.rows.size() * vocab), lp(lg.size()), lc(lg.size());
    ASSERT_TRUE(graphs->forward(st.plan(), lg).ok()) << "step " << step;
    ASSERT_TRUE(plain->forward(st.plan(), lp).ok()) << "step " << step;
    ASSERT_TRUE(cpu->forward(st.plan(), lc).ok());
    EXPECT_EQ(gpu_testing::count_non_finite(lg), 0u);
    // Same path (the GEMM-or-matmul choice follows the bucket either way);
    // only the padding tokens differ, and kernels may group tokens
    // differently for 5 and 8 of them.
    EXPECT_LT(rel_max_diff(lg, lp), 1e-5) << "step " << step << ", " << active.size() << " tokens";
    EXPECT_LT(rel_max_diff(lg, lc), 0.03) << "step " << step;  // Q8_0 on the CPU
    for (size_t i = 0; i < active.size(); ++i) {
      const int32_t a = active[active.size() - 1 - i];  // rows are in reverse order
      const int32_t id = argmax_row(lg, i, vocab);
      EXPECT_EQ(id, argmax_row(lp, i, vocab)) << "step " << step;
      seqs.last[a] = id;
      ++seqs.length[a];
    }
  }
  EXPECT_GE(cuda::testing::num_decode_graphs(*graphs), 4);
  EXPECT_EQ(cuda::testing::num_decode_graphs(*plain), 0);
  // Every sequence's cache as the CPU backend has it: one more token each, as
  // a multi-token (non-graph) step on all three.
  Step last;
  last.seqs = seqs.views();
  for (int32_t s = 0; s < kNumSeqs; ++s) {
    if (seqs.length[s] >= kBlocksPerSeq * kBlockSize) continue;
    last.tokens.push_back(seqs.last[s]);
    last.positions.push_back(seqs.length[s]);
    last.token_seq.push_back(s);
    last.rows.push_back(static_cast<int32_t>(last.rows.size()));
  }
  last.tokens.push_back(5), last.positions.push_back(seqs.length[0] + 1);  // 2 tokens of seq 0
  last.token_seq.push_back(0), last.rows.push_back(static_cast<int32_t>(last.rows.size()));
  if (seqs.length[0] + 1 < kBlocksPerSeq * kBlockSize) {
    std::vector<float> lg(last.rows.size() * vocab), lp(lg.size()), lc(lg.size());
    ASSERT_TRUE(graphs->forward(last.plan(), lg).ok());
    ASSERT_TRUE(plain->forward(last.plan(), lp).ok());
    ASSERT_TRUE(cpu->forward(last.plan(), lc).ok());
    EXPECT_LT(rel_max_diff(lg, lp), 1e-5);
    EXPECT_LT(rel_max_diff(lg, lc), 0.03);  // Q8_0: the CPU quantizes activations
  }
}

TEST(CudaDecodeStep, ForwardSampledEqualsSampleRowOfForwardLogits) {
  TK_REQUIRE_CUDA_DEVICE();
  auto model = tiny_model(TensorType::F16);
  ASSERT_TRUE(model);
  for (bool use_graphs : {true, false}) {
    auto logits_backend = make_backend(model, true, use_graphs);
    auto sampled_backend = make_backend(model, true, use_graphs);
    ASSERT_TRUE(logits_backend && sampled_backend);
    const int32_t vocab = logits_backend->vocab_size();
    Sequences seqs;
    std::mt19937 rng(5);
    std::uniform_real_distribution<double> u01(0.0, 1.0);
    int random_draws = 0;
    for (int step = 0; step < 30; ++step) {
      std::vector<int32_t> active;
      for (int32_t s = 0; s < kNumSeqs; ++s)
        if ((step + s) % 3 != 0 && seqs.length[s] < kBlocksPerSeq * kBlockSize) active.push_back(s);
      if (active.empty()) continue;
      const Step st = decode_step(seqs, active);
      std::vector<RowSampling> rows(st.rows.size());
      for (auto& r : rows) {
        const int kind = static_cast<int>(rng() % 4);
        r.temperature = kind == 0 ? 0.0f : 0.5f + kind * 0.4f;
        r.top_k = kind == 2 ? 10 : 0;
        r.top_p = kind == 3 ? 0.9f : 1.0f;
        r.min_p = kind == 1 ? 0.05f : 0.0f;
        r.u = u01(rng);
        random_draws += kind != 0;
      }
      std::vector<float> logits(st.rows.size() * vocab);
      std::vector<int32_t> ids(st.rows.size(), -1);
      ASSERT_TRUE(logits_backend->forward(st.plan(), logits).ok());
      Status s = sampled_backend->forward_sampled(st.plan(), rows, ids);
      ASSERT_TRUE(s.ok()) << s.error().message;
      for (size_t i = 0; i < rows.size(); ++i) {
        const std::span<const float> row(logits.data() + i * vocab, vocab);
        ASSERT_EQ(ids[i], sample_row(row, rows[i]))
            << "step " << step << " row " << i << " graphs " << use_graphs;
        const int32_t a = active[active.size() - 1 - i];
        seqs.last[a] = ids[i];
        ++seqs.length[a];
      }
    }
    EXPECT_GT(random_draws, 50);
  }
}

TEST(CudaDecodeStep, ForwardSampledRejectsMismatchedSizes) {
  TK_REQUIRE_CUDA_DEVICE();
  auto model = tiny_model(TensorType::F32);
  ASSERT_TRUE(model);
  auto b = make_backend(model, true, true);
  ASSERT_TRUE(b);
  Sequences seqs;
  const Step st = decode_step(seqs, {0, 1});
  std::vector<RowSampling> rows(1);
  std::vector<int32_t> ids(2);
  EXPECT_EQ(b->forward_sampled(st.plan(), rows, ids).error().code, ErrorCode::InvalidRequest);
  rows.resize(2);
  EXPECT_TRUE(b->forward_sampled(st.plan(), rows, ids).ok());
}

TEST(CudaDecodeStep, AFailingDeviceCallFaultsTheBackendForGood) {
  TK_REQUIRE_CUDA_DEVICE();
  auto model = tiny_model(TensorType::F32);
  ASSERT_TRUE(model);
  auto b = make_backend(model, true, true);
  ASSERT_TRUE(b);
  Sequences seqs;
  const Step st = decode_step(seqs, {0, 1, 2});
  std::vector<float> logits(3 * b->vocab_size());
  ASSERT_TRUE(b->forward(st.plan(), logits).ok());
  ASSERT_TRUE(cuda::testing::fail_next_step(*b));
  Status first = b->forward(st.plan(), logits);
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.error().code, ErrorCode::DeviceFault);
  EXPECT_NE(first.error().message.find("launch_invalid_configuration"), std::string::npos)
      << first.error().message;
  EXPECT_NE(first.error().message.find("(cudaError"), std::string::npos) << first.error().message;
  // Later calls fail at once with the first error, sampled or not.
  Status again = b->forward(st.plan(), logits);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::DeviceFault);
  EXPECT_NE(again.error().message.find(first.error().message), std::string::npos);
  std::vector<RowSampling> rows(3);
  std::vector<int32_t> ids(3);
  Status sampled = b->forward_sampled(st.plan(), rows, ids);
  ASSERT_FALSE(sampled.ok());
  EXPECT_NE(sampled.error().message.find(first.error().message), std::string::npos);
  // The process and the device live on: a new backend works.
  auto fresh = make_backend(model, true, true);
  ASSERT_TRUE(fresh);
  EXPECT_TRUE(fresh->forward(st.plan(), logits).ok());
  EXPECT_FALSE(cuda::testing::fail_next_step(*make_backend(model, false, false)));
}

}  // namespace
}  // namespace tokamak
