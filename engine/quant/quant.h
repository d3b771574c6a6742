// Tensor-type arithmetic on the CPU: dequantization, quantization and dot
// products for every supported weight type (F32, F16, BF16, Q8_0, Q4_0,
// Q4_K, Q6_K). Block layouts are llama.cpp's (see core/tensor_type.h).
//
// Dot products follow ggml's scheme: the activation row is first converted
// once to the weight type's "activation type" (F32 for float weights, Q8_0
// for Q8_0, Q8_0 with block sums for Q4_0, Q8_K for Q4_K/Q6_K), then dotted
// against many weight rows.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/result.h"
#include "core/tensor_type.h"
#include "quant/blocks.h"  // BlockQ8_0, BlockQ4_0, BlockQ4K, BlockQ6K, BlockQ8K

namespace tokamak::quant {

// n must be a multiple of the type's block size (all functions; float types
// take any n); `type` must be one of F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K
// unless said otherwise. Rows need the alignment of their fields only (4 bytes
// for F32 data and Q8_K activations, 2 for the rest: GGUF tensor data and
// whole-block strides give it), no SIMD alignment. Every function is
// thread-safe (no shared mutable state; the first dot initialises a 256 KB
// f16->f32 table once).

// Types dequantize_row / quantize_row / vec_dot accept.
bool can_dequantize(TensorType type);
bool can_quantize(TensorType type);

// Precondition: can_dequantize(type) (otherwise dst is filled with NaN).
void dequantize_row(TensorType type, const void* src, float* dst, int64_t n);

// Quantizes one row. F16/BF16 round to nearest even; Q8_0 and Q4_0 are
// bit-exact with llama.cpp's quantize_row_q8_0_ref / q4_0_ref (checked against
// gguf-py); Q4_K and Q6_K search per sub-block for the scale (and min) that
// minimise a weighted squared error, then encode the scales in 6/8 bits.
// Relative RMSE on Gaussian data: Q8_0 0.0054, Q6_K 0.0175, Q4_K 0.072,
// Q4_0 0.086 (trained weights of aidreams260K: 0.0045, 0.015, 0.062, 0.072).
// Speed (one Xeon core): Q8_0 ~1.8 G values/s, Q4_0 ~0.5 G, Q4_K ~48 M,
// Q6_K ~63 M values/s; callers parallelise over rows.
// InvalidArgument when n is not a multiple of the block size or when a value
// is NaN or infinite (block types only; F16/BF16/F32 keep them), Unsupported
// for types other than the seven above.
Status quantize_row(TensorType type, const float* src, void* dst, int64_t n);

// The activation type for weights of `type`, and its bytes for n values:
//   F32, F16, BF16 weights -> F32 (a plain copy)
//   Q8_0                   -> Q8_0 (the Q8_0 quantizer above, BlockQ8_0)
//   Q4_0                   -> Q8_1: Tokamak's BlockQ8_0Sum (36 bytes: the Q8_0
//                             block plus 8 * sum(qs); NOT ggml's Q8_1 meaning)
//   Q4_K, Q6_K             -> Q8_K (BlockQ8K: the largest |x| of each 256 maps
//                             to -127, with bsums)
// Equal activation types mean interchangeable activation rows; size and
// stride rows with activation_row_bytes(weight_type, n).
TensorType activation_type(TensorType weight_type);
size_t activation_row_bytes(TensorType weight_type, int64_t n);
// x must be finite.
void quantize_activation(TensorType weight_type, const float* x, void* dst, int64_t n);

// dot(weight_row, x) where x was prepared by quantize_activation for this
// weight type. Vectorised (AVX2/FMA/F16C) where the build allows, scalar
// otherwise; both give the same result to within float rounding (tests:
// |vec_dot - exact| <= ~7e-6 * sum |w_i x_i|). Integer types sum exactly
// inside a block. Single-core throughput in weight GB/s over 4096-value rows
// (Xeon 4th gen, x86-64-v3 build) from L2 / L3 (64 MB) / DRAM (1 GB, through
// vec_dot_rows, which prefetches 8 KB ahead; a plain AVX2 read: 15.5 GB/s):
//   F32 55/25/-, F16 42/22/12-14, BF16 38/21/-, Q8_0 33/21/12-14,
//   Q4_0 18/16/10, Q4_K 23/19/11-12, Q6_K 27/19/12-13.
// With 16 threads vec_dot_rows reaches 80-160 GB/s from DRAM (noisy host),
// about what the memory gives.
float vec_dot(TensorType weight_type, int64_t n, const void* weight_row, const void* x_act);

// Scalar reference of the same (tests compare the vectorised path to it).
float vec_dot_reference(TensorType weight_type, int64_t n, const void* weight_row,
                        const void* x_act);

// Batched dots. Both give exactly the values vec_dot would give for each pair
// (same kernels, same summation order), so results do not depend on batching.
//
// One weight row against num_x activation rows (prefill: each weight block is
// loaded once and used for up to 4 tokens; per core, in G multiply-adds/s:
// F32 23, F16 29, BF16 27, Q8_0 39, Q4_0 41, Q4_K 66, Q6_K 63):
//   out[i] = dot(weight_row, x_acts + i * x_act_stride_bytes),  i < num_x
// x_act_stride_bytes is usually activation_row_bytes(weight_type, n).
void vec_dot_multi(TensorType weight_type, int64_t n, const void* weight_row, const void* x_acts,
                   size_t x_act_stride_bytes, int64_t num_x, float* out);

// num_rows weight rows (w_row_bytes apart, usually row_size_bytes(type, n))
// against one activation row (decode: a matrix-vector product). Prefetches
// the weights 8 KB ahead of the row being dotted, past num_rows too (callers'
// next rows usually follow); an extra prefetch by the caller is unnecessary.
//   out[r] = dot(w_rows + r * w_row_bytes, x_act),  r < num_rows
void vec_dot_rows(TensorType weight_type, int64_t n, const void* w_rows, size_t w_row_bytes,
                  int64_t num_rows, const void* x_act, float* out);

}  // namespace tokamak::quant
