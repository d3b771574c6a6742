// The batched (prefill) product y (num_tokens, rows) = x (num_tokens, n) · W^T
// for many tokens: W is dequantized to fp32 in slabs of rows that fit a
// fixed scratch buffer, and each slab goes through cuBLAS SGEMM (fp32, no
// TF32, so results agree with the matmul kernel to fp32 rounding). Small
// steps (fewer than kMinTokens) use launch_matmul instead.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "core/result.h"
#include "cuda/device_memory.h"
#include "cuda/matmul.cuh"

namespace tokamak::cuda {

class PrefillGemm {
 public:
  static constexpr int64_t kMinTokens = 16;
  static constexpr size_t kScratchBytes = size_t{64} << 20;

  PrefillGemm() = default;
  ~PrefillGemm();
  PrefillGemm(const PrefillGemm&) = delete;
  PrefillGemm& operator=(const PrefillGemm&) = delete;

  // Creates the cuBLAS handle on `stream` and the scratch buffer.
  Status init(cudaStream_t stream);
  // Destroys the handle (before its stream goes).
  void release();

  // y = x · W^T on the stream: GEMM when num_tokens >= kMinTokens, else the
  // matmul kernel.
  Status run(const MatmulWeight& w, const float* x, int64_t num_tokens, float* y);
  // The same for several weights on one x: one grouped matmul launch when
  // the step is small and the weights share type and row length.
  Status run_group(const MatmulWeight* weights, float* const* ys, int count, const float* x,
                   int64_t num_tokens);

 private:
  cudaStream_t stream_ = nullptr;
  cublasHandle_t handle_ = nullptr;
  DeviceMemory scratch_;
};

}  // namespace tokamak::cuda
