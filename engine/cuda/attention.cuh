// Causal attention over the paged fp16 KV pool, online softmax in fp32:
//   out[t, h] = softmax_j(q[t, h] · K[j, kh] / sqrt(head_dim)) · V[j, kh],
//   j in [0, positions[t]] of the token's sequence, kh = h / (num_heads / num_kv_heads).
//
// Two kernels, chosen by the number of tokens only (so a captured decode
// graph stays valid for any positions and block tables):
//  - decode (num_tokens <= kMaxSplitTokens, scratch given): flash-decoding.
//    Each (token, KV head) pair's keys are cut into slices (how many slots
//    follows the token count; the slice lengths come from the positions in
//    device memory, slots past the end only mark themselves empty); a slice
//    serves all q heads of its KV head (K/V read once per group) and writes
//    a partial (max, sum, unnormalised output) that a second kernel merges
//    (with one slot per token the output directly). Head dims 64 / 128 with
//    enough pairs: one warp per slice streaming K/V chunks through shared
//    memory (attention_stream.cu); otherwise 128-thread blocks over 128-key
//    tiles (attention_decode.cu).
//  - prefill: tiles of (token, head) rows of one KV head against 64-key
//    tiles staged in shared memory, causal, per sequence of the tile (a tile
//    may mix sequences). Head dims 64 and 128 on tensor cores (fp16 Q, K, V
//    and P, fp32 accumulation and softmax; attention_prefill_mma.cu), other
//    dims fp32 SIMT (attention_prefill.cu).
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/paged_kv.cuh"

namespace tokamak::cuda {

inline constexpr int32_t kMaxAttentionHeadDim = 256;
inline constexpr int kAttentionSplits = 16;
inline constexpr int64_t kMaxSplitTokens = 256;  // batched decode of up to 256 sequences

// The decode path's geometry (benchmarks and tests; set before a graph is
// captured). Defaults from the environment at first use:
// TOKAMAK_CUDA_DECODE_KERNEL=split (the former kernel only), _SPLITS=N
// (fixed slots per token), _STAGES (2-4 per warp), _MIN_SLICE (positions),
// _MIN_PAIRS, _ONE_SLICE_PERCENT.
struct DecodeAttentionTuning {
  bool streaming = true;  // attention_stream.cu for head dims 64 / 128
  int splits = 0;         // 0: from the token count
  int stages = 0;         // 0: 3 for MHA, 2 for groups
  int min_slice = 64;     // a token's keys are cut into slices of at least this
  int min_pairs = 32;     // fewer (token, KV head) pairs (x4 for groups over 4): the split kernel
  int one_slice_percent = 90;  // one slice when the pairs fill this much of a wave
};
DecodeAttentionTuning& decode_attention_tuning();

// Scratch bytes the decode path needs (partials of kMaxSplitTokens tokens).
size_t attention_scratch_bytes(int32_t num_heads, int32_t head_dim);

// q, out: (num_tokens, num_heads, head_dim) fp32; pools of one layer, fp16,
// (num_blocks, block_size, kv_dim). scratch: attention_scratch_bytes() of
// device memory, or null (then every step takes the prefill kernel).
// cudaErrorInvalidValue when head_dim > kMaxAttentionHeadDim, head_dim is
// not a multiple of 4 or the heads do not group.
cudaError_t launch_attention(const PagedKv& kv, const float* q, const __half* k_pool,
                             const __half* v_pool, int32_t num_heads, int32_t num_kv_heads,
                             int32_t head_dim, int64_t num_tokens, float* scratch, float* out,
                             cudaStream_t stream);

}  // namespace tokamak::cuda
