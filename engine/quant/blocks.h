// Block layouts of the quantized tensor types, byte for byte as llama.cpp's
// ggml-common.h lays them out (these bytes are what GGUF files hold). All
// halves are IEEE binary16 stored as uint16_t (see core/half.h).
//
//   BlockQ8_0 (32 values, 34 bytes)     x[i] = d * qs[i]
//   +------+------------------+
//   | d f16| qs int8[32]      |
//   +------+------------------+
//
//   BlockQ4_0 (32 values, 18 bytes)     x[i] = d * (nibble(i) - 8)
//   +------+------------------+          nibble(j)    = qs[j] & 0xF   (j < 16)
//   | d f16| qs uint8[16]     |          nibble(j+16) = qs[j] >> 4
//   +------+------------------+
//
//   BlockQ4K (256 values = 8 sub-blocks of 32, 144 bytes)
//   +------+---------+------------+--------------+
//   | d f16| dmin f16| scales[12] | qs uint8[128]|
//   +------+---------+------------+--------------+
//   sub-block j has a 6-bit scale sc_j and a 6-bit min m_j packed in scales:
//     j < 4:  sc_j = scales[j] & 63,   m_j = scales[j+4] & 63
//     j >= 4: sc_j = (scales[j+4] & 15) | (scales[j-4] >> 6) << 4
//             m_j  = (scales[j+4] >> 4) | (scales[j]   >> 6) << 4
//   values 64c..64c+31 are the low nibbles of qs[32c..32c+31] (sub-block 2c),
//   values 64c+32..64c+63 their high nibbles (sub-block 2c+1):
//     x = d*sc_j * q - dmin*m_j
//
//   BlockQ6K (256 values = 16 groups of 16, 210 bytes)
//   +---------------+--------------+-----------------+------+
//   | ql uint8[128] | qh uint8[64] | scales int8[16] | d f16|
//   +---------------+--------------+-----------------+------+
//   two halves h = 0, 1 of 128 values; within half h (ql += 64h, qh += 32h),
//   for l < 32, each value q is 6 bits (0..63), x = d * scales[g] * (q - 32):
//     value l      : ql[l]    & 15 | (qh[l] >> 0 & 3) << 4
//     value l + 32 : ql[l+32] & 15 | (qh[l] >> 2 & 3) << 4
//     value l + 64 : ql[l]    >> 4 | (qh[l] >> 4 & 3) << 4
//     value l + 96 : ql[l+32] >> 4 | (qh[l] >> 6 & 3) << 4
//   group g = (128h + value index) / 16.
//
//   BlockQ8_0Sum (32 values, 36 bytes; activations for Q4_0 weights only,
//   never in files; the size of ggml's Q8_1 but not its meaning)
//   +------+--------------+------------------+   x[i] = d * qs[i] as in Q8_0;
//   | d f16| sum8 int16   | qs int8[32]      |   sum8 = 8 * sum qs (exact)
//   +------+--------------+------------------+
//
//   BlockQ8K (256 values, 292 bytes; activations only, never in files)
//   +---------+--------------+------------------+
//   | d f32   | qs int8[256] | bsums int16[16]  |   bsums[g] = sum qs[16g..16g+15]
//   +---------+--------------+------------------+
#pragma once

#include <cstdint>

namespace tokamak::quant {

inline constexpr int kQK4_0 = 32;
inline constexpr int kQK8_0 = 32;
inline constexpr int kQK_K = 256;
inline constexpr int kKScaleBytes = 12;

struct BlockQ8_0 {
  uint16_t d;  // f16
  int8_t qs[kQK8_0];
};
static_assert(sizeof(BlockQ8_0) == 34, "Q8_0 block must be 34 bytes");

struct BlockQ4_0 {
  uint16_t d;  // f16
  uint8_t qs[kQK4_0 / 2];
};
static_assert(sizeof(BlockQ4_0) == 18, "Q4_0 block must be 18 bytes");

struct BlockQ4K {
  uint16_t d;     // f16, super-block scale of the scales
  uint16_t dmin;  // f16, super-block scale of the mins
  uint8_t scales[kKScaleBytes];
  uint8_t qs[kQK_K / 2];
};
static_assert(sizeof(BlockQ4K) == 144, "Q4_K block must be 144 bytes");

struct BlockQ6K {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  uint16_t d;  // f16
};
static_assert(sizeof(BlockQ6K) == 210, "Q6_K block must be 210 bytes");

// Activation format for Q4_0 weights: a Q8_0 block plus 8 * sum(qs), which
// the Q4_0 kernel subtracts instead of offsetting every nibble by 8.
struct BlockQ8_0Sum {
  uint16_t d;    // f16
  int16_t sum8;  // 8 * sum of qs (|sum8| <= 8 * 32 * 127 = 32512)
  int8_t qs[kQK8_0];
};
static_assert(sizeof(BlockQ8_0Sum) == 36, "Q8_0+sum block must be 36 bytes");

// Q8_K: activation format for K-quants.
struct BlockQ8K {
  float d;
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];  // sums of each group of 16 qs
};
static_assert(sizeof(BlockQ8K) == 292, "Q8_K block must be 292 bytes");

// The 6-bit scale and min of sub-block j (0..7) of a Q4_K block.
inline void q4k_scale_min(int j, const uint8_t* scales, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = scales[j] & 63;
    *m = scales[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((scales[j + 4] & 0xF) | ((scales[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((scales[j + 4] >> 4) | ((scales[j] >> 6) << 4));
  }
}

}  // namespace tokamak::quant
