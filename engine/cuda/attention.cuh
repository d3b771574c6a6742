// Causal attention over the paged KV pool, online softmax:
//   out[t, h] = softmax_j(q[t, h] · K[j, kh] / sqrt(head_dim)) · V[j, kh],
//   j in [0, positions[t]] of the token's sequence, kh = h / (num_heads / num_kv_heads).
//
// One block per (token, head), for decode and prefill alike: the keys are
// walked in tiles of 128 positions (thread i scores key i of the tile into
// shared memory), and each thread keeps its dimensions of the running output.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/paged_kv.cuh"

namespace tokamak::cuda {

inline constexpr int32_t kMaxAttentionHeadDim = 256;

// q, out: (num_tokens, num_heads, head_dim); pools of one layer.
// cudaErrorInvalidValue when head_dim > kMaxAttentionHeadDim.
cudaError_t launch_attention(const PagedKv& kv, const float* q, const float* k_pool,
                             const float* v_pool, int32_t num_heads, int32_t num_kv_heads,
                             int32_t head_dim, int64_t num_tokens, float* out, cudaStream_t stream);

}  // namespace tokamak::cuda
