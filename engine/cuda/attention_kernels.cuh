// The two attention kernels behind launch_attention (attention.cuh), with
// the helpers they share. Internal to engine/cuda.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/paged_kv.cuh"

namespace tokamak::cuda {

struct AttentionArgs {
  PagedKv kv;
  const float* q = nullptr;  // (num_tokens, num_heads, head_dim)
  const __half* k_pool = nullptr;
  const __half* v_pool = nullptr;
  int32_t num_heads = 0, group = 0, head_dim = 0;
  float scale = 0.0f;  // 1 / sqrt(head_dim)
  float* out = nullptr;
};

// Pool offset (in halves) of position j's row of KV head kh, for the
// sequence whose block table starts at `table`.
__device__ __forceinline__ int64_t kv_row_offset(const PagedKv& kv, const int32_t* table, int32_t j,
                                                 int32_t kh, int32_t head_dim) {
  const int64_t block = table[j / kv.block_size];
  return (block * kv.block_size + j % kv.block_size) * kv.kv_dim +
         static_cast<int64_t>(kh) * head_dim;
}

// Flash-decoding (group <= kMaxSplitGroup, even head_dim): partials in
// scratch, then the merge.
inline constexpr int kMaxSplitGroup = 8;
cudaError_t launch_attention_split(const AttentionArgs& a, int32_t num_kv_heads, int64_t num_tokens,
                                   float* scratch, cudaStream_t stream);

// The split path's merge: out (tokens, heads, D) from the partials of
// slices [0, splits) (part_o (tokens, heads, kAttentionSplits, D)
// unnormalised, part_ml (.., 2) max and sum; a sum of 0 marks an empty slice).
cudaError_t launch_attention_merge(const float* part_o, const float* part_ml, int64_t num_tokens,
                                   int32_t num_heads, int32_t head_dim, int splits, float* out,
                                   cudaStream_t stream);

// Streaming flash-decoding (attention_stream.cu): head_dim 64 or 128, group
// <= kMaxSplitGroup, kv_dim a multiple of 8, 16-byte aligned pools, at
// least decode_attention_tuning().min_pairs (token, KV head) pairs (fewer
// are latency-bound: the split kernel's 4-warp blocks do better); the split
// path takes it unless decode_attention_tuning().streaming is off.
bool attention_stream_supports(const AttentionArgs& a, int32_t num_kv_heads, int64_t num_tokens);
cudaError_t launch_attention_stream(const AttentionArgs& a, int32_t num_kv_heads,
                                    int64_t num_tokens, float* scratch, cudaStream_t stream);

// Query x key tiles on tensor cores (attention_prefill_mma.cu): head_dim 64
// or 128, group <= 64, kv_dim a multiple of 8, 16-byte aligned pools, q, out.
bool attention_mma_supports(const AttentionArgs& a);
cudaError_t launch_attention_mma(const AttentionArgs& a, int32_t num_kv_heads, int64_t num_tokens,
                                 cudaStream_t stream);

// Query x key tiles, fp32 SIMT (any group <= 32, head_dim a multiple of 4).
cudaError_t launch_attention_tiled(const AttentionArgs& a, int32_t num_kv_heads, int64_t num_tokens,
                                   cudaStream_t stream);

}  // namespace tokamak::cuda
