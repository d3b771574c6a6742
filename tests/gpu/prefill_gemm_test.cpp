// The tensor-core prefill GEMM and the dequantization behind it, against
// double-precision products on the host. The GEMM multiplies fp16 (bf16 for
// BF16 weights) inputs exactly and accumulates in fp32, so the reference
// rounds x (and the dequantized weights of block types) the way the device
// does, core/half.h being the host's rounding, and the remaining difference
// is fp32 accumulation only: |y - exact| <= 1e-5 * sum |w_i x_i|.
#include "cuda/prefill_gemm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/half.h"
#include "cuda/dequantize.cuh"
#include "gpu_test_util.h"
#include "quant/quant.h"

namespace tokamak {
namespace {

using gpu_testing::DeviceArray;
using gpu_testing::random_floats;

struct Weights {
  std::vector<uint8_t> bytes;
  std::vector<float> values;  // dequantized (rows, n)
  size_t row_bytes = 0;
};

Weights random_weights(TensorType type, int64_t rows, int64_t n, uint32_t seed) {
  const std::vector<float> src = random_floats(rows * n, seed);
  Weights w;
  w.row_bytes = row_size_bytes(type, n);
  w.bytes.resize(rows * w.row_bytes);
  w.values.resize(rows * n);
  for (int64_t r = 0; r < rows; ++r) {
    uint8_t* dst = w.bytes.data() + r * w.row_bytes;
    if (type == TensorType::F32) {
      std::memcpy(dst, src.data() + r * n, w.row_bytes);
    } else {
      EXPECT_TRUE(quant::quantize_row(type, src.data() + r * n, dst, n).ok());
    }
    quant::dequantize_row(type, dst, w.values.data() + r * n, n);
  }
  return w;
}

float round_fp16(float v) { return fp16_to_f32(f32_to_fp16(v)); }
float round_bf16(float v) { return bf16_to_f32(f32_to_bf16(v)); }

// What the GEMM multiplies: x rounded to its input type, block types'
// weights rounded to fp16 by the dequantization.
float gemm_x(TensorType type, float v) {
  if (type == TensorType::F32) return v;
  return type == TensorType::BF16 ? round_bf16(v) : round_fp16(v);
}
float gemm_w(TensorType type, float v) {
  const bool exact = type == TensorType::F32 || type == TensorType::F16 || type == TensorType::BF16;
  return exact ? v : round_fp16(v);
}

void expect_gemm_product(TensorType type, const Weights& w, const std::vector<float>& x,
                         const std::vector<float>& y, int64_t rows, int64_t n, int64_t tokens) {
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t r = 0; r < rows; ++r) {
      double exact = 0, magnitude = 0;
      for (int64_t i = 0; i < n; ++i) {
        const double p =
            static_cast<double>(gemm_w(type, w.values[r * n + i])) * gemm_x(type, x[t * n + i]);
        exact += p;
        magnitude += std::abs(p);
      }
      const float got = y[t * rows + r];
      ASSERT_TRUE(std::isfinite(got)) << "token " << t << " row " << r << " not written";
      ASSERT_NEAR(got, exact, 1e-5 * magnitude + 1e-6)
          << tensor_type_name(type) << " token " << t << " row " << r;
    }
  }
}

class PrefillGemmTest : public ::testing::TestWithParam<TensorType> {};

TEST_P(PrefillGemmTest, DequantizeToFp16RoundsTheCpuValues) {
  TK_REQUIRE_CUDA_DEVICE();
  const TensorType type = GetParam();
  const int64_t bs = traits(type).block_size;
  const int64_t n = bs == 1 ? 172 : 4 * bs, rows = 45;
  const Weights w = random_weights(type, rows, n, 21);
  DeviceArray<uint8_t> dw(w.bytes);
  const cuda::MatmulWeight mw{dw.get(), type, rows, n, w.row_bytes};
  // fp32: rows 3..44 only, the first 3 rows stay NaN.
  DeviceArray<float> dq(rows * n);
  TK_EXPECT_CUDA_OK(cuda::launch_dequantize(mw, 3, rows - 3, dq.get() + 3 * n, nullptr));
  const std::vector<float> q = dq.download();
  EXPECT_EQ(gpu_testing::count_non_finite(q), static_cast<size_t>(3 * n));
  for (int64_t i = 3 * n; i < rows * n; ++i)
    ASSERT_NEAR(q[i], w.values[i], 1e-6 * std::abs(w.values[i])) << i;
  // fp16: the host's fp16 rounding of the CPU's value. The device's fp32
  // value may differ from the CPU's in the last bit (a fused multiply-add in
  // the K-quant scales), which can move the fp16 result by one unit; all
  // but a few must be identical.
  DeviceArray<uint16_t> dh(rows * n);
  TK_EXPECT_CUDA_OK(cuda::launch_dequantize_f16(mw, 0, rows, dh.get(), nullptr));
  const std::vector<uint16_t> h = dh.download();
  int64_t identical = 0;
  for (int64_t i = 0; i < rows * n; ++i) {
    const uint16_t want = f32_to_fp16(w.values[i]);
    identical += h[i] == want;
    ASSERT_LE(std::abs(static_cast<int>(h[i]) - static_cast<int>(want)), 1)
        << tensor_type_name(type) << " value " << i;
  }
  EXPECT_GE(identical, rows * n * 99 / 100) << tensor_type_name(type);
}

TEST_P(PrefillGemmTest, GemmMatchesTheRoundedDoubleProduct) {
  TK_REQUIRE_CUDA_DEVICE();
  const TensorType type = GetParam();
  const int64_t bs = traits(type).block_size;
  const int64_t n = bs == 1 ? 200 : 3 * bs, rows = 77;
  const Weights w = random_weights(type, rows, n, 23);
  DeviceArray<uint8_t> dw(w.bytes);
  const cuda::MatmulWeight mw{dw.get(), type, rows, n, w.row_bytes};
  cuda::PrefillGemm gemm;
  ASSERT_TRUE(gemm.init(nullptr, 160, 1024).ok());
  for (int64_t tokens : {16, 41, 160}) {
    const std::vector<float> x = random_floats(tokens * n, 5 + tokens);
    DeviceArray<float> dx(x), dy(tokens * rows);
    Status s = gemm.run(mw, dx.get(), tokens, dy.get());
    ASSERT_TRUE(s.ok()) << s.error().message;
    expect_gemm_product(type, w, x, dy.download(), rows, n, tokens);
  }
  // Grouped: one conversion of x, two weights.
  const Weights w2 = random_weights(type, 13, n, 29);
  DeviceArray<uint8_t> dw2(w2.bytes);
  const cuda::MatmulWeight group[2] = {mw, {dw2.get(), type, 13, n, w2.row_bytes}};
  const std::vector<float> x = random_floats(20 * n, 31);
  DeviceArray<float> dx(x), dy0(20 * rows), dy1(20 * 13);
  float* const ys[2] = {dy0.get(), dy1.get()};
  ASSERT_TRUE(gemm.run_group(group, ys, 2, dx.get(), 20).ok());
  expect_gemm_product(type, w, x, dy0.download(), rows, n, 20);
  expect_gemm_product(type, w2, x, dy1.download(), 13, n, 20);
}

// Three F16/BF16 matrices of one shape placed one after another (as the
// backend places q/k/v and gate/up) with equally spaced outputs: one
// strided-batched GEMM, the same products as one GEMM per weight. Spaced
// unequally, the group falls back to one GEMM per weight (checked too).
TEST(PrefillGemm, EquallySpacedGroupsAreOneBatchedGemm) {
  TK_REQUIRE_CUDA_DEVICE();
  for (TensorType type : {TensorType::F16, TensorType::BF16}) {
    const int64_t rows = 96, n = 136, tokens = 64, count = 3;
    std::vector<Weights> w;
    std::vector<uint8_t> packed;
    for (int g = 0; g < count; ++g) {
      w.push_back(random_weights(type, rows, n, 41 + g));
      packed.insert(packed.end(), w.back().bytes.begin(), w.back().bytes.end());
    }
    const size_t matrix_bytes = w[0].bytes.size();
    DeviceArray<uint8_t> dw(packed);
    const std::vector<float> x = random_floats(tokens * n, 47);
    DeviceArray<float> dx(x);
    cuda::MatmulWeight group[count];
    for (int g = 0; g < count; ++g)
      group[g] = {dw.get() + g * matrix_bytes, type, rows, n, w[g].row_bytes};
    for (bool batched : {true, false}) {
      // Outputs equally spaced with a gap of 5 tokens' rows between them.
      const int64_t stride = (tokens + 5) * rows;
      DeviceArray<float> dy(count * stride);
      float* const ys[count] = {dy.get(), dy.get() + stride, dy.get() + 2 * stride};
      cuda::PrefillGemm gemm;
      ASSERT_TRUE(gemm.init(nullptr, tokens, n).ok());
      gemm.set_batched_groups(batched);
      const Status s = gemm.run_group(group, ys, count, dx.get(), tokens);
      ASSERT_TRUE(s.ok()) << s.error().message;
      const std::vector<float> y = dy.download();
      for (int g = 0; g < count; ++g) {
        const std::vector<float> yg(y.begin() + g * stride, y.begin() + g * stride + tokens * rows);
        expect_gemm_product(type, w[g], x, yg, rows, n, tokens);
      }
    }
    // Unequal spacing of the outputs: still right (one GEMM per weight).
    DeviceArray<float> a(tokens * rows), b(tokens * rows + 7), c(tokens * rows);
    float* const ys[count] = {a.get(), b.get() + 7, c.get()};
    cuda::PrefillGemm gemm;
    ASSERT_TRUE(gemm.init(nullptr, tokens, n).ok());
    ASSERT_TRUE(gemm.run_group(group, ys, count, dx.get(), tokens).ok());
    expect_gemm_product(type, w[2], x, c.download(), rows, n, tokens);
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, PrefillGemmTest,
                         ::testing::Values(TensorType::F32, TensorType::F16, TensorType::BF16,
                                           TensorType::Q8_0, TensorType::Q4_0, TensorType::Q4_K,
                                           TensorType::Q6_K),
                         [](const auto& info) {
                           return std::string(tensor_type_name(info.param));
                         });

// More rows than one fp16 slab holds (64 MiB / (4096 * 2 B) = 8192 rows).
TEST(PrefillGemm, SplitsLargeQuantizedMatricesIntoSlabs) {
  TK_REQUIRE_CUDA_DEVICE();
  const int64_t rows = 8300, n = 4096, tokens = 16;
  const Weights w = random_weights(TensorType::Q8_0, rows, n, 33);
  const std::vector<float> x = random_floats(tokens * n, 34);
  DeviceArray<uint8_t> dw(w.bytes);
  DeviceArray<float> dx(x), dy(tokens * rows);
  cuda::PrefillGemm gemm;
  ASSERT_TRUE(gemm.init(nullptr, tokens, n).ok());
  const cuda::MatmulWeight mw{dw.get(), TensorType::Q8_0, rows, n, w.row_bytes};
  ASSERT_TRUE(gemm.run(mw, dx.get(), tokens, dy.get()).ok());
  expect_gemm_product(TensorType::Q8_0, w, x, dy.download(), rows, n, tokens);
}

// Below min_tokens the fp32 matmul kernels run: no input rounding.
TEST(PrefillGemm, SmallStepsUseTheFp32Kernels) {
  TK_REQUIRE_CUDA_DEVICE();
  const int64_t rows = 64, n = 256, tokens = 5;
  const Weights w = random_weights(TensorType::F16, rows, n, 3);
  const std::vector<float> x = random_floats(tokens * n, 4);
  DeviceArray<uint8_t> dw(w.bytes);
  DeviceArray<float> dx(x), dy(tokens * rows);
  cuda::PrefillGemm gemm;
  ASSERT_TRUE(gemm.init(nullptr, 32, n).ok());
  gemm.set_min_tokens(6);
  const cuda::MatmulWeight mw{dw.get(), TensorType::F16, rows, n, w.row_bytes};
  ASSERT_TRUE(gemm.run(mw, dx.get(), tokens, dy.get()).ok());
  const std::vector<float> y = dy.download();
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t r = 0; r < rows; ++r) {
      double exact = 0, magnitude = 0;
      for (int64_t i = 0; i < n; ++i) {
        exact += static_cast<double>(w.values[r * n + i]) * x[t * n + i];
        magnitude += std::abs(static_cast<double>(w.values[r * n + i]) * x[t * n + i]);
      }
      ASSERT_NEAR(y[t * rows + r], exact, 2e-6 * magnitude + 1e-6);
    }
}

}  // namespace
}  // namespace tokamak
