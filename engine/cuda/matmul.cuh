// Quantized matrix products with dequantization fused in, fp32 accumulation:
//   y (num_tokens, rows) = x (num_tokens, n) · W^T,   W (rows, n) in `type`
//
// Decode and small batches (see matmul.cu): each warp owns a group of rows
// and streams them in segments of about 1 KiB per row through its own
// 3-stage shared-memory ring (cp.async, 16-byte copies, two segments in
// flight while one is reduced); each lane dots 16-value pieces of every row
// with up to 16 token rows of x, so each weight byte is read once per pass.
// Warps loop over row groups (grid <= a few blocks per SM).
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

// Benchmarks only: the one-token kernel's inner loop, 0 (default): one
// 16-value piece per lane at a time; 1: two pieces, their x loads together;
// 2 (kMatmulDecodeDp4a, matmul_dp4a.cuh): block types (any token count) take
// the int8 x + dp4a kernel (the CPU backend's rounding), float types as 0;
// 3: the same with 2 rows per warp.
// Not thread-safe; set it before launching.
void set_matmul_decode_variant(int variant);

}  // namespace tokamak::cuda
