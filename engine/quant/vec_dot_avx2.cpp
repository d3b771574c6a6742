// AVX2/FMA/F16C dot products: one weight row against R activation rows
// (R = 1..4). Every kernel does the same arithmetic for each (weight, x)
// pair whatever R is, so batched and single dots give identical floats.
//
// Integer kernels use the maddubs idiom: _mm256_maddubs_epi16(u8, s8) sums
// adjacent u8*s8 products into int16, _mm256_madd_epi16 then sums pairs of
// int16 (times a scale) into int32.
#include "quant/quant_internal.h"

#if defined(TOKAMAK_QUANT_AVX2)

#include <immintrin.h>

#include <cmath>
#include <memory>

#include "core/half.h"

namespace tokamak::quant::detail {
namespace {

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float half_to_f32(uint16_t h) { return _cvtsh_ss(h); }

inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// Float weights: 4 independent accumulators of 8 lanes per activation row.
struct LoadF32 {
  static __m256 load8(const void* w, int64_t i) {
    return _mm256_loadu_ps(static_cast<const float*>(w) + i);
  }
  static float at(const void* w, int64_t i) { return static_cast<const float*>(w)[i]; }
};
struct LoadF16 {
  static __m256 load8(const void* w, int64_t i) {
    return _mm256_cvtph_ps(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(w) + i)));
  }
  static float at(const void* w, int64_t i) {
    return half_to_f32(static_cast<const uint16_t*>(w)[i]);
  }
};
struct LoadBF16 {
  static __m256 load8(const void* w, int64_t i) {
    const __m128i h =
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(w) + i));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  static float at(const void* w, int64_t i) {
    return bf16_to_f32(static_cast<const uint16_t*>(w)[i]);
  }
};

template <int R, class Load>
void dot_float(int64_t n, const void* w, const float* const* xs, float* out) {
  __m256 acc[R][4];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int u = 0; u < 4; ++u) acc[r][u] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
#pragma GCC unroll 4
    for (int u = 0; u < 4; ++u) {
      const __m256 wv = Load::load8(w, i + 8 * u);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r)
        acc[r][u] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(xs[r] + i + 8 * u), acc[r][u]);
    }
  }
  for (; i + 8 <= n; i += 8) {
    const __m256 wv = Load::load8(w, i);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r)
      acc[r][0] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(xs[r] + i), acc[r][0]);
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
    float s = hsum(
        _mm256_add_ps(_mm256_add_ps(acc[r][0], acc[r][1]), _mm256_add_ps(acc[r][2], acc[r][3])));
    for (int64_t j = i; j < n; ++j) s = std::fma(Load::at(w, j), xs[r][j], s);
    out[r] = s;
  }
}

// Sum of a*b over each group of 4 int8 lanes, as 8 floats. |b| must not be
// 128 (activations never are); a may be anything.
inline __m256 mul_sum_i8(__m256i a, __m256i b) {
  const __m256i abs_a = _mm256_sign_epi8(a, a);
  const __m256i b_signed = _mm256_sign_epi8(b, a);
  const __m256i dot16 = _mm256_maddubs_epi16(abs_a, b_signed);
  return _mm256_cvtepi32_ps(_mm256_madd_epi16(dot16, _mm256_set1_epi16(1)));
}

// Q8_0 and Q4_0 weights against Q8_0 activations: blocks alternate between
// two accumulators per row to hide the FMA latency. Q8_0 weights are signed
// (the sign idiom above); Q4_0 nibbles stay unsigned (0..15) and the offset of
// 8 comes off as the 8 * sum(y) the activation row carries per block.
inline __m256i unpack_q8_0(const BlockQ8_0& b) { return load256(b.qs); }
inline __m256i unpack_q4_0(const BlockQ4_0& b) {
  // Both lanes get the 16 bytes; lane 1 shifts them right by 4 (high nibbles).
  const __m256i q =
      _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs)));
  return _mm256_and_si256(_mm256_srlv_epi64(q, _mm256_setr_epi64x(0, 0, 4, 4)),
                          _mm256_set1_epi8(0x0F));
}

// Per-block integer sums (8 int32 lanes) of w*y, as floats.
inline __m256 block_sum_q8_0(__m256i w, const BlockQ8_0& x) { return mul_sum_i8(w, load256(x.qs)); }
inline __m256 block_sum_q4_0(__m256i w, const BlockQ8_0Sum& x) {
  const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(w, load256(x.qs)), _mm256_set1_epi16(1));
  // Lane 0 also takes off 8 * sum(y) (the other lanes get 0).
  const __m256i offset = _mm256_zextsi128_si256(_mm_cvtsi32_si128(x.sum8));
  return _mm256_cvtepi32_ps(_mm256_sub_epi32(p, offset));
}

// f32 value of every half. Block scales are looked up here (a load that
// broadcasts) rather than converted with F16C, whose scalar form competes for
// the shuffle port with the unpacking.
const float* f16_table() {
  static const std::unique_ptr<float[]> table = [] {
    auto t = std::make_unique<float[]>(65536);
    for (uint32_t h = 0; h < 65536; ++h) t[h] = fp16_to_f32(static_cast<uint16_t>(h));
    return t;
  }();
  return table.get();
}

template <int R, class Block, __m256i (*Unpack)(const Block&), class XBlock,
          __m256 (*BlockSum)(__m256i, const XBlock&)>
void dot_q8_0_act(int64_t n, const void* w, const float* const* xs_f, float* out) {
  const auto* wb = static_cast<const Block*>(w);
  const XBlock* xs[R];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) xs[r] = reinterpret_cast<const XBlock*>(xs_f[r]);
  __m256 acc[R][2];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  const float* f16 = f16_table();
  const auto step = [&](int64_t b, int parity) {
    const __m256i q = Unpack(wb[b]);
    const __m256 dw = _mm256_broadcast_ss(f16 + wb[b].d);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m256 d = _mm256_mul_ps(dw, _mm256_broadcast_ss(f16 + xs[r][b].d));
      acc[r][parity] = _mm256_fmadd_ps(d, BlockSum(q, xs[r][b]), acc[r][parity]);
    }
  };
  // Even blocks go to accumulator 0, odd ones to 1 (two FMA chains).
  const int64_t num_blocks = n / 32;
  int64_t b = 0;
  for (; b + 2 <= num_blocks; b += 2) {
    step(b, 0);
    step(b + 1, 1);
  }
  if (b < num_blocks) step(b, 0);
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) out[r] = hsum(_mm256_add_ps(acc[r][0], acc[r][1]));
}

// pshufb masks (k < 4) that broadcast int16 element 2k across 128-bit lane 0
// and element 2k + 1 across lane 1. Kept in memory: built in registers they
// would cost shuffle-port work in the loop.
struct PairMasks {
  alignas(32) uint8_t m[4][32];
};
constexpr PairMasks make_pair_masks() {
  PairMasks t{};
  for (int k = 0; k < 4; ++k) {
    for (int b = 0; b < 16; ++b) {
      t.m[k][b] = static_cast<uint8_t>(4 * k + (b & 1));
      t.m[k][16 + b] = static_cast<uint8_t>(4 * k + 2 + (b & 1));
    }
  }
  return t;
}
constexpr PairMasks kPairMasks = make_pair_masks();
inline __m256i bcast16_pair(int k) { return load256(kPairMasks.m[k]); }

// The 8 scales and 8 mins of a Q4_K block as bytes (see blocks.h):
// sc_mn[0..7] = scales, sc_mn[8..15] = mins.
inline void q4k_unpack_scales(const uint8_t* s, uint8_t (&sc_mn)[16]) {
  uint32_t w0, w1, w2;
  __builtin_memcpy(&w0, s, 4);
  __builtin_memcpy(&w1, s + 4, 4);
  __builtin_memcpy(&w2, s + 8, 4);
  const uint64_t sc = (w0 & 0x3f3f3f3fu) | uint64_t{(w2 & 0x0f0f0f0fu) | ((w0 >> 2) & 0x30303030u)}
                                               << 32;
  const uint64_t mn =
      (w1 & 0x3f3f3f3fu) | uint64_t{((w2 >> 4) & 0x0f0f0f0fu) | ((w1 >> 2) & 0x30303030u)} << 32;
  // Two plain 8-byte stores (the barrier stops them being merged through
  // vector inserts, which would cost port-5 work).
  __builtin_memcpy(sc_mn, &sc, 8);
  asm volatile("" : "+m"(sc_mn));
  __builtin_memcpy(sc_mn + 8, &mn, 8);
}

// 8 bytes -> 8 int32 lanes each holding the byte twice as int16 (v, v): the
// multiplier operand of _mm256_madd_epi16 for a per-lane scale.
inline __m256i bytes_to_i16_pairs(const uint8_t* p) {
  const __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
  return _mm256_or_si256(v, _mm256_slli_epi32(v, 16));
}

// Q4_K: sub-block scales are applied to the int16 pair sums by madd (scale
// vectors are broadcast from a small buffer: loads, not shuffles); the mins
// are taken off once per block through Q8_K's bsums.
template <int R>
void dot_q4k(int64_t n, const void* w, const float* const* xs_f, float* out) {
  const auto* wb = static_cast<const BlockQ4K*>(w);
  const BlockQ8K* xs[R];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) xs[r] = reinterpret_cast<const BlockQ8K*>(xs_f[r]);
  __m256 acc[R];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const float* f16 = f16_table();
  alignas(32) uint8_t sc_mn[16];
  alignas(32) int32_t sc_pairs[8];  // (sc_j, sc_j) as int16 pairs
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    q4k_unpack_scales(wb[b].scales, sc_mn);
    // The barriers keep these small arrays in memory, so the compiler reads
    // them with broadcast loads instead of extracting lanes on port 5.
    asm volatile("" : "+m"(sc_mn));
    _mm256_store_si256(reinterpret_cast<__m256i*>(sc_pairs), bytes_to_i16_pairs(sc_mn));
    asm volatile("" : "+m"(sc_pairs));
    // (16) int16: m0 m0 m1 m1 ... m7 m7, matching bsums' 16-value groups.
    const __m256i mins = bytes_to_i16_pairs(sc_mn + 8);
    const __m256 dw = _mm256_broadcast_ss(f16 + wb[b].d);
    const __m256 dminw = _mm256_broadcast_ss(f16 + wb[b].dmin);
    __m256i sumi[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) sumi[r] = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int c = 0; c < 4; ++c) {
      const __m256i q = load256(wb[b].qs + 32 * c);
      const __m256i lo = _mm256_and_si256(q, low4);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
      const __m256i sc_lo = _mm256_set1_epi32(sc_pairs[2 * c]);
      const __m256i sc_hi = _mm256_set1_epi32(sc_pairs[2 * c + 1]);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        const __m256i p_lo =
            _mm256_madd_epi16(_mm256_maddubs_epi16(lo, load256(xs[r][b].qs + 64 * c)), sc_lo);
        const __m256i p_hi =
            _mm256_madd_epi16(_mm256_maddubs_epi16(hi, load256(xs[r][b].qs + 64 * c + 32)), sc_hi);
        sumi[r] = _mm256_add_epi32(sumi[r], _mm256_add_epi32(p_lo, p_hi));
      }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m256i msum = _mm256_madd_epi16(load256(xs[r][b].bsums), mins);
      const __m256 dx = _mm256_broadcast_ss(&xs[r][b].d);
      acc[r] = _mm256_fmadd_ps(_mm256_mul_ps(dx, dw), _mm256_cvtepi32_ps(sumi[r]), acc[r]);
      acc[r] = _mm256_fnmadd_ps(_mm256_mul_ps(dx, dminw), _mm256_cvtepi32_ps(msum), acc[r]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) out[r] = hsum(acc[r]);
}

// Q6_K: the unsigned 6-bit q (0..63) is dotted directly; the offset of 32 is
// taken off once per block as 32 * sum_g scale_g * bsums_g.
template <int R>
void dot_q6k(int64_t n, const void* w, const float* const* xs_f, float* out) {
  const auto* wb = static_cast<const BlockQ6K*>(w);
  const BlockQ8K* xs[R];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) xs[r] = reinterpret_cast<const BlockQ8K*>(xs_f[r]);
  __m256 acc[R];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  const float* f16 = f16_table();
  const __m256i m2 = _mm256_set1_epi8(0x03);
  const __m256i m2_hi = _mm256_set1_epi8(0x30);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const __m128i sc8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(wb[b].scales));
    const __m256i sc16_all = _mm256_cvtepi8_epi16(sc8);  // (16) int16
    const __m256 dw = _mm256_broadcast_ss(f16 + wb[b].d);
    __m256i sumi[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m256i offset = _mm256_madd_epi16(load256(xs[r][b].bsums), sc16_all);
      sumi[r] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(offset, 5));
    }
#pragma GCC unroll 4
    for (int h = 0; h < 2; ++h) {
      const __m256i scales = _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(
          _mm_loadl_epi64(reinterpret_cast<const __m128i*>(wb[b].scales + 8 * h))));
      const __m256i ql0 = load256(wb[b].ql + 64 * h);
      const __m256i ql1 = load256(wb[b].ql + 64 * h + 32);
      const __m256i qh = load256(wb[b].qh + 32 * h);
      __m256i q[4];
      q[0] = _mm256_or_si256(_mm256_and_si256(ql0, m4),
                             _mm256_slli_epi16(_mm256_and_si256(qh, m2), 4));
      q[1] = _mm256_or_si256(_mm256_and_si256(ql1, m4),
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m2), 4));
      q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                             _mm256_and_si256(qh, m2_hi));
      q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                             _mm256_and_si256(_mm256_srli_epi16(qh, 2), m2_hi));
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) {
        // q[k] covers groups 8h + 2k (lane 0) and 8h + 2k + 1 (lane 1).
        const __m256i sc = _mm256_shuffle_epi8(scales, bcast16_pair(k));
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) {
          const __m256i y = load256(xs[r][b].qs + 128 * h + 32 * k);
          sumi[r] = _mm256_add_epi32(sumi[r], _mm256_madd_epi16(_mm256_maddubs_epi16(q[k], y), sc));
        }
      }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m256 d = _mm256_mul_ps(_mm256_broadcast_ss(&xs[r][b].d), dw);
      acc[r] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sumi[r]), acc[r]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) out[r] = hsum(acc[r]);
}

using Kernel = void (*)(int64_t, const void*, const float* const*, float*);

template <int R>
Kernel kernel_for(TensorType type) {
  switch (type) {
    case TensorType::F32:
      return dot_float<R, LoadF32>;
    case TensorType::F16:
      return dot_float<R, LoadF16>;
    case TensorType::BF16:
      return dot_float<R, LoadBF16>;
    case TensorType::Q8_0:
      return dot_q8_0_act<R, BlockQ8_0, unpack_q8_0, BlockQ8_0, block_sum_q8_0>;
    case TensorType::Q4_0:
      return dot_q8_0_act<R, BlockQ4_0, unpack_q4_0, BlockQ8_0Sum, block_sum_q4_0>;
    case TensorType::Q4_K:
      return dot_q4k<R>;
    case TensorType::Q6_K:
      return dot_q6k<R>;
    default:
      return nullptr;
  }
}

}  // namespace

bool dot_multi_avx2(TensorType weight_type, int64_t n, const void* w, const void* x,
                    size_t x_stride, int64_t num_x, float* out) {
  const Kernel k[4] = {kernel_for<1>(weight_type), kernel_for<2>(weight_type),
                       kernel_for<3>(weight_type), kernel_for<4>(weight_type)};
  if (k[0] == nullptr) return false;
  const auto* xb = static_cast<const char*>(x);
  for (int64_t i = 0; i < num_x; i += 4) {
    const int num = static_cast<int>(num_x - i < 4 ? num_x - i : 4);
    const float* xs[4];
    for (int r = 0; r < num; ++r)
      xs[r] = reinterpret_cast<const float*>(xb + static_cast<size_t>(i + r) * x_stride);
    k[num - 1](n, w, xs, out + i);
  }
  return true;
}

// Decode streams weights from DRAM; the hardware prefetcher alone leaves one
// core well below its bandwidth. Measured on a 16-core Xeon over a 1 GB
// matrix of 4096-rows, weight GB/s without -> with: one thread Q4_K 7-8 ->
// 11-12, Q8_0 9 -> 12-14, F16 8-11 -> 12-14; 4 threads Q4_K 24-32 -> 45;
// 16 threads (noisy host) 60-120 -> 90-160. In-cache rows pay ~10-20%.
constexpr size_t kRowPrefetchBytes = 8192;

bool dot_rows_avx2(TensorType weight_type, int64_t n, const void* w_rows, size_t w_row_bytes,
                   int64_t num_rows, const void* x, float* out) {
  const Kernel k = kernel_for<1>(weight_type);
  if (k == nullptr) return false;
  const float* xs[1] = {static_cast<const float*>(x)};
  const auto* wb = static_cast<const char*>(w_rows);
  for (int64_t r = 0; r < num_rows; ++r) {
    const char* row = wb + static_cast<size_t>(r) * w_row_bytes;
    // Request the weights kRowPrefetchBytes ahead (past this call's last row
    // too: a caller's next rows usually follow; prefetches never fault).
    const uintptr_t ahead = reinterpret_cast<uintptr_t>(row) + kRowPrefetchBytes;
    for (size_t off = 0; off < w_row_bytes; off += 64)
      _mm_prefetch(reinterpret_cast<const char*>(ahead + off), _MM_HINT_T0);
    k(n, row, xs, out + r);
  }
  return true;
}

}  // namespace tokamak::quant::detail

#endif  // TOKAMAK_QUANT_AVX2
