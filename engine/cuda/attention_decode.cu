// Flash-decoding: split-K over key positions, one block per (token, KV head,
// slice) serving every q head of the group, then a merge of the slices.
// launch_attention_split hands head dims 64 / 128 with enough (token, KV
// head) pairs to the streaming kernel (attention_stream.cu); this kernel
// takes the rest (few pairs: latency-bound, its 4-warp blocks do better;
// other head dims).
//
// The number of slices per token follows the number of (token, KV head)
// pairs (so a graph of a bucket keeps its geometry): a single sequence is
// cut into up to kAttentionSplits slices to fill the GPU, while a batch of
// many decode rows already fills it with one or few slices per row -- more
// would only add blocks that each wait out a whole load -> scores -> softmax
// -> PV chain for 32 keys (and empty blocks past short sequences' ends).
#include <cstdlib>
#include <string>

#include "cuda/async_copy.cuh"
#include "cuda/attention.cuh"
#include "cuda/attention_kernels.cuh"
#include "cuda/common.cuh"

namespace tokamak::cuda {
namespace {

constexpr int kThreads = 128;
constexpr int kTile = kThreads;  // keys per tile: one per thread for the scores
constexpr int kMinSlice = 32;    // positions; shorter slices only add merge work

// The slice of keys [p0, p1) block `split` of `splits` takes of a token at `pos`.
__device__ __forceinline__ void slice_of(int32_t pos, int split, int splits, int32_t& p0,
                                         int32_t& p1) {
  const int32_t len = pos + 1;
  int32_t chunk = (len + splits - 1) / splits;
  chunk = max(kMinSlice, (chunk + kMinSlice - 1) / kMinSlice * kMinSlice);
  p0 = split * chunk;
  p1 = min(len, p0 + chunk);
}

// grid (num_tokens, num_kv_heads, splits), block kThreads.
// part_o: (tokens, heads, kAttentionSplits, head_dim) unnormalised, slots
// [0, splits) written; part_ml: (.., 2).
// The tile's scores ps[h][jj] with lane groups: D / 16 lanes per key, each
// lane 16 dims (two 16-byte loads), so that one warp load instruction reads
// whole rows (a lane per key would touch 32 rows per instruction), then a
// shuffle sum within the group. kRounds keys per group in flight.
// Needs D / 16 a power of two <= 32 and 16-byte aligned rows.
__device__ __forceinline__ void group_scores(const AttentionArgs& a, const float* qs,
                                             const int64_t* offsets, int num_j, int warp, int lane,
                                             float (*ps)[kTile]) {
  constexpr int kRounds = 4;
  const int g = a.group, D = a.head_dim;
  const int width = D / 16;  // lanes per key
  const int keys_per_warp = kWarpSize / width;
  const int keys_per_round = (kThreads / kWarpSize) * keys_per_warp;
  const int sub = lane / width, part = lane % width;
  for (int r0 = 0; r0 * keys_per_round < num_j; r0 += kRounds) {
    uint4 raw[kRounds][2];
#pragma unroll
    for (int u = 0; u < kRounds; ++u) {
      const int jj = (r0 + u) * keys_per_round + warp * keys_per_warp + sub;
      if (jj < num_j) {
        const uint4* k = reinterpret_cast<const uint4*>(a.k_pool + offsets[jj] + part * 16);
        raw[u][0] = k[0];
        raw[u][1] = k[1];
      } else {
        raw[u][0] = raw[u][1] = make_uint4(0, 0, 0, 0);
      }
    }
#pragma unroll
    for (int u = 0; u < kRounds; ++u) {
      const int jj = (r0 + u) * keys_per_round + warp * keys_per_warp + sub;
      float kf[16];
      half8_to_float(raw[u][0], kf);
      half8_to_float(raw[u][1], kf + 8);
#pragma unroll
      for (int h = 0; h < kMaxSplitGroup; ++h) {
        if (h >= g) break;
        const float* q = qs + h * D + part * 16;
        float s = 0.0f;
#pragma unroll
        for (int e = 0; e < 16; e += 4) {
          const float4 qv = *reinterpret_cast<const float4*>(q + e);
          s = fmaf(qv.x, kf[e], s);
          s = fmaf(qv.y, kf[e + 1], s);
          s = fmaf(qv.z, kf[e + 2], s);
          s = fmaf(qv.w, kf[e + 3], s);
        }
        for (int o = width / 2; o > 0; o /= 2) s += __shfl_xor_sync(0xffffffffu, s, o);
        if (part == 0 && jj < num_j) ps[h][jj] = s;
      }
    }
  }
}

// 4 blocks per SM (<= 128 registers; shared memory allows 4 with a 128-dim
// V tile; 155 registers left room for 3). kGroupRows: scores by lane groups
// (group_scores) instead of one key per thread with its whole K row.
template <bool kGroupRows>
__global__ void __launch_bounds__(kThreads, 4)
    split_kernel(AttentionArgs a, bool vec8, int splits, float* part_o, float* part_ml) {
  __shared__ __align__(16) float qs[kMaxSplitGroup * kMaxAttentionHeadDim];
  __shared__ float ps[kMaxSplitGroup][kTile];
  __shared__ int64_t offsets[kTile];
  __shared__ float run_max[kMaxSplitGroup], run_sum[kMaxSplitGroup], corr[kMaxSplitGroup];
  __shared__ float reduce[2048];                    // output rows of the extra key lanes
  extern __shared__ __align__(16) __half v_tile[];  // (kTile, D) when vec8
  const int64_t t = blockIdx.x;
  const int32_t kh = blockIdx.y, split = blockIdx.z;
  const int32_t g = a.group, D = a.head_dim, h0 = kh * g;
  const int tid = threadIdx.x, lane = tid % kWarpSize, warp = tid / kWarpSize;
  const int32_t pos = a.kv.positions[t];
  int32_t p0, p1;
  slice_of(pos, split, splits, p0, p1);
  const int64_t part = (t * a.num_heads + h0) * kAttentionSplits + split;  // head h0's slot
  if (p0 >= p1) {                                                          // empty slice
    if (tid < g) {
      part_ml[2 * (part + tid * kAttentionSplits)] = -INFINITY;
      part_ml[2 * (part + tid * kAttentionSplits) + 1] = 0.0f;
    }
    return;
  }
  const int32_t* table = a.kv.tables + a.kv.table_start[a.kv.token_seq[t]];
  for (int i = tid; i < g * D; i += kThreads) qs[i] = a.q[(t * a.num_heads + h0) * D + i] * a.scale;
  if (tid < g) run_max[tid] = -INFINITY, run_sum[tid] = 0.0f;
  // Output: thread owns dims 2 dp, 2 dp + 1 of every head, for keys kl, kl + lanes, ...
  const int pairs = D / 2, key_lanes = kThreads / pairs;
  const int dp = tid % pairs, kl = tid / pairs;
  float o[kMaxSplitGroup][2];
#pragma unroll
  for (int h = 0; h < kMaxSplitGroup; ++h) o[h][0] = o[h][1] = 0.0f;
  __syncthreads();

  for (int32_t j0 = p0; j0 < p1; j0 += kTile) {
    const int num_j = min(kTile, p1 - j0);
    if (tid < num_j) offsets[tid] = kv_row_offset(a.kv, table, j0 + tid, kh, D);
    __syncthreads();
    if (vec8) {  // the V tile to shared memory (coalesced), in flight during the scores
      const int pieces = D / 8;
      for (int i = tid; i < num_j * pieces; i += kThreads) {
        const int r = i / pieces, c = (i - r * pieces) * 8;
        cp_async16(v_tile + r * D + c, a.v_pool + offsets[r] + c);
      }
    }
    asm volatile("cp.async.commit_group;\n" ::: "memory");
    if (kGroupRows) {
      group_scores(a, qs, offsets, num_j, warp, lane, ps);
    } else if (tid < num_j) {
      const __half* k = a.k_pool + offsets[tid];
      float s[kMaxSplitGroup];
#pragma unroll
      for (int h = 0; h < kMaxSplitGroup; ++h) s[h] = 0.0f;
      if (vec8) {
        // 64 dims of the row per round in flight before the math.
        for (int d0 = 0; d0 < D; d0 += 64) {
          uint4 raw[8];
#pragma unroll
          for (int i = 0; i < 8; ++i)
            if (d0 + 8 * i < D) raw[i] = *reinterpret_cast<const uint4*>(k + d0 + 8 * i);
#pragma unroll
          for (int i = 0; i < 8; ++i) {
            const int d = d0 + 8 * i;
            if (d >= D) break;
            float kf[8];
            half8_to_float(raw[i], kf);
#pragma unroll
            for (int h = 0; h < kMaxSplitGroup; ++h) {
              if (h < g) {
                const float4 q0 = *reinterpret_cast<const float4*>(qs + h * D + d);
                const float4 q1 = *reinterpret_cast<const float4*>(qs + h * D + d + 4);
                s[h] = fmaf(q0.x, kf[0], s[h]);
                s[h] = fmaf(q0.y, kf[1], s[h]);
                s[h] = fmaf(q0.z, kf[2], s[h]);
                s[h] = fmaf(q0.w, kf[3], s[h]);
                s[h] = fmaf(q1.x, kf[4], s[h]);
                s[h] = fmaf(q1.y, kf[5], s[h]);
                s[h] = fmaf(q1.z, kf[6], s[h]);
                s[h] = fmaf(q1.w, kf[7], s[h]);
              }
            }
          }
        }
      } else {
        for (int d = 0; d < D; ++d) {
          const float kf = __half2float(k[d]);
#pragma unroll
          for (int h = 0; h < kMaxSplitGroup; ++h)
            if (h < g) s[h] = fmaf(qs[h * D + d], kf, s[h]);
        }
      }
#pragma unroll
      for (int h = 0; h < kMaxSplitGroup; ++h)
        if (h < g) ps[h][tid] = s[h];
    }
    __syncthreads();
    // Softmax statistics per head (warp w takes heads w, w + 4).
    for (int h = warp; h < g; h += kThreads / kWarpSize) {
      float m = -INFINITY;
      for (int jj = lane; jj < num_j; jj += kWarpSize) m = fmaxf(m, ps[h][jj]);
      m = warp_max(m);
      const float new_max = fmaxf(run_max[h], m);
      float sum = 0.0f;
      for (int jj = lane; jj < num_j; jj += kWarpSize) {
        const float e = expf(ps[h][jj] - new_max);
        ps[h][jj] = e;
        sum += e;
      }
      sum = warp_sum(sum);
      __syncwarp();
      if (lane == 0) {
        const float c = expf(run_max[h] - new_max);  // 0 on the first tile
        corr[h] = c;
        run_sum[h] = run_sum[h] * c + sum;
        run_max[h] = new_max;
      }
    }
    asm volatile("cp.async.wait_group 0;\n" ::: "memory");  // the V tile
    __syncthreads();
    if (kl < key_lanes) {
#pragma unroll
      for (int h = 0; h < kMaxSplitGroup; ++h) {
        if (h < g) {
          o[h][0] *= corr[h];
          o[h][1] *= corr[h];
        }
      }
      auto add = [&](int jj, float2 v) {
#pragma unroll
        for (int h = 0; h < kMaxSplitGroup; ++h) {
          if (h < g) {
            o[h][0] = fmaf(ps[h][jj], v.x, o[h][0]);
            o[h][1] = fmaf(ps[h][jj], v.y, o[h][1]);
          }
        }
      };
      auto load_v = [&](int jj) {
        const __half* v = vec8 ? v_tile + jj * D : a.v_pool + offsets[jj];
        return __half22float2(*reinterpret_cast<const __half2*>(v + 2 * dp));
      };
      int jj = kl;
      for (; jj + 7 * key_lanes < num_j; jj += 8 * key_lanes) {  // 8 loads in flight
        float2 v[8];
#pragma unroll
        for (int u = 0; u < 8; ++u) v[u] = load_v(jj + u * key_lanes);
#pragma unroll
        for (int u = 0; u < 8; ++u) add(jj + u * key_lanes, v[u]);
      }
      for (; jj < num_j; jj += key_lanes) add(jj, load_v(jj));
    }
    __syncthreads();  // ps, offsets, corr and the V tile are rewritten by the next tile
  }
  // Key lanes 1.. hand their sums to lane 0 through shared memory.
  if (kl >= 1 && kl < key_lanes) {
#pragma unroll
    for (int h = 0; h < kMaxSplitGroup; ++h) {
      if (h < g) {
        float* r = reduce + ((kl - 1) * g + h) * D + 2 * dp;
        r[0] = o[h][0];
        r[1] = o[h][1];
      }
    }
  }
  __syncthreads();
  if (kl == 0) {
#pragma unroll
    for (int h = 0; h < kMaxSplitGroup; ++h) {
      if (h < g) {
        float x0 = o[h][0], x1 = o[h][1];
        for (int l = 1; l < key_lanes; ++l) {
          const float* r = reduce + ((l - 1) * g + h) * D + 2 * dp;
          x0 += r[0];
          x1 += r[1];
        }
        float* dst = part_o + (part + h * kAttentionSplits) * D + 2 * dp;
        dst[0] = x0;
        dst[1] = x1;
      }
    }
  }
  if (tid < g) {
    part_ml[2 * (part + tid * kAttentionSplits)] = run_max[tid];
    part_ml[2 * (part + tid * kAttentionSplits) + 1] = run_sum[tid];
  }
}

// grid (num_tokens, num_heads), block kThreads: out = merged slices [0, splits).
__global__ void __launch_bounds__(kThreads)
    merge_kernel(const float* part_o, const float* part_ml, int32_t num_heads, int32_t head_dim,
                 int splits, float* out) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * num_heads + blockIdx.y;
  const float* ml = part_ml + row * kAttentionSplits * 2;
  float m = -INFINITY;
#pragma unroll
  for (int s = 0; s < kAttentionSplits; ++s)
    if (s < splits && ml[2 * s + 1] > 0.0f) m = fmaxf(m, ml[2 * s]);
  float w[kAttentionSplits], sum = 0.0f;
#pragma unroll
  for (int s = 0; s < kAttentionSplits; ++s) {
    w[s] = s < splits && ml[2 * s + 1] > 0.0f ? expf(ml[2 * s] - m) : 0.0f;
    sum += w[s] * (s < splits ? ml[2 * s + 1] : 0.0f);
  }
  const float inv = 1.0f / sum;
  const float* o = part_o + row * kAttentionSplits * head_dim;
  for (int d = threadIdx.x; d < head_dim; d += kThreads) {
    float acc = 0.0f;
#pragma unroll
    for (int s = 0; s < kAttentionSplits; ++s)
      if (w[s] > 0.0f) acc = fmaf(w[s], o[s * head_dim + d], acc);
    out[row * head_dim + d] = acc * inv;
  }
}

// Slices per token for num_tokens x num_kv_heads (token, KV head) pairs:
// enough blocks for ~2 waves of resident blocks, at most kAttentionSplits.
// decode_attention_tuning().splits (TOKAMAK_CUDA_DECODE_SPLITS=N) fixes it
// (benchmarks: 16 = the former geometry).
int splits_for(int64_t num_tokens, int32_t num_kv_heads) {
  const int fixed = decode_attention_tuning().splits;
  if (fixed > 0) return fixed < kAttentionSplits ? fixed : kAttentionSplits;
  static const int64_t target_blocks = [] {
    int device = 0, sms = 0;
    if (cudaGetDevice(&device) != cudaSuccess ||
        cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess ||
        sms <= 0)
      sms = 132;
    return static_cast<int64_t>(sms) * 8;  // ~4 resident blocks per SM (shared memory), 2 waves
  }();
  const int64_t pairs = num_tokens * num_kv_heads;
  const int64_t splits = (target_blocks + pairs - 1) / pairs;
  return static_cast<int>(splits < 1 ? 1 : (splits > kAttentionSplits ? kAttentionSplits : splits));
}

}  // namespace

cudaError_t launch_attention_merge(const float* part_o, const float* part_ml, int64_t num_tokens,
                                   int32_t num_heads, int32_t head_dim, int splits, float* out,
                                   cudaStream_t stream) {
  merge_kernel<<<dim3(static_cast<unsigned>(num_tokens), num_heads), kThreads, 0, stream>>>(
      part_o, part_ml, num_heads, head_dim, splits, out);
  return cudaGetLastError();
}

cudaError_t launch_attention_split(const AttentionArgs& a, int32_t num_kv_heads, int64_t num_tokens,
                                   float* scratch, cudaStream_t stream) {
  if (attention_stream_supports(a, num_kv_heads, num_tokens))
    return launch_attention_stream(a, num_kv_heads, num_tokens, scratch, stream);
  float* part_o = scratch;
  float* part_ml =
      scratch + static_cast<int64_t>(kMaxSplitTokens) * a.num_heads * kAttentionSplits * a.head_dim;
  const bool vec8 = a.head_dim % 8 == 0 && a.kv.kv_dim % 8 == 0;
  const unsigned tokens = static_cast<unsigned>(num_tokens);
  // TOKAMAK_CUDA_DECODE_ROWS=thread: one key per thread (benchmarks).
  static const bool thread_rows = [] {
    const char* e = std::getenv("TOKAMAK_CUDA_DECODE_ROWS");
    return e != nullptr && std::string(e) == "thread";
  }();
  static const bool raised = [] {
    const int bytes = kTile * kMaxAttentionHeadDim * 2;
    return cudaFuncSetAttribute(split_kernel<false>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                bytes) == cudaSuccess &&
           cudaFuncSetAttribute(split_kernel<true>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                bytes) == cudaSuccess;
  }();
  if (!raised) return cudaErrorInvalidValue;
  const size_t v_bytes = vec8 ? static_cast<size_t>(kTile) * a.head_dim * 2 : 0;
  const int splits = splits_for(num_tokens, num_kv_heads);
  const dim3 grid(tokens, num_kv_heads, splits);
  const int width = a.head_dim / 16;  // group_scores' lanes per key
  const bool group_rows = vec8 && a.head_dim % 16 == 0 && width <= kWarpSize &&
                          (width & (width - 1)) == 0 && !thread_rows;
  if (group_rows)
    split_kernel<true><<<grid, kThreads, v_bytes, stream>>>(a, vec8, splits, part_o, part_ml);
  else
    split_kernel<false><<<grid, kThreads, v_bytes, stream>>>(a, vec8, splits, part_o, part_ml);
  return launch_attention_merge(part_o, part_ml, num_tokens, a.num_heads, a.head_dim, splits, a.out,
                                stream);
}

}  // namespace tokamak::cuda
