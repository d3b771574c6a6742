// The tensor-core GEMM for few tokens and F16 / BF16 weights (batched decode
// steps), one launch for a group of weights sharing x:
//   ys[g] (num_tokens, rows_g) = x (num_tokens, n) · W_g^T,   W_g (rows_g, n)
// x in fp16 (bf16 for BF16 weights), fp32 accumulation and output (ldc =
// rows_g, as cuBLAS's column-major view of the prefill GEMM).
//
// A block of 8 warps owns 128 weight rows x a tile of 16/32/64 tokens
// (tokens padded up inside, x rows past num_tokens read as zero; more than
// 64 tokens: several 64-token tiles, neighbours in the grid so that a weight
// tile is read from HBM once) and a range
// of the k-tiles (64 values each); W streams from HBM through a 3-4 stage
// cp.async pipeline (16 KiB of W per stage, XOR-swizzled shared memory),
// ldmatrix feeds mma.sync m16n8k16 with W as A (rows = M) and x as B.
// Matrices with few row tiles are split along k so that the grid fills the
// resident blocks once; each split writes its fp32 partial tile to the
// workspace and the block that finishes a tile last sums the partials in
// split order (deterministic whatever the finishing order) into y, then
// re-arms the tile's counter for the next launch. No allocation or
// synchronization in the launch: graph-capturable; the geometry depends only
// on the shapes and the token count.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "cuda/matmul.cuh"

namespace tokamak::cuda {

// Largest token count one launch takes (larger steps: cuBLAS).
inline constexpr int64_t kSkinnyMaxTokens = 256;

// The split-k scratch: fp32 partial tiles and per-tile counters (zeroed
// once when allocated; every launch leaves them zero).
struct SkinnyWorkspace {
  float* partials = nullptr;
  size_t partial_bytes = 0;
  unsigned* counters = nullptr;
  int64_t num_counters = 0;
};
inline constexpr size_t kSkinnyPartialBytes = size_t{32} << 20;
inline constexpr int64_t kSkinnyCounters = 8192;

// Whether one launch can take these weights (up to kMaxMatmulGroup, same
// type F16 or BF16, same n, n % 8 == 0, 16-byte aligned data and x) for
// num_tokens tokens.
bool skinny_gemm_supports(const MatmulWeight* weights, int count, const void* x,
                          int64_t num_tokens);

// ys[g] = x · weights[g]^T in one launch; cudaErrorInvalidValue where
// skinny_gemm_supports is false.
cudaError_t launch_skinny_gemm(const MatmulWeight* weights, float* const* ys, int count,
                               const void* x, int64_t num_tokens, const SkinnyWorkspace& ws,
                               cudaStream_t stream);

}  // namespace tokamak::cuda
