// One-token matvec for float weights (F16, BF16, F32) straight from global
// memory into registers, no shared-memory staging:
//   y (1, rows) = x (1, n) · W^T
// Each warp owns NR rows; lane l reads the 16-byte chunks l, l + 32, ... of
// every row with non-caching vector loads, kUnroll chunks per row in flight
// before any is converted, x through L1 (float4), fp32 accumulation. Needs
// 16-byte aligned rows (data and row_bytes) and n a multiple of the values
// per chunk (8, or 4 for F32); launch_matmul takes the ring kernel
// (matmul.cu) otherwise.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/matmul.cuh"

namespace tokamak::cuda {

struct MatmulGroup;

// True when the direct kernel can take these weights (type, alignment, n)
// with x.
bool matvec_float_direct_supports(const MatmulWeight* weights, int count, const float* x);

// One token through the direct kernel; rows_per_warp 4 or 2.
cudaError_t launch_matvec_float_direct(const MatmulGroup& group, TensorType type, int64_t n,
                                       const float* x, int rows_per_warp, cudaStream_t stream);

}  // namespace tokamak::cuda
