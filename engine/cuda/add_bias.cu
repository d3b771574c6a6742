#include "cuda/add_bias.cuh"
#include "cuda/common.cuh"

namespace tokamak::cuda {
namespace {

__global__ void add_bias_kernel(float* x, const float* bias, int64_t dim) {
  float* row = x + blockIdx.x * dim;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) row[i] += bias[i];
}

}  // namespace

cudaError_t launch_add_bias(float* x, const float* bias, int64_t num_rows, int64_t dim,
                            cudaStream_t stream) {
  if (num_rows == 0) return cudaSuccess;
  add_bias_kernel<<<num_rows, 256, 0, stream>>>(x, bias, dim);
  return cudaGetLastError();
}

}  // namespace tokamak::cuda
