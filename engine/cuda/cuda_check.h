// Checking every CUDA runtime and cuBLAS call: a failure becomes an Error with code
// DeviceFault that names the call, the file and the line (as ggml's
// CUDA_CHECK does), but nothing aborts: the caller returns it and the
// backend moves to its faulted state.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "core/result.h"

namespace tokamak::cuda {

// "cudaMalloc(&p, bytes) failed at engine/cuda/x.cpp:12: out of memory (cudaErrorMemoryAllocation)"
Error cuda_error(cudaError_t code, const char* call, const char* file, int line);
Error cublas_error(cublasStatus_t code, const char* call, const char* file, int line);

}  // namespace tokamak::cuda

// Evaluates a call returning cudaError_t; on failure returns its Error.
#define TK_CUDA_TRY(call)                                                           \
  do {                                                                              \
    const cudaError_t tk_cuda_code_ = (call);                                       \
    if (tk_cuda_code_ != cudaSuccess)                                               \
      return ::tokamak::cuda::cuda_error(tk_cuda_code_, #call, __FILE__, __LINE__); \
  } while (0)

// The same for cuBLAS calls (cublasStatus_t).
#define TK_CUBLAS_TRY(call)                                                             \
  do {                                                                                  \
    const cublasStatus_t tk_cublas_code_ = (call);                                      \
    if (tk_cublas_code_ != CUBLAS_STATUS_SUCCESS)                                       \
      return ::tokamak::cuda::cublas_error(tk_cublas_code_, #call, __FILE__, __LINE__); \
  } while (0)
