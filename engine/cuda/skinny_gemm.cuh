// The tensor-core GEMM for few tokens and F16 / BF16 weights (batched decode
// steps), one launch for a group of weights sharing x:
//   ys[g] (num_tokens, rows_g) = x (num_tokens, n) · W_g^T,   W_g (rows_g, n)
// x in fp16 (bf16 for BF16 weights), fp32 accumulation and output (ldc =
// rows_g, as cuBLAS's column-major view of the prefill GEMM).
//
// A tile is 128 weight rows x 16/32/64 tokens (tokens padded up inside, x
// rows past num_tokens read as zero; more than 64 tokens: several 64-token
// tiles, each reading the weights again) and k-tiles of 64 values. A block
// of 8 warps streams W from HBM through a 4-stage cp.async pipeline (16 KiB
// of W per stage, XOR-swizzled shared memory); ldmatrix feeds mma.sync
// m16n8k16 with W as A (rows = M) and x as B. With at least as many tiles
// as SMs, one block per tile. Else the grid is one block per SM (stream-k):
// the U = tiles x k-tiles units of work are cut into equal contiguous
// ranges, one per block, so every block streams the same bytes whatever the
// number of tiles (no waves, no split-count rounding). A tile a block covers
// whole goes straight to y; a tile shared by several blocks gets each one's
// fp32 part in the workspace, and the block that finishes it last sums the
// parts in block order (the same sum whatever the finishing order) into y,
// then re-arms the tile's counter for the next launch. No allocation or
// synchronization in the launch: graph-capturable; the geometry depends only
// on the shapes and the token count.
//
// Status (H200, engine/cuda/NOTES.md "Skinny GEMM"): exact to fp32
// accumulation on every shape tested, but not faster than cublasGemmEx on
// the 7B shapes except q/k/v at <= 32 tokens, and much slower from 64 tokens
// on; PrefillGemm therefore leaves it off by default.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "cuda/matmul.cuh"

namespace tokamak::cuda {

// Largest token count one launch takes (larger steps: cuBLAS).
inline constexpr int64_t kSkinnyMaxTokens = 256;

// The stream-k scratch: fp32 partial tiles and per-tile counters (zeroed
// once when allocated; every launch leaves them zero).
struct SkinnyWorkspace {
  float* partials = nullptr;
  size_t partial_bytes = 0;
  unsigned* counters = nullptr;
  int64_t num_counters = 0;
};
// 16 MiB: a slot pair per block for 256 blocks of 64-token tiles (launches
// use fewer blocks where more would not fit).
inline constexpr size_t kSkinnyPartialBytes = size_t{16} << 20;
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

// Benchmarks: the largest token tile launches may use (16, 32 or 64, the
// default; process-global, set before launching or capturing).
void set_skinny_gemm_max_tile_tokens(int tokens);
// Benchmarks: launches with a workspace use this many blocks (stream-k over
// them; 0, the default: one per tile when there are at least as many tiles
// as SMs, else one per SM).
void set_skinny_gemm_blocks(int blocks);

}  // namespace tokamak::cuda
