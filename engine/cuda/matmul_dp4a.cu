// The dp4a decode matvec (see matmul_dp4a.cuh). Layout of a block's shared
// memory, for a pass of NT tokens (rows of n values):
//   [kWarps x weight ring: stages<NR, NT>() x NR slots of one row segment]
//   [xq  int8  (NT, n)      ]  x quantized
//   [xd  float (NT, n / XB) ]  its block scales (XB = 32 or 256)
//   [xs  int   (NT, n / 32) ]  sums of the int8 values of every 32
// A piece is 32 values of one row: a Q4_0/Q8_0 block, a Q4_K sub-block, a
// 32-run of a Q6_K half (two scale groups of 16).
#include <algorithm>

#include "cuda/common.cuh"
#include "cuda/matmul_dp4a.cuh"
#include "cuda/matmul_dp4a_pieces.cuh"

namespace tokamak::cuda {
namespace {

constexpr int kWarps = 8;  // per block: more warps share one quantized x
constexpr int kThreads = kWarps * kWarpSize;
// Segments per warp ring: one reduced while the others are in flight. Two
// rows per warp for 1..4 tokens (variant 3) keep two segments in flight.
template <int NR, int NT>
__host__ __device__ constexpr int stages() {
  return NR == 2 && NT <= 4 ? 3 : 2;
}

template <TensorType T>
__host__ __device__ constexpr int64_t seg_bytes(int64_t values) {
  return values / Dp4a<T>::kBlockValues * Dp4a<T>::kBlockBytes;
}
template <TensorType T>
__host__ __device__ constexpr int slot_bytes() {
  return static_cast<int>((seg_bytes<T>(Dp4a<T>::kSegValues) + 16 + 15) / 16 * 16);
}
template <TensorType T, int NR, int NT>
__host__ __device__ constexpr int warp_smem_bytes() {
  return stages<NR, NT>() * NR * slot_bytes<T>();
}
// Shared bytes of the quantized x of nt tokens (rows of n values).
template <TensorType T>
__host__ __device__ constexpr int64_t x_smem_bytes(int64_t n, int nt) {
  return nt * (n + n / Dp4a<T>::kXBlock * 4 + n / 32 * 4);
}

struct Dp4aGroup {
  const uint8_t* data[kMaxMatmulGroup];
  size_t row_bytes[kMaxMatmulGroup];
  int64_t rows[kMaxMatmulGroup];
  float* y[kMaxMatmulGroup];
  unsigned first_group[kMaxMatmulGroup];
  unsigned total;
  int count;
};

template <class V>
__device__ __forceinline__ V pick(const V (&a)[kMaxMatmulGroup], int g) {
  return g == 0 ? a[0] : (g == 1 ? a[1] : a[2]);
}

struct RowGroup {
  const uint8_t* base;
  const uint8_t *lo, *hi;  // the weight's bytes
  size_t row_bytes;
  int64_t r0, rows;
  int num_r;
  float* y;
};

template <int NR>
__device__ __forceinline__ RowGroup locate(const Dp4aGroup& gr, unsigned rg) {
  int g = 0;
  if (gr.count > 1 && rg >= gr.first_group[1]) g = 1;
  if (gr.count > 2 && rg >= gr.first_group[2]) g = 2;
  RowGroup r;
  r.rows = pick(gr.rows, g);
  r.r0 = static_cast<int64_t>(rg - pick(gr.first_group, g)) * NR;
  r.num_r = static_cast<int>(min(static_cast<int64_t>(NR), r.rows - r.r0));
  r.row_bytes = pick(gr.row_bytes, g);
  r.lo = pick(gr.data, g);
  r.hi = r.lo + r.rows * r.row_bytes;
  r.base = r.lo + r.r0 * r.row_bytes;
  r.y = pick(gr.y, g);
  return r;
}

__device__ __forceinline__ void cp_async16(void* dst, const void* src) {
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(dst));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(src) : "memory");
}
__device__ __forceinline__ void cp_async_commit() {
  asm volatile("cp.async.commit_group;\n" ::: "memory");
}
// Called after committing the group of item it + S - 1: waits until at
// most S - 1 groups are pending, i.e. item it has landed while the S - 1
// after it stay in flight.
template <int S>
__device__ __forceinline__ void cp_async_wait_stage() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(S - 1) : "memory");
}

// The warp copies [src, src + bytes) (2-byte aligned ends) to slot +
// (src % 16) ..: the 16-byte chunks covering it, all with cp.async, so that
// staging never waits for memory. A chunk reaching outside the weight's
// bytes [lo, hi) (its first or last, when lo or hi is not 16-byte aligned)
// is copied 2 bytes at a time instead, within [src, src + bytes) only.
__device__ __forceinline__ void stage_bytes(uint8_t* slot, const uint8_t* src, int64_t bytes,
                                            const uint8_t* lo, const uint8_t* hi, int lane) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(src), b = a + bytes;
  const uintptr_t c0 = a & ~uintptr_t{15}, c1 = (b + 15) & ~uintptr_t{15};
  uintptr_t start = c0, end = c1;
  if (c0 < reinterpret_cast<uintptr_t>(lo)) {
    start = c0 + 16;
    for (uintptr_t o = a + 2 * lane; o < (start < b ? start : b); o += 2 * kWarpSize)
      *reinterpret_cast<uint16_t*>(slot + (o - c0)) = *reinterpret_cast<const uint16_t*>(o);
  }
  if (c1 > reinterpret_cast<uintptr_t>(hi)) {
    end = c1 - 16;
    for (uintptr_t o = (end > a ? end : a) + 2 * lane; o < b; o += 2 * kWarpSize)
      *reinterpret_cast<uint16_t*>(slot + (o - c0)) = *reinterpret_cast<const uint16_t*>(o);
  }
  for (uintptr_t o = start + 16 * lane; o < end; o += 16 * kWarpSize)
    cp_async16(slot + (o - c0), reinterpret_cast<const void*>(o));
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
// kWarps * warp_smem_bytes<T, NR, NT>() + x_smem_bytes<T>(n, NT). Warp w of the
// grid takes row groups w, w + (all warps), ..., segment by segment, the
// next staged while the current one is reduced (as the fp32 kernel).
template <TensorType T, int NR, int NT>
__global__ void __launch_bounds__(kThreads)
    matmul_dp4a_kernel(Dp4aGroup group, int64_t n, const float* x, int64_t num_tokens) {
  using D = Dp4a<T>;
  extern __shared__ __align__(16) uint8_t smem[];
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  constexpr int kStages = stages<NR, NT>();
  uint8_t* ring = smem + warp * warp_smem_bytes<T, NR, NT>();
  int8_t* xq = reinterpret_cast<int8_t*>(smem + kWarps * warp_smem_bytes<T, NR, NT>());
  float* xd = reinterpret_cast<float*>(xq + NT * n);
  int* xs = reinterpret_cast<int*>(xd + NT * (n / D::kXBlock));
  const unsigned total = group.total, stride = gridDim.x * kWarps;
  const unsigned first = blockIdx.x * kWarps + warp;
  const bool has_work = first < total;
  const int64_t t0 = static_cast<int64_t>(blockIdx.y) * NT;
  const int num_t = static_cast<int>(min(static_cast<int64_t>(NT), num_tokens - t0));
  const unsigned num_segs = static_cast<unsigned>((n + D::kSegValues - 1) / D::kSegValues);
  const unsigned num_items = has_work ? ((total - 1 - first) / stride + 1) * num_segs : 0;
  auto slot = [&](unsigned item, int r) {
    return ring + ((item % kStages) * NR + r) * slot_bytes<T>();
  };
  auto segment = [&](unsigned s, int64_t& s0) {
    s0 = static_cast<int64_t>(s) * D::kSegValues;
    return static_cast<int>(min(static_cast<int64_t>(D::kSegValues), n - s0));
  };
  auto issue = [&](unsigned item) {
    const RowGroup rg = locate<NR>(group, first + (item / num_segs) * stride);
    int64_t s0;
    const int seg_n = segment(item % num_segs, s0);
#pragma unroll
    for (int r = 0; r < NR; ++r)
      if (r < rg.num_r)
        stage_bytes(slot(item, r), rg.base + r * rg.row_bytes + seg_bytes<T>(s0),
                    seg_bytes<T>(seg_n), rg.lo, rg.hi, lane);
  };

  float acc[NR][NT];
#pragma unroll
  for (int r = 0; r < NR; ++r)
#pragma unroll
    for (int t = 0; t < NT; ++t) acc[r][t] = 0.0f;
#pragma unroll
  for (unsigned k = 0; k + 1 < kStages; ++k) {
    if (k < num_items) issue(k);
    cp_async_commit();
  }
  // The block quantizes x while the first segments are in flight.
  for (int t = 0; t < num_t; ++t) {
    const float* xt = x + (t0 + t) * n;
    if constexpr (D::kXBlock == 32) {
      quantize_x_q8_0(xt, n, xq + t * n, xd + t * (n / 32), xs + t * (n / 32), warp, lane);
    } else {
      quantize_x_q8_k(xt, n, xq + t * n, xd + t * (n / 256), xs + t * (n / 32), warp, lane);
    }
  }
  __syncthreads();
  if (!has_work) return;
  for (unsigned it = 0; it < num_items; ++it) {
    if (it + kStages - 1 < num_items) issue(it + kStages - 1);
    cp_async_commit();
    cp_async_wait_stage<kStages>();
    __syncwarp();
    const RowGroup rg = locate<NR>(group, first + (it / num_segs) * stride);
    const unsigned s = it % num_segs;
    int64_t s0;
    const int seg_n = segment(s, s0);
    const uint8_t* segs[NR];
    bool aligned[NR];
#pragma unroll
    for (int r = 0; r < NR; ++r) {
      const uintptr_t src =
          reinterpret_cast<uintptr_t>(rg.base + r * rg.row_bytes + seg_bytes<T>(s0));
      segs[r] = slot(it, r) + (src & 15);
      aligned[r] = (src & 15) == 0;
    }
    const int num_pieces = seg_n / 32;
    if (rg.num_r == NR) {
      for (int p = lane; p < num_pieces; p += kWarpSize)
        accumulate<T, NR, NT, true>(segs, aligned, NR, p, s0, n, num_t, xq, xd, xs, acc);
    } else {
      for (int p = lane; p < num_pieces; p += kWarpSize)
        accumulate<T, NR, NT, false>(segs, aligned, rg.num_r, p, s0, n, num_t, xq, xd, xs, acc);
    }
    if (s + 1 == num_segs) {
#pragma unroll
      for (int r = 0; r < NR; ++r) {
#pragma unroll
        for (int t = 0; t < NT; ++t) {
          const float v = warp_sum(acc[r][t]);
          acc[r][t] = 0.0f;
          if (lane == 0 && r < rg.num_r && t < num_t) rg.y[(t0 + t) * rg.rows + rg.r0 + r] = v;
        }
      }
    }
    __syncwarp();  // the slots of this item are staged again kStages - 1 items on
  }
}

// SMs and opt-in shared bytes per block; the kernel's limit is raised to
// the latter once per instantiation.
template <TensorType T, int NR, int NT>
int2 device_limits() {
  static const int2 limits = [] {
    int dev = 0, sms = 0, optin = 0;
    cudaGetDevice(&dev);
    cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
    cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev);
    cudaFuncSetAttribute(matmul_dp4a_kernel<T, NR, NT>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                         optin);
    return make_int2(std::max(1, sms), optin);
  }();
  return limits;
}

// Resident blocks for `smem` dynamic bytes (the last answer kept per thread).
template <TensorType T, int NR, int NT>
unsigned resident_blocks(int smem) {
  thread_local int cached_smem = -1;
  thread_local unsigned cached_blocks = 0;
  if (smem != cached_smem) {
    int per_sm = 0;
    cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, matmul_dp4a_kernel<T, NR, NT>, kThreads,
                                                  smem);
    cached_blocks = static_cast<unsigned>(device_limits<T, NR, NT>().x * std::max(1, per_sm));
    cached_smem = smem;
  }
  return cached_blocks;
}

template <TensorType T, int NR, int NT>
cudaError_t launch_kernel(Dp4aGroup group, int64_t n, const float* x, int64_t num_tokens,
                          cudaStream_t stream) {
  if (n % Dp4a<T>::kBlockValues != 0) return cudaErrorInvalidValue;
  const int64_t smem64 = kWarps * warp_smem_bytes<T, NR, NT>() + x_smem_bytes<T>(n, NT);
  if (smem64 > device_limits<T, NR, NT>().y) return cudaErrorNotSupported;
  unsigned total = 0;
  for (int g = 0; g < group.count; ++g) {
    group.first_group[g] = total;
    total += static_cast<unsigned>((group.rows[g] + NR - 1) / NR);
  }
  group.total = total;
  if (total == 0) return cudaSuccess;
  const int smem = static_cast<int>(smem64);
  const unsigned blocks = std::min((total + kWarps - 1) / kWarps, resident_blocks<T, NR, NT>(smem));
  const unsigned passes = static_cast<unsigned>((num_tokens + NT - 1) / NT);
  matmul_dp4a_kernel<T, NR, NT>
      <<<dim3(blocks, passes), kThreads, smem, stream>>>(group, n, x, num_tokens);
  return cudaGetLastError();
}

// 1 token: NR rows per warp (4 or 2); 2..4 tokens: 4 or 2 rows, one pass;
// more: 2 rows x 8 tokens per pass.
template <TensorType T>
cudaError_t launch_type(const Dp4aGroup& group, int64_t n, const float* x, int64_t num_tokens,
                        int rows_per_warp, cudaStream_t stream) {
  const bool four = rows_per_warp == 4;
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
  device_limits<T, 4, 1>();
  device_limits<T, 2, 1>();
  device_limits<T, 4, 4>();
  device_limits<T, 2, 4>();
  device_limits<T, 2, 8>();
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
                               int rows_per_warp) {
  if (rows_per_warp != 4 && rows_per_warp != 2) return cudaErrorInvalidValue;
  if (count < 1 || count > kMaxMatmulGroup) return cudaErrorInvalidValue;
  if (!matmul_dp4a_supports(weights[0].type)) return cudaErrorNotSupported;
  if (num_tokens == 0) return cudaSuccess;
  Dp4aGroup group{};
  group.count = count;
  for (int g = 0; g < count; ++g) {
    const MatmulWeight& w = weights[g];
    if (w.type != weights[0].type || w.row_length != weights[0].row_length)
      return cudaErrorInvalidValue;
    group.data[g] = static_cast<const uint8_t*>(w.data);
    group.row_bytes[g] = w.row_bytes;
    group.rows[g] = w.rows;
    group.y[g] = ys[g];
  }
  const int64_t n = weights[0].row_length;
  if (n <= 0) return cudaErrorInvalidValue;
  switch (weights[0].type) {
    case TensorType::Q4_0:
      return launch_type<TensorType::Q4_0>(group, n, x, num_tokens, rows_per_warp, stream);
    case TensorType::Q8_0:
      return launch_type<TensorType::Q8_0>(group, n, x, num_tokens, rows_per_warp, stream);
    case TensorType::Q4_K:
      return launch_type<TensorType::Q4_K>(group, n, x, num_tokens, rows_per_warp, stream);
    default:
      return launch_type<TensorType::Q6_K>(group, n, x, num_tokens, rows_per_warp, stream);
  }
}

}  // namespace tokamak::cuda
