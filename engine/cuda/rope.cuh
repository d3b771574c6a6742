// Rotary position embedding, in place on x (num_tokens, num_heads, head_dim):
//   Normal: pairs (2i, 2i+1)        Neox: pairs (i, i + rope_dim/2)
// angle = positions[t] * inv_freq[i], computed in double as the CPU does;
// inv_freq (rope_dim / 2) carries every scaling (freq factors, linear).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace tokamak::cuda {

cudaError_t launch_rope(bool neox, const int32_t* positions, const float* inv_freq,
                        int32_t rope_dim, int32_t head_dim, int32_t num_heads, int64_t num_tokens,
                        float* x, cudaStream_t stream);

}  // namespace tokamak::cuda
