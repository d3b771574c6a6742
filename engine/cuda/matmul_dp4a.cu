// The dp4a decode matvec (see matmul_dp4a.cuh). Layout of a block's shared
// memory, for a pass of NT tokens (rows of n values):
//   [kWarps x weight ring: kStages x NR slots of one row segment]
//   [xq  int8  (NT, n)      ]  x quantized
//   [xd  float (NT, n / XB) ]  its block scales (XB = 32 or 256)
//   [xs  int   (NT, n / 32) ]  sums of the int8 values of every 32
// A piece is 32 values of one row: a Q4_0/Q8_0 block, a Q4_K sub-block, a
// 32-run of a Q6_K half (two scale groups of 16).
#include <algorithm>

#include "cuda/common.cuh"
#include "cuda/matmul_dp4a.cuh"
#include "cuda/matmul_dp4a_pieces.cuh"
#include "cuda/matmul_ring.cuh"

namespace tokamak::cuda {
namespace {

constexpr int kWarps = 8;  // per block: more warps share one quantized x
constexpr int kThreads = kWarps * kWarpSize;
constexpr int kStages = 3;  // segments per warp ring: two in flight while one is reduced

// Ring traits: segments of kMul x 1024 values (kMul pieces per lane and row).
template <TensorType T, int kMul>
struct Seg {
  static constexpr int kSegValues = Dp4a<T>::kSegValues * kMul;
  static constexpr int kBlockValues = Dp4a<T>::kBlockValues, kBlockBytes = Dp4a<T>::kBlockBytes;
};
template <TensorType T, int NR, int kMul>
__host__ __device__ constexpr int warp_smem_bytes() {
  return ring_warp_bytes<Seg<T, kMul>, NR, kStages>();
}
// Shared bytes of the quantized x of nt tokens (rows of n values).
template <TensorType T>
__host__ __device__ constexpr int64_t x_smem_bytes(int64_t n, int nt) {
  return nt * (n + n / Dp4a<T>::kXBlock * 4 + n / 32 * 4);
}

// x values of one token (n of them, global) into Q8_0 blocks of 32 as
// quantize_row_q8_0: d = amax / 127, q = round-half-away(x * (1 / d)), d kept
// as f16. A warp per block, a lane per value; kBatch blocks' loads are issued
// before any is reduced (x comes from L2: one round trip per batch).
__device__ __forceinline__ void quantize_x_q8_0(const float* x, int64_t n, int8_t* xq, float* xd,
                                                int* xs, int warp, int lane) {
  constexpr int kBatch = 8;
  const int64_t num_blocks = n / 32;
  for (int64_t b0 = warp; b0 < num_blocks; b0 += kBatch * kWarps) {
    float v[kBatch];
#pragma unroll
    for (int k = 0; k < kBatch; ++k) {
      const int64_t b = b0 + k * kWarps;
      v[k] = b < num_blocks ? x[32 * b + lane] : 0.0f;
    }
#pragma unroll
    for (int k = 0; k < kBatch; ++k) {
      const int64_t b = b0 + k * kWarps;  // the same for the whole warp
      if (b >= num_blocks) break;
      const float amax =
          __uint_as_float(__reduce_max_sync(0xffffffffu, __float_as_uint(fabsf(v[k]))));
      const float d = __fdiv_rn(amax, 127.0f);
      const float id = d != 0.0f ? __fdiv_rn(1.0f, d) : 0.0f;
      const int q = static_cast<int>(roundf(__fmul_rn(v[k], id)));
      xq[32 * b + lane] = static_cast<int8_t>(q);
      const int sum = __reduce_add_sync(0xffffffffu, q);
      if (lane == 0) {
        xd[b] = __half2float(__float2half_rn(d));
        xs[b] = sum;
      }
    }
  }
}

// As quantize_row_q8k: the value of largest magnitude (the first on ties)
// maps to -127, q = min(127, nearest-even(x * iscale)), d = 1 / iscale. A
// warp per 256 values; lane l holds values 32k + l.
__device__ __forceinline__ void quantize_x_q8_k(const float* x, int64_t n, int8_t* xq, float* xd,
                                                int* xs, int warp, int lane) {
  for (int64_t b = warp; b < n / 256; b += kWarps) {
    float v[8], best = 0.0f, best_abs = 0.0f;
    unsigned best_i = 0;
#pragma unroll
    for (int k = 0; k < 8; ++k) {
      v[k] = x[256 * b + 32 * k + lane];
      if (fabsf(v[k]) > best_abs) best_abs = fabsf(v[k]), best = v[k], best_i = 32 * k + lane;
    }
    // Max of (|x|, -index) over the warp: larger magnitude, then lower index.
    unsigned long long key =
        (static_cast<unsigned long long>(__float_as_uint(best_abs)) << 32) | (255u - best_i);
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
      const unsigned long long other = __shfl_xor_sync(0xffffffffu, key, o);
      key = other > key ? other : key;
    }
    const float amax = __uint_as_float(static_cast<unsigned>(key >> 32));
    const unsigned win = 255u - static_cast<unsigned>(key & 0xFFFFFFFFu);
    const float max = __shfl_sync(0xffffffffu, best, static_cast<int>(win & 31));
    const float iscale = amax != 0.0f ? __fdiv_rn(-127.0f, max) : 0.0f;
#pragma unroll
    for (int k = 0; k < 8; ++k) {
      const int q = amax != 0.0f ? min(127, __float2int_rn(__fmul_rn(iscale, v[k]))) : 0;
      xq[256 * b + 32 * k + lane] = static_cast<int8_t>(q);
      const int sum = __reduce_add_sync(0xffffffffu, q);
      if (lane == 0) xs[8 * b + k] = sum;
    }
    if (lane == 0) xd[b] = amax != 0.0f ? __fdiv_rn(1.0f, iscale) : 0.0f;
  }
}

// acc[r][t] += piece p (values s0 + 32p ..) of rows r < num_r (all NR
// when kFull: no guards) with tokens t < num_t of the quantized x.
template <TensorType T, int NR, int NT, bool kFull>
__device__ __forceinline__ void accumulate(const uint8_t* const* segs, const bool* aligned,
                                           int num_r, int p, int64_t s0, int64_t n, int num_t,
                                           const int8_t* xq, const float* xd, const int* xs,
                                           float (&acc)[NR][NT]) {
  using D = Dp4a<T>;
  WeightPiece w[NR];
#pragma unroll
  for (int r = 0; r < NR; ++r)
    if (kFull || r < num_r) D::decode(segs[r], aligned[r], p, w[r]);
  const int64_t v0 = s0 + 32 * p;  // first value of the piece
  const int64_t nxb = n / D::kXBlock, nx32 = n / 32;
#pragma unroll
  for (int t = 0; t < NT; ++t) {
    if (t >= num_t) break;
    const float d = xd[t * nxb + v0 / D::kXBlock];
    const int sum32 = xs[t * nx32 + v0 / 32];
    const int4* xt = reinterpret_cast<const int4*>(xq + t * n + v0);  // 16-byte aligned
    const int4 xa = xt[0], xb = xt[1];
#pragma unroll
    for (int r = 0; r < NR; ++r) {
      if (kFull || r < num_r) {
        int sum0, sum1;
        dot8(w[r].q, xa, xb, sum0, sum1);
        if constexpr (T == TensorType::Q6_K) {
          acc[r][t] += D::dot(w[r], sum0, sum1, d);
        } else {
          acc[r][t] += D::dot(w[r], sum0 + sum1, d, sum32);
        }
      }
    }
  }
}

// grid (blocks, ceil(num_tokens / NT)), block kThreads, dynamic shared
// kWarps * warp_smem_bytes<T, NR, kMul>() + x_smem_bytes<T>(n, NT). Warp w of
// the grid takes row groups w, w + (all warps), ... (stream_row_groups).
template <TensorType T, int NR, int NT, int kMul>
__global__ void __launch_bounds__(kThreads)
    matmul_dp4a_kernel(MatmulGroup group, int64_t n, const float* x, int64_t num_tokens) {
  using D = Dp4a<T>;
  extern __shared__ __align__(16) uint8_t smem[];
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  int8_t* xq = reinterpret_cast<int8_t*>(smem + kWarps * warp_smem_bytes<T, NR, kMul>());
  float* xd = reinterpret_cast<float*>(xq + NT * n);
  int* xs = reinterpret_cast<int*>(xd + NT * (n / D::kXBlock));
  const int64_t t0 = static_cast<int64_t>(blockIdx.y) * NT;
  const int num_t = static_cast<int>(min(static_cast<int64_t>(NT), num_tokens - t0));
  float acc[NR][NT];
#pragma unroll
  for (int r = 0; r < NR; ++r)
#pragma unroll
    for (int t = 0; t < NT; ++t) acc[r][t] = 0.0f;
  auto quantize_x = [&] {  // while the first segments are in flight
    for (int t = 0; t < num_t; ++t) {
      const float* xt = x + (t0 + t) * n;
      if constexpr (D::kXBlock == 32) {
        quantize_x_q8_0(xt, n, xq + t * n, xd + t * (n / 32), xs + t * (n / 32), warp, lane);
      } else {
        quantize_x_q8_k(xt, n, xq + t * n, xd + t * (n / 256), xs + t * (n / 32), warp, lane);
      }
    }
    __syncthreads();
  };
  auto reduce = [&](const StagedSegment<NR>& st) {
    const int num_pieces = st.seg_n / 32;  // <= 32 * kMul
    if (st.rg.num_r == NR && num_pieces == 32 * kMul) {
#pragma unroll
      for (int k = 0; k < kMul; ++k)
        accumulate<T, NR, NT, true>(st.segs, st.aligned, NR, lane + k * kWarpSize, st.s0, n, num_t,
                                    xq, xd, xs, acc);
    } else {
      for (int p = lane; p < num_pieces; p += kWarpSize)
        accumulate<T, NR, NT, false>(st.segs, st.aligned, st.rg.num_r, p, st.s0, n, num_t, xq, xd,
                                     xs, acc);
    }
    if (st.last) write_rows<NR, NT>(st.rg, acc, t0, num_t, lane);
  };
  stream_row_groups<Seg<T, kMul>, NR, kStages>(
      group, n, smem + warp * warp_smem_bytes<T, NR, kMul>(), blockIdx.x * kWarps + warp,
      gridDim.x * kWarps, lane, quantize_x, reduce);
}

template <TensorType T, int NR, int NT, int kMul>
void prepare_kernel() {
  static const bool raised =
      (raise_smem_limit((const void*)matmul_dp4a_kernel<T, NR, NT, kMul>), true);
  (void)raised;
}

// Resident blocks for `smem` dynamic bytes (the last answer kept per thread).
template <TensorType T, int NR, int NT, int kMul>
unsigned resident_blocks(int smem) {
  prepare_kernel<T, NR, NT, kMul>();
  thread_local int cached_smem = -1;
  thread_local unsigned cached_blocks = 0;
  if (smem != cached_smem) {
    cached_blocks =
        query_resident_blocks((const void*)matmul_dp4a_kernel<T, NR, NT, kMul>, kThreads, smem);
    cached_smem = smem;
  }
  return cached_blocks;
}

template <TensorType T, int NR, int NT, int kMul = 1>
cudaError_t launch_kernel(MatmulGroup group, int64_t n, const float* x, int64_t num_tokens,
                          cudaStream_t stream) {
  if (n % Dp4a<T>::kBlockValues != 0) return cudaErrorInvalidValue;
  const int64_t smem64 = kWarps * warp_smem_bytes<T, NR, kMul>() + x_smem_bytes<T>(n, NT);
  if (smem64 > matmul_device_limits().y) return cudaErrorNotSupported;
  assign_rows(group, NR);
  if (group.total == 0) return cudaSuccess;
  const int smem = static_cast<int>(smem64);
  const unsigned blocks =
      std::min((group.total + kWarps - 1) / kWarps, resident_blocks<T, NR, NT, kMul>(smem));
  const unsigned passes = static_cast<unsigned>((num_tokens + NT - 1) / NT);
  matmul_dp4a_kernel<T, NR, NT, kMul>
      <<<dim3(blocks, passes), kThreads, smem, stream>>>(group, n, x, num_tokens);
  return cudaGetLastError();
}

// 1 token: NR rows per warp (4 or 2), segments of seg_mul x 1024 values (1
// or 2); 2..4 tokens: 4 or 2 rows, one pass; more: 2 rows x 8 tokens per pass.
template <TensorType T>
cudaError_t launch_type(const MatmulGroup& group, int64_t n, const float* x, int64_t num_tokens,
                        int rows_per_warp, int seg_mul, cudaStream_t stream) {
  const bool four = rows_per_warp == 4;
  if (num_tokens == 1 && seg_mul == 2)
    return four ? launch_kernel<T, 4, 1, 2>(group, n, x, num_tokens, stream)
                : launch_kernel<T, 2, 1, 2>(group, n, x, num_tokens, stream);
  if (num_tokens == 1)
    return four ? launch_kernel<T, 4, 1>(group, n, x, num_tokens, stream)
                : launch_kernel<T, 2, 1>(group, n, x, num_tokens, stream);
  if (num_tokens <= 4)
    return four ? launch_kernel<T, 4, 4>(group, n, x, num_tokens, stream)
                : launch_kernel<T, 2, 4>(group, n, x, num_tokens, stream);
  return launch_kernel<T, 2, 8>(group, n, x, num_tokens, stream);
}

template <TensorType T>
void prepare_type() {
  prepare_kernel<T, 4, 1, 1>();
  prepare_kernel<T, 2, 1, 1>();
  prepare_kernel<T, 4, 1, 2>();
  prepare_kernel<T, 2, 1, 2>();
  prepare_kernel<T, 4, 4, 1>();
  prepare_kernel<T, 2, 4, 1>();
  prepare_kernel<T, 2, 8, 1>();
}

}  // namespace

void prepare_matmul_dp4a() {
  prepare_type<TensorType::Q4_0>();
  prepare_type<TensorType::Q8_0>();
  prepare_type<TensorType::Q4_K>();
  prepare_type<TensorType::Q6_K>();
}

bool matmul_dp4a_supports(TensorType type) {
  return type == TensorType::Q4_0 || type == TensorType::Q8_0 || type == TensorType::Q4_K ||
         type == TensorType::Q6_K;
}

cudaError_t launch_matmul_dp4a(const MatmulWeight* weights, float* const* ys, int count,
                               const float* x, int64_t num_tokens, cudaStream_t stream,
                               int rows_per_warp, int segment_pieces) {
  if (rows_per_warp != 4 && rows_per_warp != 2 && rows_per_warp != 0) return cudaErrorInvalidValue;
  if (segment_pieces != 1 && segment_pieces != 2) return cudaErrorInvalidValue;
  MatmulGroup group;
  const cudaError_t bad = make_group(weights, ys, count, group);
  if (bad != cudaSuccess) return bad;
  if (!matmul_dp4a_supports(weights[0].type)) return cudaErrorNotSupported;
  if (num_tokens == 0) return cudaSuccess;
  const int64_t n = weights[0].row_length;
  if (rows_per_warp == 0) rows_per_warp = decode_rows_per_warp(total_rows(group));
  switch (weights[0].type) {
    case TensorType::Q4_0:
      return launch_type<TensorType::Q4_0>(group, n, x, num_tokens, rows_per_warp, segment_pieces,
                                           stream);
    case TensorType::Q8_0:
      return launch_type<TensorType::Q8_0>(group, n, x, num_tokens, rows_per_warp, segment_pieces,
                                           stream);
    case TensorType::Q4_K:
      return launch_type<TensorType::Q4_K>(group, n, x, num_tokens, rows_per_warp, segment_pieces,
                                           stream);
    default:
      return launch_type<TensorType::Q6_K>(group, n, x, num_tokens, rows_per_warp, segment_pieces,
                                           stream);
  }
}

}  // namespace tokamak::cuda
