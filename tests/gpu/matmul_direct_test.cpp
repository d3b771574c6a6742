// The one-token matvec variants (cuda/matmul.cuh) for float weights against
// the double product of the stored values: the direct kernel
// (matmul_float_direct.cuh) with 4 and 2 rows per warp, the default, and the
// ring kernel it falls back to (rows not 16-byte aligned, n not a multiple
// of a chunk's values, x not 16-byte aligned). Outputs start as NaN.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/tensor_type.h"
#include "cuda/matmul.cuh"
#include "gpu_test_util.h"
#include "quant/quant.h"

namespace tokamak {
namespace {

using gpu_testing::DeviceArray;
using gpu_testing::random_floats;

struct DirectCase {
  TensorType type;
  int64_t rows, n;
  int w_offset = 0;  // bytes between the allocation and the weights
  int x_offset = 0;  // floats between the allocation and x
};

class MatmulDirectTest : public ::testing::TestWithParam<DirectCase> {};

TEST_P(MatmulDirectTest, MatchesDoubleProduct) {
  TK_REQUIRE_CUDA_DEVICE();
  const DirectCase c = GetParam();
  const size_t row_bytes = row_size_bytes(c.type, c.n);
  const std::vector<float> src = random_floats(c.rows * c.n, 3 + c.rows + c.n);
  std::vector<uint8_t> bytes(c.w_offset + c.rows * row_bytes);
  std::vector<float> values(c.rows * c.n);
  for (int64_t r = 0; r < c.rows; ++r) {
    uint8_t* dst = bytes.data() + c.w_offset + r * row_bytes;
    if (c.type == TensorType::F32) {
      std::memcpy(dst, src.data() + r * c.n, row_bytes);
    } else {
      ASSERT_TRUE(quant::quantize_row(c.type, src.data() + r * c.n, dst, c.n).ok());
    }
    quant::dequantize_row(c.type, dst, values.data() + r * c.n, c.n);
  }
  std::vector<float> x = random_floats(c.n, 7 + c.n);
  std::vector<float> x_padded(c.x_offset, 0.0f);
  x_padded.insert(x_padded.end(), x.begin(), x.end());
  DeviceArray<uint8_t> dw(bytes);
  DeviceArray<float> dx(x_padded), dy(c.rows);
  const cuda::MatmulWeight w{dw.get() + c.w_offset, c.type, c.rows, c.n, row_bytes};
  for (int variant :
       {cuda::kMatmulDecodeDirect, cuda::kMatmulDecodeDirectTwoRows, cuda::kMatmulDecodeAuto}) {
    SCOPED_TRACE("variant " + std::to_string(variant));
    dy.poison();
    cuda::set_matmul_decode_variant(variant);
    TK_EXPECT_CUDA_OK(cuda::launch_matmul(w, dx.get() + c.x_offset, 1, dy.get(), nullptr));
    cuda::set_matmul_decode_variant(cuda::kMatmulDecodeAuto);
    const std::vector<float> y = dy.download();
    // |y - exact| <= 2e-6 * sum |w_i x_i| (fp32 accumulation over n values).
    for (int64_t r = 0; r < c.rows; ++r) {
      double exact = 0, magnitude = 0;
      for (int64_t i = 0; i < c.n; ++i) {
        const double p = static_cast<double>(values[r * c.n + i]) * x[i];
        exact += p;
        magnitude += std::abs(p);
      }
      ASSERT_TRUE(std::isfinite(y[r])) << "row " << r << " not written";
      ASSERT_NEAR(y[r], exact, 2e-6 * magnitude + 1e-6) << "row " << r;
    }
  }
}

std::vector<DirectCase> direct_cases() {
  std::vector<DirectCase> cases;
  for (TensorType t : {TensorType::F16, TensorType::BF16, TensorType::F32}) {
    // One chunk, a partial unrolled step, several steps; 1, 37 (4- and
    // 2-row groups with a remainder) and 9001 rows (more groups than warps).
    for (int64_t n : {8, 264, 4096, 11008}) {
      for (int64_t rows : {1, 37}) cases.push_back({t, rows, n});
    }
    cases.push_back({t, 9001, 512});
    // The ring kernel: n not a multiple of the chunk, rows or x misaligned.
    cases.push_back({t, 37, 1000 + 3});
    cases.push_back({t, 37, 4096, t == TensorType::F32 ? 4 : 2});  // element-aligned only
    cases.push_back({t, 37, 4096, 0, 1});
    cases.push_back({t, 37, 4098});  // F16/BF16: 16-byte chunks, rows 8196 bytes apart
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(FloatTypes, MatmulDirectTest, ::testing::ValuesIn(direct_cases()),
                         [](const auto& info) {
                           const DirectCase& c = info.param;
                           return std::string(tensor_type_name(c.type)) + "_r" +
                                  std::to_string(c.rows) + "_n" + std::to_string(c.n) + "_w" +
                                  std::to_string(c.w_offset) + "_x" + std::to_string(c.x_offset);
                         });

}  // namespace
}  // namespace tokamak
