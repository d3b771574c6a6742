// Writes k, v (num_tokens, kv_dim) fp32 of the step's tokens into one
// layer's fp16 pool at their (block, slot) through the block tables.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/paged_kv.cuh"

namespace tokamak::cuda {

cudaError_t launch_kv_store(const PagedKv& kv, const float* k, const float* v, int64_t num_tokens,
                            __half* k_pool, __half* v_pool, cudaStream_t stream);

}  // namespace tokamak::cuda
