#include "cuda/prefill_gemm.h"

#include <algorithm>
#include <string>

#include "cuda/cuda_check.h"
#include "cuda/dequantize.cuh"

namespace tokamak::cuda {

PrefillGemm::~PrefillGemm() { release(); }

void PrefillGemm::release() {
  if (handle_) cublasDestroy(handle_);
  handle_ = nullptr;
  scratch_.reset();
}

Status PrefillGemm::init(cudaStream_t stream) {
  stream_ = stream;
  TK_CUBLAS_TRY(cublasCreate(&handle_));
  TK_CUBLAS_TRY(cublasSetStream(handle_, stream));
  TK_CUBLAS_TRY(cublasSetMathMode(handle_, CUBLAS_DEFAULT_MATH));  // no TF32
  return scratch_.allocate(kScratchBytes, "the prefill GEMM scratch");
}

Status PrefillGemm::run(const MatmulWeight& w, const float* x, int64_t num_tokens, float* y) {
  if (num_tokens < kMinTokens) {
    TK_CUDA_TRY(launch_matmul(w, x, num_tokens, y, stream_));
    return {};
  }
  const int64_t n = w.row_length;
  const int64_t slab_rows =
      std::max<int64_t>(1, static_cast<int64_t>(kScratchBytes / sizeof(float)) / n);
  if (slab_rows * n * static_cast<int64_t>(sizeof(float)) > static_cast<int64_t>(kScratchBytes))
    return make_error(ErrorCode::Unsupported,
                      "prefill GEMM: a row of " + std::to_string(n) + " values exceeds the " +
                          std::to_string(kScratchBytes >> 20) + " MiB scratch");
  const float alpha = 1.0f, beta = 0.0f;
  for (int64_t r0 = 0; r0 < w.rows; r0 += slab_rows) {
    const int64_t num_rows = std::min(slab_rows, w.rows - r0);
    float* slab = scratch_.as<float>();
    TK_CUDA_TRY(launch_dequantize(w, r0, num_rows, slab, stream_));
    // Column-major view: C (rows x T, ldc = rows) = slab^T (rows x n) · x (n x T).
    TK_CUBLAS_TRY(cublasSgemm(handle_, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(num_rows),
                              static_cast<int>(num_tokens), static_cast<int>(n), &alpha, slab,
                              static_cast<int>(n), x, static_cast<int>(n), &beta, y + r0,
                              static_cast<int>(w.rows)));
  }
  return {};
}

Status PrefillGemm::run_group(const MatmulWeight* weights, float* const* ys, int count,
                              const float* x, int64_t num_tokens) {
  bool same = true;
  for (int g = 1; g < count; ++g)
    same = same && weights[g].type == weights[0].type &&
           weights[g].row_length == weights[0].row_length;
  if (num_tokens < kMinTokens && same) {
    TK_CUDA_TRY(launch_matmul_group(weights, ys, count, x, num_tokens, stream_));
    return {};
  }
  for (int g = 0; g < count; ++g) TK_TRY(run(weights[g], x, num_tokens, ys[g]));
  return {};
}

}  // namespace tokamak::cuda
