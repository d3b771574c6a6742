#include <cstdint>

#include "cuda/common.cuh"
#include "cuda/converted_store.cuh"
#include "cuda/rms_norm.cuh"

namespace tokamak::cuda {
namespace {

constexpr int kThreads = 256;
// Rows of up to kThreads * 4 * kMaxVec values take the register kernel.
constexpr int kMaxVec = 16;

__device__ __forceinline__ float4 add4(float4 a, float4 b) {
  return make_float4(a.x + b.x, a.y + b.y, a.z + b.z, a.w + b.w);
}

// One block per output row, the row in registers: thread t owns float4s
// t, t + kThreads, ... (at most kVec of them). Every load of x, delta and
// weight is issued before the first use, so a row costs one memory round
// trip, a block reduction, and the stores. dim % 4 == 0, 16-byte aligned.
template <int kVec>
__global__ void __launch_bounds__(kThreads)
    rms_norm_vec_kernel(float* x, const float* delta, const int32_t* rows, const float* weight,
                        float* y, int64_t dim, float eps, void* y16, bool bf16) {
  __shared__ float scratch[kWarpSize];
  const int64_t i = blockIdx.x;
  const int64_t r = rows ? rows[i] : i;
  const int64_t num_vec = dim / 4;
  float4* xr = reinterpret_cast<float4*>(x + r * dim);
  const float4* dr = delta ? reinterpret_cast<const float4*>(delta + r * dim) : nullptr;
  const float4* w4 = reinterpret_cast<const float4*>(weight);
  float4 v[kVec], w[kVec], d[kVec];
#pragma unroll
  for (int j = 0; j < kVec; ++j) {
    const int64_t k = threadIdx.x + j * kThreads;
    if (k < num_vec) {
      v[j] = xr[k];
      w[j] = w4[k];
      if (dr) d[j] = dr[k];
    }
  }
  if (dr) {  // the stores after every load (x and delta may alias as far as the compiler knows)
#pragma unroll
    for (int j = 0; j < kVec; ++j) {
      const int64_t k = threadIdx.x + j * kThreads;
      if (k < num_vec) {
        v[j] = add4(v[j], d[j]);
        xr[k] = v[j];
      }
    }
  }
  float sum_sq = 0.0f;
#pragma unroll
  for (int j = 0; j < kVec; ++j)
    if (threadIdx.x + j * kThreads < num_vec)
      sum_sq += v[j].x * v[j].x + v[j].y * v[j].y + v[j].z * v[j].z + v[j].w * v[j].w;
  sum_sq = block_sum(sum_sq, scratch);
  const float scale = rsqrtf(sum_sq / static_cast<float>(dim) + eps);
  float4* yr = reinterpret_cast<float4*>(y + i * dim);
#pragma unroll
  for (int j = 0; j < kVec; ++j) {
    const int64_t k = threadIdx.x + j * kThreads;
    if (k < num_vec) {
      const float4 out = make_float4(v[j].x * scale * w[j].x, v[j].y * scale * w[j].y,
                                     v[j].z * scale * w[j].z, v[j].w * scale * w[j].w);
      yr[k] = out;
      if (y16) store_converted4(y16, i * dim + 4 * k, out, bf16);
    }
  }
}

// Any dim and alignment: two passes over the row (the second reads back
// only what this thread wrote itself).
__global__ void rms_norm_kernel(float* x, const float* delta, const int32_t* rows,
                                const float* weight, float* y, int64_t dim, float eps, void* y16,
                                bool bf16) {
  __shared__ float scratch[kWarpSize];
  const int64_t i = blockIdx.x;
  const int64_t r = rows ? rows[i] : i;
  float* xr = x + r * dim;
  float sum_sq = 0.0f;
  for (int64_t k = threadIdx.x; k < dim; k += blockDim.x) {
    float v = xr[k];
    if (delta) {
      v += delta[r * dim + k];
      xr[k] = v;
    }
    sum_sq += v * v;
  }
  sum_sq = block_sum(sum_sq, scratch);
  const float scale = rsqrtf(sum_sq / static_cast<float>(dim) + eps);
  for (int64_t k = threadIdx.x; k < dim; k += blockDim.x) {
    const float out = xr[k] * scale * weight[k];
    y[i * dim + k] = out;
    if (y16) store_converted(y16, i * dim + k, out, bf16);
  }
}

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }

template <int kVec>
void launch_vec(float* x, const float* delta, const int32_t* rows, const float* weight, float* y,
                int64_t num_rows, int64_t dim, float eps, cudaStream_t stream, void* y16,
                bool bf16) {
  rms_norm_vec_kernel<kVec>
      <<<num_rows, kThreads, 0, stream>>>(x, delta, rows, weight, y, dim, eps, y16, bf16);
}

}  // namespace

cudaError_t launch_rms_norm(float* x, const float* delta, const int32_t* rows, const float* weight,
                            float* y, int64_t num_rows, int64_t dim, float eps, cudaStream_t stream,
                            void* y16, bool y16_bf16) {
  if (num_rows == 0) return cudaSuccess;
  const int64_t per_thread = (dim / 4 + kThreads - 1) / kThreads;  // float4s
  const bool vec = dim % 4 == 0 && per_thread <= kMaxVec && aligned16(x) && aligned16(y) &&
                   aligned16(weight) && (!delta || aligned16(delta)) &&
                   (reinterpret_cast<uintptr_t>(y16) & 7) == 0;
  if (!vec) {
    rms_norm_kernel<<<num_rows, kThreads, 0, stream>>>(x, delta, rows, weight, y, dim, eps, y16,
                                                       y16_bf16);
  } else if (per_thread <= 1) {
    launch_vec<1>(x, delta, rows, weight, y, num_rows, dim, eps, stream, y16, y16_bf16);
  } else if (per_thread <= 2) {
    launch_vec<2>(x, delta, rows, weight, y, num_rows, dim, eps, stream, y16, y16_bf16);
  } else if (per_thread <= 4) {
    launch_vec<4>(x, delta, rows, weight, y, num_rows, dim, eps, stream, y16, y16_bf16);
  } else if (per_thread <= 8) {
    launch_vec<8>(x, delta, rows, weight, y, num_rows, dim, eps, stream, y16, y16_bf16);
  } else {
    launch_vec<kMaxVec>(x, delta, rows, weight, y, num_rows, dim, eps, stream, y16, y16_bf16);
  }
  return cudaGetLastError();
}

}  // namespace tokamak::cuda
