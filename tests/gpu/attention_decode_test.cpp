// The decode (flash-decoding) attention against the CPU reference: steps of
// many decode rows whose lengths sit on and around the streaming kernel's
// chunk, stage and slice boundaries (and long contexts), through scrambled
// block tables of several block sizes, under every geometry of the decode
// path (stages, fixed slice counts, minimum slice lengths, the former split
// kernel), and a captured graph replayed with other positions.
#include <cuda_fp16.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/thread_pool.h"
#include "cpu/attention.h"
#include "cuda/attention.cuh"
#include "gpu_test_util.h"

namespace tokamak {
namespace {

using gpu_testing::AttentionShape;
using gpu_testing::DeviceArray;
using gpu_testing::random_floats;
using gpu_testing::rel_max_diff;

// One decode step: sequence s has lens[s] positions, its one token at
// position lens[s] - 1; blocks scrambled over the pool (a few unused).
class DecodeStep {
 public:
  DecodeStep(const AttentionShape& c, std::vector<int32_t> lens, uint32_t seed)
      : c_(c), lens_(std::move(lens)) {
    const int32_t kv_dim = c.num_kv_heads * c.head_dim;
    int32_t num_blocks = 3;
    for (int32_t len : lens_) num_blocks += (len + c.block_size - 1) / c.block_size;
    std::vector<int32_t> blocks(num_blocks);
    std::iota(blocks.begin(), blocks.end(), 0);
    std::shuffle(blocks.begin(), blocks.end(), std::mt19937(seed));
    tables_.assign(blocks.begin(), blocks.end() - 3);
    seqs_.resize(lens_.size());
    for (size_t s = 0, used = 0; s < lens_.size(); ++s) {
      const size_t n = (lens_[s] + c.block_size - 1) / c.block_size;
      starts_.push_back(static_cast<int32_t>(used));
      seqs_[s].block_table = std::span<const int32_t>(tables_).subspan(used, n);
      used += n;
      positions_.push_back(lens_[s] - 1);
      token_seq_.push_back(static_cast<int32_t>(s));
    }
    const size_t pool_size = static_cast<size_t>(num_blocks) * c.block_size * kv_dim;
    k_pool_ = random_floats(pool_size, seed + 1);
    v_pool_ = random_floats(pool_size, seed + 2);
    for (auto* pool : {&k_pool_, &v_pool_})
      for (float& x : *pool) x = __half2float(__float2half_rn(x));
    q_ = random_floats(lens_.size() * c.num_heads * c.head_dim, seed + 3, -2, 2);
  }

  int64_t num_tokens() const { return static_cast<int64_t>(lens_.size()); }
  const std::vector<int32_t>& positions() const { return positions_; }

  std::vector<float> reference() const {
    ThreadPool pool(4);
    const int32_t max_len = *std::max_element(lens_.begin(), lens_.end());
    std::vector<float> out(q_.size()), scores(static_cast<size_t>(pool.num_threads()) * max_len);
    const cpu::AttentionShape shape{c_.num_heads, c_.num_kv_heads, c_.head_dim, c_.block_size};
    const cpu::AttentionInputs in{q_.data(),  k_pool_.data(), v_pool_.data(),
                                  positions_, token_seq_,     seqs_};
    cpu::attention(pool, shape, in, out.data(), scores.data(), max_len);
    return out;
  }

  // The step's device buffers (positions re-uploadable: graphs replay them).
  struct Device {
    explicit Device(const DecodeStep& s)
        : k(halves(s.k_pool_)),
          v(halves(s.v_pool_)),
          q(s.q_),
          positions(s.positions_),
          token_seq(s.token_seq_),
          starts(s.starts_),
          tables(s.tables_),
          scratch(cuda::attention_scratch_bytes(s.c_.num_heads, s.c_.head_dim)),
          kv{positions.get(), token_seq.get(), starts.get(),
             tables.get(),    s.c_.block_size, s.c_.num_kv_heads * s.c_.head_dim} {}
    static std::vector<__half> halves(const std::vector<float>& v) {
      std::vector<__half> h(v.size());
      for (size_t i = 0; i < v.size(); ++i) h[i] = __float2half_rn(v[i]);
      return h;
    }
    DeviceArray<__half> k, v;
    DeviceArray<float> q;
    DeviceArray<int32_t> positions, token_seq, starts, tables;
    DeviceArray<uint8_t> scratch;
    cuda::PagedKv kv;
  };

  cudaError_t launch(const Device& d, float* out, cudaStream_t stream) const {
    return cuda::launch_attention(d.kv, d.q.get(), d.k.get(), d.v.get(), c_.num_heads,
                                  c_.num_kv_heads, c_.head_dim, num_tokens(),
                                  reinterpret_cast<float*>(d.scratch.get()), out, stream);
  }

 private:
  AttentionShape c_;
  std::vector<int32_t> lens_, positions_, token_seq_, starts_, tables_;
  std::vector<StepSequence> seqs_;
  std::vector<float> k_pool_, v_pool_, q_;
};

// Lengths on and around the boundaries: chunks of 8 / 16 keys, 4 warps,
// 3-4 stages, slices of 64 / 128 positions; and long contexts.
std::vector<int32_t> boundary_lengths() {
  return {1,   2,   3,   4,   7,   8,   9,    15,   16,   17,   31,   32,
          33,  63,  64,  65,  96,  127, 128,  129,  191,  192,  193,  255,
          256, 257, 383, 384, 385, 513, 1000, 2049, 4063, 4064, 4065, 4096};
}

// The decode path's geometries under test; restored after each test.
struct Variant {
  std::string name;
  cuda::DecodeAttentionTuning tuning;
};
std::vector<Variant> variants() {
  std::vector<Variant> v;
  v.push_back({"default", {}});
  cuda::DecodeAttentionTuning t;
  t.min_pairs = 0;  // the streaming kernel whatever the token count
  v.push_back({"stream", t});
  t.stages = 2;
  v.push_back({"stages2", t});
  t.stages = 4;
  v.push_back({"stages4", t});
  t.stages = 3;
  t.splits = 1;
  v.push_back({"one_slice", t});
  t.splits = 3;
  t.min_slice = 1;  // slices of any length
  v.push_back({"3_slices_min1", t});
  t.splits = 16;
  t.min_slice = 8;
  v.push_back({"16_slices_min8", t});
  t.splits = 7;
  t.min_slice = 128;
  t.stages = 4;
  v.push_back({"7_slices_min128_stages4", t});
  t = {};
  t.streaming = false;  // the former kernel stays correct too
  v.push_back({"split_kernel", t});
  return v;
}

class TuningGuard {
 public:
  TuningGuard() : saved_(cuda::decode_attention_tuning()) {}
  ~TuningGuard() { cuda::decode_attention_tuning() = saved_; }

 private:
  cuda::DecodeAttentionTuning saved_;
};

void expect_matches(const DecodeStep& step) {
  const std::vector<float> expect = step.reference();
  const DecodeStep::Device d(step);
  TuningGuard guard;
  for (const Variant& v : variants()) {
    SCOPED_TRACE(v.name);
    cuda::decode_attention_tuning() = v.tuning;
    DeviceArray<float> out(expect.size());  // starts NaN
    TK_EXPECT_CUDA_OK(step.launch(d, out.get(), nullptr));
    TK_EXPECT_CUDA_OK(cudaDeviceSynchronize());
    EXPECT_LT(rel_max_diff(out.download(), expect), 2e-5);
  }
}

class DecodeAttentionTest : public ::testing::TestWithParam<AttentionShape> {};

TEST_P(DecodeAttentionTest, BoundaryAndLongLengthsMatchCpu) {
  TK_REQUIRE_CUDA_DEVICE();
  expect_matches(DecodeStep(GetParam(), boundary_lengths(), 11));
}

// 64 rows around 192 positions (the batched serving step), and the most
// rows the decode path takes (kMaxSplitTokens) where the pool stays small.
TEST_P(DecodeAttentionTest, ManyRowsMatchCpu) {
  TK_REQUIRE_CUDA_DEVICE();
  const AttentionShape c = GetParam();
  std::vector<int32_t> lens;
  for (int32_t i = 0; i < 64; ++i) lens.push_back(185 + i % 16);
  expect_matches(DecodeStep(c, lens, 21));
  if (c.num_kv_heads * c.head_dim <= 512) {
    lens.clear();
    for (int32_t i = 0; i < cuda::kMaxSplitTokens; ++i) lens.push_back(1 + (i * 53) % 300);
    expect_matches(DecodeStep(c, lens, 31));
  }
}

// The graph contract: captured while every token sat at position 0, the
// launch replays correctly for the real positions (geometry from the token
// count only, positions and tables read on the device).
TEST_P(DecodeAttentionTest, GraphReplaysForOtherPositions) {
  TK_REQUIRE_CUDA_DEVICE();
  const AttentionShape c = GetParam();
  std::vector<int32_t> lens;
  for (int32_t i = 0; i < 16; ++i) lens.push_back(1 + (i * 389) % 3000);
  const DecodeStep step(c, lens, 41);
  const std::vector<float> expect = step.reference();
  DecodeStep::Device d(step);
  d.positions.upload(std::vector<int32_t>(lens.size(), 0));
  DeviceArray<float> out(expect.size());
  cudaStream_t stream = nullptr;
  TK_EXPECT_CUDA_OK(cudaStreamCreate(&stream));
  TK_EXPECT_CUDA_OK(step.launch(d, out.get(), stream));  // one-time setup outside the capture
  TK_EXPECT_CUDA_OK(cudaStreamSynchronize(stream));
  out.poison();
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  TK_EXPECT_CUDA_OK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  const cudaError_t launched = step.launch(d, out.get(), stream);
  TK_EXPECT_CUDA_OK(cudaStreamEndCapture(stream, &graph));
  TK_EXPECT_CUDA_OK(launched);
  TK_EXPECT_CUDA_OK(cudaGraphInstantiate(&exec, graph, 0));
  d.positions.upload(step.positions());
  TK_EXPECT_CUDA_OK(cudaGraphLaunch(exec, stream));
  TK_EXPECT_CUDA_OK(cudaStreamSynchronize(stream));
  EXPECT_LT(rel_max_diff(out.download(), expect), 2e-5);
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  cudaStreamDestroy(stream);
}

INSTANTIATE_TEST_SUITE_P(Shapes, DecodeAttentionTest,
                         ::testing::Values(AttentionShape{32, 32, 128, 16},  // llama2-7b
                                           AttentionShape{32, 8, 128, 16},   // llama3-8b
                                           AttentionShape{14, 2, 64, 16},    // qwen2-0.5b
                                           AttentionShape{8, 8, 64, 1},
                                           AttentionShape{16, 4, 128, 5},
                                           AttentionShape{8, 1, 128, 32},  // group 8
                                           AttentionShape{12, 2, 64, 3}),
                         gpu_testing::attention_shape_name);

}  // namespace
}  // namespace tokamak
