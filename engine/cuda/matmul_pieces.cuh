// Pieces of weight rows for the matmul kernel: a piece is 16 values of one
// row, decoded from a row segment staged in shared memory into integer-valued
// floats wq[16] plus a scale a and a min b, so that the weights are
//   w[i] = a * wq[i] + b   at row values run0 + i (i < 8) and run1 + i - 8.
// Bytes become floats without I2F: a byte q placed in the mantissa of
// 2^23 (0x4B0000qq) is 2^23 + q, and one FADD removes 2^23 (and the type's
// zero point) exactly.
//
//   type   segment values  piece p of a segment
//   Q4_0   2048            half h = p % 2 of block p / 2: qs[8h .. 8h+8)
//   Q8_0   1024            half h of block p / 2: qs[16h .. 16h+16)
//   Q4_K   2048            half of sub-block (p / 2) % 8 of block p / 16
//   Q6_K   1024            half of chunk (p / 2) % 8 of block p / 16
//   F16, BF16: 1024; F32: 512     values 16p .. 16p+16 (the last may be partial)
#pragma once

#include <cuda_fp16.h>

#include <cstdint>

#include "core/tensor_type.h"
#include "cuda/common.cuh"

namespace tokamak::cuda {

inline constexpr float kMagic = 8388608.0f;  // 2^23

// Byte J of w as a float, minus `zero`.
template <int J>
__device__ __forceinline__ float byte_value(uint32_t w, float zero) {
  return __int_as_float(static_cast<int>(__byte_perm(w, 0x4B000000u, 0x7540u | J))) -
         (kMagic + zero);
}

// 4 bytes at a 2-byte aligned shared-memory address.
__device__ __forceinline__ uint32_t load_u32_a2(const uint8_t* p) {
  const uint16_t* q = reinterpret_cast<const uint16_t*>(p);
  return static_cast<uint32_t>(q[0]) | static_cast<uint32_t>(q[1]) << 16;
}

// 16 bytes as 4 words; `aligned16` when p is 16-byte aligned, else 2-byte.
__device__ __forceinline__ void load_16_bytes(const uint8_t* p, bool aligned16, uint32_t* w) {
  if (aligned16) {
    const uint4 v = *reinterpret_cast<const uint4*>(p);
    w[0] = v.x, w[1] = v.y, w[2] = v.z, w[3] = v.w;
  } else {
#pragma unroll
    for (int k = 0; k < 4; ++k) w[k] = load_u32_a2(p + 4 * k);
  }
}

// The 4 bytes of each word as wq[4k + i] (minus zero).
__device__ __forceinline__ void bytes_to_values(const uint32_t* words, int num_words, float zero,
                                                float* wq) {
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    if (k < num_words) {
      wq[4 * k + 0] = byte_value<0>(words[k], zero);
      wq[4 * k + 1] = byte_value<1>(words[k], zero);
      wq[4 * k + 2] = byte_value<2>(words[k], zero);
      wq[4 * k + 3] = byte_value<3>(words[k], zero);
    }
  }
}

template <TensorType T>
struct Piece;

template <>
struct Piece<TensorType::Q4_0> {
  static constexpr int kSegValues = 2048, kBlockValues = 32, kBlockBytes = 18;
  static constexpr bool kHasMin = false, kFloat = false;
  __device__ static void runs(int p, int& run0, int& run1) {
    run0 = 32 * (p >> 1) + 8 * (p & 1);
    run1 = run0 + 16;
  }
  __device__ static void decode(const uint8_t* seg, bool, int p, int, float* wq, float& a, float& b,
                                int& run0, int& run1) {
    const uint8_t* blk = seg + (p >> 1) * 18;
    const int h = p & 1;
    a = f16_to_f32(load_u16(blk));
    b = 0.0f;
    const uint32_t q0 = load_u32_a2(blk + 2 + 8 * h), q1 = load_u32_a2(blk + 6 + 8 * h);
    const uint32_t words[4] = {q0 & 0x0F0F0F0Fu, q1 & 0x0F0F0F0Fu, (q0 >> 4) & 0x0F0F0F0Fu,
                               (q1 >> 4) & 0x0F0F0F0Fu};
    bytes_to_values(words, 4, 8.0f, wq);
    run0 = 32 * (p >> 1) + 8 * h;
    run1 = run0 + 16;
  }
};

template <>
struct Piece<TensorType::Q8_0> {
  static constexpr int kSegValues = 1024, kBlockValues = 32, kBlockBytes = 34;
  static constexpr bool kHasMin = false, kFloat = false;
  __device__ static void runs(int p, int& run0, int& run1) {
    run0 = 32 * (p >> 1) + 16 * (p & 1);
    run1 = run0 + 8;
  }
  __device__ static void decode(const uint8_t* seg, bool, int p, int, float* wq, float& a, float& b,
                                int& run0, int& run1) {
    const uint8_t* blk = seg + (p >> 1) * 34;
    const int h = p & 1;
    a = f16_to_f32(load_u16(blk));
    b = 0.0f;
    uint32_t words[4];
#pragma unroll
    for (int k = 0; k < 4; ++k) words[k] = load_u32_a2(blk + 2 + 16 * h + 4 * k) ^ 0x80808080u;
    bytes_to_values(words, 4, 128.0f, wq);  // (q + 128) - 128: signed bytes
    run0 = 32 * (p >> 1) + 16 * h;
    run1 = run0 + 8;
  }
};

template <>
struct Piece<TensorType::Q4_K> {
  static constexpr int kSegValues = 2048, kBlockValues = 256, kBlockBytes = 144;
  static constexpr bool kHasMin = true, kFloat = false;
  __device__ static void runs(int p, int& run0, int& run1) {
    run0 = 256 * (p >> 4) + 32 * ((p >> 1) & 7) + 16 * (p & 1);
    run1 = run0 + 8;
  }
  __device__ static void decode(const uint8_t* seg, bool aligned16, int p, int, float* wq, float& a,
                                float& b, int& run0, int& run1) {
    const uint8_t* blk = seg + (p >> 4) * 144;
    const int j = (p >> 1) & 7, h = p & 1;
    const float d = f16_to_f32(load_u16(blk)), dmin = f16_to_f32(load_u16(blk + 2));
    const uint8_t* scales = blk + 4;
    int sc, m;
    if (j < 4) {
      sc = scales[j] & 63;
      m = scales[j + 4] & 63;
    } else {
      sc = (scales[j + 4] & 0xF) | ((scales[j - 4] >> 6) << 4);
      m = (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4);
    }
    a = d * static_cast<float>(sc);
    b = -dmin * static_cast<float>(m);
    uint32_t words[4];
    load_16_bytes(blk + 16 + 32 * (j >> 1) + 16 * h, aligned16, words);
    const int shift = (j & 1) * 4;
#pragma unroll
    for (int k = 0; k < 4; ++k) words[k] = (words[k] >> shift) & 0x0F0F0F0Fu;
    bytes_to_values(words, 4, 0.0f, wq);
    run0 = 256 * (p >> 4) + 32 * j + 16 * h;
    run1 = run0 + 8;
  }
};

template <>
struct Piece<TensorType::Q6_K> {
  static constexpr int kSegValues = 1024, kBlockValues = 256, kBlockBytes = 210;
  static constexpr bool kHasMin = false, kFloat = false;
  __device__ static void runs(int p, int& run0, int& run1) {
    run0 = 256 * (p >> 4) + 32 * ((p >> 1) & 7) + 16 * (p & 1);
    run1 = run0 + 8;
  }
  __device__ static void decode(const uint8_t* seg, bool, int p, int, float* wq, float& a, float& b,
                                int& run0, int& run1) {
    const uint8_t* blk = seg + (p >> 4) * 210;
    const int k = (p >> 1) & 7, u = p & 1;
    const int hh = k >> 2, q = k & 3;
    const uint8_t* ql = blk + 64 * hh + 32 * (q & 1) + 16 * u;
    const uint8_t* qh = blk + 128 + 32 * hh + 16 * u;
    const int sc = static_cast<int8_t>(blk[192 + 8 * hh + 2 * q + u]);
    a = f16_to_f32(load_u16(blk + 208)) * static_cast<float>(sc);
    b = 0.0f;
    const int lo_shift = 4 * (q >> 1), hi_shift = 2 * q;
    uint32_t words[4];
#pragma unroll
    for (int w = 0; w < 4; ++w) {
      const uint32_t lo = (load_u32_a2(ql + 4 * w) >> lo_shift) & 0x0F0F0F0Fu;
      const uint32_t hi = (load_u32_a2(qh + 4 * w) >> hi_shift) & 0x03030303u;
      words[w] = lo | hi << 4;
    }
    bytes_to_values(words, 4, 32.0f, wq);
    run0 = 256 * (p >> 4) + 32 * k + 16 * u;
    run1 = run0 + 8;
  }
};

// F16 / BF16: values 16p .. 16p + valid (valid <= 16), zero past them.
template <bool kBf16>
struct Piece16Bit {
  static constexpr int kSegValues = 1024, kBlockValues = 1, kBlockBytes = 2;
  static constexpr bool kHasMin = false, kFloat = true;
  __device__ static void runs(int p, int& run0, int& run1) {
    run0 = 16 * p;
    run1 = run0 + 8;
  }
  __device__ static float cvt(uint32_t h) {
    return kBf16 ? bf16_to_f32(static_cast<uint16_t>(h)) : f16_to_f32(static_cast<uint16_t>(h));
  }
  __device__ static void decode(const uint8_t* seg, bool aligned16, int p, int valid, float* wq,
                                float& a, float& b, int& run0, int& run1) {
    const uint8_t* src = seg + 32 * p;
    a = 1.0f;
    b = 0.0f;
    run0 = 16 * p;
    run1 = run0 + 8;
    if (aligned16 && valid == 16) {
      const uint4 v0 = reinterpret_cast<const uint4*>(src)[0];
      const uint4 v1 = reinterpret_cast<const uint4*>(src)[1];
      const uint32_t words[8] = {v0.x, v0.y, v0.z, v0.w, v1.x, v1.y, v1.z, v1.w};
#pragma unroll
      for (int k = 0; k < 8; ++k) {
        wq[2 * k] = cvt(words[k] & 0xFFFFu);
        wq[2 * k + 1] = cvt(words[k] >> 16);
      }
      return;
    }
    const uint16_t* h = reinterpret_cast<const uint16_t*>(src);
#pragma unroll
    for (int i = 0; i < 16; ++i) wq[i] = i < valid ? cvt(h[i]) : 0.0f;
  }
};

template <>
struct Piece<TensorType::F16> : Piece16Bit<false> {};
template <>
struct Piece<TensorType::BF16> : Piece16Bit<true> {};

template <>
struct Piece<TensorType::F32> {
  static constexpr int kSegValues = 512, kBlockValues = 1, kBlockBytes = 4;
  static constexpr bool kHasMin = false, kFloat = true;
  __device__ static void runs(int p, int& run0, int& run1) {
    run0 = 16 * p;
    run1 = run0 + 8;
  }
  __device__ static void decode(const uint8_t* seg, bool aligned16, int p, int valid, float* wq,
                                float& a, float& b, int& run0, int& run1) {
    const float* src = reinterpret_cast<const float*>(seg) + 16 * p;
    a = 1.0f;
    b = 0.0f;
    run0 = 16 * p;
    run1 = run0 + 8;
    if (aligned16 && valid == 16) {
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        const float4 v = reinterpret_cast<const float4*>(src)[k];
        wq[4 * k] = v.x, wq[4 * k + 1] = v.y, wq[4 * k + 2] = v.z, wq[4 * k + 3] = v.w;
      }
      return;
    }
#pragma unroll
    for (int i = 0; i < 16; ++i) wq[i] = i < valid ? src[i] : 0.0f;
  }
};

// Bytes of `values` row values (a multiple of the block for block types).
template <TensorType T>
__host__ __device__ constexpr int64_t piece_bytes(int64_t values) {
  return values / Piece<T>::kBlockValues * Piece<T>::kBlockBytes;
}

}  // namespace tokamak::cuda
