// Scalar dot products: the reference the vectorised kernels are tested
// against, and the fallback on builds without AVX2. Integer sums inside a
// block, float across blocks, as ggml's scalar code does.
#include <cmath>

#include "core/half.h"
#include "quant/quant.h"
#include "quant/quant_internal.h"

namespace tokamak::quant::detail {
namespace {

template <class ToF32>
float dot_float(int64_t n, const uint16_t* w, const float* x, ToF32 to_f32) {
  float sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += to_f32(w[i]) * x[i];
  return sum;
}

float dot_f32(int64_t n, const float* w, const float* x) {
  float sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += w[i] * x[i];
  return sum;
}

float dot_q8_0(int64_t n, const BlockQ8_0* w, const BlockQ8_0* x) {
  float sum = 0;
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    int sumi = 0;
    for (int j = 0; j < kQK8_0; ++j) sumi += w[b].qs[j] * x[b].qs[j];
    sum += static_cast<float>(sumi) * (fp16_to_f32(w[b].d) * fp16_to_f32(x[b].d));
  }
  return sum;
}

float dot_q4_0(int64_t n, const BlockQ4_0* w, const BlockQ8_0Sum* x) {
  float sum = 0;
  for (int64_t b = 0; b < n / kQK4_0; ++b) {
    int sumi = 0;
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      sumi += ((w[b].qs[j] & 0xF) - 8) * x[b].qs[j];
      sumi += ((w[b].qs[j] >> 4) - 8) * x[b].qs[j + kQK4_0 / 2];
    }
    sum += static_cast<float>(sumi) * (fp16_to_f32(w[b].d) * fp16_to_f32(x[b].d));
  }
  return sum;
}

float dot_q4k(int64_t n, const BlockQ4K* w, const BlockQ8K* x) {
  float sum = 0;
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    int sum_scaled = 0, sum_mins = 0;
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      q4k_scale_min(j, w[b].scales, &sc, &m);
      const uint8_t* qs = w[b].qs + 32 * (j / 2);
      const int shift = 4 * (j % 2);
      int sumi = 0;
      for (int l = 0; l < 32; ++l) sumi += ((qs[l] >> shift) & 0xF) * x[b].qs[32 * j + l];
      sum_scaled += sc * sumi;
      sum_mins += m * (x[b].bsums[2 * j] + x[b].bsums[2 * j + 1]);
    }
    sum += x[b].d * fp16_to_f32(w[b].d) * static_cast<float>(sum_scaled) -
           x[b].d * fp16_to_f32(w[b].dmin) * static_cast<float>(sum_mins);
  }
  return sum;
}

float dot_q6k(int64_t n, const BlockQ6K* w, const BlockQ8K* x) {
  float sum = 0;
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    int q[kQK_K];
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = w[b].ql + 64 * h;
      const uint8_t* qh = w[b].qh + 32 * h;
      int* qo = q + 128 * h;
      for (int l = 0; l < 32; ++l) {
        qo[l] = ((ql[l] & 0xF) | ((qh[l] >> 0) & 3) << 4) - 32;
        qo[l + 32] = ((ql[l + 32] & 0xF) | ((qh[l] >> 2) & 3) << 4) - 32;
        qo[l + 64] = ((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32;
        qo[l + 96] = ((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32;
      }
    }
    int sumi = 0;
    for (int g = 0; g < kQK_K / 16; ++g) {
      int s = 0;
      for (int i = 0; i < 16; ++i) s += q[16 * g + i] * x[b].qs[16 * g + i];
      sumi += w[b].scales[g] * s;
    }
    sum += x[b].d * fp16_to_f32(w[b].d) * static_cast<float>(sumi);
  }
  return sum;
}

}  // namespace

float dot_ref(TensorType weight_type, int64_t n, const void* w, const void* x) {
  const auto* xf = static_cast<const float*>(x);
  switch (weight_type) {
    case TensorType::F32:
      return dot_f32(n, static_cast<const float*>(w), xf);
    case TensorType::F16:
      return dot_float(n, static_cast<const uint16_t*>(w), xf, fp16_to_f32);
    case TensorType::BF16:
      return dot_float(n, static_cast<const uint16_t*>(w), xf, bf16_to_f32);
    case TensorType::Q8_0:
      return dot_q8_0(n, static_cast<const BlockQ8_0*>(w), static_cast<const BlockQ8_0*>(x));
    case TensorType::Q4_0:
      return dot_q4_0(n, static_cast<const BlockQ4_0*>(w), static_cast<const BlockQ8_0Sum*>(x));
    case TensorType::Q4_K:
      return dot_q4k(n, static_cast<const BlockQ4K*>(w), static_cast<const BlockQ8K*>(x));
    case TensorType::Q6_K:
      return dot_q6k(n, static_cast<const BlockQ6K*>(w), static_cast<const BlockQ8K*>(x));
    default:
      return std::nanf("");
  }
}

}  // namespace tokamak::quant::detail
