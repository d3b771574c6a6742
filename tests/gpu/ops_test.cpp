// Each CUDA kernel against the CPU reference (engine/cpu, engine/quant) on
// random inputs of several shapes, odd ones included. Outputs start as NaN,
// so an element a kernel forgets to write fails the comparison.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <numeric>
#include <vector>

#include "core/thread_pool.h"
#include "cpu/attention.h"
#include "cpu/elementwise.h"
#include "cpu/rms_norm.h"
#include "cpu/rope.h"
#include "cuda/add_bias.cuh"
#include "cuda/attention.cuh"
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
  TK_EXPECT_CUDA_OK(cuda::launch_matmul(w, dx.get(), c.num_tokens, dy.get(), nullptr));
  const std::vector<float> y = dy.download();
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

class DequantizeGemmTest : public ::testing::TestWithParam<TensorType> {};

TEST_P(DequantizeGemmTest, DequantizeMatchesCpuAndGemmMatchesProduct) {
  TK_REQUIRE_CUDA_DEVICE();
  const TensorType type = GetParam();
  const int64_t bs = traits(type).block_size;
  const int64_t n = bs == 1 ? 172 : 4 * bs, rows = 45;
  const Matrix m = random_matrix(type, rows, n, 21);
  DeviceArray<uint8_t> dw(m.bytes);
  const cuda::MatmulWeight w{dw.get(), type, rows, n, m.row_bytes};
  // Rows 3..44 only: the first 3 * n floats stay NaN.
  DeviceArray<float> dq(rows * n);
  TK_EXPECT_CUDA_OK(cuda::launch_dequantize(w, 3, rows - 3, dq.get() + 3 * n, nullptr));
  const std::vector<float> q = dq.download();
  EXPECT_EQ(gpu_testing::count_non_finite(q), static_cast<size_t>(3 * n));
  for (int64_t i = 3 * n; i < rows * n; ++i)
    ASSERT_NEAR(q[i], m.values[i], 1e-6 * std::abs(m.values[i])) << i;

  cuda::PrefillGemm gemm;
  ASSERT_TRUE(gemm.init(nullptr).ok());
  for (int64_t tokens : {3, 16, 40}) {
    const std::vector<float> x = random_floats(tokens * n, 5 + tokens);
    DeviceArray<float> dx(x), dy(tokens * rows);
    Status s = gemm.run(w, dx.get(), tokens, dy.get());
    ASSERT_TRUE(s.ok()) << s.error().message;
    expect_product(m, x, dy.download(), rows, n, tokens);
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, DequantizeGemmTest,
                         ::testing::Values(TensorType::F32, TensorType::F16, TensorType::BF16,
                                           TensorType::Q8_0, TensorType::Q4_0, TensorType::Q4_K,
                                           TensorType::Q6_K),
                         [](const auto& info) {
                           return std::string(tensor_type_name(info.param));
                         });

// More rows than one scratch slab holds (64 MiB / (4096 * 4 B) = 4096 rows).
TEST(CudaOps, PrefillGemmSplitsLargeMatricesIntoSlabs) {
  TK_REQUIRE_CUDA_DEVICE();
  const int64_t rows = 4500, n = 4096, tokens = 16;
  const Matrix m = random_matrix(TensorType::Q8_0, rows, n, 33);
  const std::vector<float> x = random_floats(tokens * n, 34);
  DeviceArray<uint8_t> dw(m.bytes);
  DeviceArray<float> dx(x), dy(tokens * rows);
  cuda::PrefillGemm gemm;
  ASSERT_TRUE(gemm.init(nullptr).ok());
  const cuda::MatmulWeight w{dw.get(), TensorType::Q8_0, rows, n, m.row_bytes};
  ASSERT_TRUE(gemm.run(w, dx.get(), tokens, dy.get()).ok());
  expect_product(m, x, dy.download(), rows, n, tokens);
}

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
  for (int64_t dim : {64, 100, 4096, 5120}) {
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

// Two sequences with scrambled block tables: one decodes a token at a
// position past several key tiles, the other prefills a chunk.
struct AttentionCase {
  int32_t num_heads, num_kv_heads, head_dim, block_size;
};

class AttentionTest : public ::testing::TestWithParam<AttentionCase> {};

TEST_P(AttentionTest, MatchesCpuAttentionThroughBlockTables) {
  TK_REQUIRE_CUDA_DEVICE();
  const AttentionCase c = GetParam();
  const int32_t kv_dim = c.num_kv_heads * c.head_dim;
  const int32_t num_blocks = (400 + 20) / c.block_size + 4;
  std::vector<int32_t> blocks(num_blocks);
  std::iota(blocks.begin(), blocks.end(), 0);
  std::shuffle(blocks.begin(), blocks.end(), std::mt19937(5));
  // Sequence 0 uses the first blocks of the shuffle, sequence 1 the rest.
  const int32_t seq0_blocks = 300 / c.block_size + 1;
  std::vector<int32_t> table0(blocks.begin(), blocks.begin() + seq0_blocks);
  std::vector<int32_t> table1(blocks.begin() + seq0_blocks, blocks.end());
  const std::vector<StepSequence> seqs = {{table0}, {table1}};
  std::vector<int32_t> positions = {299}, token_seq = {0};
  for (int32_t p = 5; p < 15; ++p) positions.push_back(p), token_seq.push_back(1);
  const int64_t n = positions.size();

  const int64_t pool_floats = static_cast<int64_t>(num_blocks) * c.block_size * kv_dim;
  std::vector<float> k_pool = random_floats(pool_floats, 1), v_pool = random_floats(pool_floats, 2);
  const std::vector<float> q = random_floats(n * c.num_heads * c.head_dim, 3, -2, 2);
  // New k/v of the step's tokens go through launch_kv_store.
  const std::vector<float> k_new = random_floats(n * kv_dim, 4),
                           v_new = random_floats(n * kv_dim, 5);

  // CPU: store, then attend.
  for (int64_t t = 0; t < n; ++t) {
    const auto& table = t == 0 ? table0 : table1;
    const int64_t off = (static_cast<int64_t>(table[positions[t] / c.block_size]) * c.block_size +
                         positions[t] % c.block_size) *
                        kv_dim;
    std::copy_n(k_new.data() + t * kv_dim, kv_dim, k_pool.begin() + off);
    std::copy_n(v_new.data() + t * kv_dim, kv_dim, v_pool.begin() + off);
  }
  std::vector<float> expect(n * c.num_heads * c.head_dim), scores(num_blocks * c.block_size);
  ThreadPool pool(1);
  const cpu::AttentionShape shape{c.num_heads, c.num_kv_heads, c.head_dim, c.block_size};
  const cpu::AttentionInputs in{q.data(), k_pool.data(), v_pool.data(), positions, token_seq, seqs};
  cpu::attention(pool, shape, in, expect.data(), scores.data(), scores.size());

  // GPU: the pools before the store, the same step.
  DeviceArray<float> dk(random_floats(pool_floats, 1)), dv(random_floats(pool_floats, 2));
  DeviceArray<float> dq(q), dkn(k_new), dvn(v_new), dout(expect.size());
  std::vector<int32_t> starts = {0, static_cast<int32_t>(table0.size())}, tables = table0;
  tables.insert(tables.end(), table1.begin(), table1.end());
  DeviceArray<int32_t> dpos(positions), dseq(token_seq), dstart(starts), dtab(tables);
  const cuda::PagedKv kv{dpos.get(), dseq.get(), dstart.get(), dtab.get(), c.block_size, kv_dim};
  TK_EXPECT_CUDA_OK(
      cuda::launch_kv_store(kv, dkn.get(), dvn.get(), n, dk.get(), dv.get(), nullptr));
  EXPECT_EQ(dk.download(), k_pool);
  EXPECT_EQ(dv.download(), v_pool);
  TK_EXPECT_CUDA_OK(cuda::launch_attention(kv, dq.get(), dk.get(), dv.get(), c.num_heads,
                                           c.num_kv_heads, c.head_dim, n, dout.get(), nullptr));
  EXPECT_LT(rel_max_diff(dout.download(), expect), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Shapes, AttentionTest,
                         ::testing::Values(AttentionCase{4, 4, 16, 16}, AttentionCase{8, 2, 64, 3},
                                           AttentionCase{32, 8, 128, 16},
                                           AttentionCase{4, 1, 256, 32},
                                           AttentionCase{6, 3, 80, 7}),
                         [](const auto& info) {
                           const AttentionCase& c = info.param;
                           return "h" + std::to_string(c.num_heads) + "_kv" +
                                  std::to_string(c.num_kv_heads) + "_d" +
                                  std::to_string(c.head_dim) + "_bs" + std::to_string(c.block_size);
                         });

}  // namespace
}  // namespace tokamak
