// One layer's attention inputs after the q/k/v products, in one launch:
//   q  += bq; q = rope(q)                  in place, fp32 (the attention's query)
//   K pool[slot(t)] = fp16(rope(k + bk))   through the block tables
//   V pool[slot(t)] = fp16(v + bv)
// The biases are optional (nullptr: none). rope as cpu::apply_rope (Normal:
// pairs (2i, 2i+1), Neox: (i, i + rope_dim/2); values past rope_dim kept),
// with the step's angles from launch_rope_table; fp16 rounding to nearest
// even. The same values as add_bias + rope (q and k) + kv_store, in one
// kernel instead of up to six.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/paged_kv.cuh"

namespace tokamak::cuda {

struct RopeKvArgs {
  bool neox = false;
  const float2* cos_sin = nullptr;  // (num_tokens, rope_dim / 2), launch_rope_table
  int32_t rope_dim = 0;             // even, <= head_dim
  int32_t head_dim = 0;
  int32_t num_heads = 0;
  int32_t num_kv_heads = 0;   // kv.kv_dim == num_kv_heads * head_dim
  float* q = nullptr;         // (num_tokens, num_heads * head_dim)
  const float* k = nullptr;   // (num_tokens, kv_dim)
  const float* v = nullptr;   // (num_tokens, kv_dim)
  const float* bq = nullptr;  // (num_heads * head_dim) or nullptr
  const float* bk = nullptr;  // (kv_dim) or nullptr
  const float* bv = nullptr;  // (kv_dim) or nullptr
  __half* k_pool = nullptr;   // one layer's pools (paged_kv.cuh)
  __half* v_pool = nullptr;
};

// cudaErrorInvalidValue when rope_dim is odd or exceeds head_dim, or kv.kv_dim
// is not num_kv_heads * head_dim.
cudaError_t launch_rope_kv_store(const PagedKv& kv, const RopeKvArgs& args, int64_t num_tokens,
                                 cudaStream_t stream);

}  // namespace tokamak::cuda
