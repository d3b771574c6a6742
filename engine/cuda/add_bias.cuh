// Bias add: x (num_rows, dim) += bias (dim)   (qwen2's q/k/v biases).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace tokamak::cuda {

cudaError_t launch_add_bias(float* x, const float* bias, int64_t num_rows, int64_t dim,
                            cudaStream_t stream);

}  // namespace tokamak::cuda
