// Shared device helpers of the CUDA kernels: warp reductions, half/bf16
// decoding, and "chunk" dequantization of weight rows.
//
// A chunk is 32 consecutive values of a row, whatever the type:
//   F32/F16/BF16  values 32c .. 32c+31 (the last chunk may be partial)
//   Q8_0, Q4_0    block c
//   Q4_K          sub-block c % 8 of block c / 8
//   Q6_K          values 32 (c % 8) .. of block c / 8
// Kernels give one chunk per lane (matmul) or per thread (embedding), so a
// warp reads 32 neighbouring chunks: contiguous bytes of one row.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <type_traits>

#include "core/tensor_type.h"

namespace tokamak::cuda {

inline constexpr int kWarpSize = 32;
inline constexpr int kChunk = 32;  // values per chunk

// 8 halves (16 bytes) as floats.
__device__ __forceinline__ void half8_to_float(const uint4& v, float* f) {
  const uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 two = __half22float2(*reinterpret_cast<const __half2*>(&w[i]));
    f[2 * i] = two.x;
    f[2 * i + 1] = two.y;
  }
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every
// thread gets the result. `scratch` holds 32 floats of shared memory.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  v = warp_sum(v);
  __syncthreads();  // scratch may still be read by an earlier call
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  const int num_warps = blockDim.x / kWarpSize;
  v = lane < num_warps ? scratch[lane] : 0.0f;
  return warp_sum(v);
}

__device__ __forceinline__ float f16_to_f32(uint16_t h) {
  return __half2float(__ushort_as_half(h));
}
__device__ __forceinline__ float bf16_to_f32(uint16_t h) {
  return __uint_as_float(static_cast<uint32_t>(h) << 16);
}

// 2-byte aligned little-endian reads (block layouts of 34, 18 and 210 bytes
// only guarantee 2-byte alignment).
__device__ __forceinline__ uint16_t load_u16(const uint8_t* p) {
  return *reinterpret_cast<const uint16_t*>(p);
}

__host__ __device__ constexpr int64_t num_chunks(int64_t n) { return (n + kChunk - 1) / kChunk; }

// Chunk c of a row of n values of type T, dequantized into w[0..31]
// (values past n, float types only, become 0).
template <TensorType T>
__device__ __forceinline__ void load_chunk(const uint8_t* row, int64_t c, int64_t n, float* w);

template <>
__device__ __forceinline__ void load_chunk<TensorType::F32>(const uint8_t* row, int64_t c,
                                                            int64_t n, float* w) {
  const float* p = reinterpret_cast<const float*>(row) + c * kChunk;
  if ((c + 1) * kChunk <= n && (reinterpret_cast<uintptr_t>(p) & 15) == 0) {
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const float4 v = reinterpret_cast<const float4*>(p)[i];
      w[4 * i] = v.x, w[4 * i + 1] = v.y, w[4 * i + 2] = v.z, w[4 * i + 3] = v.w;
    }
    return;
  }
  const int64_t left = n - c * kChunk;
#pragma unroll
  for (int i = 0; i < kChunk; ++i) w[i] = i < left ? p[i] : 0.0f;
}

// F16 and BF16: 64 bytes per chunk, four 16-byte loads when aligned.
template <bool kBf16>
__device__ __forceinline__ void load_chunk_16bit(const uint8_t* row, int64_t c, int64_t n,
                                                 float* w) {
  const uint16_t* p = reinterpret_cast<const uint16_t*>(row) + c * kChunk;
  auto cvt = [](uint16_t h) { return kBf16 ? bf16_to_f32(h) : f16_to_f32(h); };
  if ((c + 1) * kChunk <= n && (reinterpret_cast<uintptr_t>(p) & 15) == 0) {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const uint4 v = reinterpret_cast<const uint4*>(p)[i];
      const uint32_t words[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        w[8 * i + 2 * j] = cvt(static_cast<uint16_t>(words[j] & 0xFFFF));
        w[8 * i + 2 * j + 1] = cvt(static_cast<uint16_t>(words[j] >> 16));
      }
    }
    return;
  }
  const int64_t left = n - c * kChunk;
#pragma unroll
  for (int i = 0; i < kChunk; ++i) w[i] = i < left ? cvt(p[i]) : 0.0f;
}

template <>
__device__ __forceinline__ void load_chunk<TensorType::F16>(const uint8_t* row, int64_t c,
                                                            int64_t n, float* w) {
  load_chunk_16bit<false>(row, c, n, w);
}
template <>
__device__ __forceinline__ void load_chunk<TensorType::BF16>(const uint8_t* row, int64_t c,
                                                             int64_t n, float* w) {
  load_chunk_16bit<true>(row, c, n, w);
}

// Q8_0: 34-byte blocks, x[i] = d * qs[i].
template <>
__device__ __forceinline__ void load_chunk<TensorType::Q8_0>(const uint8_t* row, int64_t c,
                                                             int64_t n, float* w) {
  const uint8_t* b = row + c * 34;
  const float d = f16_to_f32(load_u16(b));
#pragma unroll
  for (int i = 0; i < 16; ++i) {
    const uint16_t q = load_u16(b + 2 + 2 * i);
    w[2 * i] = d * static_cast<float>(static_cast<int8_t>(q & 0xFF));
    w[2 * i + 1] = d * static_cast<float>(static_cast<int8_t>(q >> 8));
  }
}

// Q4_0: 18-byte blocks, x[j] = d * (lo(qs[j]) - 8), x[j+16] = d * (hi(qs[j]) - 8).
template <>
__device__ __forceinline__ void load_chunk<TensorType::Q4_0>(const uint8_t* row, int64_t c,
                                                             int64_t n, float* w) {
  const uint8_t* b = row + c * 18;
  const float d = f16_to_f32(load_u16(b));
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const uint16_t q = load_u16(b + 2 + 2 * i);
    const int q0 = q & 0xFF, q1 = q >> 8;
    w[2 * i] = d * static_cast<float>((q0 & 0xF) - 8);
    w[2 * i + 1] = d * static_cast<float>((q1 & 0xF) - 8);
    w[2 * i + 16] = d * static_cast<float>((q0 >> 4) - 8);
    w[2 * i + 17] = d * static_cast<float>((q1 >> 4) - 8);
  }
}

// Q4_K: 144-byte blocks (16-byte aligned when the row is); sub-block j uses
// nibbles of qs[32 (j/2) ..], low for even j, high for odd j.
template <>
__device__ __forceinline__ void load_chunk<TensorType::Q4_K>(const uint8_t* row, int64_t c,
                                                             int64_t n, float* w) {
  const uint8_t* b = row + (c / 8) * 144;
  const int j = static_cast<int>(c % 8);
  const float d = f16_to_f32(load_u16(b));
  const float dmin = f16_to_f32(load_u16(b + 2));
  const uint8_t* scales = b + 4;
  int sc, m;
  if (j < 4) {
    sc = scales[j] & 63;
    m = scales[j + 4] & 63;
  } else {
    sc = (scales[j + 4] & 0xF) | ((scales[j - 4] >> 6) << 4);
    m = (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4);
  }
  const float scale = d * static_cast<float>(sc), min = dmin * static_cast<float>(m);
  const uint8_t* qs = b + 16 + 32 * (j / 2);
  const int shift = (j & 1) * 4;
  uint32_t words[8];
  if ((reinterpret_cast<uintptr_t>(qs) & 15) == 0) {
    const uint4 v0 = reinterpret_cast<const uint4*>(qs)[0];
    const uint4 v1 = reinterpret_cast<const uint4*>(qs)[1];
    words[0] = v0.x, words[1] = v0.y, words[2] = v0.z, words[3] = v0.w;
    words[4] = v1.x, words[5] = v1.y, words[6] = v1.z, words[7] = v1.w;
  } else {
#pragma unroll
    for (int i = 0; i < 8; ++i)
      words[i] = load_u16(qs + 4 * i) | static_cast<uint32_t>(load_u16(qs + 4 * i + 2)) << 16;
  }
#pragma unroll
  for (int i = 0; i < 32; ++i) {
    const int q = (words[i / 4] >> (8 * (i % 4) + shift)) & 0xF;
    w[i] = scale * static_cast<float>(q) - min;
  }
}

// Q6_K: 210-byte blocks; chunk k of a block = quarter q = k % 4 of half
// h = k / 4 (see quant/blocks.h for the bit layout).
template <>
__device__ __forceinline__ void load_chunk<TensorType::Q6_K>(const uint8_t* row, int64_t c,
                                                             int64_t n, float* w) {
  const uint8_t* b = row + (c / 8) * 210;
  const int k = static_cast<int>(c % 8);
  const int h = k / 4, q = k % 4;
  const uint8_t* ql = b + 64 * h + 32 * (q & 1);
  const uint8_t* qh = b + 128 + 32 * h;
  const int8_t* scales = reinterpret_cast<const int8_t*>(b + 192) + 8 * h + 2 * q;
  const float d = f16_to_f32(load_u16(b + 208));
  const float s0 = d * static_cast<float>(scales[0]), s1 = d * static_cast<float>(scales[1]);
  const int lo_shift = (q >> 1) * 4, hi_shift = 2 * q;
#pragma unroll
  for (int i = 0; i < 16; ++i) {
    const uint16_t l2 = load_u16(ql + 2 * i), h2 = load_u16(qh + 2 * i);
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      const int l = 2 * i + e;
      const int lo = ((e ? l2 >> 8 : l2 & 0xFF) >> lo_shift) & 0xF;
      const int hi = ((e ? h2 >> 8 : h2 & 0xFF) >> hi_shift) & 3;
      w[l] = (l < 16 ? s0 : s1) * static_cast<float>((lo | hi << 4) - 32);
    }
  }
}

template <TensorType T>
using TypeTag = std::integral_constant<TensorType, T>;

// Calls f(TypeTag<T>{}) for the weight type `type` (f reads the type as
// decltype(tag)::value); returns false for types the kernels do not handle.
template <class F>
bool dispatch_weight_type(TensorType type, F&& f) {
  switch (type) {
    case TensorType::F32:
      f(TypeTag<TensorType::F32>{});
      return true;
    case TensorType::F16:
      f(TypeTag<TensorType::F16>{});
      return true;
    case TensorType::BF16:
      f(TypeTag<TensorType::BF16>{});
      return true;
    case TensorType::Q8_0:
      f(TypeTag<TensorType::Q8_0>{});
      return true;
    case TensorType::Q4_0:
      f(TypeTag<TensorType::Q4_0>{});
      return true;
    case TensorType::Q4_K:
      f(TypeTag<TensorType::Q4_K>{});
      return true;
    case TensorType::Q6_K:
      f(TypeTag<TensorType::Q6_K>{});
      return true;
    default:
      return false;
  }
}

}  // namespace tokamak::cuda
