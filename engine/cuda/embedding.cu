#include "cuda/common.cuh"
#include "cuda/embedding.cuh"

namespace tokamak::cuda {
namespace {

// One block per token; thread i dequantizes chunks i, i + blockDim.x, ...
template <TensorType T>
__global__ void embedding_kernel(const uint8_t* table, size_t row_bytes, int64_t dim,
                                 const int32_t* tokens, float* x) {
  const int64_t t = blockIdx.x;
  const uint8_t* row = table + static_cast<int64_t>(tokens[t]) * row_bytes;
  float* out = x + t * dim;
  float w[kChunk];
  for (int64_t c = threadIdx.x; c < num_chunks(dim); c += blockDim.x) {
    load_chunk<T>(row, c, dim, w);
#pragma unroll
    for (int i = 0; i < kChunk; ++i)
      if (c * kChunk + i < dim) out[c * kChunk + i] = w[i];
  }
}

}  // namespace

cudaError_t launch_embedding(TensorType type, const void* table, size_t row_bytes, int64_t dim,
                             const int32_t* tokens, int64_t num_tokens, float* x,
                             cudaStream_t stream) {
  if (num_tokens == 0) return cudaSuccess;
  const bool ok = dispatch_weight_type(type, [&](auto tag) {
    constexpr TensorType T = decltype(tag)::value;
    embedding_kernel<T><<<num_tokens, 128, 0, stream>>>(static_cast<const uint8_t*>(table),
                                                        row_bytes, dim, tokens, x);
  });
  if (!ok) return cudaErrorInvalidValue;
  return cudaGetLastError();
}

}  // namespace tokamak::cuda
