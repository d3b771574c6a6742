// A real failing device call for the fault-state tests: a kernel launch with
// more threads per block than any device allows (CUDA 13 on an H200 answers
// cudaErrorInvalidValue; the context stays usable).
#pragma once

#include <cuda_runtime.h>

namespace tokamak::cuda {

cudaError_t launch_invalid_configuration(cudaStream_t stream);

}  // namespace tokamak::cuda
