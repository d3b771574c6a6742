// Quantized matrix products with dequantization fused in, fp32 accumulation:
//   y (num_tokens, rows) = x (num_tokens, n) · W^T,   W (rows, n) in `type`
//
// One warp per weight row; lane l takes chunks l, l + 32, ... of the row
// (see common.cuh), dequantizes each chunk once into registers and dots it
// with up to 8 token rows of x (decode: 1 token; prefill: the grid's y
// dimension walks groups of 8 tokens, so W is read ceil(num_tokens / 8)
// times: a simple first batched path, not a GEMM).
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

// cudaErrorInvalidValue for types the kernels do not handle.
cudaError_t launch_matmul(const MatmulWeight& w, const float* x, int64_t num_tokens, float* y,
                          cudaStream_t stream);

// ys[g] (num_tokens, weights[g].rows) = x · weights[g]^T for g < count
// (<= kMaxMatmulGroup) in one launch (q/k/v, gate/up). The weights must
// share type and row length (else cudaErrorInvalidValue).
cudaError_t launch_matmul_group(const MatmulWeight* weights, float* const* ys, int count,
                                const float* x, int64_t num_tokens, cudaStream_t stream);

}  // namespace tokamak::cuda
