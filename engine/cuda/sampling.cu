#include "cuda/common.cuh"
#include "cuda/sampling.cuh"

namespace tokamak::cuda {
namespace {

constexpr int kThreads = 512;
constexpr int kBins = 256;

// Order-preserving bits of a float (larger float -> larger bits); -0 is 0.
__device__ __forceinline__ uint32_t order_bits(float f) {
  const uint32_t b = f == 0.0f ? 0u : __float_as_uint(f);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

// Unique key: larger value first, then lower id first.
__device__ __forceinline__ uint64_t make_key(float v, int32_t id) {
  return (static_cast<uint64_t>(order_bits(v)) << 32) |
         static_cast<uint64_t>(0xFFFFFFFFu - static_cast<uint32_t>(id));
}

__device__ __forceinline__ uint64_t key_max(uint64_t a, uint64_t b) { return a > b ? a : b; }

__device__ __forceinline__ int32_t id_of(uint64_t key) {
  return static_cast<int32_t>(0xFFFFFFFFu - static_cast<uint32_t>(key));
}

struct SearchShared {
  double hist[kBins];
  int count[kBins];
  uint64_t prefix;
  double before;
  int found;
};

// Block-wide reductions (every thread gets the result).
__device__ double block_sum_double(double v, double* scratch) {
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < static_cast<int>(blockDim.x / kWarpSize) ? scratch[lane] : 0.0;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

template <bool kMax>
__device__ uint64_t block_extreme_key(uint64_t v, uint64_t* scratch) {
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const uint64_t w = __shfl_xor_sync(0xffffffffu, v, o);
    v = kMax ? (w > v ? w : v) : (w < v ? w : v);
  }
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  const uint64_t none = kMax ? 0ull : ~0ull;
  v = lane < static_cast<int>(blockDim.x / kWarpSize) ? scratch[lane] : none;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const uint64_t w = __shfl_xor_sync(0xffffffffu, v, o);
    v = kMax ? (w > v ? w : v) : (w < v ? w : v);
  }
  return v;
}

// The member, in descending key order, at which the running sum of weights
// first reaches the target: cum >= target (inclusive) or cum > target
// (strict). member(i, key) says whether element i takes part and gives its
// key; weight(i) its weight. When rounding keeps the sum short of the target
// the last member is returned (as the host's loops end on their last
// element); 0 when there are no members.
template <class Member, class Weight>
__device__ uint64_t radix_find(int32_t vocab, Member member, Weight weight, double target,
                               bool strict, SearchShared& sh) {
  const int lane = threadIdx.x % kWarpSize;
  uint64_t prefix = 0, mask = 0;
  double before = 0.0;
  for (int shift = 56; shift >= 0; shift -= 8) {
    for (int b = threadIdx.x; b < kBins; b += blockDim.x) sh.hist[b] = 0.0, sh.count[b] = 0;
    __syncthreads();
    for (int32_t i = threadIdx.x; i < vocab; i += blockDim.x) {
      uint64_t key;
      if (!member(i, key) || (key & mask) != prefix) continue;
      const int bin = static_cast<int>((key >> shift) & 0xFF);
      atomicAdd(&sh.hist[bin], weight(i));
      atomicAdd(&sh.count[bin], 1);
    }
    __syncthreads();
    if (threadIdx.x < kWarpSize) {
      // Lane l owns bins 255 - 8l .. 248 - 8l (descending key order).
      double local = 0.0;
      for (int j = 0; j < 8; ++j) local += sh.hist[kBins - 1 - 8 * lane - j];
      double incl = local;
#pragma unroll
      for (int o = 1; o < 32; o <<= 1) {
        const double t = __shfl_up_sync(0xffffffffu, incl, o);
        if (lane >= o) incl += t;
      }
      const double excl = __shfl_up_sync(0xffffffffu, incl, 1);
      double cum = before + (lane == 0 ? 0.0 : excl);
      int digit = -1, last = -1;
      double before_last = 0.0;
      for (int j = 0; j < 8; ++j) {
        const int bin = kBins - 1 - 8 * lane - j;
        const double c = cum + sh.hist[bin];
        if (sh.count[bin] > 0) {
          if (strict ? c > target : c >= target) {
            digit = bin;
            break;
          }
          last = bin, before_last = cum;
        }
        cum = c;
      }
      const unsigned hit = __ballot_sync(0xffffffffu, digit >= 0);
      const unsigned nonempty = __ballot_sync(0xffffffffu, last >= 0);
      if (hit != 0 && lane == __ffs(hit) - 1) {
        sh.found = 1;
        sh.prefix = prefix | (static_cast<uint64_t>(digit) << shift);
        sh.before = cum;
      } else if (hit == 0 && nonempty != 0 && lane == 31 - __clz(nonempty)) {
        // Rounding kept the sum short of the target: the last member.
        sh.found = 1;
        sh.prefix = prefix | (static_cast<uint64_t>(last) << shift);
        sh.before = before_last;
      } else if (hit == 0 && nonempty == 0 && lane == 0) {
        sh.found = 0;
      }
    }
    __syncthreads();
    const bool found = sh.found;
    prefix = sh.prefix;
    before = sh.before;
    __syncthreads();  // sh is reset by the next pass
    if (!found) return 0;
    mask |= 0xFFull << shift;
  }
  return prefix;
}

// One block per row: greedy, or the full chain (see sampling.cuh).
__global__ void __launch_bounds__(kThreads)
    sample_rows_kernel(const float* logits, int32_t vocab, const DeviceRowSampling* rows,
                       int32_t* ids) {
  __shared__ SearchShared sh;
  __shared__ double dscratch[kWarpSize];
  __shared__ uint64_t kscratch[kWarpSize];
  const int64_t r = blockIdx.x;
  const float* raw = logits + r * vocab;
  const DeviceRowSampling row = rows[r];

  // The largest raw key: the greedy answer, and the first element of every
  // order. Four loads in flight per thread (one at a time, a 128k row took
  // ~0.1 ms: the loop waited on each load); max is order-free.
  uint64_t best = 0;
  const int32_t stride = static_cast<int32_t>(blockDim.x);
  int32_t i = threadIdx.x;
  for (; i + 3 * stride < vocab; i += 4 * stride) {
    const float a = raw[i], b = raw[i + stride], c = raw[i + 2 * stride], d = raw[i + 3 * stride];
    const uint64_t ab = key_max(make_key(a, i), make_key(b, i + stride));
    const uint64_t cd = key_max(make_key(c, i + 2 * stride), make_key(d, i + 3 * stride));
    best = key_max(best, key_max(ab, cd));
  }
  for (; i < vocab; i += stride) best = key_max(best, make_key(raw[i], i));
  best = block_extreme_key<true>(best, kscratch);
  if (row.temperature <= 0.0f) {
    if (threadIdx.x == 0) ids[r] = id_of(best);
    return;
  }
  const float temperature = row.temperature;
  auto scaled = [&](int32_t i) { return __fdiv_rn(raw[i], temperature); };
  const float m = scaled(id_of(best));  // the largest s

  // S: top-k on the raw logits.
  const bool use_top_k = row.top_k > 0 && row.top_k < vocab;
  uint64_t k_key = 0;
  if (use_top_k) {
    k_key = radix_find(
        vocab,
        [&](int32_t i, uint64_t& key) {
          key = make_key(raw[i], i);
          return true;
        },
        [](int32_t) { return 1.0; }, static_cast<double>(row.top_k), false, sh);
  }
  auto in_s = [&](int32_t i) { return !use_top_k || make_key(raw[i], i) >= k_key; };
  const int32_t size_s = use_top_k ? row.top_k : vocab;

  // P: the smallest prefix of S in (s desc, id asc) order with mass >= top_p.
  const bool use_top_p = row.top_p < 1.0f && size_s > 1;
  uint64_t p_key = 0;
  if (use_top_p) {
    double sum_s = 0.0;
    for (int32_t i = threadIdx.x; i < vocab; i += blockDim.x)
      if (in_s(i)) sum_s += exp(static_cast<double>(scaled(i)) - m);
    sum_s = block_sum_double(sum_s, dscratch);
    p_key = radix_find(
        vocab,
        [&](int32_t i, uint64_t& key) {
          if (!in_s(i)) return false;
          key = make_key(scaled(i), i);
          return true;
        },
        [&](int32_t i) {
          return static_cast<double>(
              static_cast<float>(exp(static_cast<double>(scaled(i)) - m) / sum_s));
        },
        static_cast<double>(row.top_p), false, sh);  // the last of S when the mass falls short
  }
  // F: P after min-p.
  const bool use_min_p = row.min_p > 0.0f;
  const float threshold = m + row.log_min_p;
  auto in_f = [&](int32_t i) {
    if (!in_s(i)) return false;
    const float s = scaled(i);
    if (use_top_p && make_key(s, i) < p_key) return false;
    return !use_min_p || s >= threshold;
  };

  // softmax over F, then the draw in the host's order of F.
  double sum_f = 0.0;
  for (int32_t i = threadIdx.x; i < vocab; i += blockDim.x)
    if (in_f(i)) sum_f += exp(static_cast<double>(scaled(i)) - m);
  sum_f = block_sum_double(sum_f, dscratch);
  auto p_f = [&](int32_t i) {
    return static_cast<double>(static_cast<float>(exp(static_cast<double>(scaled(i)) - m) / sum_f));
  };
  double total = 0.0;
  for (int32_t i = threadIdx.x; i < vocab; i += blockDim.x)
    if (in_f(i)) total += p_f(i);
  total = block_sum_double(total, dscratch);
  // Draw order: s order after top-p, raw order after top-k alone, else ids.
  auto draw_key = [&](int32_t i) -> uint64_t {
    if (use_top_p) return make_key(scaled(i), i);
    if (use_top_k) return make_key(raw[i], i);
    return 0xFFFFFFFFull - static_cast<uint32_t>(i);
  };
  const uint64_t pick = radix_find(
      vocab,
      [&](int32_t i, uint64_t& key) {
        if (!in_f(i)) return false;
        key = draw_key(i);
        return true;
      },
      p_f, row.u * total, true, sh);
  if (threadIdx.x == 0) ids[r] = id_of(pick);
}

}  // namespace

cudaError_t launch_sample_rows(const float* logits, int64_t num_rows, int32_t vocab,
                               const DeviceRowSampling* rows, int32_t* ids, cudaStream_t stream) {
  if (num_rows == 0) return cudaSuccess;
  sample_rows_kernel<<<static_cast<unsigned>(num_rows), kThreads, 0, stream>>>(logits, vocab, rows,
                                                                               ids);
  return cudaGetLastError();
}

}  // namespace tokamak::cuda
