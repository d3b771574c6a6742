// Dequantization of weight rows to fp32 on the device (for the prefill GEMM):
//   out (num_rows, n) = dequantize(W[row_begin .. row_begin + num_rows))
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/matmul.cuh"

namespace tokamak::cuda {

// cudaErrorInvalidValue for types the kernels do not handle.
cudaError_t launch_dequantize(const MatmulWeight& w, int64_t row_begin, int64_t num_rows,
                              float* out, cudaStream_t stream);

}  // namespace tokamak::cuda
