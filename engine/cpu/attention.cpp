#include "cpu/attention.h"

#include <atomic>
#include <cmath>

#include "cpu/parallel.h"
#include "cpu/simd_f32.h"

namespace tokamak::cpu {
namespace {

// One (token, head) pair: scores over [0, pos], softmax, weighted V sum.
void attend_one(const AttentionShape& shape, const AttentionInputs& in, int64_t t, int32_t h,
                float* out, float* scores) {
  const int32_t head_dim = shape.head_dim;
  const int32_t kv_dim = shape.num_kv_heads * head_dim;
  const int32_t kh = h / (shape.num_heads / shape.num_kv_heads);
  const int32_t pos = in.positions[t];
  const std::span<const int32_t> table = in.sequences[in.token_seq[t]].block_table;
  const float* q = in.q + (t * shape.num_heads + h) * head_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));

  // Offset of position j's kv head kh within a layer pool: (block, slot, kh).
  auto kv_offset = [&](int32_t j) {
    const int64_t block = table[j / shape.block_size];
    return (block * shape.block_size + j % shape.block_size) * kv_dim + kh * head_dim;
  };

  float max_score = -INFINITY;
  for (int32_t j = 0; j <= pos; ++j) {
    const float s = dot_f32(q, in.k_pool + kv_offset(j), head_dim) * scale;
    scores[j] = s;
    if (s > max_score) max_score = s;
  }
  float sum = 0.0f;
  for (int32_t j = 0; j <= pos; ++j) {
    scores[j] = std::exp(scores[j] - max_score);
    sum += scores[j];
  }
  float* o = out + (t * shape.num_heads + h) * head_dim;
  for (int32_t d = 0; d < head_dim; ++d) o[d] = 0.0f;
  const float inv_sum = 1.0f / sum;
  for (int32_t j = 0; j <= pos; ++j)
    axpy_f32(scores[j] * inv_sum, in.v_pool + kv_offset(j), o, head_dim);
}

}  // namespace

void attention(ThreadPool& pool, const AttentionShape& shape, const AttentionInputs& in, float* out,
               float* scores, int64_t max_positions) {
  const int64_t num_items = static_cast<int64_t>(in.positions.size()) * shape.num_heads;
  if (num_items == 0) return;
  // Items differ in cost (later positions attend further), so threads take
  // them one at a time from a shared counter.
  // Tiny steps (a few heads over a short context) run on the calling thread.
  int64_t num_scores = 0;
  for (int32_t pos : in.positions) num_scores += pos + 1;
  if (num_scores * shape.num_heads * shape.head_dim < 32768) {
    for (int64_t item = 0; item < num_items; ++item)
      attend_one(shape, in, item / shape.num_heads, static_cast<int32_t>(item % shape.num_heads),
                 out, scores);
    return;
  }
  std::atomic<int64_t> next{0};
  parallel_threads(pool, [&](int thread) {
    float* my_scores = scores + thread * max_positions;
    for (;;) {
      const int64_t item = next.fetch_add(1, std::memory_order_relaxed);
      if (item >= num_items) break;
      attend_one(shape, in, item / shape.num_heads, static_cast<int32_t>(item % shape.num_heads),
                 out, my_scores);
    }
  });
}

}  // namespace tokamak::cpu
