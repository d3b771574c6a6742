// Decode matvec for block weights (Q4_0, Q8_0, Q4_K, Q6_K) with integer dot
// products: x is quantized to int8 blocks exactly as the CPU backend
// quantizes its activations (quant::quantize_activation: Q8_0 blocks of 32
// for Q8_0 and Q4_0 weights, Q8_K blocks of 256 for Q4_K and Q6_K), then
// every 32-value piece of a weight row is one run of 8 dp4a (4 int8
// products each) against the int8 x, scaled once per piece:
//   y (num_tokens, rows) = x (num_tokens, n) · W^T
// Inside a piece the sum is exact integer arithmetic, as in the CPU's
// vec_dot; only the fp32 order of the per-piece terms differs from it.
//
// The default for block types (kMatmulDecodeAuto, matmul.cuh):
// launch_matmul[_group] comes here for them, any token count. Memory side
// shared with the fp32 kernel (matmul_ring.cuh: per-warp 3-stage cp.async
// ring of 1024-value row segments); x is quantized by every block into
// shared memory while its first segments are in flight, so there is no
// extra launch and no scratch buffer.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/matmul.cuh"

namespace tokamak::cuda {

// Raises every instantiation's shared-memory limit now (cudaFuncSetAttribute),
// so that no first launch does it inside a graph capture;
// set_matmul_decode_variant calls it when it selects this path.
void prepare_matmul_dp4a();

// True for the weight types the dp4a path handles.
bool matmul_dp4a_supports(TensorType type);

// As launch_matmul_group (same checks); cudaErrorNotSupported, with nothing
// launched, when the type is not a block type or the quantized x of one
// pass (up to 8 tokens x n bytes plus scales) does not fit in shared memory
// (the caller then takes the fp32 kernel). rows_per_warp for 1..4 tokens:
// 4, 2, or 0 = by the row count (decode_rows_per_warp, matmul_ring.cuh).
// segment_pieces (1 token): 32-value pieces per lane and row in one ring
// segment, 1 or 2 (segments of 1024 or 2048 values).
cudaError_t launch_matmul_dp4a(const MatmulWeight* weights, float* const* ys, int count,
                               const float* x, int64_t num_tokens, cudaStream_t stream,
                               int rows_per_warp = 0, int segment_pieces = 1);

}  // namespace tokamak::cuda
