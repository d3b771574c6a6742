#include "cuda/prefill_gemm.h"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "cuda/cuda_check.h"
#include "cuda/dequantize.cuh"

namespace tokamak::cuda {

PrefillGemm::~PrefillGemm() { release(); }

void PrefillGemm::release() {
  if (handle_) cublasDestroy(handle_);
  handle_ = nullptr;
  slab_.reset();
  x16_.reset();
  workspace_.reset();
  skinny_.reset();
}

int64_t PrefillGemm::default_min_tokens(TensorType type) {
  switch (type) {
    case TensorType::F16:   // one token: the direct matvec (H200 llama2-7b f16 decode
    case TensorType::BF16:  // 229.5 tok/s against cuBLAS's 199.0, engine/cuda/NOTES.md)
      return 2;
    case TensorType::F32:
      return 16;
    default:
      return 8;  // block types: the dequantization pass costs a matmul's worth
  }
}

size_t PrefillGemm::scratch_bytes(int64_t max_tokens, int64_t max_row_length) {
  return kSlabBytes + kCublasWorkspaceBytes + kSkinnyPartialBytes + kSkinnyCounters * 4 +
         static_cast<size_t>(max_tokens) * static_cast<size_t>(max_row_length) * 2;
}

Status PrefillGemm::init(cudaStream_t stream, int64_t max_tokens, int64_t max_row_length) {
  stream_ = stream;
  // TOKAMAK_SKINNY_MAX_TOKENS=N: benchmarks compare the skinny GEMM's range
  // (0: cuBLAS for every F16 / BF16 GEMM).
  if (const char* e = std::getenv("TOKAMAK_SKINNY_MAX_TOKENS"))
    set_skinny_max_tokens(std::atoll(e));
  if (const char* e = std::getenv("TOKAMAK_GEMM_BATCHED")) batched_groups_ = std::atoi(e) != 0;
  max_elements_ = max_tokens * max_row_length;
  TK_CUBLAS_TRY(cublasCreate(&handle_));
  TK_CUBLAS_TRY(cublasSetStream(handle_, stream));
  TK_CUBLAS_TRY(cublasSetMathMode(handle_, CUBLAS_DEFAULT_MATH));  // no TF32 for F32 weights
  TK_TRY(workspace_.allocate(kCublasWorkspaceBytes, "the cuBLAS workspace"));
  TK_CUBLAS_TRY(cublasSetWorkspace(handle_, workspace_.get(), kCublasWorkspaceBytes));
  TK_TRY(x16_.allocate(static_cast<size_t>(max_elements_) * 2, "the fp16 activations"));
  TK_TRY(skinny_.allocate(kSkinnyPartialBytes + kSkinnyCounters * 4, "the skinny GEMM partials"));
  // The counters start at zero; every launch leaves them so.
  TK_CUDA_TRY(cudaMemset(skinny_.as<char>(kSkinnyPartialBytes), 0, kSkinnyCounters * 4));
  return slab_.allocate(kSlabBytes, "the prefill GEMM weight slabs");
}

Result<const void*> PrefillGemm::convert_x(const MatmulWeight& w, const float* x,
                                           int64_t num_tokens) {
  if (w.type == TensorType::F32) return static_cast<const void*>(x);
  const int64_t count = num_tokens * w.row_length;
  if (count > max_elements_)
    return make_error(ErrorCode::Unsupported, "prefill GEMM: " + std::to_string(num_tokens) +
                                                  " tokens of " + std::to_string(w.row_length) +
                                                  " values exceed the activation buffer");
  const bool bf16 = w.type == TensorType::BF16;
  TK_CUDA_TRY(launch_convert_activations(x, count, bf16, x16_.get(), stream_));
  return static_cast<const void*>(x16_.get());
}

// Column-major view: C (rows x T, ldc = rows) = W^T (rows x n) · x (n x T).
Status PrefillGemm::gemm(const MatmulWeight& w, const void* xc, int64_t num_tokens, float* y) {
  const int64_t n = w.row_length;
  const int m = static_cast<int>(w.rows), t = static_cast<int>(num_tokens), k = static_cast<int>(n);
  const float alpha = 1.0f, beta = 0.0f;
  if (w.type == TensorType::F32) {
    TK_CUBLAS_TRY(cublasSgemm(handle_, CUBLAS_OP_T, CUBLAS_OP_N, m, t, k, &alpha,
                              static_cast<const float*>(w.data), k, static_cast<const float*>(xc),
                              k, &beta, y, m));
    return {};
  }
  if (w.type == TensorType::F16 || w.type == TensorType::BF16) {
    const cudaDataType type = w.type == TensorType::F16 ? CUDA_R_16F : CUDA_R_16BF;
    TK_CUBLAS_TRY(cublasGemmEx(handle_, CUBLAS_OP_T, CUBLAS_OP_N, m, t, k, &alpha, w.data, type, k,
                               xc, type, k, &beta, y, CUDA_R_32F, m, CUBLAS_COMPUTE_32F,
                               CUBLAS_GEMM_DEFAULT));
    return {};
  }
  const int64_t slab_rows = std::max<int64_t>(1, static_cast<int64_t>(kSlabBytes / 2) / n);
  if (slab_rows * n * 2 > static_cast<int64_t>(kSlabBytes))
    return make_error(ErrorCode::Unsupported, "prefill GEMM: a row of " + std::to_string(n) +
                                                  " values exceeds the " +
                                                  std::to_string(kSlabBytes >> 20) + " MiB slab");
  for (int64_t r0 = 0; r0 < w.rows; r0 += slab_rows) {
    const int64_t num_rows = std::min(slab_rows, w.rows - r0);
    TK_CUDA_TRY(launch_dequantize_f16(w, r0, num_rows, slab_.get(), stream_));
    TK_CUBLAS_TRY(cublasGemmEx(handle_, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(num_rows), t, k,
                               &alpha, slab_.get(), CUDA_R_16F, k, xc, CUDA_R_16F, k, &beta, y + r0,
                               CUDA_R_32F, m, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  }
  return {};
}

Status PrefillGemm::products(const MatmulWeight* weights, float* const* ys, int count,
                             const void* xc, int64_t num_tokens) {
  if (std::max(num_tokens, decision_tokens_) <= skinny_max_tokens_ &&
      skinny_gemm_supports(weights, count, xc, num_tokens)) {
    const SkinnyWorkspace ws{skinny_.as<float>(), kSkinnyPartialBytes,
                             skinny_.as<unsigned>(kSkinnyPartialBytes), kSkinnyCounters};
    TK_CUDA_TRY(launch_skinny_gemm(weights, ys, count, xc, num_tokens, ws, stream_));
    return {};
  }
  int64_t stride_w = 0, stride_y = 0;
  if (batched_strides(weights, ys, count, stride_w, stride_y)) {
    const MatmulWeight& w = weights[0];
    const cudaDataType type = w.type == TensorType::F16 ? CUDA_R_16F : CUDA_R_16BF;
    const int m = static_cast<int>(w.rows), t = static_cast<int>(num_tokens),
              k = static_cast<int>(w.row_length);
    const float alpha = 1.0f, beta = 0.0f;
    TK_CUBLAS_TRY(cublasGemmStridedBatchedEx(
        handle_, CUBLAS_OP_T, CUBLAS_OP_N, m, t, k, &alpha, w.data, type, k, stride_w, xc, type, k,
        0, &beta, ys[0], CUDA_R_32F, m, stride_y, count, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    return {};
  }
  for (int g = 0; g < count; ++g) TK_TRY(gemm(weights[g], xc, num_tokens, ys[g]));
  return {};
}

bool PrefillGemm::batched_strides(const MatmulWeight* weights, float* const* ys, int count,
                                  int64_t& stride_w, int64_t& stride_y) const {
  const MatmulWeight& w0 = weights[0];
  if (!batched_groups_ || count < 2 || (w0.type != TensorType::F16 && w0.type != TensorType::BF16))
    return false;
  const auto* base = static_cast<const char*>(w0.data);
  const int64_t bytes_w = static_cast<const char*>(weights[1].data) - base;
  stride_w = bytes_w / 2;
  stride_y = ys[1] - ys[0];
  if (bytes_w <= 0 || bytes_w % 2 != 0 || stride_y <= 0) return false;
  for (int g = 1; g < count; ++g) {
    const MatmulWeight& w = weights[g];
    if (w.type != w0.type || w.rows != w0.rows || w.row_length != w0.row_length ||
        static_cast<const char*>(w.data) - base != g * bytes_w || ys[g] - ys[0] != g * stride_y)
      return false;
  }
  return true;
}

void* PrefillGemm::converted_x(TensorType type, int64_t num_tokens, int64_t row_length) const {
  if (type == TensorType::F32 || !use_gemm(type, num_tokens)) return nullptr;
  return num_tokens * row_length <= max_elements_ ? x16_.get() : nullptr;
}

Status PrefillGemm::run(const MatmulWeight& w, const float* x, int64_t num_tokens, float* y,
                        bool x_converted) {
  if (!use_gemm(w.type, num_tokens)) {
    TK_CUDA_TRY(launch_matmul(w, x, num_tokens, y, stream_));
    return {};
  }
  if (x_converted && w.type != TensorType::F32) return products(&w, &y, 1, x16_.get(), num_tokens);
  TK_ASSIGN(const void* xc, convert_x(w, x, num_tokens));
  return products(&w, &y, 1, xc, num_tokens);
}

Status PrefillGemm::run_group(const MatmulWeight* weights, float* const* ys, int count,
                              const float* x, int64_t num_tokens, bool x_converted) {
  bool same = true;
  for (int g = 1; g < count; ++g)
    same = same && weights[g].type == weights[0].type &&
           weights[g].row_length == weights[0].row_length;
  const bool to_gemm = use_gemm(weights[0].type, num_tokens);
  if (!to_gemm && same) {
    TK_CUDA_TRY(launch_matmul_group(weights, ys, count, x, num_tokens, stream_));
    return {};
  }
  if (!to_gemm || !same) {
    // x16_ holds x converted for weights[0].type until a GEMM of another
    // format converts x again into it.
    const TensorType converted_for = weights[0].type;
    for (int g = 0; g < count; ++g) {
      const TensorType t = weights[g].type;
      const bool reuse = x_converted && same_conversion(converted_for, t);
      if (x_converted && !reuse && t != TensorType::F32 && use_gemm(t, num_tokens))
        x_converted = false;
      TK_TRY(run(weights[g], x, num_tokens, ys[g], reuse));
    }
    return {};
  }
  // One conversion of x serves every weight of the group (same type and n).
  if (x_converted && weights[0].type != TensorType::F32)
    return products(weights, ys, count, x16_.get(), num_tokens);
  TK_ASSIGN(const void* xc, convert_x(weights[0], x, num_tokens));
  return products(weights, ys, count, xc, num_tokens);
}

}  // namespace tokamak::cuda
