// Weight rows dequantized on the device, and activations converted, for the
// prefill GEMM:
//   out (num_rows, n) = dequantize(W[row_begin .. row_begin + num_rows))
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/matmul.cuh"

namespace tokamak::cuda {

// To fp32. cudaErrorInvalidValue for types the kernels do not handle.
cudaError_t launch_dequantize(const MatmulWeight& w, int64_t row_begin, int64_t num_rows,
                              float* out, cudaStream_t stream);

// To fp16 (round to nearest even); `out` holds num_rows * n halves.
cudaError_t launch_dequantize_f16(const MatmulWeight& w, int64_t row_begin, int64_t num_rows,
                                  void* out, cudaStream_t stream);

// out[i] = x[i] rounded to bf16 (bf16 true) or fp16, i < count.
cudaError_t launch_convert_activations(const float* x, int64_t count, bool bf16, void* out,
                                       cudaStream_t stream);

}  // namespace tokamak::cuda
