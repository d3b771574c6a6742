// Writes k, v (num_tokens, kv_dim) of the step's tokens into one layer's
// pool at their (block, slot) through the block tables.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/paged_kv.cuh"

namespace tokamak::cuda {

cudaError_t launch_kv_store(const PagedKv& kv, const float* k, const float* v, int64_t num_tokens,
                            float* k_pool, float* v_pool, cudaStream_t stream);

}  // namespace tokamak::cuda
