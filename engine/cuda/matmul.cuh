// Quantized matrix products with dequantization fused in, fp32 accumulation:
//   y (num_tokens, rows) = x (num_tokens, n) · W^T,   W (rows, n) in `type`
//
// Decode and small batches (1..16 tokens per pass, see matmul_ring.cuh):
// each warp owns groups of 4 or 2 rows and streams them in segments of
// about 1-2 KiB per row through its own 3-stage shared-memory ring
// (cp.async, 16-byte copies, two segments in flight while one is reduced);
// each lane dots pieces of every row with the token rows of x, so each
// weight byte is read once per pass. Warps loop over row groups (grid <= the
// resident blocks). Block types default to the dp4a kernel (x as int8).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "core/tensor_type.h"

namespace tokamak::cuda {

struct MatmulWeight {
  const void* data = nullptr;  // device, (rows, row_bytes)
  TensorType type = TensorType::F32;
  int64_t rows = 0;
  int64_t row_length = 0;  // n; a multiple of the block size for block types
  size_t row_bytes = 0;
};

inline constexpr int kMaxMatmulGroup = 3;
// Tokens one pass of the matmul kernel serves; more tokens take several
// passes (the weights are read once per pass).
inline constexpr int kMatmulTokensPerPass = 16;

// cudaErrorInvalidValue for types the kernels do not handle.
cudaError_t launch_matmul(const MatmulWeight& w, const float* x, int64_t num_tokens, float* y,
                          cudaStream_t stream);

// ys[g] (num_tokens, weights[g].rows) = x · weights[g]^T for g < count
// (<= kMaxMatmulGroup) in one launch (q/k/v, gate/up). The weights must
// share type and row length (else cudaErrorInvalidValue).
cudaError_t launch_matmul_group(const MatmulWeight* weights, float* const* ys, int count,
                                const float* x, int64_t num_tokens, cudaStream_t stream);

// Which decode kernel launch_matmul[_group] takes (benchmarks and tests;
// process-global, not thread-safe: set it before launching or capturing).
//   kMatmulDecodeAuto (the default): block types (Q4_0, Q8_0, Q4_K, Q6_K)
//     take the int8-x dp4a kernel (matmul_dp4a.cuh, the CPU backend's
//     activation rounding), float types the direct kernel for one token
//     (16-byte aligned rows) else the fp32 ring kernel. One token: 2 rows
//     per warp (dp4a: 2048-value segments, as kMatmulDecodeDp4aLongTwoRows);
//     2..4 tokens: 4 or 2 rows by the weights' row count
//     (decode_rows_per_warp).
//   kMatmulDecodeFp32 / ...TwoRows: the fp32 kernel for every type (x exact,
//     fp32 products), 4 / 2 rows per warp for 1 token.
//   kMatmulDecodeDp4a / ...TwoRows: the dp4a kernel for block types, 4 / 2
//     rows per warp; float types as the fp32 kernel with 4 / 2 rows.
//   kMatmulDecodeDp4aLong / ...TwoRows: the same with 2048-value segments
//     for one token (two pieces per lane and row).
//   kMatmulDecodeDirect / ...TwoRows: one token, float types: the direct
//     kernel (matmul_float_direct.cuh; the ring kernel where it cannot run),
//     4 / 2 rows per warp; block types as kMatmulDecodeAuto.
inline constexpr int kMatmulDecodeAuto = -1;
inline constexpr int kMatmulDecodeFp32 = 0;
inline constexpr int kMatmulDecodeFp32TwoRows = 1;
inline constexpr int kMatmulDecodeDp4a = 2;
inline constexpr int kMatmulDecodeDp4aTwoRows = 3;
inline constexpr int kMatmulDecodeDp4aLong = 4;
inline constexpr int kMatmulDecodeDp4aLongTwoRows = 5;
inline constexpr int kMatmulDecodeDirect = 6;
inline constexpr int kMatmulDecodeDirectTwoRows = 7;
void set_matmul_decode_variant(int variant);
int matmul_decode_variant();

}  // namespace tokamak::cuda
