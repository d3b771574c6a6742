#include <algorithm>

#include "cuda/common.cuh"
#include "cuda/matmul.cuh"
#include "cuda/matmul_dp4a.cuh"
#include "cuda/matmul_float_direct.cuh"
#include "cuda/matmul_pieces.cuh"
#include "cuda/matmul_ring.cuh"

namespace tokamak::cuda {
namespace {

constexpr int kWarps = 4;  // per block; each warp works alone
constexpr int kThreads = kWarps * kWarpSize;
constexpr int kStages = 3;  // segments per warp ring: two in flight while one is reduced

// Position of x value i in the shared copy of x: 4 floats of padding after
// every 32, so the lanes' 16-byte reads of a piece hit distinct banks.
__host__ __device__ constexpr int64_t padded(int64_t i) { return i + 4 * (i >> 5); }

// x values v0 + i, v1 + i (i < 8) of one token row (xr: global, or the
// padded shared copy); zero past `valid`.
__device__ __forceinline__ void load_x16(const float* xr, bool in_smem, int64_t v0, int64_t v1,
                                         int valid, bool x_vec, float* xs) {
  if (in_smem && valid == 16) {
    const float4* a = reinterpret_cast<const float4*>(xr + padded(v0));
    const float4* b = reinterpret_cast<const float4*>(xr + padded(v1));
    const float4 v[4] = {a[0], a[1], b[0], b[1]};
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      xs[4 * k] = v[k].x, xs[4 * k + 1] = v[k].y, xs[4 * k + 2] = v[k].z, xs[4 * k + 3] = v[k].w;
    }
    return;
  }
  if (!in_smem && x_vec && valid == 16) {
    const float4* a = reinterpret_cast<const float4*>(xr + v0);
    const float4* b = reinterpret_cast<const float4*>(xr + v1);
    const float4 v[4] = {__ldg(a), __ldg(a + 1), __ldg(b), __ldg(b + 1)};
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      xs[4 * k] = v[k].x, xs[4 * k + 1] = v[k].y, xs[4 * k + 2] = v[k].z, xs[4 * k + 3] = v[k].w;
    }
    return;
  }
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    xs[i] = i < valid ? xr[in_smem ? padded(v0 + i) : v0 + i] : 0.0f;
    xs[8 + i] = 8 + i < valid ? xr[in_smem ? padded(v1 + i) : v1 + i] : 0.0f;
  }
}

// acc[r][t] += piece p of rows r < num_r · token rows t < num_t (2+ tokens).
template <TensorType T, int NR, int NT>
__device__ __forceinline__ void accumulate_piece(const uint8_t* const* segs, const bool* aligned,
                                                 int num_r, int p, int valid, const float* x0,
                                                 bool x_smem, int64_t s0, int64_t n, int num_t,
                                                 bool x_vec, float (&acc)[NR][NT]) {
  float wq[NR][16], a[NR], b[NR];
  int run0 = 0, run1 = 0;
#pragma unroll
  for (int r = 0; r < NR; ++r)
    if (r < num_r) Piece<T>::decode(segs[r], aligned[r], p, valid, wq[r], a[r], b[r], run0, run1);
#pragma unroll
  for (int t = 0; t < NT; ++t) {
    if (t >= num_t) break;
    float xs[16];
    load_x16(x0 + t * n, false, s0 + run0, s0 + run1, valid, x_vec, xs);
    float sx = 0.0f;
    if (Piece<T>::kHasMin) {
#pragma unroll
      for (int i = 0; i < 16; ++i) sx += xs[i];
    }
#pragma unroll
    for (int r = 0; r < NR; ++r) {
      if (r < num_r) {
        float s0 = 0.0f, s1 = 0.0f;
#pragma unroll
        for (int i = 0; i < 16; i += 2) {
          s0 = fmaf(wq[r][i], xs[i], s0);
          s1 = fmaf(wq[r][i + 1], xs[i + 1], s1);
        }
        acc[r][t] = fmaf(a[r], s0 + s1, acc[r][t]);
        if (Piece<T>::kHasMin) acc[r][t] = fmaf(b[r], sx, acc[r][t]);
      }
    }
  }
}

// acc[r] += piece p of rows r (all NR when kFull) · xs (one token).
template <TensorType T, int NR, bool kFull>
__device__ __forceinline__ void dot_rows(const uint8_t* const* segs, const bool* aligned, int num_r,
                                         int p, int valid, const float* xs, float sx,
                                         float (&acc)[NR][1]) {
#pragma unroll
  for (int r = 0; r < NR; ++r) {
    if (kFull || r < num_r) {
      float wq[16], a, b;
      int run0, run1;
      Piece<T>::decode(segs[r], aligned[r], p, valid, wq, a, b, run0, run1);
      float s[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
      for (int i = 0; i < 16; ++i) s[i & 3] = fmaf(wq[i], xs[i], s[i & 3]);
      acc[r][0] = fmaf(a, (s[0] + s[1]) + (s[2] + s[3]), acc[r][0]);
      if (Piece<T>::kHasMin) acc[r][0] = fmaf(b, sx, acc[r][0]);
    }
  }
}

// One token: the lane's pieces of a staged segment, kPieces at a time (their
// x loads issued together), rows without guards when the group is full.
template <TensorType T, int NR, int kPieces, bool kFull>
__device__ __forceinline__ void reduce_segment_1(const uint8_t* const* segs, const bool* aligned,
                                                 int num_r, int seg_n, const float* x0, bool x_smem,
                                                 int64_t s0, bool x_vec, int lane,
                                                 float (&acc)[NR][1]) {
  using P = Piece<T>;
  const int num_pieces = (seg_n + 15) / 16;
  int p = lane;
  for (; p + (kPieces - 1) * kWarpSize < num_pieces; p += kPieces * kWarpSize) {
    float xs[kPieces][16], sx[kPieces];
    int valid[kPieces];
#pragma unroll
    for (int k = 0; k < kPieces; ++k) {
      const int pk = p + k * kWarpSize;
      valid[k] = P::kFloat ? min(16, seg_n - 16 * pk) : 16;
      int run0, run1;
      P::runs(pk, run0, run1);
      load_x16(x0, x_smem, s0 + run0, s0 + run1, valid[k], x_vec, xs[k]);
    }
#pragma unroll
    for (int k = 0; k < kPieces; ++k) {
      sx[k] = 0.0f;
      if (P::kHasMin) {
#pragma unroll
        for (int i = 0; i < 16; ++i) sx[k] += xs[k][i];
      }
    }
#pragma unroll
    for (int k = 0; k < kPieces; ++k)
      dot_rows<T, NR, kFull>(segs, aligned, num_r, p + k * kWarpSize, valid[k], xs[k], sx[k], acc);
  }
  for (; p < num_pieces; p += kWarpSize) {  // the rest, one at a time
    float xs[16], sx = 0.0f;
    const int valid = P::kFloat ? min(16, seg_n - 16 * p) : 16;
    int run0, run1;
    P::runs(p, run0, run1);
    load_x16(x0, x_smem, s0 + run0, s0 + run1, valid, x_vec, xs);
    if (P::kHasMin) {
#pragma unroll
      for (int i = 0; i < 16; ++i) sx += xs[i];
    }
    dot_rows<T, NR, kFull>(segs, aligned, num_r, p, valid, xs, sx, acc);
  }
}

// grid (blocks, ceil(num_tokens / NT)), block kThreads, dynamic shared
// kWarps * ring_warp_bytes<Piece<T>, NR, kStages>() (+ the padded copy of x
// when x_smem, one token only). Warp w of the grid takes row groups w, w +
// (all warps), ... (stream_row_groups, matmul_ring.cuh).
template <TensorType T, int NR, int NT>
__global__ void __launch_bounds__(kThreads)
    matmul_kernel(MatmulGroup group, int64_t n, const float* x, int64_t num_tokens, bool x_vec,
                  bool x_smem) {
  using P = Piece<T>;
  constexpr int kRingBytes = ring_warp_bytes<P, NR, kStages>();
  extern __shared__ __align__(16) uint8_t smem[];
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  const int64_t t0 = static_cast<int64_t>(blockIdx.y) * NT;
  const int num_t = static_cast<int>(min(static_cast<int64_t>(NT), num_tokens - t0));
  float* x_copy = reinterpret_cast<float*>(smem + kWarps * kRingBytes);
  const float* x0 = x_smem ? x_copy : x + t0 * n;
  float acc[NR][NT];
#pragma unroll
  for (int r = 0; r < NR; ++r)
#pragma unroll
    for (int t = 0; t < NT; ++t) acc[r][t] = 0.0f;
  auto copy_x = [&] {  // the block copies x while the first segments are in flight
    if (!x_smem) return;
    if (x_vec) {
      for (int64_t i = 4 * threadIdx.x; i < n; i += 4 * kThreads)
        *reinterpret_cast<float4*>(x_copy + padded(i)) =
            __ldg(reinterpret_cast<const float4*>(x + i));
    } else {
      for (int64_t i = threadIdx.x; i < n; i += kThreads) x_copy[padded(i)] = x[i];
    }
    __syncthreads();
  };
  auto reduce = [&](const StagedSegment<NR>& st) {
    if constexpr (NT == 1) {
      if (st.rg.num_r == NR) {
        reduce_segment_1<T, NR, 1, true>(st.segs, st.aligned, NR, st.seg_n, x0, x_smem, st.s0,
                                         x_vec, lane, acc);
      } else {
        reduce_segment_1<T, NR, 1, false>(st.segs, st.aligned, st.rg.num_r, st.seg_n, x0, x_smem,
                                          st.s0, x_vec, lane, acc);
      }
    } else {
      const int num_pieces = (st.seg_n + 15) / 16;
      for (int p = lane; p < num_pieces; p += kWarpSize) {
        const int valid = P::kFloat ? min(16, st.seg_n - 16 * p) : 16;
        accumulate_piece<T, NR, NT>(st.segs, st.aligned, st.rg.num_r, p, valid, x0, x_smem, st.s0,
                                    n, num_t, x_vec, acc);
      }
    }
    if (st.last) write_rows<NR, NT>(st.rg, acc, t0, num_t, lane);
  };
  stream_row_groups<P, NR, kStages>(group, n, smem + warp * kRingBytes, blockIdx.x * kWarps + warp,
                                    gridDim.x * kWarps, lane, copy_x, reduce);
}

// Blocks of the kernel with `smem` dynamic shared bytes that fit on the
// device at once (its shared-memory limit raised on first use; the last
// answer kept per thread: one query per matrix width, not per launch).
template <TensorType T, int NR, int NT>
unsigned resident_blocks(int smem) {
  static const bool raised = (raise_smem_limit((const void*)matmul_kernel<T, NR, NT>), true);
  (void)raised;
  thread_local int cached_smem = -1;
  thread_local unsigned cached_blocks = 0;
  if (smem != cached_smem) {
    cached_blocks = query_resident_blocks((const void*)matmul_kernel<T, NR, NT>, kThreads, smem);
    cached_smem = smem;
  }
  return cached_blocks;
}

template <TensorType T, int NR, int NT>
cudaError_t launch_kernel(MatmulGroup group, int64_t n, const float* x, int64_t num_tokens,
                          cudaStream_t stream) {
  assign_rows(group, NR);
  if (group.total == 0) return cudaSuccess;
  const int stage_smem = kWarps * ring_warp_bytes<Piece<T>, NR, kStages>();
  const int x_smem_bytes = static_cast<int>(padded(n + 31) * sizeof(float));
  const int max_smem = matmul_device_limits().y;
  // One token, block types: x goes to shared memory once per block when it
  // fits (float types read it through L1: more blocks fit per SM).
  const bool x_smem = NT == 1 && !Piece<T>::kFloat && stage_smem + x_smem_bytes <= max_smem;
  const int smem = stage_smem + (x_smem ? x_smem_bytes : 0);
  const unsigned resident = resident_blocks<T, NR, NT>(smem);
  const unsigned blocks = std::min((group.total + kWarps - 1) / kWarps, resident);
  const unsigned passes = static_cast<unsigned>((num_tokens + NT - 1) / NT);
  const bool x_vec = (reinterpret_cast<uintptr_t>(x) & 15) == 0 && n % 4 == 0;
  matmul_kernel<T, NR, NT>
      <<<dim3(blocks, passes), kThreads, smem, stream>>>(group, n, x, num_tokens, x_vec, x_smem);
  return cudaGetLastError();
}

// 1..4 tokens: NR rows per warp (4 or 2) in one pass; 5+: 2 rows x 16
// tokens per pass.
template <TensorType T>
cudaError_t launch_type(const MatmulGroup& group, int64_t n, const float* x, int64_t num_tokens,
                        int rows_per_warp, cudaStream_t stream) {
  const bool four = rows_per_warp == 4;
  if (num_tokens == 1)
    return four ? launch_kernel<T, 4, 1>(group, n, x, num_tokens, stream)
                : launch_kernel<T, 2, 1>(group, n, x, num_tokens, stream);
  if (num_tokens <= 4) return launch_kernel<T, 4, 4>(group, n, x, num_tokens, stream);
  return launch_kernel<T, 2, kMatmulTokensPerPass>(group, n, x, num_tokens, stream);
}

int decode_variant = kMatmulDecodeAuto;

}  // namespace

void set_matmul_decode_variant(int variant) {
  decode_variant = variant;
  if (variant != kMatmulDecodeFp32 && variant != kMatmulDecodeFp32TwoRows) prepare_matmul_dp4a();
}

int matmul_decode_variant() { return decode_variant; }

cudaError_t launch_matmul_group(const MatmulWeight* weights, float* const* ys, int count,
                                const float* x, int64_t num_tokens, cudaStream_t stream) {
  MatmulGroup group;
  const cudaError_t bad = make_group(weights, ys, count, group);
  if (bad != cudaSuccess) return bad;
  if (num_tokens == 0) return cudaSuccess;
  const int64_t n = weights[0].row_length;
  const TensorType type = weights[0].type;
  const int v = decode_variant;
  // Rows per warp: fixed by the variant (4 or 2), else by the row count.
  const bool two = v == kMatmulDecodeFp32TwoRows || v == kMatmulDecodeDp4aTwoRows ||
                   v == kMatmulDecodeDp4aLongTwoRows || v == kMatmulDecodeDirectTwoRows;
  const bool four = v == kMatmulDecodeFp32 || v == kMatmulDecodeDp4a ||
                    v == kMatmulDecodeDp4aLong || v == kMatmulDecodeDirect;
  // The default for one token: 2 rows per warp (dp4a with 2048-value
  // segments, the direct float kernel), the fastest on every llama shape
  // (NOTES.md, "Decode kernels").
  const int rows_per_warp = four              ? 4
                            : two             ? 2
                            : num_tokens == 1 ? 2
                                              : decode_rows_per_warp(total_rows(group));
  const bool fp32_only = v == kMatmulDecodeFp32 || v == kMatmulDecodeFp32TwoRows;
  if (!fp32_only && matmul_dp4a_supports(type)) {
    const bool long_segments =
        v == kMatmulDecodeDp4aLong || v == kMatmulDecodeDp4aLongTwoRows || v == kMatmulDecodeAuto;
    const cudaError_t err = launch_matmul_dp4a(weights, ys, count, x, num_tokens, stream,
                                               rows_per_warp, long_segments ? 2 : 1);
    if (err != cudaErrorNotSupported) return err;  // else: x too long for shared memory
  }
  if (!fp32_only && num_tokens == 1 && matvec_float_direct_supports(weights, count, x)) {
    return launch_matvec_float_direct(group, type, n, x, rows_per_warp, stream);
  }
  cudaError_t err = cudaSuccess;
  const bool ok = dispatch_weight_type(type, [&](auto tag) {
    constexpr TensorType T = decltype(tag)::value;
    err = launch_type<T>(group, n, x, num_tokens, rows_per_warp, stream);
  });
  if (!ok) return cudaErrorInvalidValue;
  return err;
}

cudaError_t launch_matmul(const MatmulWeight& w, const float* x, int64_t num_tokens, float* y,
                          cudaStream_t stream) {
  return launch_matmul_group(&w, &y, 1, x, num_tokens, stream);
}

}  // namespace tokamak::cuda
