// The batched (prefill) product y (num_tokens, rows) = x (num_tokens, n) · W^T
// for many tokens, on the tensor cores through cublasGemmEx, fp32
// accumulation and fp32 output:
//   F16 weights:  used as stored; x converted to fp16
//   BF16 weights: used as stored (bf16 GEMM); x converted to bf16
//   quantized:    dequantized to fp16 in slabs of rows that fit a fixed
//                 scratch; x converted to fp16
//   F32 weights:  SGEMM as stored (no TF32), x as is
// Steps of fewer than min_tokens(type) tokens use the matmul kernels instead;
// the defaults come from `tokamak-cli bench --device cuda`'s sweep on an
// H200 (llama2-7b, whole steps of n tokens): F16 GEMM 6.9 ms vs matmul 8.4 ms
// already at n = 1 (cuBLAS reads fp16 weights faster than the matvec kernel
// at this commit; flip it back when the sweep says otherwise); Q4_K_M GEMM
// (dequantization included) 16.7 ms vs 24.0 ms at n = 8, but 16.7 vs 12.2
// at n = 4. BF16 stays on the matvec for one token (bf16 activations cost
// accuracy, and it was not measured).
// F16 / BF16 weights with 2 .. skinny_max_tokens() tokens can take the
// skinny GEMM instead (skinny_gemm.cuh: one launch per group); off by
// default (0): on the H200 it lost to cuBLAS on the 7B shapes at 64 tokens
// (whole step 7.72 vs 6.31 ms at 64 decodes) and won only q/k/v at <= 32
// (engine/cuda/NOTES.md "Skinny GEMM"). TOKAMAK_SKINNY_MAX_TOKENS=N (read
// by init) turns it on for comparisons.
// A group of F16/BF16 weights of one shape whose matrices and outputs lie
// at equal distances (q/k/v of MHA models and gate/up: the weights are
// placed in that order, the step's buffers too) is one strided-batched GEMM
// instead of one GEMM per weight: at 64 tokens cuBLAS reads the three 4096 x
// 4096 q/k/v matrices as one call at the rate it reads one 11008-row matrix
// (H200 llama2-7b: separate q/k/v 37.5 us = 2.6 TB/s, one gate 26.8 us = 3.4
// TB/s). TOKAMAK_GEMM_BATCHED=0 (read by init) keeps one call per weight.
// cuBLAS gets a fixed workspace, so the calls can be captured in a graph.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "core/result.h"
#include "cuda/device_memory.h"
#include "cuda/matmul.cuh"
#include "cuda/skinny_gemm.cuh"

namespace tokamak::cuda {

class PrefillGemm {
 public:
  // Measured defaults (see above); F32 (SGEMM) was not measured.
  static int64_t default_min_tokens(TensorType type);
  // 16 MiB slabs (to stay in L2 between the dequantization and the GEMM)
  // were slower on the H200: 4x the launches, each GEMM too small
  // (llama2-7b Q4_K_M pp512 15.0k -> 11.1k tok/s).
  static constexpr size_t kSlabBytes = size_t{64} << 20;
  static constexpr size_t kCublasWorkspaceBytes = size_t{32} << 20;

  PrefillGemm() = default;
  ~PrefillGemm();
  PrefillGemm(const PrefillGemm&) = delete;
  PrefillGemm& operator=(const PrefillGemm&) = delete;

  // Device bytes init allocates for steps of up to max_tokens tokens and rows
  // of up to max_row_length values.
  static size_t scratch_bytes(int64_t max_tokens, int64_t max_row_length);

  // Creates the cuBLAS handle on `stream` and the scratch buffers.
  Status init(cudaStream_t stream, int64_t max_tokens = 64, int64_t max_row_length = 4096);
  // Destroys the handle (before its stream goes).
  void release();

  // n > 0: every type from n tokens on; 0: default_min_tokens per type.
  void set_min_tokens(int64_t n) { min_tokens_ = n < 0 ? 0 : n; }
  int64_t min_tokens(TensorType type) const {
    return min_tokens_ > 0 ? min_tokens_ : default_min_tokens(type);
  }
  // Float-weight GEMMs of at most n tokens take the skinny GEMM (0: never;
  // capped at kSkinnyMaxTokens). Default kDefaultSkinnyMaxTokens.
  static constexpr int64_t kDefaultSkinnyMaxTokens = 0;
  void set_skinny_max_tokens(int64_t n) {
    skinny_max_tokens_ = std::clamp<int64_t>(n, 0, kSkinnyMaxTokens);
  }
  int64_t skinny_max_tokens() const { return skinny_max_tokens_; }
  // Whether a group of equally spaced weights and outputs is one
  // strided-batched GEMM (default true).
  void set_batched_groups(bool on) { batched_groups_ = on; }
  // The step size the GEMM-or-matmul choice is made for (0: each call's
  // num_tokens). A decode step sets its graph bucket, so that it takes the
  // same path with graphs on or off.
  void set_decision_tokens(int64_t n) { decision_tokens_ = n; }

  // y = x · W^T on the stream: GEMM when the step has at least
  // min_tokens(type) tokens, else the matmul kernel.
  // x_converted: the kernel that produced x also wrote it to
  // converted_x(w.type, ...), which the GEMM then reads without converting.
  Status run(const MatmulWeight& w, const float* x, int64_t num_tokens, float* y,
             bool x_converted = false);
  // The same for several weights on one x: one grouped matmul launch when
  // the step is small and the weights share type and row length; x is
  // converted once for the GEMMs (not at all when x_converted: written to
  // converted_x(weights[0].type, ...)).
  Status run_group(const MatmulWeight* weights, float* const* ys, int count, const float* x,
                   int64_t num_tokens, bool x_converted = false);

  // Where the kernel producing x (num_tokens rows of row_length) for
  // products with weights of `type` may write x in the GEMM's input type
  // (fp16, or bf16 when converts_to_bf16(type)) and so save the conversion
  // pass: nullptr when such a product takes fp32 x (the matmul kernel,
  // F32's SGEMM) or x does not fit the buffer.
  void* converted_x(TensorType type, int64_t num_tokens, int64_t row_length) const;
  static bool converts_to_bf16(TensorType type) { return type == TensorType::BF16; }

 private:
  // x converted for w's GEMM (fp16 or bf16); x itself for F32 weights.
  Result<const void*> convert_x(const MatmulWeight& w, const float* x, int64_t num_tokens);
  Status gemm(const MatmulWeight& w, const void* xc, int64_t num_tokens, float* y);
  // ys[g] = xc · weights[g]^T: one skinny launch where it applies, else one
  // strided-batched GEMM where batched_strides finds equal distances, else
  // gemm per weight.
  Status products(const MatmulWeight* weights, float* const* ys, int count, const void* xc,
                  int64_t num_tokens);
  // Whether x16_, converted for weights of type `from`, serves a GEMM of
  // weights of type `to` as it is (both converted, to the same format).
  // The distances (in elements) between consecutive weights and outputs of
  // a group that one strided-batched GEMM can take; false otherwise.
  bool batched_strides(const MatmulWeight* weights, float* const* ys, int count, int64_t& stride_w,
                       int64_t& stride_y) const;
  static bool same_conversion(TensorType from, TensorType to) {
    return from != TensorType::F32 && to != TensorType::F32 &&
           converts_to_bf16(from) == converts_to_bf16(to);
  }

  cudaStream_t stream_ = nullptr;
  cublasHandle_t handle_ = nullptr;
  bool use_gemm(TensorType type, int64_t num_tokens) const {
    return std::max(num_tokens, decision_tokens_) >= min_tokens(type);
  }

  int64_t min_tokens_ = 0;
  int64_t decision_tokens_ = 0;
  int64_t skinny_max_tokens_ = kDefaultSkinnyMaxTokens;
  bool batched_groups_ = true;  // TOKAMAK_GEMM_BATCHED=0: off
  int64_t max_elements_ = 0;    // of x
  DeviceMemory slab_;           // dequantized fp16 weight rows
  DeviceMemory x16_;            // x in fp16 or bf16
  DeviceMemory workspace_;      // cuBLAS
  DeviceMemory skinny_;         // stream-k partials, then tile counters
};

}  // namespace tokamak::cuda
