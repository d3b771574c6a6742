#include <algorithm>

#include "cuda/common.cuh"
#include "cuda/matmul.cuh"
#include "cuda/matmul_dp4a.cuh"
#include "cuda/matmul_pieces.cuh"

namespace tokamak::cuda {
namespace {

constexpr int kWarps = 4;  // per block; each warp works alone
constexpr int kThreads = kWarps * kWarpSize;
constexpr int kStages = 2;  // segments per warp: one in flight while one is reduced

// Shared bytes of one row segment slot: the segment's bytes keep their
// global address modulo 16 (for the 16-byte copies), hence the slack.
template <TensorType T>
__host__ __device__ constexpr int slot_bytes() {
  return static_cast<int>((piece_bytes<T>(Piece<T>::kSegValues) + 16 + 15) / 16 * 16);
}
template <TensorType T, int NR>
__host__ __device__ constexpr int warp_smem_bytes() {
  return kStages * NR * slot_bytes<T>();
}

// Up to kMaxMatmulGroup weights of one type and row length sharing the
// input x; row groups of weight g are first_group[g] .. first_group[g+1].
struct MatmulGroup {
  const uint8_t* data[kMaxMatmulGroup];
  size_t row_bytes[kMaxMatmulGroup];
  int64_t rows[kMaxMatmulGroup];
  float* y[kMaxMatmulGroup];
  unsigned first_group[kMaxMatmulGroup];
  unsigned total;  // row groups of all weights
  int count;
};

// group.field[g] without dynamic indexing (which would copy the parameter
// struct to local memory).
template <class V>
__device__ __forceinline__ V pick(const V (&a)[kMaxMatmulGroup], int g) {
  return g == 0 ? a[0] : (g == 1 ? a[1] : a[2]);
}

struct RowGroup {
  const uint8_t* base;  // row r0
  size_t row_bytes;
  int64_t r0, rows;
  int num_r;
  float* y;
};

template <int NR>
__device__ __forceinline__ RowGroup locate(const MatmulGroup& gr, unsigned rg) {
  int g = 0;
  if (gr.count > 1 && rg >= gr.first_group[1]) g = 1;
  if (gr.count > 2 && rg >= gr.first_group[2]) g = 2;
  const unsigned first =
      g == 0 ? gr.first_group[0] : (g == 1 ? gr.first_group[1] : gr.first_group[2]);
  RowGroup r;
  r.rows = pick(gr.rows, g);
  r.r0 = static_cast<int64_t>(rg - first) * NR;
  r.num_r = static_cast<int>(min(static_cast<int64_t>(NR), r.rows - r.r0));
  r.row_bytes = pick(gr.row_bytes, g);
  r.base = pick(gr.data, g) + r.r0 * r.row_bytes;
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
// Waits until at most kStages - 2 of this thread's copy groups are pending.
__device__ __forceinline__ void cp_async_wait_stage() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kStages - 2) : "memory");
}

// The warp copies bytes [src, src + bytes) (both ends 2-byte aligned) to
// slot + (src % 16) ..: 16-byte cp.async for the aligned middle, 2-byte
// loads and stores for the ends.
__device__ __forceinline__ void stage_bytes(uint8_t* slot, const uint8_t* src, int64_t bytes,
                                            int lane) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(src), b = a + bytes;
  const uintptr_t a16 = (a + 15) & ~uintptr_t{15}, b16 = b & ~uintptr_t{15};
  uint8_t* dst = slot + (a & 15);  // where address a goes
  const uintptr_t head_end = a16 < b ? a16 : b;
  for (uintptr_t o = a + 2 * lane; o < head_end; o += 2 * kWarpSize)
    *reinterpret_cast<uint16_t*>(dst + (o - a)) = *reinterpret_cast<const uint16_t*>(o);
  for (uintptr_t o = a16 + 16 * lane; o < b16; o += 16 * kWarpSize)
    cp_async16(dst + (o - a), reinterpret_cast<const void*>(o));
  for (uintptr_t o = (b16 > a16 ? b16 : a16) + 2 * lane; o < b; o += 2 * kWarpSize)
    *reinterpret_cast<uint16_t*>(dst + (o - a)) = *reinterpret_cast<const uint16_t*>(o);
}

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
// kWarps * warp_smem_bytes<T, NR>() (+ the padded copy of x when x_smem, one
// token only). Warp w of the grid takes row groups
// w, w + (all warps), ...; each row group (NR rows) is walked segment by
// segment, the next (of this or the next row group) staged while the
// current one is reduced.
template <TensorType T, int NR, int NT, int kPieces>
__global__ void __launch_bounds__(kThreads)
    matmul_kernel(MatmulGroup group, int64_t n, const float* x, int64_t num_tokens, bool x_vec,
                  bool x_smem) {
  using P = Piece<T>;
  extern __shared__ __align__(16) uint8_t smem[];
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  uint8_t* stages = smem + warp * warp_smem_bytes<T, NR>();
  const unsigned total = group.total;
  const unsigned stride = gridDim.x * kWarps;
  const unsigned first = blockIdx.x * kWarps + warp;
  const bool has_work = first < total;
  const int64_t t0 = static_cast<int64_t>(blockIdx.y) * NT;
  const int num_t = static_cast<int>(min(static_cast<int64_t>(NT), num_tokens - t0));
  float* x_copy = reinterpret_cast<float*>(smem + kWarps * warp_smem_bytes<T, NR>());
  const float* x0 = x_smem ? x_copy : x + t0 * n;
  const unsigned num_segs = static_cast<unsigned>((n + P::kSegValues - 1) / P::kSegValues);
  const unsigned num_items = has_work ? ((total - 1 - first) / stride + 1) * num_segs : 0;
  auto slot = [&](unsigned item, int r) {
    return stages + ((item % kStages) * NR + r) * slot_bytes<T>();
  };
  auto segment = [&](unsigned s, int64_t& s0) {
    s0 = static_cast<int64_t>(s) * P::kSegValues;
    return static_cast<int>(min(static_cast<int64_t>(P::kSegValues), n - s0));
  };
  auto issue = [&](unsigned item) {
    const RowGroup rg = locate<NR>(group, first + (item / num_segs) * stride);
    int64_t s0;
    const int seg_n = segment(item % num_segs, s0);
#pragma unroll
    for (int r = 0; r < NR; ++r)
      if (r < rg.num_r)
        stage_bytes(slot(item, r), rg.base + r * rg.row_bytes + piece_bytes<T>(s0),
                    piece_bytes<T>(seg_n), lane);
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
  if (x_smem) {  // the block copies x while the first segments are in flight
    if (x_vec) {
      for (int64_t i = 4 * threadIdx.x; i < n; i += 4 * kThreads)
        *reinterpret_cast<float4*>(x_copy + padded(i)) =
            __ldg(reinterpret_cast<const float4*>(x + i));
    } else {
      for (int64_t i = threadIdx.x; i < n; i += kThreads) x_copy[padded(i)] = x[i];
    }
    __syncthreads();
  }
  if (!has_work) return;
  for (unsigned it = 0; it < num_items; ++it) {
    if (it + kStages - 1 < num_items) issue(it + kStages - 1);
    cp_async_commit();
    cp_async_wait_stage();
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
          reinterpret_cast<uintptr_t>(rg.base + r * rg.row_bytes + piece_bytes<T>(s0));
      segs[r] = slot(it, r) + (src & 15);
      aligned[r] = (src & 15) == 0;
    }
    if constexpr (NT == 1) {
      if (rg.num_r == NR) {
        reduce_segment_1<T, NR, kPieces, true>(segs, aligned, NR, seg_n, x0, x_smem, s0, x_vec,
                                               lane, acc);
      } else {
        reduce_segment_1<T, NR, kPieces, false>(segs, aligned, rg.num_r, seg_n, x0, x_smem, s0,
                                                x_vec, lane, acc);
      }
    } else {
      const int num_pieces = (seg_n + 15) / 16;
      for (int p = lane; p < num_pieces; p += kWarpSize) {
        const int valid = P::kFloat ? min(16, seg_n - 16 * p) : 16;
        accumulate_piece<T, NR, NT>(segs, aligned, rg.num_r, p, valid, x0, x_smem, s0, n, num_t,
                                    x_vec, acc);
      }
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

// The device's SMs and opt-in shared bytes per block; the kernel's limit is
// raised to the latter once per instantiation.
template <TensorType T, int NR, int NT, int kPieces>
int2 device_limits() {
  static const int2 limits = [] {
    int dev = 0, sms = 0, optin = 0;
    cudaGetDevice(&dev);
    cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
    cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev);
    cudaFuncSetAttribute(matmul_kernel<T, NR, NT, kPieces>,
                         cudaFuncAttributeMaxDynamicSharedMemorySize, optin);
    return make_int2(std::max(1, sms), optin);
  }();
  return limits;
}

// Blocks of the kernel with `smem` dynamic shared bytes that fit on the
// device at once. The answer depends on smem alone: the last one is kept
// per thread (one query per matrix width rather than one per launch).
template <TensorType T, int NR, int NT, int kPieces>
unsigned resident_blocks(int smem) {
  thread_local int cached_smem = -1;
  thread_local unsigned cached_blocks = 0;
  if (smem != cached_smem) {
    int per_sm = 0;
    cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, matmul_kernel<T, NR, NT, kPieces>,
                                                  kThreads, smem);
    cached_blocks =
        static_cast<unsigned>(device_limits<T, NR, NT, kPieces>().x * std::max(1, per_sm));
    cached_smem = smem;
  }
  return cached_blocks;
}

template <TensorType T, int NR, int NT, int kPieces = 1>
cudaError_t launch_kernel(MatmulGroup group, int64_t n, const float* x, int64_t num_tokens,
                          cudaStream_t stream) {
  unsigned total = 0;
  for (int g = 0; g < group.count; ++g) {
    group.first_group[g] = total;
    total += static_cast<unsigned>((group.rows[g] + NR - 1) / NR);
  }
  group.total = total;
  if (total == 0) return cudaSuccess;
  const int stage_smem = kWarps * warp_smem_bytes<T, NR>();
  const int x_smem_bytes = static_cast<int>(padded(n + 31) * sizeof(float));
  const int max_smem = device_limits<T, NR, NT, kPieces>().y;
  // One token, block types: x goes to shared memory once per block when it
  // fits (float types read it through L1: more blocks fit per SM).
  const bool x_smem = NT == 1 && !Piece<T>::kFloat && stage_smem + x_smem_bytes <= max_smem;
  const int smem = stage_smem + (x_smem ? x_smem_bytes : 0);
  const unsigned resident = resident_blocks<T, NR, NT, kPieces>(smem);
  const unsigned blocks = std::min((total + kWarps - 1) / kWarps, resident);
  const unsigned passes = static_cast<unsigned>((num_tokens + NT - 1) / NT);
  const bool x_vec = (reinterpret_cast<uintptr_t>(x) & 15) == 0 && n % 4 == 0;
  matmul_kernel<T, NR, NT, kPieces>
      <<<dim3(blocks, passes), kThreads, smem, stream>>>(group, n, x, num_tokens, x_vec, x_smem);
  return cudaGetLastError();
}

int decode_variant = 0;

}  // namespace

void set_matmul_decode_variant(int variant) {
  decode_variant = variant;
  if (variant == kMatmulDecodeDp4a || variant == kMatmulDecodeDp4aTwoRows) prepare_matmul_dp4a();
}

cudaError_t launch_matmul_group(const MatmulWeight* weights, float* const* ys, int count,
                                const float* x, int64_t num_tokens, cudaStream_t stream) {
  if (count < 1 || count > kMaxMatmulGroup) return cudaErrorInvalidValue;
  if (num_tokens == 0) return cudaSuccess;
  if ((decode_variant == kMatmulDecodeDp4a || decode_variant == kMatmulDecodeDp4aTwoRows) &&
      matmul_dp4a_supports(weights[0].type)) {
    const int rows_per_warp = decode_variant == kMatmulDecodeDp4a ? 4 : 2;
    const cudaError_t err =
        launch_matmul_dp4a(weights, ys, count, x, num_tokens, stream, rows_per_warp);
    if (err != cudaErrorNotSupported) return err;  // else: x too long for shared memory
  }
  MatmulGroup group{};
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
  cudaError_t err = cudaSuccess;
  const bool ok = dispatch_weight_type(weights[0].type, [&](auto tag) {
    constexpr TensorType T = decltype(tag)::value;
    if (num_tokens == 1) {
      if (decode_variant == 1) {
        err = launch_kernel<T, 4, 1, 2>(group, n, x, num_tokens, stream);
      } else {
        err = launch_kernel<T, 4, 1, 1>(group, n, x, num_tokens, stream);
      }
    } else if (num_tokens <= 4) {
      err = launch_kernel<T, 4, 4>(group, n, x, num_tokens, stream);
    } else {
      err = launch_kernel<T, 2, kMatmulTokensPerPass>(group, n, x, num_tokens, stream);
    }
  });
  if (!ok) return cudaErrorInvalidValue;
  return err;
}

cudaError_t launch_matmul(const MatmulWeight& w, const float* x, int64_t num_tokens, float* y,
                          cudaStream_t stream) {
  return launch_matmul_group(&w, &y, 1, x, num_tokens, stream);
}

}  // namespace tokamak::cuda
