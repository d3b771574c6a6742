#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>

#include "cuda/common.cuh"
#include "cuda/matmul_float_direct.cuh"
#include "cuda/matmul_ring.cuh"

namespace tokamak::cuda {
namespace {

constexpr int kWarps = 8;  // per block
constexpr int kThreads = kWarps * kWarpSize;
constexpr int kUnroll = 4;  // 16-byte chunks per row in flight per lane

// 16 bytes from global memory, not kept in L1 (each weight byte is read once).
__device__ __forceinline__ uint4 load_stream(const void* p) {
  uint4 v;
  asm("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
      : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
      : "l"(p));
  return v;
}

// Values per 16-byte chunk and their dot with x values xv[0 .. kValues).
template <TensorType T>
struct Chunk;

template <>
struct Chunk<TensorType::F16> {
  static constexpr int kValues = 8;
  __device__ static float dot(const uint4& w, const float* xv) {
    const uint32_t words[4] = {w.x, w.y, w.z, w.w};
    float s0 = 0.0f, s1 = 0.0f;
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const float2 f = __half22float2(*reinterpret_cast<const __half2*>(&words[k]));
      s0 = fmaf(f.x, xv[2 * k], s0);
      s1 = fmaf(f.y, xv[2 * k + 1], s1);
    }
    return s0 + s1;
  }
};

template <>
struct Chunk<TensorType::BF16> {
  static constexpr int kValues = 8;
  __device__ static float dot(const uint4& w, const float* xv) {
    const uint32_t words[4] = {w.x, w.y, w.z, w.w};
    float s0 = 0.0f, s1 = 0.0f;
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      s0 = fmaf(__uint_as_float(words[k] << 16), xv[2 * k], s0);
      s1 = fmaf(__uint_as_float(words[k] & 0xFFFF0000u), xv[2 * k + 1], s1);
    }
    return s0 + s1;
  }
};

template <>
struct Chunk<TensorType::F32> {
  static constexpr int kValues = 4;
  __device__ static float dot(const uint4& w, const float* xv) {
    return fmaf(__uint_as_float(w.x), xv[0], __uint_as_float(w.y) * xv[1]) +
           fmaf(__uint_as_float(w.z), xv[2], __uint_as_float(w.w) * xv[3]);
  }
};

// grid: blocks of kThreads; warp w of the grid takes row groups w, w + (all
// warps), ...; a row group's chunks are walked kUnroll x 32 at a time.
template <TensorType T, int NR>
__global__ void __launch_bounds__(kThreads)
    matvec_direct_kernel(MatmulGroup group, int64_t n, const float* __restrict__ x) {
  using C = Chunk<T>;
  const int lane = threadIdx.x % kWarpSize;
  const unsigned stride = gridDim.x * kWarps;
  const int64_t num_chunks = n / C::kValues;
  const float4* x4 = reinterpret_cast<const float4*>(x);
  for (unsigned g = blockIdx.x * kWarps + threadIdx.x / kWarpSize; g < group.total; g += stride) {
    const RowGroup rg = locate<NR>(group, g);
    float acc[NR];
#pragma unroll
    for (int r = 0; r < NR; ++r) acc[r] = 0.0f;
    for (int64_t c0 = lane; c0 < num_chunks; c0 += kUnroll * kWarpSize) {
      uint4 w[kUnroll][NR];
#pragma unroll
      for (int k = 0; k < kUnroll; ++k) {
        const int64_t c = c0 + k * kWarpSize;
#pragma unroll
        for (int r = 0; r < NR; ++r) {
          w[k][r] = c < num_chunks && r < rg.num_r
                        ? load_stream(rg.base + r * rg.row_bytes + 16 * c)
                        : make_uint4(0, 0, 0, 0);
        }
      }
#pragma unroll
      for (int k = 0; k < kUnroll; ++k) {
        const int64_t c = c0 + k * kWarpSize;
        if (c >= num_chunks) break;
        float xv[C::kValues];
#pragma unroll
        for (int q = 0; q < C::kValues / 4; ++q) {
          const float4 v = __ldg(x4 + c * (C::kValues / 4) + q);
          xv[4 * q] = v.x, xv[4 * q + 1] = v.y, xv[4 * q + 2] = v.z, xv[4 * q + 3] = v.w;
        }
#pragma unroll
        for (int r = 0; r < NR; ++r) acc[r] += C::dot(w[k][r], xv);
      }
    }
#pragma unroll
    for (int r = 0; r < NR; ++r) {
      const float v = warp_sum(acc[r]);
      if (lane == 0 && r < rg.num_r) rg.y[rg.r0 + r] = v;
    }
  }
}

template <TensorType T, int NR>
cudaError_t launch(MatmulGroup group, int64_t n, const float* x, cudaStream_t stream) {
  assign_rows(group, NR);
  if (group.total == 0) return cudaSuccess;
  thread_local unsigned resident = 0;
  if (resident == 0)
    resident = query_resident_blocks((const void*)matvec_direct_kernel<T, NR>, kThreads, 0);
  const unsigned blocks = std::min((group.total + kWarps - 1) / kWarps, resident);
  matvec_direct_kernel<T, NR><<<blocks, kThreads, 0, stream>>>(group, n, x);
  return cudaGetLastError();
}

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }

}  // namespace

bool matvec_float_direct_supports(const MatmulWeight* weights, int count, const float* x) {
  const TensorType type = weights[0].type;
  if (type != TensorType::F16 && type != TensorType::BF16 && type != TensorType::F32) return false;
  const int64_t per_chunk = type == TensorType::F32 ? 4 : 8;
  if (weights[0].row_length % per_chunk != 0 || !aligned16(x)) return false;
  for (int g = 0; g < count; ++g)
    if (!aligned16(weights[g].data) || weights[g].row_bytes % 16 != 0) return false;
  return true;
}

cudaError_t launch_matvec_float_direct(const MatmulGroup& group, TensorType type, int64_t n,
                                       const float* x, int rows_per_warp, cudaStream_t stream) {
  const bool four = rows_per_warp == 4;
  switch (type) {
    case TensorType::F16:
      return four ? launch<TensorType::F16, 4>(group, n, x, stream)
                  : launch<TensorType::F16, 2>(group, n, x, stream);
    case TensorType::BF16:
      return four ? launch<TensorType::BF16, 4>(group, n, x, stream)
                  : launch<TensorType::BF16, 2>(group, n, x, stream);
    case TensorType::F32:
      return four ? launch<TensorType::F32, 4>(group, n, x, stream)
                  : launch<TensorType::F32, 2>(group, n, x, stream);
    default:
      return cudaErrorInvalidValue;
  }
}

}  // namespace tokamak::cuda
