// Internal helpers shared by the quant/*.cpp files (not part of the public
// API; include quant/quant.h instead).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "core/tensor_type.h"
#include "quant/blocks.h"

namespace tokamak::quant::detail {

// Hides v from the optimiser so a product is rounded to float before it is
// used: GCC contracts a*b+c into an FMA by default, which would change the
// bits of llama.cpp's reference quantizers (they round the product first).
inline float rounded(float v) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  asm("" : "+x"(v));
#elif defined(__GNUC__)
  asm("" : "+r"(v));
#endif
  return v;
}

// C's roundf: nearest, halves away from zero.
inline int round_half_away(float v) { return static_cast<int>(std::round(v)); }

// Nearest integer, halves to even (the FPU's default rounding).
inline int nearest_int(float v) { return static_cast<int>(std::nearbyint(v)); }

// True when no value of x[0..n) is NaN or infinite.
bool all_finite(const float* x, int64_t n);

// Bit-exact with llama.cpp's quantize_row_q8_0_ref / quantize_row_q4_0_ref.
void quantize_row_q8_0(const float* x, BlockQ8_0* y, int64_t n);
void quantize_row_q4_0(const float* x, BlockQ4_0* y, int64_t n);
// Scale searches of our own (see kquant_quantize.cpp).
void quantize_row_q4k(const float* x, BlockQ4K* y, int64_t n);
void quantize_row_q6k(const float* x, BlockQ6K* y, int64_t n);
// Activation format of Q4_0 weights (Q8_0 blocks with 8 * their sums).
void quantize_row_q8_0_sum(const float* x, BlockQ8_0Sum* y, int64_t n);
// Activation format of the K-quants.
void quantize_row_q8k(const float* x, BlockQ8K* y, int64_t n);

void dequantize_row_q4k(const BlockQ4K* x, float* y, int64_t n);
void dequantize_row_q6k(const BlockQ6K* x, float* y, int64_t n);

// Scalar dot products (the reference and the portable fallback).
float dot_ref(TensorType weight_type, int64_t n, const void* w, const void* x);

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#define TOKAMAK_QUANT_AVX2 1
// out[i] = dot(w, x + i * x_stride) for i < num_x; false for an unknown type.
bool dot_multi_avx2(TensorType weight_type, int64_t n, const void* w, const void* x,
                    size_t x_stride, int64_t num_x, float* out);
// out[r] = dot(w_rows + r * w_row_bytes, x) for r < num_rows; false for an
// unknown type.
bool dot_rows_avx2(TensorType weight_type, int64_t n, const void* w_rows, size_t w_row_bytes,
                   int64_t num_rows, const void* x, float* out);
#endif

}  // namespace tokamak::quant::detail
