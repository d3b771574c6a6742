#include "cpu/rope.h"

#include <cmath>

namespace tokamak::cpu {

void rope_angles(std::span<const float> inv_freq, std::span<const int32_t> positions,
                 float* cos_sin) {
  const size_t num_pairs = inv_freq.size();
  for (size_t t = 0; t < positions.size(); ++t) {
    float* out = cos_sin + t * num_pairs * 2;
    for (size_t i = 0; i < num_pairs; ++i) {
      const double angle = static_cast<double>(positions[t]) * inv_freq[i];
      out[2 * i] = static_cast<float>(std::cos(angle));
      out[2 * i + 1] = static_cast<float>(std::sin(angle));
    }
  }
}

void apply_rope(RopeStyle style, const float* cos_sin, int32_t rope_dim, int32_t head_dim,
                int32_t num_heads, int64_t num_tokens, float* x) {
  const int32_t num_pairs = rope_dim / 2;
  // Index distance between the two members of a pair, and between pairs.
  const int32_t partner = style == RopeStyle::Normal ? 1 : num_pairs;
  const int32_t step = style == RopeStyle::Normal ? 2 : 1;
  for (int64_t t = 0; t < num_tokens; ++t) {
    const float* cs = cos_sin + t * num_pairs * 2;
    for (int32_t h = 0; h < num_heads; ++h) {
      float* head = x + (t * num_heads + h) * head_dim;
      for (int32_t i = 0; i < num_pairs; ++i) {
        float* a = head + i * step;
        float* b = a + partner;
        const float c = cs[2 * i];
        const float s = cs[2 * i + 1];
        const float a0 = *a;
        const float b0 = *b;
        *a = a0 * c - b0 * s;
        *b = a0 * s + b0 * c;
      }
    }
  }
}

}  // namespace tokamak::cpu
