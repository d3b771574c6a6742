// Rotary position embedding, in place on x (num_tokens, num_heads, head_dim):
//   Normal: pairs (2i, 2i+1)        Neox: pairs (i, i + rope_dim/2)
// angle = positions[t] * inv_freq[i], computed in double as the CPU does;
// inv_freq (rope_dim / 2) carries every scaling (freq factors, linear).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace tokamak::cuda {

// cos_sin (num_tokens, num_pairs): (cos, sin) of positions[t] * inv_freq[i],
// computed in double and rounded to float as the CPU's rope_angles, once per
// step for every layer's rope_kv_store.
cudaError_t launch_rope_table(const int32_t* positions, const float* inv_freq, int32_t num_pairs,
                              int64_t num_tokens, float2* cos_sin, cudaStream_t stream);

cudaError_t launch_rope(bool neox, const int32_t* positions, const float* inv_freq,
                        int32_t rope_dim, int32_t head_dim, int32_t num_heads, int64_t num_tokens,
                        float* x, cudaStream_t stream);

}  // namespace tokamak::cuda
