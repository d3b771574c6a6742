// Prefill attention: a block takes up to kRows (token, head) rows of one KV
// head (the tokens' whole q-head group, so K/V tiles serve all of them) and
// walks 64-key tiles staged in shared memory as fp32, with an online softmax
// per row. Tokens of the tile are handled per run of one sequence; causal
// masking per row.
//
// Thread (tx = tid % 16, ty = tid / 16) holds rows ty + 8 i (i < 4): scores
// of keys tx + 16 m (m < 4), output dims 4 (tx + 16 c) .. + 4 (c < D / 64).
#include <algorithm>

#include "cuda/attention.cuh"
#include "cuda/attention_kernels.cuh"
#include "cuda/common.cuh"

namespace tokamak::cuda {
namespace {

constexpr int kThreads = 128;
constexpr int kRows = 32;
constexpr int kKeys = 64;
constexpr int kMaxDimGroups = kMaxAttentionHeadDim / 64;  // float4 groups per thread

// Shared layout (floats): Q (kRows, D + 4), K, V (kKeys, D + 4), P (kRows, kKeys),
// then per row max, sum, correction, position, sequence; key offsets.
struct Smem {
  float *q, *k, *v, *p, *row_max, *row_sum, *corr;
  int32_t *row_pos, *row_seq;
  int64_t* key_off;
  int stride;
};

__host__ __device__ inline size_t smem_bytes(int D) {
  const size_t stride = D + 4;
  return ((kRows + 2 * kKeys) * stride + kRows * kKeys + 5 * kRows) * sizeof(float) +
         kKeys * sizeof(int64_t);
}

__device__ Smem carve(uint8_t* base, int D) {
  Smem s;
  s.stride = D + 4;
  s.key_off = reinterpret_cast<int64_t*>(base);
  float* f = reinterpret_cast<float*>(base + kKeys * sizeof(int64_t));
  s.q = f;
  s.k = s.q + kRows * s.stride;
  s.v = s.k + kKeys * s.stride;
  s.p = s.v + kKeys * s.stride;
  s.row_max = s.p + kRows * kKeys;
  s.row_sum = s.row_max + kRows;
  s.corr = s.row_sum + kRows;
  s.row_pos = reinterpret_cast<int32_t*>(s.corr + kRows);
  s.row_seq = s.row_pos + kRows;
  return s;
}

// K and V rows j0 .. j0 + kKeys of KV head kh as fp32 (zero past last).
__device__ void load_kv_tile(const AttentionArgs& a, const Smem& s, const int32_t* table,
                             int32_t j0, int32_t last, int32_t kh) {
  const int D = a.head_dim, pieces = D / 4;
  if (threadIdx.x < kKeys) {
    const int32_t j = j0 + threadIdx.x;
    s.key_off[threadIdx.x] = j <= last ? kv_row_offset(a.kv, table, j, kh, D) : -1;
  }
  __syncthreads();
  // Rounds of 8 pieces per thread, loads first (8 K and 8 V loads in flight).
  constexpr int kUnroll = 8;
  for (int base = threadIdx.x; base < kKeys * pieces; base += kUnroll * kThreads) {
    uint2 kr[kUnroll], vr[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int i = base + u * kThreads;
      kr[u] = vr[u] = make_uint2(0, 0);
      if (i < kKeys * pieces) {
        const int64_t off = s.key_off[i / pieces];
        if (off >= 0) {
          const int d = (i % pieces) * 4;
          kr[u] = *reinterpret_cast<const uint2*>(a.k_pool + off + d);
          vr[u] = *reinterpret_cast<const uint2*>(a.v_pool + off + d);
        }
      }
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int i = base + u * kThreads;
      if (i >= kKeys * pieces) break;
      const int key = i / pieces, d = (i % pieces) * 4;
      const float2 k0 = __half22float2(*reinterpret_cast<const __half2*>(&kr[u].x));
      const float2 k1 = __half22float2(*reinterpret_cast<const __half2*>(&kr[u].y));
      const float2 v0 = __half22float2(*reinterpret_cast<const __half2*>(&vr[u].x));
      const float2 v1 = __half22float2(*reinterpret_cast<const __half2*>(&vr[u].y));
      *reinterpret_cast<float4*>(s.k + key * s.stride + d) = make_float4(k0.x, k0.y, k1.x, k1.y);
      *reinterpret_cast<float4*>(s.v + key * s.stride + d) = make_float4(v0.x, v0.y, v1.x, v1.y);
    }
  }
}

// P = masked scores of this thread's 4 rows x 4 keys.
__device__ void scores(const Smem& s, int D, int32_t j0, int32_t seq) {
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  float acc[4][4] = {};
  for (int d = 0; d < D; d += 4) {
    float4 q[4], k[4];
#pragma unroll
    for (int i = 0; i < 4; ++i)
      q[i] = *reinterpret_cast<const float4*>(s.q + (ty + 8 * i) * s.stride + d);
#pragma unroll
    for (int m = 0; m < 4; ++m)
      k[m] = *reinterpret_cast<const float4*>(s.k + (tx + 16 * m) * s.stride + d);
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int m = 0; m < 4; ++m) {
        acc[i][m] = fmaf(q[i].x, k[m].x, acc[i][m]);
        acc[i][m] = fmaf(q[i].y, k[m].y, acc[i][m]);
        acc[i][m] = fmaf(q[i].z, k[m].z, acc[i][m]);
        acc[i][m] = fmaf(q[i].w, k[m].w, acc[i][m]);
      }
  }
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int r = ty + 8 * i;
    const bool active = s.row_seq[r] == seq;
    const int32_t pos = s.row_pos[r];
#pragma unroll
    for (int m = 0; m < 4; ++m) {
      const int key = tx + 16 * m;
      s.p[r * kKeys + key] = active && j0 + key <= pos ? acc[i][m] : -INFINITY;
    }
  }
}

// Online-softmax update of every row (warp w: rows 8w .. 8w + 7); P becomes
// exp(score - new max), corr the factor of the old output.
__device__ void softmax_rows(const Smem& s) {
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  for (int r = warp * 8; r < warp * 8 + 8; ++r) {
    float* p = s.p + r * kKeys;
    const float a = p[lane], b = p[lane + 32];
    const float old_max = s.row_max[r];
    const float new_max = fmaxf(old_max, warp_max(fmaxf(a, b)));
    float ea = 0.0f, eb = 0.0f, c = 1.0f;
    if (new_max != -INFINITY) {
      ea = expf(a - new_max);
      eb = expf(b - new_max);
      c = expf(old_max - new_max);
    }
    const float sum = warp_sum(ea + eb);
    p[lane] = ea;
    p[lane + 32] = eb;
    __syncwarp();
    if (lane == 0) {
      s.corr[r] = c;
      s.row_sum[r] = s.row_sum[r] * c + sum;
      s.row_max[r] = new_max;
    }
  }
}

// grid (ceil(num_tokens / tokens per block), num_kv_heads), block kThreads.
__global__ void __launch_bounds__(kThreads)
    tiled_kernel(AttentionArgs a, int64_t num_tokens, int32_t tokens_per_block) {
  extern __shared__ __align__(16) uint8_t smem_raw[];
  const int D = a.head_dim, g = a.group;
  const Smem s = carve(smem_raw, D);
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  const int32_t kh = blockIdx.y;
  const int64_t t0 = static_cast<int64_t>(blockIdx.x) * tokens_per_block;
  const int64_t t_end = min(num_tokens, t0 + tokens_per_block);
  const int used_rows = static_cast<int>(t_end - t0) * g;
  // Rows: r -> token t0 + r / g, head kh g + r % g.
  for (int i = threadIdx.x; i < kRows * (D / 4); i += kThreads) {
    const int r = i / (D / 4), d = (i % (D / 4)) * 4;
    float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
    if (r < used_rows) {
      const int64_t t = t0 + r / g;
      v = *reinterpret_cast<const float4*>(a.q + (t * a.num_heads + kh * g + r % g) * D + d);
      v.x *= a.scale, v.y *= a.scale, v.z *= a.scale, v.w *= a.scale;
    }
    *reinterpret_cast<float4*>(s.q + r * s.stride + d) = v;
  }
  if (threadIdx.x < kRows) {
    const int r = threadIdx.x;
    const bool used = r < used_rows;
    s.row_pos[r] = used ? a.kv.positions[t0 + r / g] : -1;
    s.row_seq[r] = used ? a.kv.token_seq[t0 + r / g] : -1;
    s.row_max[r] = -INFINITY;
    s.row_sum[r] = 0.0f;
  }
  float o[4][kMaxDimGroups][4] = {};
  __syncthreads();

  for (int64_t i0 = t0; i0 < t_end;) {  // runs of one sequence (uniform)
    const int32_t seq = a.kv.token_seq[i0];
    int32_t last = a.kv.positions[i0];
    int64_t i1 = i0 + 1;
    for (; i1 < t_end && a.kv.token_seq[i1] == seq; ++i1) last = max(last, a.kv.positions[i1]);
    const int32_t* table = a.kv.tables + a.kv.table_start[seq];
    for (int32_t j0 = 0; j0 <= last; j0 += kKeys) {
      load_kv_tile(a, s, table, j0, last, kh);
      __syncthreads();
      scores(s, D, j0, seq);
      __syncthreads();
      softmax_rows(s);
      __syncthreads();
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const float c = s.corr[ty + 8 * i];
#pragma unroll
        for (int cg = 0; cg < kMaxDimGroups; ++cg)
#pragma unroll
          for (int e = 0; e < 4; ++e) o[i][cg][e] *= c;
      }
      for (int key = 0; key < kKeys; ++key) {
        float p[4];
#pragma unroll
        for (int i = 0; i < 4; ++i) p[i] = s.p[(ty + 8 * i) * kKeys + key];
#pragma unroll
        for (int cg = 0; cg < kMaxDimGroups; ++cg) {
          const int d = 4 * (tx + 16 * cg);
          if (d < D) {
            const float4 v = *reinterpret_cast<const float4*>(s.v + key * s.stride + d);
#pragma unroll
            for (int i = 0; i < 4; ++i) {
              o[i][cg][0] = fmaf(p[i], v.x, o[i][cg][0]);
              o[i][cg][1] = fmaf(p[i], v.y, o[i][cg][1]);
              o[i][cg][2] = fmaf(p[i], v.z, o[i][cg][2]);
              o[i][cg][3] = fmaf(p[i], v.w, o[i][cg][3]);
            }
          }
        }
      }
      __syncthreads();  // K, V, P and corr are rewritten by the next tile
    }
    i0 = i1;
  }
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int r = ty + 8 * i;
    if (r >= used_rows) continue;
    const int64_t t = t0 + r / g;
    const float inv = 1.0f / s.row_sum[r];
    float* dst = a.out + (t * a.num_heads + kh * g + r % g) * D;
#pragma unroll
    for (int cg = 0; cg < kMaxDimGroups; ++cg) {
      const int d = 4 * (tx + 16 * cg);
      if (d < D)
        *reinterpret_cast<float4*>(dst + d) =
            make_float4(o[i][cg][0] * inv, o[i][cg][1] * inv, o[i][cg][2] * inv, o[i][cg][3] * inv);
    }
  }
}

}  // namespace

cudaError_t launch_attention_tiled(const AttentionArgs& a, int32_t num_kv_heads, int64_t num_tokens,
                                   cudaStream_t stream) {
  if (a.group > kRows) return cudaErrorInvalidValue;
  static const bool raised = [] {
    return cudaFuncSetAttribute(tiled_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                static_cast<int>(smem_bytes(kMaxAttentionHeadDim))) == cudaSuccess;
  }();
  if (!raised) return cudaErrorInvalidValue;
  const int32_t tokens_per_block = kRows / a.group;
  const unsigned blocks =
      static_cast<unsigned>((num_tokens + tokens_per_block - 1) / tokens_per_block);
  tiled_kernel<<<dim3(blocks, num_kv_heads), kThreads, smem_bytes(a.head_dim), stream>>>(
      a, num_tokens, tokens_per_block);
  return cudaGetLastError();
}

}  // namespace tokamak::cuda
