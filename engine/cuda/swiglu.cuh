// SwiGLU: gate (n) = silu(gate) * up, silu(g) = g / (1 + exp(-g)).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace tokamak::cuda {

cudaError_t launch_swiglu(float* gate, const float* up, int64_t n, cudaStream_t stream);

}  // namespace tokamak::cuda
