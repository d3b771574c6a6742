// Pieces of the dp4a decode matvec (matmul_dp4a.cu): 32 values of a weight
// row, read from a row segment staged in shared memory (segments of 1024
// values: one piece per lane and row), as 8 words of int8
// for dp4a, and their dot with 32 int8 values of x. Host and device code
// (the intrinsics have host versions), so tests check the layouts against
// the CPU's vec_dot without a GPU.
//
//   type   segment values  piece p of a segment (32 values)
//   Q4_0   1024            block p (x: Q8_0 blocks of 32 with sums)
//   Q8_0   1024            block p (x: Q8_0 blocks of 32)
//   Q4_K   1024            sub-block p % 8 of block p / 8 (x: Q8_K, 32-sums)
//   Q6_K   1024            run p % 8 of block p / 8: half k / 4, values
//                          128h + 32(k % 4) + l, scale groups 2 (x: Q8_K)
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "core/tensor_type.h"

#ifdef __CUDACC__
#define TK_DP4A_UNROLL _Pragma("unroll")
#else
#define TK_DP4A_UNROLL
#endif

namespace tokamak::cuda {

// sum over bytes i < 4 of int8 a_i * int8 b_i, plus c.
__host__ __device__ __forceinline__ int dp4a_s8(int a, int b, int c) {
#ifdef __CUDA_ARCH__
  return __dp4a(a, b, c);
#else
  for (int i = 0; i < 4; ++i)
    c += static_cast<int8_t>(static_cast<uint32_t>(a) >> (8 * i)) *
         static_cast<int8_t>(static_cast<uint32_t>(b) >> (8 * i));
  return c;
#endif
}

// The low 32 bits of (hi:lo) >> shift (shift < 32).
__host__ __device__ __forceinline__ uint32_t funnel_r(uint32_t lo, uint32_t hi, unsigned shift) {
#ifdef __CUDA_ARCH__
  return __funnelshift_r(lo, hi, shift);
#else
  return static_cast<uint32_t>(((static_cast<uint64_t>(hi) << 32) | lo) >> shift);
#endif
}

// Bytewise a - b (mod 256 per byte).
__host__ __device__ __forceinline__ uint32_t sub_bytes(uint32_t a, uint32_t b) {
#ifdef __CUDA_ARCH__
  return __vsub4(a, b);
#else
  uint32_t r = 0;
  for (int i = 0; i < 4; ++i)
    r |= static_cast<uint32_t>(static_cast<uint8_t>((a >> (8 * i)) - (b >> (8 * i)))) << (8 * i);
  return r;
#endif
}

__host__ __device__ __forceinline__ float half_bits_to_f32(uint16_t h) {
  return __half2float(__ushort_as_half(h));
}
__host__ __device__ __forceinline__ uint16_t load_u16_a2(const uint8_t* p) {
  return *reinterpret_cast<const uint16_t*>(p);
}

// 32 weights of a piece as 8 words of int8 (word k = values 4k .. 4k+3),
// and what scales their dot with x.
struct WeightPiece {
  int q[8];
  float d, dmin;  // block scale (and Q4_K's min scale)
  int sc0, sc1;   // sub-scales: Q4_K scale and min; Q6_K the two groups' scales
};

// 16 bytes at a 2-byte aligned shared-memory address as 4 words: 5 aligned
// word loads and funnel shifts (reads up to 2 bytes past the 16).
__host__ __device__ __forceinline__ void load16_a2(const uint8_t* p, int* w) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  const uint32_t* s = reinterpret_cast<const uint32_t*>(a & ~uintptr_t{3});
  const unsigned shift = static_cast<unsigned>(a & 2) * 8;  // 0 or 16
  uint32_t v[5];
  TK_DP4A_UNROLL
  for (int k = 0; k < 5; ++k) v[k] = s[k];
  TK_DP4A_UNROLL
  for (int k = 0; k < 4; ++k) w[k] = static_cast<int>(funnel_r(v[k], v[k + 1], shift));
}

// 32 bytes at p (2-byte aligned; 16-byte aligned when aligned16).
__host__ __device__ __forceinline__ void load32(const uint8_t* p, bool aligned16, int* w) {
  if (aligned16) {
    const int4 a = reinterpret_cast<const int4*>(p)[0];
    const int4 b = reinterpret_cast<const int4*>(p)[1];
    w[0] = a.x, w[1] = a.y, w[2] = a.z, w[3] = a.w, w[4] = b.x, w[5] = b.y, w[6] = b.z, w[7] = b.w;
  } else {
    load16_a2(p, w);
    load16_a2(p + 16, w + 4);
  }
}

template <TensorType T>
struct Dp4a;

// Q4_0: piece p = block p of the segment; x in Q8_0 blocks with sums.
template <>
struct Dp4a<TensorType::Q4_0> {
  static constexpr int kSegValues = 1024, kBlockValues = 32, kBlockBytes = 18, kXBlock = 32;
  __host__ __device__ static void decode(const uint8_t* seg, bool, int p, WeightPiece& w) {
    const uint8_t* blk = seg + 18 * p;
    w.d = half_bits_to_f32(load_u16_a2(blk));
    int u[4];
    load16_a2(blk + 2, u);
    TK_DP4A_UNROLL
    for (int k = 0; k < 4; ++k) {
      w.q[k] = u[k] & 0x0F0F0F0F;             // values 4k .. (low nibbles)
      w.q[k + 4] = (u[k] >> 4) & 0x0F0F0F0F;  // values 16 + 4k .. (high nibbles)
    }
  }
  // sum((nibble - 8) * xq) * (d * xd), as the CPU's dot_q4_0 per block.
  __host__ __device__ static float dot(const WeightPiece& w, int sumi, float xd, int xsum) {
    return static_cast<float>(sumi - 8 * xsum) * (w.d * xd);
  }
};

// Q8_0: piece p = block p; x in Q8_0 blocks.
template <>
struct Dp4a<TensorType::Q8_0> {
  static constexpr int kSegValues = 1024, kBlockValues = 32, kBlockBytes = 34, kXBlock = 32;
  __host__ __device__ static void decode(const uint8_t* seg, bool, int p, WeightPiece& w) {
    const uint8_t* blk = seg + 34 * p;
    w.d = half_bits_to_f32(load_u16_a2(blk));
    load16_a2(blk + 2, w.q);
    load16_a2(blk + 18, w.q + 4);
  }
  __host__ __device__ static float dot(const WeightPiece& w, int sumi, float xd, int) {
    return static_cast<float>(sumi) * (w.d * xd);
  }
};

// Q4_K: piece p = sub-block p % 8 of block p / 8; x in Q8_K blocks.
template <>
struct Dp4a<TensorType::Q4_K> {
  static constexpr int kSegValues = 1024, kBlockValues = 256, kBlockBytes = 144, kXBlock = 256;
  __host__ __device__ static void decode(const uint8_t* seg, bool aligned16, int p,
                                         WeightPiece& w) {
    const uint8_t* blk = seg + 144 * (p >> 3);
    const int j = p & 7;
    w.d = half_bits_to_f32(load_u16_a2(blk));
    w.dmin = half_bits_to_f32(load_u16_a2(blk + 2));
    const uint8_t* scales = blk + 4;
    if (j < 4) {
      w.sc0 = scales[j] & 63;
      w.sc1 = scales[j + 4] & 63;
    } else {
      w.sc0 = (scales[j + 4] & 0xF) | ((scales[j - 4] >> 6) << 4);
      w.sc1 = (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4);
    }
    load32(blk + 16 + 32 * (j >> 1), aligned16, w.q);
    const int shift = 4 * (j & 1);
    TK_DP4A_UNROLL
    for (int k = 0; k < 8; ++k) w.q[k] = (w.q[k] >> shift) & 0x0F0F0F0F;
  }
  // xd*d*(sc*sumi) - xd*dmin*(m*sum xq): the CPU's dot_q4k, per sub-block.
  __host__ __device__ static float dot(const WeightPiece& w, int sumi, float xd, int xsum) {
    return (xd * w.d) * static_cast<float>(w.sc0 * sumi) -
           (xd * w.dmin) * static_cast<float>(w.sc1 * xsum);
  }
};

// Q6_K: piece p = run k = p % 8 of block p / 8: half h = k / 4, values
// 128h + 32q + l (q = k % 4, l < 32), scale groups 8h + 2q and 8h + 2q + 1.
template <>
struct Dp4a<TensorType::Q6_K> {
  static constexpr int kSegValues = 1024, kBlockValues = 256, kBlockBytes = 210, kXBlock = 256;
  __host__ __device__ static void decode(const uint8_t* seg, bool, int p, WeightPiece& w) {
    const uint8_t* blk = seg + 210 * (p >> 3);
    const int k = p & 7, h = k >> 2, q = k & 3;
    int lo[8], hi[8];
    load16_a2(blk + 64 * h + 32 * (q & 1), lo);
    load16_a2(blk + 64 * h + 32 * (q & 1) + 16, lo + 4);
    load16_a2(blk + 128 + 32 * h, hi);
    load16_a2(blk + 128 + 32 * h + 16, hi + 4);
    const int lo_shift = 4 * (q >> 1), hi_shift = 2 * q;
    TK_DP4A_UNROLL
    for (int i = 0; i < 8; ++i) {
      const unsigned v = ((static_cast<unsigned>(lo[i]) >> lo_shift) & 0x0F0F0F0Fu) |
                         (((static_cast<unsigned>(hi[i]) >> hi_shift) & 0x03030303u) << 4);
      w.q[i] = static_cast<int>(sub_bytes(v, 0x20202020u));  // 6-bit q - 32, per byte
    }
    const uint16_t s = load_u16_a2(blk + 192 + 8 * h + 2 * q);
    w.sc0 = static_cast<int8_t>(s & 0xFF);
    w.sc1 = static_cast<int8_t>(s >> 8);
    w.d = half_bits_to_f32(load_u16_a2(blk + 208));
  }
  __host__ __device__ static float dot(const WeightPiece& w, int sum0, int sum1, float xd) {
    return (xd * w.d) * static_cast<float>(w.sc0 * sum0 + w.sc1 * sum1);
  }
};

// The 8 dp4a of a piece's weight words with x words 0..7 (a: 0..3, b:
// 4..7): sum0 over words 0..3, sum1 over 4..7.
__host__ __device__ __forceinline__ void dot8(const int* q, const int4& a, const int4& b, int& sum0,
                                              int& sum1) {
  sum0 = dp4a_s8(q[3], a.w, dp4a_s8(q[2], a.z, dp4a_s8(q[1], a.y, dp4a_s8(q[0], a.x, 0))));
  sum1 = dp4a_s8(q[7], b.w, dp4a_s8(q[6], b.z, dp4a_s8(q[5], b.y, dp4a_s8(q[4], b.x, 0))));
}

}  // namespace tokamak::cuda
