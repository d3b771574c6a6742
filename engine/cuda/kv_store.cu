#include "cuda/common.cuh"
#include "cuda/kv_store.cuh"

namespace tokamak::cuda {
namespace {

// One block per token; fp32 -> fp16 (round to nearest even).
__global__ void kv_store_kernel(PagedKv kv, const float* k, const float* v, __half* k_pool,
                                __half* v_pool) {
  const int64_t t = blockIdx.x;
  const int32_t pos = kv.positions[t];
  const int64_t block = kv.tables[kv.table_start[kv.token_seq[t]] + pos / kv.block_size];
  const int64_t off = (block * kv.block_size + pos % kv.block_size) * kv.kv_dim;
  for (int32_t i = threadIdx.x; i < kv.kv_dim; i += blockDim.x) {
    k_pool[off + i] = __float2half_rn(k[t * kv.kv_dim + i]);
    v_pool[off + i] = __float2half_rn(v[t * kv.kv_dim + i]);
  }
}

}  // namespace

cudaError_t launch_kv_store(const PagedKv& kv, const float* k, const float* v, int64_t num_tokens,
                            __half* k_pool, __half* v_pool, cudaStream_t stream) {
  if (num_tokens == 0) return cudaSuccess;
  kv_store_kernel<<<num_tokens, 128, 0, stream>>>(kv, k, v, k_pool, v_pool);
  return cudaGetLastError();
}

}  // namespace tokamak::cuda
