#include <algorithm>

#include "cuda/common.cuh"
#include "cuda/matmul.cuh"
#include "cuda/matmul_pieces.cuh"

namespace tokamak::cuda {
namespace {

constexpr int kWarps = 4;  // per block; each warp works alone
constexpr int kThreads = kWarps * kWarpSize;

// Shared bytes of one row segment slot: the segment's bytes keep their
// global address modulo 16 (for the 16-byte copies), hence the slack.
template <TensorType T>
__host__ __device__ constexpr int slot_bytes() {
  return static_cast<int>((piece_bytes<T>(Piece<T>::kSegValues) + 16 + 15) / 16 * 16);
}
template <TensorType T, int NR>
__host__ __device__ constexpr int warp_smem_bytes() {
  return 2 * NR * slot_bytes<T>();  // two stages of NR rows
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
__device__ __forceinline__ void cp_async_wait_all_but_one() {
  asm volatile("cp.async.wait_group 1;\n" ::: "memory");
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

// x values run0 + i, run1 + i (i < 8) of one token row; zero past `valid`.
__device__ __forceinline__ void load_x16(const float* xr, int run0, int run1, int valid, bool x_vec,
                                         float* xs) {
  if (x_vec && valid == 16) {
    const float4* a = reinterpret_cast<const float4*>(xr + run0);
    const float4* b = reinterpret_cast<const float4*>(xr + run1);
    const float4 v[4] = {__ldg(a), __ldg(a + 1), __ldg(b), __ldg(b + 1)};
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      xs[4 * k] = v[k].x, xs[4 * k + 1] = v[k].y, xs[4 * k + 2] = v[k].z, xs[4 * k + 3] = v[k].w;
    }
    return;
  }
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    xs[i] = i < valid ? __ldg(xr + run0 + i) : 0.0f;
    xs[8 + i] = 8 + i < valid ? __ldg(xr + run1 + i) : 0.0f;
  }
}

// acc[r][t] += piece p of rows r < num_r · token rows t < num_t.
template <TensorType T, int NR, int NT>
__device__ __forceinline__ void accumulate_piece(const uint8_t* const* segs, const bool* aligned,
                                                 int num_r, int p, int valid, const float* x0,
                                                 int64_t n, int num_t, bool x_vec,
                                                 float (&acc)[NR][NT]) {
  float wq[NR][16], a[NR], b[NR];
  int run0 = 0, run1 = 0;
#pragma unroll
  for (int r = 0; r < NR; ++r)
    if (r < num_r) Piece<T>::decode(segs[r], aligned[r], p, valid, wq[r], a[r], b[r], run0, run1);
#pragma unroll
  for (int t = 0; t < NT; ++t) {
    if (t >= num_t) break;
    float xs[16];
    load_x16(x0 + t * n, run0, run1, valid, x_vec, xs);
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

// grid (blocks, ceil(num_tokens / NT)), block kThreads, dynamic shared
// kWarps * warp_smem_bytes<T, NR>(). Warp w of the grid takes row groups
// w, w + (all warps), ...; each row group (NR rows) is walked segment by
// segment, the next (of this or the next row group) staged while the
// current one is reduced.
template <TensorType T, int NR, int NT>
__global__ void __launch_bounds__(kThreads)
    matmul_kernel(MatmulGroup group, int64_t n, const float* x, int64_t num_tokens, bool x_vec) {
  using P = Piece<T>;
  extern __shared__ __align__(16) uint8_t smem[];
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  uint8_t* stages = smem + warp * warp_smem_bytes<T, NR>();
  const unsigned total = group.total;
  const unsigned stride = gridDim.x * kWarps;
  const unsigned first = blockIdx.x * kWarps + warp;
  if (first >= total) return;
  const int64_t t0 = static_cast<int64_t>(blockIdx.y) * NT;
  const int num_t = static_cast<int>(min(static_cast<int64_t>(NT), num_tokens - t0));
  const float* x0 = x + t0 * n;
  const unsigned num_segs = static_cast<unsigned>((n + P::kSegValues - 1) / P::kSegValues);
  const unsigned num_items = ((total - 1 - first) / stride + 1) * num_segs;
  auto slot = [&](unsigned item, int r) {
    return stages + ((item & 1) * NR + r) * slot_bytes<T>();
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
  issue(0);
  cp_async_commit();
  for (unsigned it = 0; it < num_items; ++it) {
    if (it + 1 < num_items) issue(it + 1);
    cp_async_commit();
    cp_async_wait_all_but_one();
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
    const int num_pieces = (seg_n + 15) / 16;
    for (int p = lane; p < num_pieces; p += kWarpSize) {
      const int valid = P::kFloat ? min(16, seg_n - 16 * p) : 16;
      accumulate_piece<T, NR, NT>(segs, aligned, rg.num_r, p, valid, x0 + s0, n, num_t, x_vec, acc);
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
    __syncwarp();  // the slots of this item are staged again two items on
  }
}

// Blocks of matmul_kernel<T, NR, NT> that fit on the device at once (the
// shared-memory limit raised once per instantiation).
template <TensorType T, int NR, int NT>
unsigned resident_blocks() {
  static const unsigned blocks = [] {
    const int smem = kWarps * warp_smem_bytes<T, NR>();
    cudaFuncSetAttribute(matmul_kernel<T, NR, NT>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                         smem);
    int device = 0, sms = 0, per_sm = 0;
    cudaGetDevice(&device);
    cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
    cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, matmul_kernel<T, NR, NT>, kThreads,
                                                  smem);
    return static_cast<unsigned>(std::max(1, sms) * std::max(1, per_sm));
  }();
  return blocks;
}

template <TensorType T, int NR, int NT>
cudaError_t launch_kernel(MatmulGroup group, int64_t n, const float* x, int64_t num_tokens,
                          cudaStream_t stream) {
  unsigned total = 0;
  for (int g = 0; g < group.count; ++g) {
    group.first_group[g] = total;
    total += static_cast<unsigned>((group.rows[g] + NR - 1) / NR);
  }
  group.total = total;
  if (total == 0) return cudaSuccess;
  const unsigned blocks = std::min((total + kWarps - 1) / kWarps, resident_blocks<T, NR, NT>());
  const unsigned passes = static_cast<unsigned>((num_tokens + NT - 1) / NT);
  const bool x_vec = (reinterpret_cast<uintptr_t>(x) & 15) == 0 && n % 4 == 0;
  matmul_kernel<T, NR, NT>
      <<<dim3(blocks, passes), kThreads, kWarps * warp_smem_bytes<T, NR>(), stream>>>(
          group, n, x, num_tokens, x_vec);
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_matmul_group(const MatmulWeight* weights, float* const* ys, int count,
                                const float* x, int64_t num_tokens, cudaStream_t stream) {
  if (count < 1 || count > kMaxMatmulGroup) return cudaErrorInvalidValue;
  if (num_tokens == 0) return cudaSuccess;
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
      err = launch_kernel<T, 4, 1>(group, n, x, num_tokens, stream);
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
