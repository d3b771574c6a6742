// Activation formats: the form an activation row takes before it is dotted
// with weight rows of a given type (F32, Q8_0, Q8_0 + sums, or Q8_K).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "quant/quant.h"
#include "quant/quant_internal.h"

namespace tokamak::quant {
namespace detail {

// Q8_K as ggml makes it: the value of largest magnitude maps to -127,
// d = 1 / iscale, and bsums hold the sums of each 16 quants.
void quantize_row_q8k(const float* x, BlockQ8K* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b, x += kQK_K) {
    float amax = 0, max = 0;
    for (int i = 0; i < kQK_K; ++i) {
      if (std::fabs(x[i]) > amax) {
        amax = std::fabs(x[i]);
        max = x[i];
      }
    }
    if (amax == 0) {
      std::memset(&y[b], 0, sizeof(BlockQ8K));
      continue;
    }
    const float iscale = -127.0f / max;
    for (int i = 0; i < kQK_K; ++i)
      y[b].qs[i] = static_cast<int8_t>(std::min(127, nearest_int(iscale * x[i])));
    for (int g = 0; g < kQK_K / 16; ++g) {
      int sum = 0;
      for (int i = 0; i < 16; ++i) sum += y[b].qs[16 * g + i];
      y[b].bsums[g] = static_cast<int16_t>(sum);
    }
    y[b].d = 1.0f / iscale;
  }
}

// The Q8_0 quantizer into BlockQ8_0Sum, plus the block sums.
void quantize_row_q8_0_sum(const float* x, BlockQ8_0Sum* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    BlockQ8_0 q;
    quantize_row_q8_0(x + b * kQK8_0, &q, kQK8_0);
    int sum = 0;
    for (int j = 0; j < kQK8_0; ++j) sum += q.qs[j];
    y[b].d = q.d;
    y[b].sum8 = static_cast<int16_t>(8 * sum);
    std::memcpy(y[b].qs, q.qs, kQK8_0);
  }
}

}  // namespace detail

TensorType activation_type(TensorType weight_type) {
  switch (weight_type) {
    case TensorType::Q8_0:
      return TensorType::Q8_0;
    case TensorType::Q4_0:
      return TensorType::Q8_1;  // BlockQ8_0Sum (Tokamak's layout, see blocks.h)
    case TensorType::Q4_K:
    case TensorType::Q6_K:
      return TensorType::Q8_K;
    default:
      return TensorType::F32;
  }
}

size_t activation_row_bytes(TensorType weight_type, int64_t n) {
  return row_size_bytes(activation_type(weight_type), n);
}

void quantize_activation(TensorType weight_type, const float* x, void* dst, int64_t n) {
  switch (activation_type(weight_type)) {
    case TensorType::Q8_0:
      return detail::quantize_row_q8_0(x, static_cast<BlockQ8_0*>(dst), n);
    case TensorType::Q8_1:
      return detail::quantize_row_q8_0_sum(x, static_cast<BlockQ8_0Sum*>(dst), n);
    case TensorType::Q8_K:
      return detail::quantize_row_q8k(x, static_cast<BlockQ8K*>(dst), n);
    default:
      std::memcpy(dst, x, static_cast<size_t>(n) * sizeof(float));
      return;
  }
}

}  // namespace tokamak::quant
