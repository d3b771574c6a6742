#include <cstdint>

#include "cuda/common.cuh"
#include "cuda/converted_store.cuh"
#include "cuda/swiglu.cuh"

namespace tokamak::cuda {
namespace {

__device__ __forceinline__ float silu_mul(float g, float u) { return g / (1.0f + expf(-g)) * u; }

__global__ void swiglu_kernel(float* gate, const float* up, int64_t n, void* out16, bool bf16) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float v = silu_mul(gate[i], up[i]);
    gate[i] = v;
    if (out16) store_converted(out16, i, v, bf16);
  }
}

// n4 float4s, 16-byte aligned: one load of each input per thread.
__global__ void swiglu4_kernel(float4* gate, const float4* up, int64_t n4, void* out16, bool bf16) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n4;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float4 g = gate[i], u = up[i];
    const float4 v =
        make_float4(silu_mul(g.x, u.x), silu_mul(g.y, u.y), silu_mul(g.z, u.z), silu_mul(g.w, u.w));
    gate[i] = v;
    if (out16) store_converted4(out16, 4 * i, v, bf16);
  }
}

unsigned grid_for(int64_t count) {
  const int64_t blocks = (count + 255) / 256;
  return static_cast<unsigned>(blocks < 65535 ? blocks : 65535);
}

}  // namespace

cudaError_t launch_swiglu(float* gate, const float* up, int64_t n, cudaStream_t stream, void* out16,
                          bool out16_bf16) {
  if (n == 0) return cudaSuccess;
  const bool vec = n % 4 == 0 && (reinterpret_cast<uintptr_t>(gate) & 15) == 0 &&
                   (reinterpret_cast<uintptr_t>(up) & 15) == 0 &&
                   (reinterpret_cast<uintptr_t>(out16) & 7) == 0;
  if (vec) {
    swiglu4_kernel<<<grid_for(n / 4), 256, 0, stream>>>(reinterpret_cast<float4*>(gate),
                                                        reinterpret_cast<const float4*>(up), n / 4,
                                                        out16, out16_bf16);
  } else {
    swiglu_kernel<<<grid_for(n), 256, 0, stream>>>(gate, up, n, out16, out16_bf16);
  }
  return cudaGetLastError();
}

}  // namespace tokamak::cuda
