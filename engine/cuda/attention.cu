#include <cmath>

#include "cuda/attention.cuh"
#include "cuda/common.cuh"

namespace tokamak::cuda {
namespace {

constexpr int kThreads = 128;    // 4 warps; each thread owns head_dim / 128 output dims
constexpr int kTile = kThreads;  // keys per tile: one per thread for the scores
constexpr int kDimsPerThread = kMaxAttentionHeadDim / kThreads;

__global__ void __launch_bounds__(kThreads)
    attention_kernel(PagedKv kv, const float* q_all, const float* k_pool, const float* v_pool,
                     int32_t num_heads, int32_t group, int32_t head_dim, float scale, float* out) {
  __shared__ __align__(16) float q[kMaxAttentionHeadDim];
  __shared__ float p[kTile];
  __shared__ int64_t offsets[kTile];  // pool offset of each key's head row in this tile
  __shared__ float tile_stats[2];     // correction of the old output, new running sum
  const int64_t t = blockIdx.x;
  const int32_t h = blockIdx.y, kh = h / group;
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  const int32_t pos = kv.positions[t];
  const int32_t* table = kv.tables + kv.table_start[kv.token_seq[t]];
  for (int32_t d = threadIdx.x; d < head_dim; d += kThreads)
    q[d] = q_all[(t * num_heads + h) * head_dim + d];

  float o[kDimsPerThread];
#pragma unroll
  for (int i = 0; i < kDimsPerThread; ++i) o[i] = 0.0f;
  float running_max = -INFINITY, running_sum = 0.0f;  // kept by warp 0
  const bool vec4 = head_dim % 4 == 0 && kv.kv_dim % 4 == 0;
  __syncthreads();

  for (int32_t j0 = 0; j0 <= pos; j0 += kTile) {
    const int32_t num_j = min(kTile, pos + 1 - j0);
    // Scores: thread i takes key j0 + i whole (independent loads, no shuffles).
    if (static_cast<int32_t>(threadIdx.x) < num_j) {
      const int32_t j = j0 + threadIdx.x;
      const int64_t block = table[j / kv.block_size];
      const int64_t off = (block * kv.block_size + j % kv.block_size) * kv.kv_dim +
                          static_cast<int64_t>(kh) * head_dim;
      offsets[threadIdx.x] = off;
      const float* k = k_pool + off;
      float s = 0.0f;
      if (vec4) {
        for (int32_t d = 0; d < head_dim; d += 4) {
          const float4 kk = *reinterpret_cast<const float4*>(k + d);
          const float4 qq = *reinterpret_cast<const float4*>(q + d);
          s = fmaf(qq.x, kk.x, s);
          s = fmaf(qq.y, kk.y, s);
          s = fmaf(qq.z, kk.z, s);
          s = fmaf(qq.w, kk.w, s);
        }
      } else {
        for (int32_t d = 0; d < head_dim; ++d) s = fmaf(q[d], k[d], s);
      }
      p[threadIdx.x] = s * scale;
    }
    __syncthreads();
    // Softmax statistics of the tile (warp 0), p becomes exp(s - new max).
    if (warp == 0) {
      float m = -INFINITY;
      for (int32_t jj = lane; jj < num_j; jj += kWarpSize) m = fmaxf(m, p[jj]);
      m = warp_max(m);
      const float new_max = fmaxf(running_max, m);
      float sum = 0.0f;
      for (int32_t jj = lane; jj < num_j; jj += kWarpSize) {
        const float e = expf(p[jj] - new_max);
        p[jj] = e;
        sum += e;
      }
      sum = warp_sum(sum);
      const float correction = expf(running_max - new_max);  // 0 on the first tile
      running_sum = running_sum * correction + sum;
      running_max = new_max;
      if (lane == 0) {
        tile_stats[0] = correction;
        tile_stats[1] = running_sum;
      }
    }
    __syncthreads();
    // Weighted V sum: thread owns dims threadIdx.x + 128 i; keys unrolled so
    // several loads are in flight.
    const float correction = tile_stats[0];
#pragma unroll
    for (int i = 0; i < kDimsPerThread; ++i) {
      const int32_t d = threadIdx.x + i * kThreads;
      if (d >= head_dim) break;
      float acc0 = o[i] * correction, acc1 = 0.0f;
      int32_t jj = 0;
      for (; jj + 8 <= num_j; jj += 8) {
        float v[8];
#pragma unroll
        for (int u = 0; u < 8; ++u) v[u] = v_pool[offsets[jj + u] + d];
#pragma unroll
        for (int u = 0; u < 8; u += 2) {
          acc0 = fmaf(p[jj + u], v[u], acc0);
          acc1 = fmaf(p[jj + u + 1], v[u + 1], acc1);
        }
      }
      for (; jj < num_j; ++jj) acc0 = fmaf(p[jj], v_pool[offsets[jj] + d], acc0);
      o[i] = acc0 + acc1;
    }
    __syncthreads();  // p, offsets and tile_stats are rewritten by the next tile
  }
  const float inv_sum = 1.0f / tile_stats[1];
#pragma unroll
  for (int i = 0; i < kDimsPerThread; ++i) {
    const int32_t d = threadIdx.x + i * kThreads;
    if (d < head_dim) out[(t * num_heads + h) * head_dim + d] = o[i] * inv_sum;
  }
}

}  // namespace

cudaError_t launch_attention(const PagedKv& kv, const float* q, const float* k_pool,
                             const float* v_pool, int32_t num_heads, int32_t num_kv_heads,
                             int32_t head_dim, int64_t num_tokens, float* out,
                             cudaStream_t stream) {
  if (num_tokens == 0) return cudaSuccess;
  if (head_dim > kMaxAttentionHeadDim || num_kv_heads <= 0 || num_heads % num_kv_heads != 0)
    return cudaErrorInvalidValue;
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  attention_kernel<<<dim3(static_cast<unsigned>(num_tokens), num_heads), kThreads, 0, stream>>>(
      kv, q, k_pool, v_pool, num_heads, num_heads / num_kv_heads, head_dim, scale, out);
  return cudaGetLastError();
}

}  // namespace tokamak::cuda
