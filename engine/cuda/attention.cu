#include <cmath>

#include "cuda/attention.cuh"
#include "cuda/attention_kernels.cuh"

namespace tokamak::cuda {

size_t attention_scratch_bytes(int32_t num_heads, int32_t head_dim) {
  // Per (token, head, split): head_dim output values, max and sum.
  return static_cast<size_t>(kMaxSplitTokens) * num_heads * kAttentionSplits * (head_dim + 2) *
         sizeof(float);
}

cudaError_t launch_attention(const PagedKv& kv, const float* q, const __half* k_pool,
                             const __half* v_pool, int32_t num_heads, int32_t num_kv_heads,
                             int32_t head_dim, int64_t num_tokens, float* scratch, float* out,
                             cudaStream_t stream) {
  if (num_tokens == 0) return cudaSuccess;
  if (head_dim <= 0 || head_dim > kMaxAttentionHeadDim || head_dim % 4 != 0 || num_kv_heads <= 0 ||
      num_heads % num_kv_heads != 0)
    return cudaErrorInvalidValue;
  AttentionArgs a;
  a.kv = kv;
  a.q = q;
  a.k_pool = k_pool;
  a.v_pool = v_pool;
  a.num_heads = num_heads;
  a.group = num_heads / num_kv_heads;
  a.head_dim = head_dim;
  a.scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  a.out = out;
  if (scratch && num_tokens <= kMaxSplitTokens && a.group <= kMaxSplitGroup)
    return launch_attention_split(a, num_kv_heads, num_tokens, scratch, stream);
  if (attention_mma_supports(a)) return launch_attention_mma(a, num_kv_heads, num_tokens, stream);
  return launch_attention_tiled(a, num_kv_heads, num_tokens, stream);
}

}  // namespace tokamak::cuda
