// dequantize(quantize(x)) against x: error bounds per type on Gaussian rows,
// per-value bounds derived from each format's step, edge cases, and exact
// F16/BF16 conversions.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>

#include "core/half.h"
#include "quant/quant.h"
#include "quant_test_util.h"

namespace tokamak::quant {
namespace {

using testing::all_finite;
using testing::dequantized;
using testing::gaussian_row;
using testing::quantized;
using testing::relative_rmse;

struct TypeBounds {
  TensorType type;
  double max_rel_rmse;  // on N(0, 1) rows
  int64_t block;        // values sharing one scale (for the per-value bound)
  double max_err_frac;  // per-value |error| <= frac * max |x| over that block
};

// Measured relative RMSE on N(0,1): F16 2.1e-4, BF16 1.7e-3, Q8_0 5.4e-3,
// Q4_0 0.086 (gguf-py gives the same), Q4_K 0.072, Q6_K 0.0175. Per-value
// bounds: Q8_0 d/2 plus the f16 rounding of d (127 * d * 2^-11); Q4_0 one
// step (the top value is clipped from 16 to 15); K-quants from their
// sub-block steps plus the rounding of the 6-/8-bit scales.
const TypeBounds kBounds[] = {
    {TensorType::F32, 0.0, 1, 0.0},
    {TensorType::F16, 3e-4, 1, 0.0},  // per value: checked as exact rounding below
    {TensorType::BF16, 2.5e-3, 1, 0.0},
    {TensorType::Q8_0, 0.007, 32, (0.5 + 127.0 / 2048) / 127 * 1.001},
    {TensorType::Q4_0, 0.10, 32, 1.01 / 8},
    {TensorType::Q4_K, 0.078, 256, 0.09},
    {TensorType::Q6_K, 0.020, 256, 0.022},
};

std::string type_name(TensorType t) { return std::string(tensor_type_name(t)); }

class RoundTrip : public ::testing::TestWithParam<TypeBounds> {};

TEST_P(RoundTrip, GaussianRowsWithinBounds) {
  const TypeBounds b = GetParam();
  const int64_t bs = traits(b.type).block_size;
  const int64_t unit = std::max<int64_t>(bs, 32);
  const int64_t lengths[] = {unit, 8 * unit, 256 * 16, 256 * 5 + (unit == 32 ? 32 : 0),
                             256 * 3 + 3 * unit};
  for (int64_t n : lengths) {
    if (n % bs != 0) continue;
    const auto x = gaussian_row(n, static_cast<uint32_t>(n) * 7 + 1);
    const auto q = quantized(b.type, x);
    ASSERT_EQ(q.size(), row_size_bytes(b.type, n)) << type_name(b.type) << " n=" << n;
    const auto y = dequantized(b.type, q, n);
    ASSERT_TRUE(all_finite(y));
    const double rmse = relative_rmse(x, y);
    EXPECT_LE(rmse, b.max_rel_rmse) << type_name(b.type) << " n=" << n;
    if (b.type != TensorType::F32 && n >= 4096) {
      EXPECT_GT(rmse, 0.0);
    }
    if (b.max_err_frac == 0) continue;
    double worst = 0;  // max |error| / block amax
    for (int64_t blk = 0; blk < n / b.block; ++blk) {
      float amax = 0;
      for (int64_t i = 0; i < b.block; ++i) amax = std::max(amax, std::fabs(x[blk * b.block + i]));
      for (int64_t i = blk * b.block; i < (blk + 1) * b.block; ++i)
        worst = std::max(worst, std::fabs(x[i] - y[i]) / static_cast<double>(amax));
      for (int64_t i = blk * b.block; i < (blk + 1) * b.block; ++i) {
        ASSERT_LE(std::fabs(x[i] - y[i]), b.max_err_frac * amax)
            << type_name(b.type) << " n=" << n << " value " << i << " x=" << x[i] << " y=" << y[i];
      }
    }
    std::printf("%-5s n=%-5lld relative rmse %.5f, worst |error| / block max %.4f\n",
                type_name(b.type).c_str(), static_cast<long long>(n), rmse, worst);
  }
}

TEST_P(RoundTrip, AllZeroRowStaysZero) {
  const TypeBounds b = GetParam();
  const std::vector<float> x(512, 0.0f);
  const auto y = dequantized(b.type, quantized(b.type, x), 512);
  for (float v : y) ASSERT_EQ(v, 0.0f) << type_name(b.type);
}

TEST_P(RoundTrip, ScaleInvariantAcrossMagnitudes) {
  // The relative error does not depend on the data's scale, from small values
  // (f16 scales still normal) to values near the top of the f16 range.
  const TypeBounds b = GetParam();
  for (float sigma : {1e-2f, 1.0f, 300.0f, 5000.0f}) {
    const auto x = gaussian_row(1024, 99, sigma);
    const auto y = dequantized(b.type, quantized(b.type, x), 1024);
    ASSERT_TRUE(all_finite(y)) << type_name(b.type) << " sigma=" << sigma;
    EXPECT_LE(relative_rmse(x, y), b.max_rel_rmse + 1e-4)
        << type_name(b.type) << " sigma=" << sigma;
  }
}

TEST_P(RoundTrip, TinyValuesStayFiniteAndSmall) {
  // Scales underflow f16 here; the output must still be finite and no larger
  // than the input's magnitude.
  const TypeBounds b = GetParam();
  const auto x = gaussian_row(512, 5, 1e-7f);
  const auto y = dequantized(b.type, quantized(b.type, x), 512);
  ASSERT_TRUE(all_finite(y));
  for (size_t i = 0; i < x.size(); ++i) EXPECT_LE(std::fabs(y[i]), 1e-5f) << type_name(b.type);
}

TEST_P(RoundTrip, SingleOutlierIsKept) {
  const TypeBounds b = GetParam();
  auto x = gaussian_row(512, 11, 0.01f);
  x[300] = 100.0f;
  x[40] = -60.0f;
  const auto y = dequantized(b.type, quantized(b.type, x), 512);
  ASSERT_TRUE(all_finite(y));
  const double frac = b.max_err_frac == 0 ? 0.004 : b.max_err_frac / 2;  // outliers set the scale
  EXPECT_NEAR(y[300], 100.0f, 100.0 * frac) << type_name(b.type);
  EXPECT_NEAR(y[40], -60.0f, 60.0 * frac + (b.block == 256 ? 100.0 * frac : 0.0))
      << type_name(b.type);
  // Blocks without an outlier keep their precision.
  if (b.block == 32) {
    const std::vector<float> xb(x.begin() + 64, x.begin() + 96), yb(y.begin() + 64, y.begin() + 96);
    EXPECT_LE(relative_rmse(xb, yb), 3 * b.max_rel_rmse + 1e-4) << type_name(b.type);
  }
}

INSTANTIATE_TEST_SUITE_P(Types, RoundTrip, ::testing::ValuesIn(kBounds),
                         [](const auto& info) { return type_name(info.param.type); });

TEST(QuantizeRow, RejectsUnsupportedTypesAndBadLengths) {
  std::vector<float> x(256, 1.0f);
  std::vector<uint8_t> q(1024);
  const Status bad_type = quantize_row(TensorType::Q5_K, x.data(), q.data(), 256);
  ASSERT_FALSE(bad_type.ok());
  EXPECT_EQ(bad_type.error().code, ErrorCode::Unsupported);
  EXPECT_NE(bad_type.error().message.find("Q5_K"), std::string::npos);
  const Status bad_len = quantize_row(TensorType::Q4_K, x.data(), q.data(), 100);
  ASSERT_FALSE(bad_len.ok());
  EXPECT_EQ(bad_len.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(bad_len.error().message.find("256"), std::string::npos);
  x[77] = std::numeric_limits<float>::quiet_NaN();
  for (TensorType t : {TensorType::Q8_0, TensorType::Q4_0, TensorType::Q4_K, TensorType::Q6_K}) {
    const Status bad_value = quantize_row(t, x.data(), q.data(), 256);
    ASSERT_FALSE(bad_value.ok()) << type_name(t);
    EXPECT_EQ(bad_value.error().code, ErrorCode::InvalidArgument);
    EXPECT_NE(bad_value.error().message.find("value 77"), std::string::npos)
        << bad_value.error().message;
  }
  x[77] = -std::numeric_limits<float>::infinity();
  EXPECT_FALSE(quantize_row(TensorType::Q8_0, x.data(), q.data(), 256).ok());
  EXPECT_TRUE(quantize_row(TensorType::F16, x.data(), q.data(), 256).ok());
  EXPECT_FALSE(can_quantize(TensorType::Q2_K));
  EXPECT_TRUE(can_dequantize(TensorType::Q6_K));
}

// Every non-NaN half and bfloat16 converts to f32 and back to the same bits.
TEST(HalfConversions, EveryNonNanPatternRoundTripsExactly) {
  std::vector<uint16_t> bits(65536);
  for (uint32_t i = 0; i < 65536; ++i) bits[i] = static_cast<uint16_t>(i);
  for (TensorType t : {TensorType::F16, TensorType::BF16}) {
    std::vector<float> f(65536);
    dequantize_row(t, bits.data(), f.data(), 65536);
    std::vector<uint16_t> back(65536);
    ASSERT_TRUE(quantize_row(t, f.data(), back.data(), 65536).ok());
    int num_nan = 0;
    for (uint32_t i = 0; i < 65536; ++i) {
      if (std::isnan(f[i])) {
        ++num_nan;
        const uint16_t exp_mask = t == TensorType::F16 ? 0x7c00 : 0x7f80;
        EXPECT_EQ(back[i] & exp_mask, exp_mask) << "NaN must stay NaN";
        EXPECT_NE(back[i] & ~exp_mask & 0x7fff, 0);
        continue;
      }
      ASSERT_EQ(back[i], bits[i]) << type_name(t) << " pattern " << i << " = " << f[i];
    }
    EXPECT_EQ(num_nan, t == TensorType::F16 ? 2 * 1023 : 2 * 127);
  }
}

TEST(HalfConversions, KnownValuesAndTiesToEven) {
  struct Case {
    float f;
    uint16_t f16, bf16;
  };
  const Case cases[] = {
      {1.0f, 0x3c00, 0x3f80},
      {-2.0f, 0xc000, 0xc000},
      {65504.0f, 0x7bff, 0x4780},            // bf16 rounds up to 65536
      {1e6f, 0x7c00, 0x4974},                // f16 overflows to inf
      {5.9604645e-8f, 0x0001, 0x3380},       // smallest f16 subnormal
      {1.0f + 1.0f / 2048, 0x3c00, 0x3f80},  // f16 tie -> even (down)
      {1.0f + 3.0f / 2048, 0x3c02, 0x3f80},  // f16 tie -> even (up)
      {1.0f + 1.0f / 256, 0x3c04, 0x3f80},   // bf16 tie -> even (down)
      {1.0f + 3.0f / 256, 0x3c0c, 0x3f82},   // bf16 tie -> even (up)
  };
  for (const auto& c : cases) {
    uint16_t h, b;
    ASSERT_TRUE(quantize_row(TensorType::F16, &c.f, &h, 1).ok());
    ASSERT_TRUE(quantize_row(TensorType::BF16, &c.f, &b, 1).ok());
    EXPECT_EQ(h, c.f16) << c.f;
    EXPECT_EQ(b, c.bf16) << c.f;
  }
}

}  // namespace
}  // namespace tokamak::quant
