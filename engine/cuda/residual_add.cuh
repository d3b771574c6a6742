// Residual connection: x (n) += y (n).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace tokamak::cuda {

cudaError_t launch_residual_add(float* x, const float* y, int64_t n, cudaStream_t stream);

}  // namespace tokamak::cuda
