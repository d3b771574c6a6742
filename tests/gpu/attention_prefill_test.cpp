// The tensor-core prefill attention (attention_prefill_mma.cu) and the
// launch_attention entry against the CPU reference (cpu::attention) on
// random fp16 pools through scrambled block tables: odd prompt lengths,
// chunks that start mid-sequence (attending to cached positions), several
// sequences in one step, GQA ratios that do and do not divide the 64-row
// tile, block sizes 1/7/16. Outputs start as NaN and carry a poisoned tail,
// so unwritten and out-of-range writes both show.
#include <cuda_fp16.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "cpu/attention.h"
#include "cuda/attention.cuh"
#include "cuda/attention_kernels.cuh"
#include "gpu_test_util.h"

namespace tokamak {
namespace {

using gpu_testing::DeviceArray;
using gpu_testing::random_floats;
using gpu_testing::rel_max_diff;

using PrefillCase = gpu_testing::AttentionShape;

// Sequence lengths after the step, and the step's tokens as runs
// (sequence, first position, count).
struct Run {
  int32_t seq, first, count;
};
struct PrefillStep {
  std::string name;
  std::vector<int32_t> seq_lens;
  std::vector<Run> runs;
};

std::vector<PrefillStep> prefill_steps() {
  return {
      {"one_token", {1}, {{0, 0, 1}}},
      {"prompt_333", {333}, {{0, 0, 333}}},
      // A chunk at an offset that is no multiple of the key tile: cached keys first.
      {"chunk_200_517", {517}, {{0, 200, 317}}},
      // A prompt, another sequence's chunk and a third one's decode token in one step.
      {"mixed", {71, 191, 1000}, {{0, 0, 71}, {1, 130, 61}, {2, 999, 1}}},
      {"prompt_1100", {1100}, {{0, 0, 1100}}},
  };
}

// Everything one step needs on the host and the device.
struct StepData {
  std::vector<int32_t> positions, token_seq, starts, tables;
  std::vector<StepSequence> seqs;
  std::vector<float> q, k_pool, v_pool;  // pools hold fp16-representable values
  int64_t num_tokens = 0;
};

std::vector<float> round_to_half(std::vector<float> v) {
  for (float& x : v) x = __half2float(__float2half_rn(x));
  return v;
}

std::vector<__half> to_half(const std::vector<float>& v) {
  std::vector<__half> h(v.size());
  for (size_t i = 0; i < v.size(); ++i) h[i] = __float2half_rn(v[i]);
  return h;
}

StepData make_step(const PrefillCase& c, const PrefillStep& step, uint32_t seed) {
  StepData d;
  const size_t num_seqs = step.seq_lens.size();
  std::vector<int32_t> seq_blocks(num_seqs);
  int32_t num_blocks = 2;  // a few unused
  for (size_t s = 0; s < num_seqs; ++s) {
    seq_blocks[s] = (step.seq_lens[s] + c.block_size - 1) / c.block_size;
    num_blocks += seq_blocks[s];
  }
  std::vector<int32_t> blocks(num_blocks);
  std::iota(blocks.begin(), blocks.end(), 0);
  std::shuffle(blocks.begin(), blocks.end(), std::mt19937(seed));
  d.tables.assign(blocks.begin(), blocks.end() - 2);
  d.seqs.resize(num_seqs);
  for (size_t s = 0, used = 0; s < num_seqs; used += seq_blocks[s], ++s) {
    d.starts.push_back(static_cast<int32_t>(used));
    d.seqs[s].block_table = std::span<const int32_t>(d.tables).subspan(used, seq_blocks[s]);
  }
  for (const Run& r : step.runs)
    for (int32_t p = r.first; p < r.first + r.count; ++p) {
      d.positions.push_back(p);
      d.token_seq.push_back(r.seq);
    }
  d.num_tokens = static_cast<int64_t>(d.positions.size());
  const int64_t kv_dim = static_cast<int64_t>(c.num_kv_heads) * c.head_dim;
  const int64_t pool_size = static_cast<int64_t>(num_blocks) * c.block_size * kv_dim;
  d.k_pool = round_to_half(random_floats(pool_size, seed + 1));
  d.v_pool = round_to_half(random_floats(pool_size, seed + 2));
  d.q = random_floats(d.num_tokens * c.num_heads * c.head_dim, seed + 3, -2, 2);
  return d;
}

std::vector<float> cpu_attention(const PrefillCase& c, const StepData& d) {
  std::vector<float> out(d.q.size());
  ThreadPool pool(0);
  int64_t max_positions = 1;
  for (int32_t p : d.positions) max_positions = std::max<int64_t>(max_positions, p + 1);
  std::vector<float> scores(pool.num_threads() * max_positions);
  const cpu::AttentionShape shape{c.num_heads, c.num_kv_heads, c.head_dim, c.block_size};
  const cpu::AttentionInputs in{d.q.data(),  d.k_pool.data(), d.v_pool.data(),
                                d.positions, d.token_seq,     d.seqs};
  cpu::attention(pool, shape, in, out.data(), scores.data(), max_positions);
  return out;
}

// The output's poisoned tail: 64 floats past the end that no kernel may touch.
constexpr size_t kTail = 64;

bool tail_untouched(const std::vector<float>& out, size_t size) {
  for (size_t i = size; i < out.size(); ++i) {
    uint32_t bits;
    std::memcpy(&bits, &out[i], sizeof(bits));
    if (bits != 0xFFFFFFFFu) return false;
  }
  return true;
}

class AttentionPrefillTest : public ::testing::TestWithParam<PrefillCase> {};

TEST_P(AttentionPrefillTest, MatchesCpuAttention) {
  TK_REQUIRE_CUDA_DEVICE();
  const PrefillCase c = GetParam();
  const int32_t kv_dim = c.num_kv_heads * c.head_dim;
  uint32_t seed = 11;
  for (const PrefillStep& step : prefill_steps()) {
    SCOPED_TRACE(step.name);
    const StepData d = make_step(c, step, seed += 10);
    const std::vector<float> expect = cpu_attention(c, d);

    DeviceArray<float> dq(d.q);
    DeviceArray<__half> dk(to_half(d.k_pool)), dv(to_half(d.v_pool));
    DeviceArray<int32_t> dpos(d.positions), dseq(d.token_seq), dstart(d.starts), dtab(d.tables);
    const cuda::PagedKv kv{dpos.get(), dseq.get(), dstart.get(), dtab.get(), c.block_size, kv_dim};

    cuda::AttentionArgs a;
    a.kv = kv;
    a.q = dq.get();
    a.k_pool = dk.get();
    a.v_pool = dv.get();
    a.num_heads = c.num_heads;
    a.group = c.num_heads / c.num_kv_heads;
    a.head_dim = c.head_dim;
    a.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
    const bool mma = (c.head_dim == 64 || c.head_dim == 128);
    {
      DeviceArray<float> dout(expect.size() + kTail);
      a.out = dout.get();
      ASSERT_EQ(cuda::attention_mma_supports(a), mma);
      if (mma) {
        TK_EXPECT_CUDA_OK(cuda::launch_attention_mma(a, c.num_kv_heads, d.num_tokens, nullptr));
        std::vector<float> got = dout.download();
        EXPECT_TRUE(tail_untouched(got, expect.size())) << "mma wrote past the output";
        got.resize(expect.size());
        const double err = rel_max_diff(got, expect);
        EXPECT_LT(err, 1.5e-3) << "mma";
        std::printf("[ mma ] %s: max |diff| / max |ref| = %.2e\n", step.name.c_str(), err);
      } else {
        EXPECT_EQ(cuda::launch_attention_mma(a, c.num_kv_heads, d.num_tokens, nullptr),
                  cudaErrorInvalidValue);
      }
    }
    // The public entry without scratch: the mma kernel where it applies, else fp32.
    DeviceArray<float> dout(expect.size() + kTail);
    TK_EXPECT_CUDA_OK(cuda::launch_attention(kv, dq.get(), dk.get(), dv.get(), c.num_heads,
                                             c.num_kv_heads, c.head_dim, d.num_tokens, nullptr,
                                             dout.get(), nullptr));
    std::vector<float> got = dout.download();
    EXPECT_TRUE(tail_untouched(got, expect.size())) << "launch_attention wrote past the output";
    got.resize(expect.size());
    EXPECT_LT(rel_max_diff(got, expect), mma ? 1.5e-3 : 2e-5) << "launch_attention";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, AttentionPrefillTest,
    ::testing::Values(PrefillCase{32, 32, 128, 16},  // llama2-7b
                      PrefillCase{32, 8, 128, 16},   // llama3-8b
                      PrefillCase{8, 1, 128, 1},     // group 8, one position per block
                      PrefillCase{10, 2, 128, 7},    // group 5: 60 of 64 rows used
                      PrefillCase{16, 2, 64, 16}, PrefillCase{12, 12, 64, 1},
                      PrefillCase{14, 2, 64, 7},   // group 7: 63 rows
                      PrefillCase{64, 1, 64, 16},  // group 64: one token per block
                      PrefillCase{4, 2, 96, 16}),  // fp32 fallback
    gpu_testing::attention_shape_name);

// Rows that fall on exactly equal keys: the softmax must weigh them evenly
// (here all V rows are equal, so every output is that row up to fp32
// rounding: P's fp16 rounding cancels, the sum adds the same rounded values).
TEST(AttentionPrefill, ConstantValuesComeBackUnchanged) {
  TK_REQUIRE_CUDA_DEVICE();
  const PrefillCase c{8, 2, 128, 16};
  const PrefillStep step{"prompt_200", {200}, {{0, 0, 200}}};
  StepData d = make_step(c, step, 3);
  const int32_t kv_dim = c.num_kv_heads * c.head_dim;
  const std::vector<float> row = round_to_half(random_floats(kv_dim, 9));
  for (size_t i = 0; i < d.v_pool.size(); ++i) d.v_pool[i] = row[i % kv_dim];
  DeviceArray<float> dq(d.q), dout(d.q.size());
  DeviceArray<__half> dk(to_half(d.k_pool)), dv(to_half(d.v_pool));
  DeviceArray<int32_t> dpos(d.positions), dseq(d.token_seq), dstart(d.starts), dtab(d.tables);
  const cuda::PagedKv kv{dpos.get(), dseq.get(), dstart.get(), dtab.get(), c.block_size, kv_dim};
  TK_EXPECT_CUDA_OK(cuda::launch_attention(kv, dq.get(), dk.get(), dv.get(), c.num_heads,
                                           c.num_kv_heads, c.head_dim, d.num_tokens, nullptr,
                                           dout.get(), nullptr));
  const std::vector<float> got = dout.download();
  const int32_t group = c.num_heads / c.num_kv_heads;
  for (int64_t t = 0; t < d.num_tokens; ++t)
    for (int32_t h = 0; h < c.num_heads; ++h)
      for (int32_t i = 0; i < c.head_dim; ++i) {
        const float want = row[(h / group) * c.head_dim + i];
        const float have = got[(t * c.num_heads + h) * c.head_dim + i];
        ASSERT_NEAR(have, want, 1e-4 * std::abs(want) + 1e-6) << "t " << t << " h " << h;
      }
}

}  // namespace
}  // namespace tokamak
