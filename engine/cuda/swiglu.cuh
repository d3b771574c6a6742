// SwiGLU: gate (n) = silu(gate) * up, silu(g) = g / (1 + exp(-g)); also
// written to out16 (n) rounded to fp16 (bf16 when out16_bf16) when given (the
// down projection's converted x: PrefillGemm::converted_x).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace tokamak::cuda {

cudaError_t launch_swiglu(float* gate, const float* up, int64_t n, cudaStream_t stream,
                          void* out16 = nullptr, bool out16_bf16 = false);

}  // namespace tokamak::cuda
