// Row conversions: dequantize_row and quantize_row for every supported type,
// with the llama.cpp reference quantizers for Q8_0 and Q4_0.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "core/half.h"
#include "quant/quant.h"
#include "quant/quant_internal.h"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace tokamak::quant {
namespace detail {

#if defined(__AVX2__)
namespace {

// roundf (halves away from zero) on 8 floats, exactly: |v| = f + frac with
// f = floor(|v|); the result is f + floor(2 * frac) (both steps exact).
inline __m256 round_half_away8(__m256 v) {
  const __m256 sign_mask = _mm256_set1_ps(-0.0f);
  const __m256 a = _mm256_andnot_ps(sign_mask, v);
  const __m256 f = _mm256_floor_ps(a);
  const __m256 frac2 = _mm256_add_ps(_mm256_sub_ps(a, f), _mm256_sub_ps(a, f));
  const __m256 r = _mm256_add_ps(f, _mm256_floor_ps(frac2));
  return _mm256_or_ps(r, _mm256_and_ps(v, sign_mask));
}

inline float hmax8(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

}  // namespace
#endif

// True when no value is NaN or infinite (exponent bits all ones).
bool all_finite(const float* x, int64_t n) {
  int64_t i = 0;
#if defined(__AVX2__)
  const __m256i exp_mask = _mm256_set1_epi32(0x7f800000);
  __m256i bad = _mm256_setzero_si256();
  for (; i + 8 <= n; i += 8) {
    const __m256i e =
        _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i)), exp_mask);
    bad = _mm256_or_si256(bad, _mm256_cmpeq_epi32(e, exp_mask));
  }
  if (!_mm256_testz_si256(bad, bad)) return false;
#endif
  for (; i < n; ++i)
    if ((f32_to_bits(x[i]) & 0x7f800000u) == 0x7f800000u) return false;
  return true;
}

// llama.cpp's quantize_row_q8_0_ref: d = amax / 127, q = roundf(x / d).
void quantize_row_q8_0(const float* x, BlockQ8_0* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK8_0; ++b, x += kQK8_0) {
#if defined(__AVX2__)
    const __m256 sign_mask = _mm256_set1_ps(-0.0f);
    __m256 v[4];
    __m256 amax = _mm256_setzero_ps();
    for (int k = 0; k < 4; ++k) {
      v[k] = _mm256_loadu_ps(x + 8 * k);
      amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign_mask, v[k]));
    }
    const float d = hmax8(amax) / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    __m256i q[4];
    for (int k = 0; k < 4; ++k)
      q[k] = _mm256_cvtps_epi32(round_half_away8(_mm256_mul_ps(v[k], _mm256_set1_ps(id))));
    // int32 -> int8 with the packs' lane interleave undone by a permute.
    const __m256i q01 = _mm256_packs_epi32(q[0], q[1]);
    const __m256i q23 = _mm256_packs_epi32(q[2], q[3]);
    __m256i q8 = _mm256_packs_epi16(q01, q23);
    q8 = _mm256_permutevar8x32_epi32(q8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[b].qs), q8);
#else
    float amax = 0.0f;
    for (int j = 0; j < kQK8_0; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < kQK8_0; ++j)
      y[b].qs[j] = static_cast<int8_t>(round_half_away(rounded(x[j] * id)));
#endif
    y[b].d = f32_to_fp16(d);
  }
}

// llama.cpp's quantize_row_q4_0_ref: d = max / -8 where max is the value of
// largest magnitude (first one on ties), q = min(15, trunc(x / d + 8.5)).
void quantize_row_q4_0(const float* x, BlockQ4_0* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK4_0; ++b, x += kQK4_0) {
    float amax = 0.0f;
    float max = 0.0f;
    for (int j = 0; j < kQK4_0; ++j) {
      if (amax < std::fabs(x[j])) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = f32_to_fp16(d);
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      const float x0 = rounded(x[j] * id);
      const float x1 = rounded(x[j + kQK4_0 / 2] * id);
      const int q0 = std::min(15, static_cast<int>(static_cast<int8_t>(x0 + 8.5f)));
      const int q1 = std::min(15, static_cast<int>(static_cast<int8_t>(x1 + 8.5f)));
      y[b].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

}  // namespace detail

namespace {

void dequantize_q8_0(const BlockQ8_0* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK8_0; ++b, y += kQK8_0) {
    const float d = fp16_to_f32(x[b].d);
    for (int j = 0; j < kQK8_0; ++j) y[j] = static_cast<float>(x[b].qs[j]) * d;
  }
}

void dequantize_q4_0(const BlockQ4_0* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK4_0; ++b, y += kQK4_0) {
    const float d = fp16_to_f32(x[b].d);
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      y[j] = static_cast<float>((x[b].qs[j] & 0xF) - 8) * d;
      y[j + kQK4_0 / 2] = static_cast<float>((x[b].qs[j] >> 4) - 8) * d;
    }
  }
}

}  // namespace

bool can_dequantize(TensorType type) {
  switch (type) {
    case TensorType::F32:
    case TensorType::F16:
    case TensorType::BF16:
    case TensorType::Q8_0:
    case TensorType::Q4_0:
    case TensorType::Q4_K:
    case TensorType::Q6_K:
      return true;
    default:
      return false;
  }
}

bool can_quantize(TensorType type) { return can_dequantize(type); }

void dequantize_row(TensorType type, const void* src, float* dst, int64_t n) {
  switch (type) {
    case TensorType::F32:
      std::copy_n(static_cast<const float*>(src), n, dst);
      return;
    case TensorType::F16: {
      const auto* h = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_f32(h[i]);
      return;
    }
    case TensorType::BF16: {
      const auto* h = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(h[i]);
      return;
    }
    case TensorType::Q8_0:
      return dequantize_q8_0(static_cast<const BlockQ8_0*>(src), dst, n);
    case TensorType::Q4_0:
      return dequantize_q4_0(static_cast<const BlockQ4_0*>(src), dst, n);
    case TensorType::Q4_K:
      return detail::dequantize_row_q4k(static_cast<const BlockQ4K*>(src), dst, n);
    case TensorType::Q6_K:
      return detail::dequantize_row_q6k(static_cast<const BlockQ6K*>(src), dst, n);
    default:
      std::fill_n(dst, n, std::numeric_limits<float>::quiet_NaN());
      return;
  }
}

Status quantize_row(TensorType type, const float* src, void* dst, int64_t n) {
  if (!can_quantize(type)) {
    return make_error(ErrorCode::Unsupported,
                      "cannot quantize to tensor type " + std::string(tensor_type_name(type)) +
                          " (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K)");
  }
  const int64_t block = traits(type).block_size;
  if (n < 0 || n % block != 0) {
    return make_error(ErrorCode::InvalidArgument,
                      "row of " + std::to_string(n) + " values cannot be quantized to " +
                          std::string(tensor_type_name(type)) +
                          ": not a multiple of its block size " + std::to_string(block));
  }
  if (traits(type).block_size > 1) {
    // Block scales cannot encode NaN or infinity (and converting them to
    // integers is undefined): refuse such rows with the position.
    const bool finite = detail::all_finite(src, n);
    for (int64_t i = 0; !finite && i < n; ++i) {
      if (!std::isfinite(src[i])) {
        return make_error(ErrorCode::InvalidArgument,
                          "cannot quantize to " + std::string(tensor_type_name(type)) + ": value " +
                              std::to_string(i) + " of the row is " +
                              (std::isnan(src[i]) ? "NaN" : "infinite"));
      }
    }
  }
  switch (type) {
    case TensorType::F32:
      std::copy_n(src, n, static_cast<float*>(dst));
      break;
    case TensorType::F16: {
      auto* h = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) h[i] = f32_to_fp16(src[i]);
      break;
    }
    case TensorType::BF16: {
      auto* h = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) h[i] = f32_to_bf16(src[i]);
      break;
    }
    case TensorType::Q8_0:
      detail::quantize_row_q8_0(src, static_cast<BlockQ8_0*>(dst), n);
      break;
    case TensorType::Q4_0:
      detail::quantize_row_q4_0(src, static_cast<BlockQ4_0*>(dst), n);
      break;
    case TensorType::Q4_K:
      detail::quantize_row_q4k(src, static_cast<BlockQ4K*>(dst), n);
      break;
    case TensorType::Q6_K:
      detail::quantize_row_q6k(src, static_cast<BlockQ6K*>(dst), n);
      break;
    default:
      break;
  }
  return {};
}

}  // namespace tokamak::quant
