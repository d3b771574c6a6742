// Q4_K and Q6_K: dequantization, and quantization by a search for the scales
// (and mins) that minimise a weighted squared error, then 6-/8-bit encoding
// of those scales. Layouts: quant/blocks.h.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/half.h"
#include "quant/quant_internal.h"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace tokamak::quant::detail {
namespace {

// Sums over x[0..num) of w*q, w*q*q and w*q*x, where
// q = clamp(round_half_even(iscale * (x - offset)), lo, hi): the statistics of
// one candidate step. num is a multiple of 8.
struct QSums {
  float wq = 0, wq2 = 0, wqx = 0;
};
QSums quant_sums(const float* x, const float* w, int num, float iscale, float offset, float lo,
                 float hi) {
  QSums s;
#if defined(__AVX2__) && defined(__FMA__)
  __m256 a_q = _mm256_setzero_ps(), a_q2 = a_q, a_qx = a_q;
  for (int i = 0; i < num; i += 8) {
    const __m256 xv = _mm256_loadu_ps(x + i), wv = _mm256_loadu_ps(w + i);
    __m256 q = _mm256_mul_ps(_mm256_set1_ps(iscale), _mm256_sub_ps(xv, _mm256_set1_ps(offset)));
    q = _mm256_round_ps(q, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    q = _mm256_min_ps(_mm256_max_ps(q, _mm256_set1_ps(lo)), _mm256_set1_ps(hi));
    const __m256 wq = _mm256_mul_ps(wv, q);
    a_q = _mm256_add_ps(a_q, wq);
    a_q2 = _mm256_fmadd_ps(wq, q, a_q2);
    a_qx = _mm256_fmadd_ps(wq, xv, a_qx);
  }
  alignas(32) float t[3][8];
  _mm256_store_ps(t[0], a_q);
  _mm256_store_ps(t[1], a_q2);
  _mm256_store_ps(t[2], a_qx);
  for (int k = 0; k < 8; ++k) {
    s.wq += t[0][k];
    s.wq2 += t[1][k];
    s.wqx += t[2][k];
  }
#else
  for (int i = 0; i < num; ++i) {
    const float q = std::clamp(std::nearbyint(iscale * (x[i] - offset)), lo, hi);
    s.wq += w[i] * q;
    s.wq2 += w[i] * q * q;
    s.wqx += w[i] * q * x[i];
  }
#endif
  return s;
}

// Weighted least-squares fit of x ~ scale * q - min with q in [0, nmax],
// scale >= 0, min >= 0, over a grid of candidate quantisation steps around
// (max - min) / nmax; for each candidate the q's are fixed by rounding and
// (scale, min) are solved in closed form. Returns the best pair.
//   x, w: (num)
void fit_scale_min(const float* x, const float* w, int num, int nmax, float* scale, float* min) {
  float xmin = x[0], xmax = x[0];
  for (int i = 1; i < num; ++i) {
    xmin = std::min(xmin, x[i]);
    xmax = std::max(xmax, x[i]);
  }
  xmin = std::min(xmin, 0.0f);
  if (xmax <= xmin) {  // all values equal and <= 0: represented by the min alone
    *scale = 0.0f;
    *min = -xmin;
    return;
  }
  float sw = 0, swx = 0, swx2 = 0;
  for (int i = 0; i < num; ++i) {
    sw += w[i];
    swx += w[i] * x[i];
    swx2 += w[i] * x[i] * x[i];
  }
  // Candidate 0: the plain min/max encoding.
  float best_scale = (xmax - xmin) / nmax;
  float best_b = xmin;  // b = -min
  float best_err = std::numeric_limits<float>::infinity();
  constexpr int kNumSteps = 24;
  constexpr float kStepLo = -1.0f, kStepDelta = 0.1f;
  for (int is = -1; is <= kNumSteps; ++is) {
    // is = -1 evaluates the plain encoding itself.
    const float iscale =
        is < 0 ? nmax / (xmax - xmin) : (kStepLo + kStepDelta * is + nmax) / (xmax - xmin);
    const QSums qs = quant_sums(x, w, num, iscale, xmin, 0.0f, static_cast<float>(nmax));
    const float swq = qs.wq, swq2 = qs.wq2, swqx = qs.wqx;
    float a, b;
    if (is < 0) {
      a = best_scale;
      b = best_b;
    } else {
      const float det = sw * swq2 - swq * swq;
      if (det <= 0) continue;
      a = (sw * swqx - swq * swx) / det;
      b = (swq2 * swx - swq * swqx) / det;
      if (b > 0) {  // the min must not be negative: refit the scale alone
        b = 0;
        a = swq2 > 0 ? swqx / swq2 : 0;
      }
      if (a < 0) continue;
    }
    // sum w (a q + b - x)^2, expanded.
    const float err =
        a * a * swq2 + 2 * a * b * swq + b * b * sw - 2 * a * swqx - 2 * b * swx + swx2;
    if (err < best_err) {
      best_err = err;
      best_scale = a;
      best_b = b;
    }
  }
  *scale = best_scale;
  *min = -best_b;
}

// Weighted fit of x ~ scale * q with q in [-nmax, nmax - 1] (scale of either
// sign); searches steps around the one mapping the largest |x| to -nmax.
float fit_scale_signed(const float* x, const float* w, int num, int nmax) {
  float amax = 0, max = 0;
  for (int i = 0; i < num; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  }
  if (amax < 1e-30f) return 0.0f;
  float best = -1, best_scale = 0;
  for (int is = -9; is <= 9; ++is) {
    const float iscale = -(nmax + 0.1f * is) / max;
    const QSums qs = quant_sums(x, w, num, iscale, 0.0f, static_cast<float>(-nmax),
                                static_cast<float>(nmax - 1));
    const float swqx = qs.wqx, swq2 = qs.wq2;
    // Error after the optimal scale for these q's is sum w x^2 - swqx^2/swq2.
    if (swq2 > 0 && swqx * swqx / swq2 > best) {
      best = swqx * swqx / swq2;
      best_scale = swqx / swq2;
    }
  }
  return best_scale;
}

void pack_q4k_scales(const uint8_t* ls, const uint8_t* lm, uint8_t* scales) {
  for (int j = 0; j < 4; ++j) {
    scales[j] = static_cast<uint8_t>(ls[j] | (ls[j + 4] >> 4) << 6);
    scales[j + 4] = static_cast<uint8_t>(lm[j] | (lm[j + 4] >> 4) << 6);
    scales[j + 8] = static_cast<uint8_t>((ls[j + 4] & 0xF) | (lm[j + 4] & 0xF) << 4);
  }
}

void quantize_block_q4k(const float* x, BlockQ4K* y) {
  constexpr int kSub = 32, kNumSub = kQK_K / kSub;
  float sum_x2 = 0;
  for (int i = 0; i < kQK_K; ++i) sum_x2 += x[i] * x[i];
  const float av_x = std::sqrt(sum_x2 / kQK_K);
  // Weights: emphasise large values a little (llama.cpp's choice too).
  float w[kQK_K];
  for (int i = 0; i < kQK_K; ++i) w[i] = av_x + std::fabs(x[i]);

  float scale[kNumSub], min[kNumSub];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < kNumSub; ++j) {
    fit_scale_min(x + kSub * j, w + kSub * j, kSub, 15, &scale[j], &min[j]);
    max_scale = std::max(max_scale, scale[j]);
    max_min = std::max(max_min, min[j]);
  }
  const float d = max_scale / 63, dmin = max_min / 63;
  uint8_t ls[kNumSub], lm[kNumSub];
  for (int j = 0; j < kNumSub; ++j) {
    ls[j] = static_cast<uint8_t>(d > 0 ? std::clamp(nearest_int(scale[j] / d), 0, 63) : 0);
    lm[j] = static_cast<uint8_t>(dmin > 0 ? std::clamp(nearest_int(min[j] / dmin), 0, 63) : 0);
  }
  pack_q4k_scales(ls, lm, y->scales);
  y->d = f32_to_fp16(d);
  y->dmin = f32_to_fp16(dmin);
  // Requantise with the scales as stored.
  const float dq = fp16_to_f32(y->d), dminq = fp16_to_f32(y->dmin);
  uint8_t q[kQK_K];
  for (int j = 0; j < kNumSub; ++j) {
    const float sc = dq * ls[j], m = dminq * lm[j];
    for (int i = 0; i < kSub; ++i) {
      const float v = x[kSub * j + i];
      q[kSub * j + i] =
          static_cast<uint8_t>(sc > 0 ? std::clamp(nearest_int((v + m) / sc), 0, 15) : 0);
    }
  }
  for (int c = 0; c < kQK_K / 64; ++c)
    for (int l = 0; l < 32; ++l)
      y->qs[32 * c + l] = static_cast<uint8_t>(q[64 * c + l] | q[64 * c + 32 + l] << 4);
}

void quantize_block_q6k(const float* x, BlockQ6K* y) {
  constexpr int kGroup = 16, kNumGroups = kQK_K / kGroup;
  float sum_x2 = 0;
  for (int i = 0; i < kQK_K; ++i) sum_x2 += x[i] * x[i];
  const float av_x2 = sum_x2 / kQK_K;
  float w[kQK_K];
  for (int i = 0; i < kQK_K; ++i) w[i] = av_x2 + x[i] * x[i];

  float scale[kNumGroups];
  float amax = 0, max = 0;
  for (int g = 0; g < kNumGroups; ++g) {
    scale[g] = fit_scale_signed(x + kGroup * g, w + kGroup * g, kGroup, 32);
    if (std::fabs(scale[g]) > amax) {
      amax = std::fabs(scale[g]);
      max = scale[g];
    }
  }
  std::memset(y, 0, sizeof(*y));
  if (amax == 0) return;  // all zero: d = 0 and every q = 32 (value 0) below
  const float iscale = -128.0f / max;
  y->d = f32_to_fp16(1.0f / iscale);
  for (int g = 0; g < kNumGroups; ++g)
    y->scales[g] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scale[g])));
  const float dq = fp16_to_f32(y->d);
  uint8_t q[kQK_K];
  for (int g = 0; g < kNumGroups; ++g) {
    const float s = dq * y->scales[g];
    for (int i = 0; i < kGroup; ++i) {
      const int v = s != 0 ? std::clamp(nearest_int(x[kGroup * g + i] / s), -32, 31) : 0;
      q[kGroup * g + i] = static_cast<uint8_t>(v + 32);
    }
  }
  for (int h = 0; h < 2; ++h) {
    const uint8_t* qh_src = q + 128 * h;
    uint8_t* ql = y->ql + 64 * h;
    uint8_t* qh = y->qh + 32 * h;
    for (int l = 0; l < 32; ++l) {
      ql[l] = static_cast<uint8_t>((qh_src[l] & 0xF) | (qh_src[l + 64] & 0xF) << 4);
      ql[l + 32] = static_cast<uint8_t>((qh_src[l + 32] & 0xF) | (qh_src[l + 96] & 0xF) << 4);
      qh[l] = static_cast<uint8_t>((qh_src[l] >> 4) | (qh_src[l + 32] >> 4) << 2 |
                                   (qh_src[l + 64] >> 4) << 4 | (qh_src[l + 96] >> 4) << 6);
    }
  }
}

}  // namespace

void quantize_row_q4k(const float* x, BlockQ4K* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b) quantize_block_q4k(x + b * kQK_K, y + b);
}

void quantize_row_q6k(const float* x, BlockQ6K* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b) quantize_block_q6k(x + b * kQK_K, y + b);
}

// The products are rounded before the subtraction, as gguf-py and ggml's
// scalar code compute them, so the values match theirs bit for bit.
void dequantize_row_q4k(const BlockQ4K* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float d = fp16_to_f32(x[b].d), dmin = fp16_to_f32(x[b].dmin);
    for (int c = 0; c < kQK_K / 64; ++c, y += 64) {
      uint8_t sc0, m0, sc1, m1;
      q4k_scale_min(2 * c, x[b].scales, &sc0, &m0);
      q4k_scale_min(2 * c + 1, x[b].scales, &sc1, &m1);
      const float d0 = d * sc0, dm0 = dmin * m0, d1 = d * sc1, dm1 = dmin * m1;
      const uint8_t* qs = x[b].qs + 32 * c;
      for (int l = 0; l < 32; ++l) {
        y[l] = rounded(d0 * static_cast<float>(qs[l] & 0xF)) - dm0;
        y[l + 32] = rounded(d1 * static_cast<float>(qs[l] >> 4)) - dm1;
      }
    }
  }
}

void dequantize_row_q6k(const BlockQ6K* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float d = fp16_to_f32(x[b].d);
    for (int h = 0; h < 2; ++h, y += 128) {
      const uint8_t* ql = x[b].ql + 64 * h;
      const uint8_t* qh = x[b].qh + 32 * h;
      const int8_t* sc = x[b].scales + 8 * h;
      for (int l = 0; l < 32; ++l) {
        const int g = l / 16;
        const int q0 = ((ql[l] & 0xF) | ((qh[l] >> 0) & 3) << 4) - 32;
        const int q1 = ((ql[l + 32] & 0xF) | ((qh[l] >> 2) & 3) << 4) - 32;
        const int q2 = ((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32;
        const int q3 = ((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32;
        y[l] = (d * sc[g + 0]) * static_cast<float>(q0);
        y[l + 32] = (d * sc[g + 2]) * static_cast<float>(q1);
        y[l + 64] = (d * sc[g + 4]) * static_cast<float>(q2);
        y[l + 96] = (d * sc[g + 6]) * static_cast<float>(q3);
      }
    }
  }
}

}  // namespace tokamak::quant::detail
