// Rotary position embedding (RoPE).
//
// For pair i of a head (0 <= i < rope_dim / 2), angle = pos * inv_freq[i]:
//   (a, b) -> (a cos - b sin, a sin + b cos)
// where the pair is
//   RopeStyle::Normal: (x[2i], x[2i+1])                 adjacent (GGUF llama)
//   RopeStyle::Neox:   (x[i], x[i + rope_dim/2])        rotate-half (GGUF qwen2)
// Values past rope_dim in a head are left as they are.
#pragma once

#include <cstdint>
#include <span>

#include "model/model_spec.h"

namespace tokamak::cpu {

// cos_sin (num_tokens, rope_dim / 2, 2): cos and sin of each token's angles,
// computed once per step and shared by every layer and by q and k.
// inv_freq (rope_dim / 2).
void rope_angles(std::span<const float> inv_freq, std::span<const int32_t> positions,
                 float* cos_sin);

// x (num_tokens, num_heads, head_dim), rotated in place.
void apply_rope(RopeStyle style, const float* cos_sin, int32_t rope_dim, int32_t head_dim,
                int32_t num_heads, int64_t num_tokens, float* x);

}  // namespace tokamak::cpu
