// Causal multi-head attention over the paged KV pool (grouped-query aware).
//
// For token t of sequence s at position p, head h (kv head kh = h / group,
// group = num_heads / num_kv_heads):
//   score[j] = q[t,h] . K[j, kh] / sqrt(head_dim)     for j in [0, p]
//   out[t,h] = sum_j softmax(score)[j] * V[j, kh]
// where K[j] / V[j] live at block_table[j / block_size], slot j % block_size
// of s's block table. Softmax is max-subtracted, in fp32.
#pragma once

#include <cstdint>
#include <span>

#include "backend/backend.h"

namespace tokamak {
class ThreadPool;
}

namespace tokamak::cpu {

struct AttentionShape {
  int32_t num_heads = 0;
  int32_t num_kv_heads = 0;
  int32_t head_dim = 0;
  int32_t block_size = 0;
};

struct AttentionInputs {
  const float* q = nullptr;            // (num_tokens, num_heads, head_dim)
  const float* k_pool = nullptr;       // (num_blocks, block_size, num_kv_heads, head_dim)
  const float* v_pool = nullptr;       // same layout as k_pool
  std::span<const int32_t> positions;  // (num_tokens)
  std::span<const int32_t> token_seq;  // (num_tokens) index into sequences
  std::span<const StepSequence> sequences;
};

// out (num_tokens, num_heads, head_dim). scores: a workspace of
// pool.num_threads() rows of max_positions floats; every position must be
// < max_positions. Preconditions (checked by the backend): block tables cover
// every position and hold valid block ids.
void attention(ThreadPool& pool, const AttentionShape& shape, const AttentionInputs& in, float* out,
               float* scores, int64_t max_positions);

}  // namespace tokamak::cpu
