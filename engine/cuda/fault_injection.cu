#include "cuda/fault_injection.cuh"

namespace tokamak::cuda {
namespace {

__global__ void never_runs() {}

}  // namespace

cudaError_t launch_invalid_configuration(cudaStream_t stream) {
  never_runs<<<1, 4096, 0, stream>>>();
  return cudaGetLastError();
}

}  // namespace tokamak::cuda
