#include "cuda/common.cuh"
#include "cuda/residual_add.cuh"

namespace tokamak::cuda {
namespace {

__global__ void residual_add_kernel(float* x, const float* y, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    x[i] += y[i];
}

}  // namespace

cudaError_t launch_residual_add(float* x, const float* y, int64_t n, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  const int64_t blocks = (n + 255) / 256;
  residual_add_kernel<<<static_cast<unsigned>(blocks < 65535 ? blocks : 65535), 256, 0, stream>>>(
      x, y, n);
  return cudaGetLastError();
}

}  // namespace tokamak::cuda
