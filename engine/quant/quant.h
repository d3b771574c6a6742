// Tensor-type arithmetic on the CPU: dequantization, quantization and dot
// products for every supported weight type (F32, F16, BF16, Q8_0, Q4_0,
// Q4_K, Q6_K). Block layouts are llama.cpp's (see core/tensor_type.h).
//
// Dot products follow ggml's scheme: the activation row is first converted
// once to the weight type's "activation type" (F32 for float weights, Q8_0
// for Q8_0/Q4_0, Q8_K for Q4_K/Q6_K), then dotted against many weight rows.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/result.h"
#include "core/tensor_type.h"

namespace tokamak::quant {

// Q8_K: activation format for K-quants (256 values: f32 d, int8 qs[256],
// int16 bsums[16] = sums of each group of 16 qs). Never stored in files.
struct BlockQ8K {
  float d;
  int8_t qs[256];
  int16_t bsums[16];
};

// n must be a multiple of the type's block size (all functions).
void dequantize_row(TensorType type, const void* src, float* dst, int64_t n);

// Quantizes with llama.cpp's reference rounding (Q8_0, Q4_0) or a search for
// scales that minimise the weighted error (Q4_K, Q6_K), close to llama.cpp's
// results. Fails for types it cannot produce.
Status quantize_row(TensorType type, const float* src, void* dst, int64_t n);

// The activation type for weights of `type`, and its bytes for n values.
TensorType activation_type(TensorType weight_type);  // F32, Q8_0, or Q8_K (as TensorType::Q8_K)
size_t activation_row_bytes(TensorType weight_type, int64_t n);
void quantize_activation(TensorType weight_type, const float* x, void* dst, int64_t n);

// dot(weight_row, x) where x was prepared by quantize_activation for this
// weight type. Vectorised (AVX2/FMA/F16C) where the build allows, scalar
// otherwise; both give the same result to within float rounding.
float vec_dot(TensorType weight_type, int64_t n, const void* weight_row, const void* x_act);

// Scalar reference of the same (tests compare the vectorised path to it).
float vec_dot_reference(TensorType weight_type, int64_t n, const void* weight_row,
                        const void* x_act);

}  // namespace tokamak::quant
