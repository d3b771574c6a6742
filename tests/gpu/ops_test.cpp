// Each CUDA kernel against the CPU reference (engine/cpu, engine/quant) on
// random inputs of several shapes, odd ones included. Outputs start as NaN,
// so an element a kernel forgets to write fails the comparison.
#include <cuda_fp16.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <numeric>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/thread_pool.h"
#include "cpu/attention.h"
#include "cpu/elementwise.h"
#include "cpu/rms_norm.h"
#include "cpu/rope.h"
#include "cuda/add_bias.cuh"
#include "cuda/attention.cuh"
#include "cuda/attention_kernels.cuh"
#include "cuda/dequantize.cuh"
#include "cuda/embedding.cuh"
#include "cuda/kv_store.cuh"
#include "cuda/matmul.cuh"
#include "cuda/prefill_gemm.h"
#include "cuda/residual_add.cuh"
#include "cuda/rms_norm.cuh"
#include "cuda/rope.cuh"
#include "cuda/swiglu.cuh"
#include "gpu_test_util.h"
#include "quant/quant.h"

namespace tokamak {
namespace {

using gpu_testing::DeviceArray;
using gpu_testing::random_floats;
using gpu_testing::rel_max_diff;

// A random (rows, n) matrix stored as `type`, and its dequantized values.
struct Matrix {
  std::vector<uint8_t> bytes;
  std::vector<float> values;  // dequantized, (rows, n)
  size_t row_bytes = 0;
};

Matrix random_matrix(TensorType type, int64_t rows, int64_t n, uint32_t seed) {
  const std::vector<float> src = random_floats(rows * n, seed);
  Matrix m;
  m.row_bytes = row_size_bytes(type, n);
  m.bytes.resize(rows * m.row_bytes);
  m.values.resize(rows * n);
  for (int64_t r = 0; r < rows; ++r) {
    uint8_t* dst = m.bytes.data() + r * m.row_bytes;
    if (type == TensorType::F32) {
      std::memcpy(dst, src.data() + r * n, m.row_bytes);
    } else {
      EXPECT_TRUE(quant::quantize_row(type, src.data() + r * n, dst, n).ok());
    }
    quant::dequantize_row(type, dst, m.values.data() + r * n, n);
  }
  return m;
}

struct MatmulCase {
  TensorType type;
  int64_t rows, n, num_tokens;
};

class MatmulTest : public ::testing::TestWithParam<MatmulCase> {};

TEST_P(MatmulTest, MatchesDequantizedDoubleProduct) {
  TK_REQUIRE_CUDA_DEVICE();
  const MatmulCase c = GetParam();
  const Matrix m = random_matrix(c.type, c.rows, c.n, 7 + c.rows);
  const std::vector<float> x = random_floats(c.num_tokens * c.n, 11 + c.n);
  DeviceArray<uint8_t> dw(m.bytes);
  DeviceArray<float> dx(x);
  DeviceArray<float> dy(c.num_tokens * c.rows);
  cuda::MatmulWeight w{dw.get(), c.type, c.rows, c.n, m.row_bytes};
  // The fp32 kernel (block types default to the dp4a one, checked against
  // the CPU's quantized dot in matmul_dp4a_test.cpp); one token: 2 and 4
  // rows per warp.
  for (int variant : {cuda::kMatmulDecodeFp32TwoRows, cuda::kMatmulDecodeFp32}) {
    if (c.num_tokens > 1 && variant != cuda::kMatmulDecodeFp32) continue;
    dy.poison();
    cuda::set_matmul_decode_variant(variant);
    TK_EXPECT_CUDA_OK(cuda::launch_matmul(w, dx.get(), c.num_tokens, dy.get(), nullptr));
    cuda::set_matmul_decode_variant(cuda::kMatmulDecodeAuto);
    const std::vector<float> y = dy.download();
    SCOPED_TRACE("decode variant " + std::to_string(variant));
    // |y - exact| <= 2e-6 * sum |w_i x_i| (fp32 accumulation over n values).
    for (int64_t t = 0; t < c.num_tokens; ++t) {
      for (int64_t r = 0; r < c.rows; ++r) {
        double exact = 0, magnitude = 0;
        for (int64_t i = 0; i < c.n; ++i) {
          const double p = static_cast<double>(m.values[r * c.n + i]) * x[t * c.n + i];
          exact += p;
          magnitude += std::abs(p);
        }
        const float got = y[t * c.rows + r];
        ASSERT_TRUE(std::isfinite(got)) << "token " << t << " row " << r << " not written";
        ASSERT_NEAR(got, exact, 2e-6 * magnitude + 1e-6) << "token " << t << " row " << r;
      }
    }
  }
}

std::vector<MatmulCase> matmul_cases() {
  std::vector<MatmulCase> cases;
  for (TensorType t : {TensorType::F32, TensorType::F16, TensorType::BF16}) {
    for (int64_t n : {1, 31, 64, 172, 1000, 4096})
      for (int64_t tokens : {1, 3, 17}) cases.push_back({t, 37, n, tokens});
  }
  for (TensorType t : {TensorType::Q8_0, TensorType::Q4_0, TensorType::Q4_K, TensorType::Q6_K}) {
    const int64_t bs = traits(t).block_size;
    for (int64_t n : {bs, 3 * bs, 4096 / bs * bs, 11008 / bs * bs})
      for (int64_t tokens : {1, 2, 8, 9, 20}) cases.push_back({t, n > 5000 ? 19 : 133, n, tokens});
  }
  // More row groups than the resident warps: each warp takes several.
  for (TensorType t : {TensorType::Q4_0, TensorType::Q6_K, TensorType::F16})
    for (int64_t tokens : {1, 5}) cases.push_back({t, 9001, 512, tokens});
  // A row too long for the shared copy of x (about 227 KiB): x through L1.
  cases.push_back({TensorType::Q8_0, 6, 65536, 1});
  // 16 tokens in one pass, 33 in three; 3 and 4 in the 4-token kernel.
  for (int64_t tokens : {3, 4, 16, 33}) cases.push_back({TensorType::Q4_K, 70, 2304, tokens});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(AllTypes, MatmulTest, ::testing::ValuesIn(matmul_cases()),
                         [](const auto& info) {
                           const MatmulCase& c = info.param;
                           return std::string(tensor_type_name(c.type)) + "_r" +
                                  std::to_string(c.rows) + "_n" + std::to_string(c.n) + "_t" +
                                  std::to_string(c.num_tokens);
                         });

// y = x · W^T against the double product of the dequantized weights, for a
// matrix and token count (n, rows, tokens).
void expect_product(const Matrix& m, const std::vector<float>& x, const std::vector<float>& y,
                    int64_t rows, int64_t n, int64_t num_tokens) {
  for (int64_t t = 0; t < num_tokens; ++t) {
    for (int64_t r = 0; r < rows; ++r) {
      double exact = 0, magnitude = 0;
      for (int64_t i = 0; i < n; ++i) {
        const double p = static_cast<double>(m.values[r * n + i]) * x[t * n + i];
        exact += p;
        magnitude += std::abs(p);
      }
      const float got = y[t * rows + r];
      ASSERT_TRUE(std::isfinite(got)) << "token " << t << " row " << r << " not written";
      ASSERT_NEAR(got, exact, 2e-6 * magnitude + 1e-6) << "token " << t << " row " << r;
    }
  }
}

// q/k/v-like groups: three weights of different row counts in one launch,
// each output exactly as its own launch_matmul gives it.
TEST(CudaOps, MatmulGroupEqualsSeparateProducts) {
  TK_REQUIRE_CUDA_DEVICE();
  // The fp32 kernel (exact x); the dp4a kernel's groups: matmul_dp4a_test.cpp.
  struct Fp32Kernel {
    Fp32Kernel() { cuda::set_matmul_decode_variant(cuda::kMatmulDecodeFp32); }
    ~Fp32Kernel() { cuda::set_matmul_decode_variant(cuda::kMatmulDecodeAuto); }
  } fp32_kernel;
  for (TensorType type : {TensorType::Q4_K, TensorType::F16, TensorType::Q8_0}) {
    const int64_t n = 512;
    const int64_t rows[3] = {64, 17, 33};
    std::vector<Matrix> ms;
    std::vector<std::unique_ptr<DeviceArray<uint8_t>>> dws;
    cuda::MatmulWeight ws[3];
    for (int g = 0; g < 3; ++g) {
      ms.push_back(random_matrix(type, rows[g], n, 40 + g));
      dws.push_back(std::make_unique<DeviceArray<uint8_t>>(ms[g].bytes));
      ws[g] = {dws[g]->get(), type, rows[g], n, ms[g].row_bytes};
    }
    for (int64_t tokens : {1, 5, 11}) {
      const std::vector<float> x = random_floats(tokens * n, 50 + tokens);
      DeviceArray<float> dx(x), y0(tokens * rows[0]), y1(tokens * rows[1]), y2(tokens * rows[2]);
      float* const ys[3] = {y0.get(), y1.get(), y2.get()};
      TK_EXPECT_CUDA_OK(cuda::launch_matmul_group(ws, ys, 3, dx.get(), tokens, nullptr));
      const std::vector<float> got[3] = {y0.download(), y1.download(), y2.download()};
      for (int g = 0; g < 3; ++g) {
        DeviceArray<float> single(tokens * rows[g]);
        TK_EXPECT_CUDA_OK(cuda::launch_matmul(ws[g], dx.get(), tokens, single.get(), nullptr));
        EXPECT_EQ(got[g], single.download()) << tensor_type_name(type) << " weight " << g;
        expect_product(ms[g], x, got[g], rows[g], n, tokens);
      }
    }
  }
  // Mixed types cannot share a launch.
  const Matrix a = random_matrix(TensorType::Q8_0, 4, 64, 1),
               b = random_matrix(TensorType::F16, 4, 64, 2);
  DeviceArray<uint8_t> da(a.bytes), db(b.bytes);
  DeviceArray<float> dx(64), y(8);
  const cuda::MatmulWeight mixed[2] = {{da.get(), TensorType::Q8_0, 4, 64, a.row_bytes},
                                       {db.get(), TensorType::F16, 4, 64, b.row_bytes}};
  float* const ys[2] = {y.get(), y.get() + 4};
  EXPECT_EQ(cuda::launch_matmul_group(mixed, ys, 2, dx.get(), 1, nullptr), cudaErrorInvalidValue);
}

// Dequantization and the prefill GEMM: tests/gpu/prefill_gemm_test.cpp.

class EmbeddingTest : public ::testing::TestWithParam<TensorType> {};

TEST_P(EmbeddingTest, GathersDequantizedRows) {
  TK_REQUIRE_CUDA_DEVICE();
  const TensorType type = GetParam();
  const int64_t bs = traits(type).block_size;
  for (int64_t dim : {bs * 2, bs == 1 ? int64_t{70} : bs * 5}) {
    const int64_t vocab = 50;
    const Matrix m = random_matrix(type, vocab, dim, 3);
    const std::vector<int32_t> tokens = {0, 49, 7, 7, 23};
    DeviceArray<uint8_t> table(m.bytes);
    DeviceArray<int32_t> dtok(tokens);
    DeviceArray<float> dx(tokens.size() * dim);
    TK_EXPECT_CUDA_OK(cuda::launch_embedding(type, table.get(), m.row_bytes, dim, dtok.get(),
                                             tokens.size(), dx.get(), nullptr));
    const std::vector<float> x = dx.download();
    for (size_t t = 0; t < tokens.size(); ++t)
      for (int64_t i = 0; i < dim; ++i)
        ASSERT_NEAR(x[t * dim + i], m.values[tokens[t] * dim + i],
                    1e-6 * std::abs(m.values[tokens[t] * dim + i]))
            << "token " << t << " value " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, EmbeddingTest,
                         ::testing::Values(TensorType::F32, TensorType::F16, TensorType::BF16,
                                           TensorType::Q8_0, TensorType::Q4_0, TensorType::Q4_K,
                                           TensorType::Q6_K),
                         [](const auto& info) {
                           return std::string(tensor_type_name(info.param));
                         });

TEST(CudaOps, RmsNormWithResidualAndGather) {
  TK_REQUIRE_CUDA_DEVICE();
  ThreadPool pool(1);
  // Register kernel with 1, 4, 5 (of 8) and 16 float4s per thread; the
  // scalar kernel for dims not a multiple of 4 and rows past 16384 values.
  for (int64_t dim : {64, 100, 4096, 5120, 16384, 4097, 16388, 3}) {
    const int64_t rows = 5;
    std::vector<float> x = random_floats(rows * dim, 1), delta = random_floats(rows * dim, 2);
    const std::vector<float> w = random_floats(dim, 3, 0.5f, 1.5f);
    DeviceArray<float> dx(x), dd(delta), dw(w), dy(rows * dim);
    TK_EXPECT_CUDA_OK(cuda::launch_rms_norm(dx.get(), dd.get(), nullptr, dw.get(), dy.get(), rows,
                                            dim, 1e-5f, nullptr));
    for (size_t i = 0; i < x.size(); ++i) x[i] += delta[i];
    std::vector<float> y(rows * dim);
    cpu::rms_norm(pool, x.data(), w.data(), y.data(), rows, dim, 1e-5f);
    EXPECT_LT(rel_max_diff(dx.download(), x), 1e-7) << "dim " << dim;
    EXPECT_LT(rel_max_diff(dy.download(), y), 2e-6) << "dim " << dim;
    // Gather rows 4, 0, 4 of the updated x.
    const std::vector<int32_t> pick = {4, 0, 4};
    DeviceArray<int32_t> drows(pick);
    DeviceArray<float> dg(pick.size() * dim);
    TK_EXPECT_CUDA_OK(cuda::launch_rms_norm(dx.get(), nullptr, drows.get(), dw.get(), dg.get(),
                                            pick.size(), dim, 1e-5f, nullptr));
    std::vector<float> expect;
    for (int32_t r : pick)
      expect.insert(expect.end(), y.begin() + r * dim, y.begin() + (r + 1) * dim);
    EXPECT_LT(rel_max_diff(dg.download(), expect), 2e-6) << "dim " << dim;
  }
}

TEST(CudaOps, RopeNormalAndNeoxWithFreqFactors) {
  TK_REQUIRE_CUDA_DEVICE();
  for (RopeStyle style : {RopeStyle::Normal, RopeStyle::Neox}) {
    for (int32_t head_dim : {16, 64, 128}) {
      const int32_t num_heads = 3, num_pairs = head_dim / 2;
      std::vector<float> inv_freq(num_pairs);
      for (int32_t i = 0; i < num_pairs; ++i)  // theta 500000, factors 1..8 (llama3-like)
        inv_freq[i] = std::pow(500000.0f, -2.0f * i / head_dim) / (1.0f + 7.0f * i / num_pairs);
      const std::vector<int32_t> positions = {0, 1, 7, 4095, 131000};
      const int64_t n = positions.size();
      std::vector<float> x = random_floats(n * num_heads * head_dim, 9);
      DeviceArray<float> dx(x), df(inv_freq);
      DeviceArray<int32_t> dp(positions);
      TK_EXPECT_CUDA_OK(cuda::launch_rope(style == RopeStyle::Neox, dp.get(), df.get(), head_dim,
                                          head_dim, num_heads, n, dx.get(), nullptr));
      std::vector<float> cos_sin(n * head_dim);
      cpu::rope_angles(inv_freq, positions, cos_sin.data());
      cpu::apply_rope(style, cos_sin.data(), head_dim, head_dim, num_heads, n, x.data());
      EXPECT_LT(rel_max_diff(dx.download(), x), 1e-6)
          << rope_style_name(style) << " head_dim " << head_dim;
    }
  }
}

TEST(CudaOps, RmsNormOnUnalignedRows) {
  TK_REQUIRE_CUDA_DEVICE();
  ThreadPool pool(1);
  const int64_t rows = 3, dim = 4096;
  std::vector<float> x = random_floats(rows * dim + 1, 11), delta = random_floats(rows * dim, 12);
  const std::vector<float> w = random_floats(dim, 13, 0.5f, 1.5f);
  DeviceArray<float> dx(x), dd(delta), dw(w), dy(rows * dim);
  // x starts 4 bytes into its allocation: the kernel must not take float4s.
  TK_EXPECT_CUDA_OK(cuda::launch_rms_norm(dx.get() + 1, dd.get(), nullptr, dw.get(), dy.get(), rows,
                                          dim, 1e-5f, nullptr));
  std::vector<float> expect_x(x.begin() + 1, x.end()), y(rows * dim);
  for (size_t i = 0; i < expect_x.size(); ++i) expect_x[i] += delta[i];
  cpu::rms_norm(pool, expect_x.data(), w.data(), y.data(), rows, dim, 1e-5f);
  const std::vector<float> got_x = dx.download();
  EXPECT_EQ(got_x[0], x[0]);  // the value before the rows is untouched
  EXPECT_LT(rel_max_diff(std::vector<float>(got_x.begin() + 1, got_x.end()), expect_x), 1e-7);
  EXPECT_LT(rel_max_diff(dy.download(), y), 2e-6);
}

TEST(CudaOps, SwigluResidualAddAndBias) {
  TK_REQUIRE_CUDA_DEVICE();
  ThreadPool pool(1);
  for (int64_t n : {1, 255, 100003}) {
    std::vector<float> gate = random_floats(n, 1, -6, 6), up = random_floats(n, 2);
    DeviceArray<float> dg(gate), du(up);
    TK_EXPECT_CUDA_OK(cuda::launch_swiglu(dg.get(), du.get(), n, nullptr));
    cpu::swiglu(pool, gate.data(), up.data(), n);
    EXPECT_LT(rel_max_diff(dg.download(), gate), 1e-6) << n;
    std::vector<float> x = random_floats(n, 3);
    DeviceArray<float> dx(x);
    TK_EXPECT_CUDA_OK(cuda::launch_residual_add(dx.get(), du.get(), n, nullptr));
    for (int64_t i = 0; i < n; ++i) x[i] += up[i];
    EXPECT_EQ(dx.download(), x) << n;
  }
  const int64_t rows = 3, dim = 77;
  std::vector<float> x = random_floats(rows * dim, 4), b = random_floats(dim, 5);
  DeviceArray<float> dx(x), db(b);
  TK_EXPECT_CUDA_OK(cuda::launch_add_bias(dx.get(), db.get(), rows, dim, nullptr));
  cpu::add_bias(x.data(), b.data(), rows, dim);
  EXPECT_EQ(dx.download(), x);
}

// Attention steps through scrambled block tables, fp16 pools. The CPU
// reference gets the same pools rounded to fp16, so only fp32 summation
// order separates the two.
using AttentionCase = gpu_testing::AttentionShape;

// A step: each sequence's length after the step, and the step's tokens as
// (sequence, position) pairs.
struct AttentionStep {
  std::string name;
  std::vector<int32_t> seq_lens;
  std::vector<std::pair<int32_t, int32_t>> tokens;
};

std::vector<AttentionStep> attention_steps() {
  std::vector<AttentionStep> steps;
  // One decode token past several key tiles, a 10-token chunk of another sequence.
  AttentionStep mixed{"decode_and_chunk", {300, 15}, {{0, 299}}};
  for (int32_t p = 5; p < 15; ++p) mixed.tokens.push_back({1, p});
  steps.push_back(mixed);
  // Decode tokens whose slices are all empty but one, some empty, none empty.
  steps.push_back(
      {"decode_lengths", {1, 33, 41, 700, 2500}, {{0, 0}, {1, 32}, {2, 40}, {3, 699}, {4, 2499}}});
  // A prompt of 150 tokens (more than one query tile and key tile) and a decode.
  AttentionStep prompt{"prompt_150", {150, 78}, {}};
  for (int32_t p = 0; p < 150; ++p) prompt.tokens.push_back({0, p});
  prompt.tokens.push_back({1, 77});
  steps.push_back(prompt);
  return steps;
}

std::vector<float> round_to_half(std::vector<float> v) {
  for (float& x : v) x = __half2float(__float2half_rn(x));
  return v;
}

std::vector<__half> to_half(const std::vector<float>& v) {
  std::vector<__half> h(v.size());
  for (size_t i = 0; i < v.size(); ++i) h[i] = __float2half_rn(v[i]);
  return h;
}

std::vector<uint16_t> half_bits(const std::vector<__half>& h) {
  std::vector<uint16_t> bits(h.size());
  std::memcpy(bits.data(), h.data(), h.size() * sizeof(uint16_t));
  return bits;
}

class AttentionTest : public ::testing::TestWithParam<AttentionCase> {};

TEST_P(AttentionTest, MatchesCpuAttentionThroughBlockTables) {
  TK_REQUIRE_CUDA_DEVICE();
  const AttentionCase c = GetParam();
  const int32_t kv_dim = c.num_kv_heads * c.head_dim;
  for (const AttentionStep& step : attention_steps()) {
    SCOPED_TRACE(step.name);
    const size_t num_seqs = step.seq_lens.size();
    std::vector<int32_t> seq_blocks(num_seqs);
    int32_t num_blocks = 3;  // a few unused
    for (size_t s = 0; s < num_seqs; ++s) {
      seq_blocks[s] = (step.seq_lens[s] + c.block_size - 1) / c.block_size;
      num_blocks += seq_blocks[s];
    }
    std::vector<int32_t> blocks(num_blocks);
    std::iota(blocks.begin(), blocks.end(), 0);
    std::shuffle(blocks.begin(), blocks.end(), std::mt19937(5));
    std::vector<int32_t> starts, tables(blocks.begin(), blocks.end() - 3);
    std::vector<StepSequence> seqs(num_seqs);
    for (size_t s = 0, used = 0; s < num_seqs; used += seq_blocks[s], ++s) {
      starts.push_back(static_cast<int32_t>(used));
      seqs[s].block_table = std::span<const int32_t>(tables).subspan(used, seq_blocks[s]);
    }
    std::vector<int32_t> positions, token_seq;
    for (auto [s, p] : step.tokens) token_seq.push_back(s), positions.push_back(p);
    const int64_t n = positions.size();

    const int64_t pool_size = static_cast<int64_t>(num_blocks) * c.block_size * kv_dim;
    std::vector<float> k_pool = round_to_half(random_floats(pool_size, 1)),
                       v_pool = round_to_half(random_floats(pool_size, 2));
    const std::vector<float> q = random_floats(n * c.num_heads * c.head_dim, 3, -2, 2);
    const std::vector<float> k_new = random_floats(n * kv_dim, 4),
                             v_new = random_floats(n * kv_dim, 5);
    DeviceArray<__half> dk(to_half(k_pool)), dv(to_half(v_pool));
    // CPU: store (rounded to fp16), then attend.
    for (int64_t t = 0; t < n; ++t) {
      const auto& table = seqs[token_seq[t]].block_table;
      const int64_t off = (static_cast<int64_t>(table[positions[t] / c.block_size]) * c.block_size +
                           positions[t] % c.block_size) *
                          kv_dim;
      for (int32_t i = 0; i < kv_dim; ++i) {
        k_pool[off + i] = __half2float(__float2half_rn(k_new[t * kv_dim + i]));
        v_pool[off + i] = __half2float(__float2half_rn(v_new[t * kv_dim + i]));
      }
    }
    std::vector<float> expect(n * c.num_heads * c.head_dim), scores(num_blocks * c.block_size);
    ThreadPool pool(1);
    const cpu::AttentionShape shape{c.num_heads, c.num_kv_heads, c.head_dim, c.block_size};
    const cpu::AttentionInputs in{q.data(),  k_pool.data(), v_pool.data(),
                                  positions, token_seq,     seqs};
    cpu::attention(pool, shape, in, expect.data(), scores.data(), scores.size());

    DeviceArray<float> dq(q), dkn(k_new), dvn(v_new);
    DeviceArray<int32_t> dpos(positions), dseq(token_seq), dstart(starts), dtab(tables);
    const cuda::PagedKv kv{dpos.get(), dseq.get(), dstart.get(), dtab.get(), c.block_size, kv_dim};
    TK_EXPECT_CUDA_OK(
        cuda::launch_kv_store(kv, dkn.get(), dvn.get(), n, dk.get(), dv.get(), nullptr));
    EXPECT_EQ(half_bits(dk.download()), half_bits(to_half(k_pool)));
    EXPECT_EQ(half_bits(dv.download()), half_bits(to_half(v_pool)));
    // With scratch (split-K decode for <= 16 tokens), and without (tiled).
    DeviceArray<uint8_t> scratch(cuda::attention_scratch_bytes(c.num_heads, c.head_dim));
    for (bool split : {true, false}) {
      DeviceArray<float> dout(expect.size());
      TK_EXPECT_CUDA_OK(cuda::launch_attention(
          kv, dq.get(), dk.get(), dv.get(), c.num_heads, c.num_kv_heads, c.head_dim, n,
          split ? reinterpret_cast<float*>(scratch.get()) : nullptr, dout.get(), nullptr));
      // Off the split path (no scratch, or groups over 8), head dims 64/128
      // take the tensor-core kernel (fp16 Q and P; attention_prefill_test.cpp).
      const bool split_path = split && c.num_heads / c.num_kv_heads <= cuda::kMaxSplitGroup &&
                              n <= cuda::kMaxSplitTokens;
      const bool mma = !split_path && (c.head_dim == 64 || c.head_dim == 128);
      EXPECT_LT(rel_max_diff(dout.download(), expect), mma ? 3e-3 : 2e-5)
          << (split ? "split" : "tiled");
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, AttentionTest,
    ::testing::Values(AttentionCase{4, 4, 16, 16}, AttentionCase{8, 2, 64, 3},
                      AttentionCase{32, 8, 128, 16}, AttentionCase{32, 32, 128, 16},
                      AttentionCase{4, 1, 256, 32}, AttentionCase{6, 3, 80, 7},
                      AttentionCase{12, 1, 64, 5},
                      AttentionCase{4, 2, 20, 16},  // 40-byte K/V rows: no 16-byte loads
                      AttentionCase{8, 4, 32, 1}),
    gpu_testing::attention_shape_name);

TEST(CudaOps, AttentionRejectsUnsupportedShapes) {
  TK_REQUIRE_CUDA_DEVICE();
  const cuda::PagedKv kv{};
  EXPECT_EQ(cuda::launch_attention(kv, nullptr, nullptr, nullptr, 4, 4, 512, 1, nullptr, nullptr,
                                   nullptr),
            cudaErrorInvalidValue);
  EXPECT_EQ(
      cuda::launch_attention(kv, nullptr, nullptr, nullptr, 6, 4, 64, 1, nullptr, nullptr, nullptr),
      cudaErrorInvalidValue);
}

}  // namespace
}  // namespace tokamak
