#include "cuda/common.cuh"
#include "cuda/rms_norm.cuh"

namespace tokamak::cuda {
namespace {

constexpr int kThreads = 256;

// One block per output row.
__global__ void rms_norm_kernel(float* x, const float* delta, const int32_t* rows,
                                const float* weight, float* y, int64_t dim, float eps) {
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
  // Each thread reads back only the values it wrote itself.
  for (int64_t k = threadIdx.x; k < dim; k += blockDim.x)
    y[i * dim + k] = xr[k] * scale * weight[k];
}

}  // namespace

cudaError_t launch_rms_norm(float* x, const float* delta, const int32_t* rows, const float* weight,
                            float* y, int64_t num_rows, int64_t dim, float eps,
                            cudaStream_t stream) {
  if (num_rows == 0) return cudaSuccess;
  rms_norm_kernel<<<num_rows, kThreads, 0, stream>>>(x, delta, rows, weight, y, dim, eps);
  return cudaGetLastError();
}

}  // namespace tokamak::cuda
