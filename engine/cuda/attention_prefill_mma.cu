// Prefill attention on tensor cores (flash-attention 2 style), head_dim 64
// or 128: a block takes kRows = 64 (token, q head) rows of one KV head (the
// tokens' whole q-head group, so one K/V tile serves all of them), 16 rows
// per warp, and walks 64-key tiles of the paged fp16 pool, copied into
// shared memory with cp.async (tile i + 1 in flight while tile i is used).
//
// Per warp and tile, with mma.sync m16n8k16 (fp16 in, fp32 accumulate):
//   S (16, 64)  = Q (16, D) K^T         Q as fp16 A fragments in registers,
//                                       pre-scaled by log2(e) / sqrt(D)
//   online softmax on S in registers (base-2 exponent), P rounded to fp16
//   O (16, D)  += P (16, 64) V (64, D)  P re-used as A fragments directly
// K fragments come from ldmatrix, V fragments from ldmatrix.trans.
// Tokens of the block are taken per run of one sequence (a step may mix
// sequences, as the tiled kernel allows); masking is per row (key j <=
// position); a warp skips a tile where none of its rows sees a key of it,
// and blocks start with the longest rows (the last tokens).
#include <cuda_fp16.h>

#include "cuda/async_copy.cuh"
#include "cuda/attention.cuh"
#include "cuda/attention_kernels.cuh"

namespace tokamak::cuda {
namespace {

constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kRows = 16 * kWarps;  // (token, head) rows per block
constexpr int kKeys = 64;           // keys per tile
constexpr int kPad = 8;             // halves of padding per smem row (conflict-free ldmatrix)

constexpr size_t smem_bytes(int D) {
  return 2 /*K, V*/ * 2 /*stages*/ * static_cast<size_t>(kKeys) * (D + kPad) * sizeof(__half);
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t r[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}

__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t r[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}

// c (16x8 fp32) += a (16x16 fp16, row) * b (16x8 fp16, col).
__device__ __forceinline__ void mma_16816(float c[4], const uint32_t a[4], uint32_t b0,
                                          uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ float fast_exp2(float x) {  // exp2(-inf) = 0
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

__device__ __forceinline__ uint32_t pack_half2(float lo, float hi) {
  const __half2 h = __floats2half2_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&h);
}

// One row of the block as this thread sees it.
struct RowInfo {
  int64_t token = -1;  // -1: unused row
  int32_t head = 0, pos = -1, seq = -1;
};

__device__ RowInfo row_info(const AttentionArgs& a, int64_t t0, int used_rows, int32_t kh, int r) {
  RowInfo ri;
  if (r < used_rows) {
    ri.token = t0 + r / a.group;
    ri.head = kh * a.group + r % a.group;
    ri.pos = a.kv.positions[ri.token];
    ri.seq = a.kv.token_seq[ri.token];
  }
  return ri;
}

// Q rows as A fragments: q[kk] covers dims 16 kk .. 16 kk + 15 of rows
// (lane / 4) and (lane / 4 + 8) of the warp, scaled by `scale`.
template <int D>
__device__ void load_q(const AttentionArgs& a, const RowInfo& lo, const RowInfo& hi, float scale,
                       uint32_t q[D / 16][4]) {
  const int c = 2 * (threadIdx.x % 4);
  const float* q_lo = lo.token >= 0 ? a.q + (lo.token * a.num_heads + lo.head) * D : nullptr;
  const float* q_hi = hi.token >= 0 ? a.q + (hi.token * a.num_heads + hi.head) * D : nullptr;
  const float2 zero = make_float2(0.f, 0.f);
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) {
    const int d = 16 * kk + c;
    const float2 a0 = q_lo ? *reinterpret_cast<const float2*>(q_lo + d) : zero;
    const float2 a1 = q_hi ? *reinterpret_cast<const float2*>(q_hi + d) : zero;
    const float2 a2 = q_lo ? *reinterpret_cast<const float2*>(q_lo + d + 8) : zero;
    const float2 a3 = q_hi ? *reinterpret_cast<const float2*>(q_hi + d + 8) : zero;
    q[kk][0] = pack_half2(a0.x * scale, a0.y * scale);
    q[kk][1] = pack_half2(a1.x * scale, a1.y * scale);
    q[kk][2] = pack_half2(a2.x * scale, a2.y * scale);
    q[kk][3] = pack_half2(a3.x * scale, a3.y * scale);
  }
}

// A thread copies kLoads 16-byte pieces of each K and V tile: piece part of
// keys key0 + i * kKeyStep (i < kLoads).
template <int D>
struct TileLoads {
  static constexpr int kParts = D / 8;  // 16-byte pieces per row
  static constexpr int kLoads = kKeys * kParts / kThreads;
  static constexpr int kKeyStep = kThreads / kParts;
  int32_t block[kLoads];  // pool block of each key, -1 past `last`
};

// Position j -> (table entry, slot); shift = log2(block_size) when it is a power of two.
__device__ __forceinline__ void split_position(int32_t j, int32_t block_size, int shift,
                                               int32_t& entry, int32_t& slot) {
  if (shift >= 0) {
    entry = j >> shift;
    slot = j & (block_size - 1);
  } else {
    entry = j / block_size;
    slot = j - entry * block_size;
  }
}

// The block-table entries of tile j0's keys (read a tile ahead, so the
// copies never wait for the table).
template <int D>
__device__ void fetch_blocks(const AttentionArgs& a, const int32_t* table, int32_t j0, int32_t last,
                             int shift, TileLoads<D>& t) {
  const int key0 = threadIdx.x / TileLoads<D>::kParts;
#pragma unroll
  for (int i = 0; i < TileLoads<D>::kLoads; ++i) {
    const int32_t j = j0 + key0 + i * TileLoads<D>::kKeyStep;
    int32_t entry, slot;
    split_position(j, a.kv.block_size, shift, entry, slot);
    t.block[i] = j <= last ? table[entry] : -1;
  }
}

// K and V rows j0 .. j0 + kKeys - 1 of KV head kh into (k, v), rows of
// D + kPad halves; keys past `last` are zero (so 0-weight keys add 0, not NaN).
template <int D>
__device__ void issue_kv_tile(const AttentionArgs& a, const TileLoads<D>& t, int32_t j0, int shift,
                              int32_t kh, __half* k, __half* v) {
  constexpr int kParts = TileLoads<D>::kParts;
  const int key0 = threadIdx.x / kParts, part = threadIdx.x % kParts;
#pragma unroll
  for (int i = 0; i < TileLoads<D>::kLoads; ++i) {
    const int key = key0 + i * TileLoads<D>::kKeyStep;
    int32_t entry, slot;
    split_position(j0 + key, a.kv.block_size, shift, entry, slot);
    const bool valid = t.block[i] >= 0;
    const int64_t off =
        valid ? (static_cast<int64_t>(t.block[i]) * a.kv.block_size + slot) * a.kv.kv_dim +
                    static_cast<int64_t>(kh) * D + part * 8
              : 0;
    const int s = key * (D + kPad) + part * 8;
    cp_async16(k + s, a.k_pool + off, valid);
    cp_async16(v + s, a.v_pool + off, valid);
  }
  asm volatile("cp.async.commit_group;\n" ::: "memory");
}

// The run of tokens from i0 (< t_end) that share i0's sequence: its end i1
// and the largest position in it; each warp finds it with ballots (the
// block's tokens are at most kRows).
__device__ void find_run(const AttentionArgs& a, int64_t i0, int64_t t_end, int32_t& seq,
                         int64_t& i1, int32_t& last) {
  const int lane = threadIdx.x % 32;
  seq = a.kv.token_seq[i0];
  last = -1;
  i1 = i0;
  for (int64_t base = i0; base < t_end; base += 32) {
    const int64_t i = base + lane;
    const bool in = i < t_end && a.kv.token_seq[i] == seq;
    const unsigned out = __ballot_sync(0xffffffffu, !in);
    const int run = out ? __ffs(out) - 1 : 32;
    last = max(last, __reduce_max_sync(0xffffffffu, lane < run ? a.kv.positions[i] : -1));
    i1 = base + run;
    if (run < 32) break;
  }
}

// The warp's state: O accumulators (16 x D: D/8 n-tiles), row max and sum of
// rows lane/4 ([0]) and lane/4 + 8 ([1]).
template <int D>
struct WarpState {
  float o[D / 8][4];
  float m[2], l[2];
};

// One key tile for the warp: scores, online softmax, O += P V.
template <int D>
__device__ void attend_tile(const uint32_t q[D / 16][4], const __half* k, const __half* v,
                            int32_t j0, const bool act[2], const int32_t pos[2], WarpState<D>& st) {
  const int lane = threadIdx.x % 32;
  constexpr int kStride = D + kPad;
  float s[kKeys / 8][4];
#pragma unroll
  for (int n = 0; n < kKeys / 8; ++n) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.f;
  // S = Q K^T: ldmatrix x4 gives the B fragments of two 8-key n-tiles.
  const int k_row = (lane % 8) + (lane / 16) * 8, k_col = ((lane / 8) % 2) * 8;
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) {
#pragma unroll
    for (int np = 0; np < kKeys / 16; ++np) {
      uint32_t b[4];
      ldmatrix_x4(b, k + (16 * np + k_row) * kStride + 16 * kk + k_col);
      mma_16816(s[2 * np], q[kk], b[0], b[1]);
      mma_16816(s[2 * np + 1], q[kk], b[2], b[3]);
    }
  }
  // Mask, row max over the quad (4 lanes share a row).
  const int col = 2 * (lane % 4);
  float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
  for (int n = 0; n < kKeys / 8; ++n)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int h = e / 2;
      const int32_t j = j0 + 8 * n + col + e % 2;
      if (!act[h] || j > pos[h]) s[n][e] = -INFINITY;
      mx[h] = fmaxf(mx[h], s[n][e]);
    }
  float base[2], corr[2];
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 1));
    mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 2));
    const float m_new = fmaxf(st.m[h], mx[h]);
    base[h] = m_new == -INFINITY ? 0.f : m_new;
    corr[h] = fast_exp2(st.m[h] - base[h]);
    st.m[h] = m_new;
    st.l[h] *= corr[h];
  }
#pragma unroll
  for (int n = 0; n < D / 8; ++n) {
    st.o[n][0] *= corr[0], st.o[n][1] *= corr[0];
    st.o[n][2] *= corr[1], st.o[n][3] *= corr[1];
  }
  // P as fp16 A fragments (two 8-key n-tiles of S make one 16-key k-step);
  // the row sums add the rounded values, as the product uses them.
  uint32_t p[kKeys / 16][4];
#pragma unroll
  for (int n = 0; n < kKeys / 8; ++n) {
    const __half2 lo =
        __floats2half2_rn(fast_exp2(s[n][0] - base[0]), fast_exp2(s[n][1] - base[0]));
    const __half2 hi =
        __floats2half2_rn(fast_exp2(s[n][2] - base[1]), fast_exp2(s[n][3] - base[1]));
    const float2 flo = __half22float2(lo), fhi = __half22float2(hi);
    st.l[0] += flo.x + flo.y;
    st.l[1] += fhi.x + fhi.y;
    p[n / 2][(n % 2) * 2] = *reinterpret_cast<const uint32_t*>(&lo);
    p[n / 2][(n % 2) * 2 + 1] = *reinterpret_cast<const uint32_t*>(&hi);
  }
  // O += P V: ldmatrix.trans x4 gives the B fragments of two 8-dim n-tiles.
  const int v_row = (lane % 8) + ((lane / 8) % 2) * 8, v_col = (lane / 16) * 8;
#pragma unroll
  for (int kk = 0; kk < kKeys / 16; ++kk) {
#pragma unroll
    for (int dp = 0; dp < D / 16; ++dp) {
      uint32_t b[4];
      ldmatrix_x4_trans(b, v + (16 * kk + v_row) * kStride + 16 * dp + v_col);
      mma_16816(st.o[2 * dp], p[kk], b[0], b[1]);
      mma_16816(st.o[2 * dp + 1], p[kk], b[2], b[3]);
    }
  }
}

// grid (ceil(num_tokens / tokens_per_block), num_kv_heads), block kThreads.
template <int D>
__global__ void __launch_bounds__(kThreads)
    mma_kernel(AttentionArgs a, int64_t num_tokens, int32_t tokens_per_block) {
  extern __shared__ __align__(16) uint8_t smem_raw[];
  __half* k_buf = reinterpret_cast<__half*>(smem_raw);  // [2][kKeys][D + kPad]
  __half* v_buf = k_buf + 2 * kKeys * (D + kPad);
  constexpr int kTile = kKeys * (D + kPad);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int32_t kh = blockIdx.y;
  // Last tokens first: their rows see the most keys.
  const int64_t t0 = static_cast<int64_t>(gridDim.x - 1 - blockIdx.x) * tokens_per_block;
  const int64_t t_end = min(num_tokens, t0 + tokens_per_block);
  const int used_rows = static_cast<int>(t_end - t0) * a.group;

  const RowInfo lo = row_info(a, t0, used_rows, kh, 16 * warp + lane / 4);
  const RowInfo hi = row_info(a, t0, used_rows, kh, 16 * warp + lane / 4 + 8);
  uint32_t q[D / 16][4];
  load_q<D>(a, lo, hi, a.scale * 1.4426950408889634f, q);
  WarpState<D> st;
#pragma unroll
  for (int n = 0; n < D / 8; ++n) st.o[n][0] = st.o[n][1] = st.o[n][2] = st.o[n][3] = 0.f;
  st.m[0] = st.m[1] = -INFINITY;
  st.l[0] = st.l[1] = 0.f;
  const int32_t pos[2] = {lo.pos, hi.pos};

  const int32_t bs = a.kv.block_size;
  const int shift = (bs & (bs - 1)) == 0 ? __ffs(bs) - 1 : -1;
  for (int64_t i0 = t0; i0 < t_end;) {  // runs of one sequence (block-uniform)
    int32_t seq, last;
    int64_t i1;
    find_run(a, i0, t_end, seq, i1, last);
    const int32_t* table = a.kv.tables + a.kv.table_start[seq];
    const bool act[2] = {lo.seq == seq, hi.seq == seq};
    const int32_t warp_last =
        __reduce_max_sync(0xffffffffu, max(act[0] ? pos[0] : -1, act[1] ? pos[1] : -1));
    const int32_t num_tiles = last / kKeys + 1;
    TileLoads<D> loads;
    fetch_blocks<D>(a, table, 0, last, shift, loads);
    issue_kv_tile<D>(a, loads, 0, shift, kh, k_buf, v_buf);
    if (num_tiles > 1) fetch_blocks<D>(a, table, kKeys, last, shift, loads);
    for (int32_t it = 0; it < num_tiles; ++it) {
      asm volatile("cp.async.wait_group 0;\n" ::: "memory");
      __syncthreads();  // tile it visible; everyone is done with tile it - 1's buffer
      if (it + 1 < num_tiles) {
        const int next = (it + 1) % 2;
        issue_kv_tile<D>(a, loads, (it + 1) * kKeys, shift, kh, k_buf + next * kTile,
                         v_buf + next * kTile);
        if (it + 2 < num_tiles) fetch_blocks<D>(a, table, (it + 2) * kKeys, last, shift, loads);
      }
      const int32_t j0 = it * kKeys;
      if (warp_last >= j0)
        attend_tile<D>(q, k_buf + (it % 2) * kTile, v_buf + (it % 2) * kTile, j0, act, pos, st);
    }
    __syncthreads();  // the next run's first tile reuses buffer 0
    i0 = i1;
  }
  // Normalise and write rows (lane / 4) and (lane / 4 + 8).
  const RowInfo* rows[2] = {&lo, &hi};
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    float l = st.l[h];
    l += __shfl_xor_sync(0xffffffffu, l, 1);
    l += __shfl_xor_sync(0xffffffffu, l, 2);
    const RowInfo& r = *rows[h];
    if (r.token < 0) continue;
    const float inv = 1.0f / l;
    float* dst = a.out + (r.token * a.num_heads + r.head) * D + 2 * (lane % 4);
#pragma unroll
    for (int n = 0; n < D / 8; ++n)
      *reinterpret_cast<float2*>(dst + 8 * n) =
          make_float2(st.o[n][2 * h] * inv, st.o[n][2 * h + 1] * inv);
  }
}

template <int D>
cudaError_t launch(const AttentionArgs& a, int32_t num_kv_heads, int64_t num_tokens,
                   cudaStream_t stream) {
  static const cudaError_t raised = cudaFuncSetAttribute(
      mma_kernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem_bytes(D)));
  if (raised != cudaSuccess) return raised;
  const int32_t tokens_per_block = kRows / a.group;
  const int64_t blocks = (num_tokens + tokens_per_block - 1) / tokens_per_block;
  if (blocks > 0x7fffffff) return cudaErrorInvalidValue;
  mma_kernel<D>
      <<<dim3(static_cast<unsigned>(blocks), num_kv_heads), kThreads, smem_bytes(D), stream>>>(
          a, num_tokens, tokens_per_block);
  return cudaGetLastError();
}

}  // namespace

bool attention_mma_supports(const AttentionArgs& a) {
  const auto aligned = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  return (a.head_dim == 64 || a.head_dim == 128) && a.group >= 1 && a.group <= kRows &&
         a.kv.kv_dim % 8 == 0 && aligned(a.k_pool) && aligned(a.v_pool) && aligned(a.q) &&
         aligned(a.out);
}

cudaError_t launch_attention_mma(const AttentionArgs& a, int32_t num_kv_heads, int64_t num_tokens,
                                 cudaStream_t stream) {
  if (!attention_mma_supports(a)) return cudaErrorInvalidValue;
  return a.head_dim == 64 ? launch<64>(a, num_kv_heads, num_tokens, stream)
                          : launch<128>(a, num_kv_heads, num_tokens, stream);
}

}  // namespace tokamak::cuda
