// vec_dot (vectorised) against vec_dot_reference (scalar) and against a
// double-precision dot of the dequantized values; batched variants against
// single dots (bit-identical); activation formats against the f32 dot.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>

#include "core/half.h"
#include "quant/quant.h"
#include "quant_test_util.h"

namespace tokamak::quant {
namespace {

using testing::dequantized;
using testing::gaussian_row;
using testing::quantized;

std::string type_name(TensorType t) { return std::string(tensor_type_name(t)); }

const TensorType kTypes[] = {TensorType::F32,  TensorType::F16,  TensorType::BF16, TensorType::Q8_0,
                             TensorType::Q4_0, TensorType::Q4_K, TensorType::Q6_K};

std::vector<uint8_t> activation(TensorType weight_type, const std::vector<float>& x) {
  const auto n = static_cast<int64_t>(x.size());
  std::vector<uint8_t> a(activation_row_bytes(weight_type, n));
  quantize_activation(weight_type, x.data(), a.data(), n);
  return a;
}

// The activation's values as the kernels see them.
std::vector<float> activation_values(TensorType weight_type, const std::vector<uint8_t>& a,
                                     int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  switch (activation_type(weight_type)) {
    case TensorType::Q8_0:
      dequantize_row(TensorType::Q8_0, a.data(), v.data(), n);
      break;
    case TensorType::Q8_1: {  // BlockQ8_0Sum
      const auto* b = reinterpret_cast<const BlockQ8_0Sum*>(a.data());
      for (int64_t i = 0; i < n; ++i) v[i] = fp16_to_f32(b[i / 32].d) * b[i / 32].qs[i % 32];
      break;
    }
    case TensorType::Q8_K: {
      const auto* b = reinterpret_cast<const BlockQ8K*>(a.data());
      for (int64_t i = 0; i < n; ++i) v[i] = b[i / 256].d * b[i / 256].qs[i % 256];
      break;
    }
    default:
      std::memcpy(v.data(), a.data(), n * sizeof(float));
  }
  return v;
}

struct Exact {
  double dot = 0;      // sum w_i x_i in double
  double abs_dot = 0;  // sum |w_i x_i|: the scale of rounding errors
};

Exact exact_dot(const std::vector<float>& w, const std::vector<float>& x) {
  Exact e;
  for (size_t i = 0; i < w.size(); ++i) {
    e.dot += static_cast<double>(w[i]) * x[i];
    e.abs_dot += std::fabs(static_cast<double>(w[i]) * x[i]);
  }
  return e;
}

std::vector<int64_t> lengths_for(TensorType t) {
  if (traits(t).block_size == 256) return {256, 512, 4096, 256 * 11};
  if (traits(t).block_size == 32) return {32, 64, 96, 4096, 256 * 3 + 32, 11008};
  return {1, 7, 8, 31, 33, 100, 4096, 4096 + 24 + 5};  // float types: any length
}

class VecDot : public ::testing::TestWithParam<TensorType> {};

// Tolerances: integer kernels sum exactly inside a block and round only the
// per-block float products and their sum; float kernels round every product.
// Both are checked as |error| <= tol * sum |w_i x_i| with tol = 1e-5 for the
// reference (sequential float sum) and 2e-6 + 4e-7*log2(n) for the AVX2 path.
TEST_P(VecDot, MatchesReferenceAndDoubleDot) {
  const TensorType t = GetParam();
  for (int64_t n : lengths_for(t)) {
    const auto wf = gaussian_row(n, static_cast<uint32_t>(n) + 17);
    const auto xf = gaussian_row(n, static_cast<uint32_t>(n) + 4242);
    const auto w = quantized(t, wf);
    const auto a = activation(t, xf);
    const Exact e = exact_dot(dequantized(t, w, n), activation_values(t, a, n));
    const float fast = vec_dot(t, n, w.data(), a.data());
    const float ref = vec_dot_reference(t, n, w.data(), a.data());
    const double tol_fast = (2e-6 + 4e-7 * std::log2(static_cast<double>(n))) * e.abs_dot;
    EXPECT_NEAR(fast, e.dot, tol_fast) << type_name(t) << " n=" << n;
    EXPECT_NEAR(ref, e.dot, 1e-5 * e.abs_dot) << type_name(t) << " n=" << n;
    EXPECT_NEAR(fast, ref, 1e-5 * e.abs_dot) << type_name(t) << " n=" << n;
  }
}

// The activation format loses little: the dot with the quantized activation
// is close to the dot with the f32 activation (Q8_0/Q8_K: ~1/254 relative
// step per value, averaging out over the row).
TEST_P(VecDot, ActivationFormatKeepsTheDot) {
  const TensorType t = GetParam();
  const int64_t n = 4096;
  const auto wf = gaussian_row(n, 1);
  const auto xf = gaussian_row(n, 2);
  const auto w = quantized(t, wf);
  const Exact e = exact_dot(dequantized(t, w, n), xf);
  const float got = vec_dot(t, n, w.data(), activation(t, xf).data());
  const double tol = activation_type(t) == TensorType::F32 ? 1e-5 : 3e-3;
  EXPECT_NEAR(got, e.dot, tol * e.abs_dot) << type_name(t);
}

TEST_P(VecDot, BatchedVariantsAreBitIdentical) {
  const TensorType t = GetParam();
  // Odd row sizes put most rows at unaligned addresses.
  const int64_t n = traits(t).block_size == 1    ? 4096 + 13
                    : traits(t).block_size == 32 ? 2080
                                                 : 2048;
  const int num_x = 9, num_rows = 5;
  const size_t a_bytes = activation_row_bytes(t, n), w_bytes = row_size_bytes(t, n);
  std::vector<uint8_t> acts(a_bytes * num_x), rows(w_bytes * num_rows);
  for (int i = 0; i < num_x; ++i) {
    const auto a = activation(t, gaussian_row(n, 100 + i));
    std::memcpy(acts.data() + i * a_bytes, a.data(), a_bytes);
  }
  for (int r = 0; r < num_rows; ++r) {
    const auto w = quantized(t, gaussian_row(n, 200 + r));
    std::memcpy(rows.data() + r * w_bytes, w.data(), w_bytes);
  }
  for (int r = 0; r < num_rows; ++r) {
    const uint8_t* w = rows.data() + r * w_bytes;
    for (int count = 1; count <= num_x; ++count) {
      std::vector<float> out(count, -1.0f);
      vec_dot_multi(t, n, w, acts.data(), a_bytes, count, out.data());
      for (int i = 0; i < count; ++i)
        ASSERT_EQ(out[i], vec_dot(t, n, w, acts.data() + i * a_bytes))
            << type_name(t) << " row " << r << " x " << i << " of " << count;
    }
  }
  for (int i = 0; i < num_x; ++i) {
    std::vector<float> out(num_rows);
    vec_dot_rows(t, n, rows.data(), w_bytes, num_rows, acts.data() + i * a_bytes, out.data());
    for (int r = 0; r < num_rows; ++r)
      ASSERT_EQ(out[r], vec_dot(t, n, rows.data() + r * w_bytes, acts.data() + i * a_bytes))
          << type_name(t);
  }
}

// Rows need only their element alignment (4 bytes covers every type), not
// SIMD alignment: offsets that break 32-byte alignment give the same bits.
TEST_P(VecDot, UnalignedRowsGiveTheSameResult) {
  const TensorType t = GetParam();
  const int64_t n = traits(t).block_size == 32 ? 256 * 3 + 32 : 1024;
  const auto w = quantized(t, gaussian_row(n, 61));
  const auto a = activation(t, gaussian_row(n, 62));
  const float aligned = vec_dot(t, n, w.data(), a.data());
  for (size_t w_off : {4, 12, 20}) {
    for (size_t a_off : {4, 8, 28}) {
      std::vector<uint8_t> wb(w.size() + 64), ab(a.size() + 64);
      std::memcpy(wb.data() + w_off, w.data(), w.size());
      std::memcpy(ab.data() + a_off, a.data(), a.size());
      ASSERT_EQ(vec_dot(t, n, wb.data() + w_off, ab.data() + a_off), aligned)
          << type_name(t) << " offsets " << w_off << ", " << a_off;
      float rows_out;
      vec_dot_rows(t, n, wb.data() + w_off, w.size(), 1, ab.data() + a_off, &rows_out);
      ASSERT_EQ(rows_out, aligned) << type_name(t);
    }
  }
}

TEST_P(VecDot, ZerosGiveZero) {
  const TensorType t = GetParam();
  const int64_t n = 512;
  const auto w = quantized(t, gaussian_row(n, 3));
  const auto zero_act = activation(t, std::vector<float>(n, 0.0f));
  EXPECT_EQ(vec_dot(t, n, w.data(), zero_act.data()), 0.0f) << type_name(t);
  const auto zero_w = quantized(t, std::vector<float>(n, 0.0f));
  const auto a = activation(t, gaussian_row(n, 4));
  EXPECT_EQ(vec_dot(t, n, zero_w.data(), a.data()), 0.0f) << type_name(t);
}

// Weights and activations far from unit scale (each row's own block scales
// absorb the magnitude): the vectorised dot still matches the reference.
TEST_P(VecDot, ExtremeMagnitudes) {
  const TensorType t = GetParam();
  const int64_t n = 1024;
  for (float w_sigma : {1e-3f, 1.0f, 2000.0f}) {
    for (float x_sigma : {1e-4f, 1.0f, 1e4f}) {
      const auto wf = gaussian_row(n, 50, w_sigma);
      const auto xf = gaussian_row(n, 51, x_sigma);
      const auto w = quantized(t, wf);
      const auto a = activation(t, xf);
      const Exact e = exact_dot(dequantized(t, w, n), activation_values(t, a, n));
      const float fast = vec_dot(t, n, w.data(), a.data());
      ASSERT_TRUE(std::isfinite(fast)) << type_name(t);
      EXPECT_NEAR(fast, e.dot, 1e-5 * e.abs_dot)
          << type_name(t) << " w_sigma=" << w_sigma << " x_sigma=" << x_sigma;
      EXPECT_NEAR(vec_dot_reference(t, n, w.data(), a.data()), e.dot, 1e-5 * e.abs_dot);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Types, VecDot, ::testing::ValuesIn(kTypes),
                         [](const auto& info) { return type_name(info.param); });

// Randomised: 300 cases of random type, length (any multiple of the block),
// scale and batch size; vectorised, reference and double dots agree, and
// the batched variants stay bit-identical to single dots.
TEST(VecDotRandomised, ManyShapesAgree) {
  std::mt19937 rng(2024);
  std::uniform_int_distribution<int> pick_type(0, 6), blocks(1, 40), extra(0, 31), count(1, 6);
  std::uniform_real_distribution<float> log_scale(-3.0f, 3.0f);
  for (int c = 0; c < 300; ++c) {
    const TensorType t = kTypes[pick_type(rng)];
    const int64_t bs = traits(t).block_size;
    const int64_t n = bs == 1 ? 8 * blocks(rng) + extra(rng) : (bs == 32 ? 32 : 256) * blocks(rng);
    const float w_scale = std::pow(10.0f, log_scale(rng)),
                x_scale = std::pow(10.0f, log_scale(rng));
    const auto w = quantized(t, gaussian_row(n, 1000 + c, w_scale));
    const int num_x = count(rng);
    const size_t a_bytes = activation_row_bytes(t, n);
    std::vector<uint8_t> acts(a_bytes * num_x);
    for (int i = 0; i < num_x; ++i) {
      const auto a = activation(t, gaussian_row(n, 5000 + 10 * c + i, x_scale));
      std::memcpy(acts.data() + i * a_bytes, a.data(), a_bytes);
    }
    std::vector<float> multi(num_x);
    vec_dot_multi(t, n, w.data(), acts.data(), a_bytes, num_x, multi.data());
    for (int i = 0; i < num_x; ++i) {
      const std::vector<uint8_t> a(acts.begin() + i * a_bytes, acts.begin() + (i + 1) * a_bytes);
      const Exact e = exact_dot(dequantized(t, w, n), activation_values(t, a, n));
      const float fast = vec_dot(t, n, w.data(), a.data());
      ASSERT_EQ(multi[i], fast) << type_name(t) << " case " << c;
      ASSERT_NEAR(fast, e.dot, 1e-5 * e.abs_dot + 1e-30) << type_name(t) << " n=" << n;
      ASSERT_NEAR(vec_dot_reference(t, n, w.data(), a.data()), e.dot, 1e-5 * e.abs_dot + 1e-30)
          << type_name(t) << " n=" << n;
    }
  }
}

// Weight blocks of random bytes (every int8 / nibble / packed-scale pattern,
// including -128 in Q8_0 and scales with their high bits set; sane f16 d)
// must dot exactly like the reference and like their dequantized values.
TEST(VecDotRandomBlocks, EveryBitPatternMatchesReference) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> scale(0.001f, 0.05f);
  for (TensorType t : {TensorType::Q8_0, TensorType::Q4_0, TensorType::Q4_K, TensorType::Q6_K}) {
    const int64_t n = 2048;
    std::vector<uint8_t> w(row_size_bytes(t, n));
    for (int trial = 0; trial < 20; ++trial) {
      for (auto& b : w) b = static_cast<uint8_t>(byte(rng));
      const size_t bsize = traits(t).type_size;
      for (size_t off = 0; off < w.size(); off += bsize) {
        // f16 d fields: Q8_0/Q4_0/Q4_K at offset 0 (Q4_K dmin at 2), Q6_K last.
        const size_t d_at = t == TensorType::Q6_K ? bsize - 2 : 0;
        const uint16_t d = f32_to_fp16(scale(rng)), dmin = f32_to_fp16(scale(rng));
        std::memcpy(&w[off + d_at], &d, 2);
        if (t == TensorType::Q4_K) std::memcpy(&w[off + 2], &dmin, 2);
      }
      const auto xf = gaussian_row(n, 300 + trial);
      const auto a = activation(t, xf);
      const Exact e = exact_dot(dequantized(t, w, n), activation_values(t, a, n));
      const float fast = vec_dot(t, n, w.data(), a.data());
      const float ref = vec_dot_reference(t, n, w.data(), a.data());
      EXPECT_NEAR(fast, e.dot, 1e-5 * e.abs_dot) << type_name(t) << " trial " << trial;
      EXPECT_NEAR(ref, e.dot, 1e-5 * e.abs_dot) << type_name(t) << " trial " << trial;
    }
  }
}

// The Q8_0 activation is the Q8_0 weight quantizer (llama.cpp's reference
// rounding, checked against gguf-py in quant_oracle_test); Q4_0 weights take
// the same blocks with 8 * sum(qs) (BlockQ8_0Sum); float weights take the
// activation as a plain f32 copy.
TEST(Activation, Q8_0AndF32FormatsAreTheRowQuantizers) {
  const int64_t n = 800, num_blocks = n / 32;
  const auto x = gaussian_row(n, 21, 2.0f);
  const auto q8 = quantized(TensorType::Q8_0, x);
  ASSERT_EQ(activation_row_bytes(TensorType::Q8_0, n), q8.size());
  EXPECT_EQ(activation(TensorType::Q8_0, x), q8);
  EXPECT_EQ(activation_type(TensorType::Q4_0), TensorType::Q8_1);
  const auto a4 = activation(TensorType::Q4_0, x);
  ASSERT_EQ(a4.size(), num_blocks * sizeof(BlockQ8_0Sum));
  const auto* blocks = reinterpret_cast<const BlockQ8_0*>(q8.data());
  const auto* with_sums = reinterpret_cast<const BlockQ8_0Sum*>(a4.data());
  for (int64_t b = 0; b < num_blocks; ++b) {
    int sum = 0;
    for (int j = 0; j < 32; ++j) sum += blocks[b].qs[j];
    ASSERT_EQ(with_sums[b].d, blocks[b].d) << "block " << b;
    ASSERT_EQ(with_sums[b].sum8, 8 * sum) << "block " << b;
    ASSERT_EQ(std::memcmp(with_sums[b].qs, blocks[b].qs, 32), 0) << "block " << b;
  }
  for (TensorType t : {TensorType::F32, TensorType::F16, TensorType::BF16}) {
    const auto a = activation(t, x);
    ASSERT_EQ(a.size(), n * sizeof(float));
    EXPECT_EQ(std::memcmp(a.data(), x.data(), a.size()), 0) << type_name(t);
  }
}

TEST(Activation, Q8KBlocksAreConsistent) {
  const int64_t n = 1024;
  auto x = gaussian_row(n, 9, 3.0f);
  x[700] = -40.0f;  // the largest magnitude maps to -127 exactly
  std::vector<uint8_t> a(activation_row_bytes(TensorType::Q4_K, n));
  ASSERT_EQ(a.size(), 4 * sizeof(BlockQ8K));
  EXPECT_EQ(activation_type(TensorType::Q6_K), TensorType::Q8_K);
  EXPECT_EQ(activation_type(TensorType::Q8_0), TensorType::Q8_0);
  EXPECT_EQ(activation_type(TensorType::BF16), TensorType::F32);
  quantize_activation(TensorType::Q4_K, x.data(), a.data(), n);
  const auto* b = reinterpret_cast<const BlockQ8K*>(a.data());
  EXPECT_EQ(b[2].qs[700 - 512], -127);
  for (int k = 0; k < 4; ++k) {
    for (int g = 0; g < 16; ++g) {
      int sum = 0;
      for (int i = 0; i < 16; ++i) sum += b[k].qs[16 * g + i];
      ASSERT_EQ(b[k].bsums[g], sum);
    }
    for (int i = 0; i < 256; ++i) {
      ASSERT_GE(b[k].qs[i], -127);
      ASSERT_NEAR(b[k].d * b[k].qs[i], x[256 * k + i], std::fabs(b[k].d) * 0.5001f);
    }
  }
}

}  // namespace
}  // namespace tokamak::quant
