#include "cuda/common.cuh"
#include "cuda/rope.cuh"

namespace tokamak::cuda {
namespace {

// One block per token; threads over (head, pair).
__global__ void rope_kernel(bool neox, const int32_t* positions, const float* inv_freq,
                            int32_t rope_dim, int32_t head_dim, int32_t num_heads, float* x) {
  const int64_t t = blockIdx.x;
  const int32_t num_pairs = rope_dim / 2;
  const int32_t partner = neox ? num_pairs : 1;
  const int32_t step = neox ? 1 : 2;
  const double pos = positions[t];
  for (int32_t k = threadIdx.x; k < num_heads * num_pairs; k += blockDim.x) {
    const int32_t h = k / num_pairs, i = k % num_pairs;
    double s, c;
    sincos(pos * static_cast<double>(inv_freq[i]), &s, &c);
    const float cf = static_cast<float>(c), sf = static_cast<float>(s);
    float* a = x + (t * num_heads + h) * head_dim + i * step;
    float* b = a + partner;
    const float a0 = *a, b0 = *b;
    *a = a0 * cf - b0 * sf;
    *b = a0 * sf + b0 * cf;
  }
}

// One block per token; a thread per pair.
__global__ void rope_table_kernel(const int32_t* positions, const float* inv_freq,
                                  int32_t num_pairs, float2* cos_sin) {
  const int64_t t = blockIdx.x;
  const double pos = positions[t];
  for (int32_t i = threadIdx.x; i < num_pairs; i += blockDim.x) {
    double s, c;
    sincos(pos * static_cast<double>(inv_freq[i]), &s, &c);
    cos_sin[t * num_pairs + i] = make_float2(static_cast<float>(c), static_cast<float>(s));
  }
}

}  // namespace

cudaError_t launch_rope_table(const int32_t* positions, const float* inv_freq, int32_t num_pairs,
                              int64_t num_tokens, float2* cos_sin, cudaStream_t stream) {
  if (num_tokens == 0 || num_pairs == 0) return cudaSuccess;
  const int threads = num_pairs >= 128 ? 128 : (num_pairs + 31) / 32 * 32;
  rope_table_kernel<<<num_tokens, threads, 0, stream>>>(positions, inv_freq, num_pairs, cos_sin);
  return cudaGetLastError();
}

cudaError_t launch_rope(bool neox, const int32_t* positions, const float* inv_freq,
                        int32_t rope_dim, int32_t head_dim, int32_t num_heads, int64_t num_tokens,
                        float* x, cudaStream_t stream) {
  if (num_tokens == 0) return cudaSuccess;
  rope_kernel<<<num_tokens, 128, 0, stream>>>(neox, positions, inv_freq, rope_dim, head_dim,
                                              num_heads, x);
  return cudaGetLastError();
}

}  // namespace tokamak::cuda
