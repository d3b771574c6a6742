// The memory side of the decode matvec kernels (matmul.cu: fp32 math,
// matmul_dp4a.cu: int8 x and dp4a), shared by both:
// - MatmulGroup: up to kMaxMatmulGroup weights of one type and row length
//   on one x, cut into row groups of NR rows (a warp's unit of work);
// - stream_row_groups: each warp walks its row groups segment by segment
//   (a segment = the same kSegValues values of the NR rows) through its own
//   S-stage shared-memory ring: S - 1 segments in flight while one is
//   reduced, every byte by a 16-byte cp.async (the chunks covering a
//   segment; 2-byte copies only where a chunk would leave the weight), so
//   staging never waits for memory whatever the block alignment;
// - host helpers: the group from MatmulWeights, the device's limits.
// A segment's bytes keep their global address modulo 16 in the slot, so a
// block type's pieces are found at slot + (address % 16) + offset.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "cuda/common.cuh"
#include "cuda/matmul.cuh"

namespace tokamak::cuda {

// Up to kMaxMatmulGroup weights sharing x; row groups of weight g are
// first_group[g] .. first_group[g + 1] (or total).
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
  const uint8_t* base;     // row r0
  const uint8_t *lo, *hi;  // the weight's bytes
  size_t row_bytes;
  int64_t r0, rows;
  int num_r;  // rows of this group (< NR only for a weight's last group)
  float* y;   // the weight's output (num_tokens, rows)
};

template <int NR>
__device__ __forceinline__ RowGroup locate(const MatmulGroup& gr, unsigned rg) {
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
// Waits until at most N of this thread's copy groups are pending.
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

// The warp copies [src, src + bytes) (2-byte aligned ends) to slot +
// (src % 16) ..: the 16-byte chunks covering it, all with cp.async. A chunk
// reaching outside the weight's bytes [lo, hi) (its first or last, when lo
// or hi is not 16-byte aligned) is copied 2 bytes at a time instead, within
// [src, src + bytes) only.
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

// Shared bytes of one slot for the traits P (kSegValues, kBlockValues,
// kBlockBytes): a segment plus 16 of slack for the address offset.
template <class P>
__host__ __device__ constexpr int64_t segment_bytes(int64_t values) {
  return values / P::kBlockValues * P::kBlockBytes;
}
template <class P>
__host__ __device__ constexpr int ring_slot_bytes() {
  return static_cast<int>((segment_bytes<P>(P::kSegValues) + 16 + 15) / 16 * 16);
}
template <class P, int NR, int S>
__host__ __device__ constexpr int ring_warp_bytes() {
  return S * NR * ring_slot_bytes<P>();
}

// One staged segment of a row group, as the reduce step sees it.
template <int NR>
struct StagedSegment {
  RowGroup rg;
  const uint8_t* segs[NR];  // row r's segment in shared memory (its address % 16 kept)
  bool aligned[NR];         // segs[r] is 16-byte aligned
  int64_t s0;               // first value of the segment
  int seg_n;                // values in it
  bool last;                // the row group's last segment
};

// The warp `first` of `stride` streams its row groups first, first + stride,
// ... through `ring` (ring_warp_bytes<P, NR, S>()): issues the first S - 1
// segments, calls prologue() (every warp, also one without work: it may
// synchronize the block), then reduce(const StagedSegment<NR>&) for each
// segment in order, the next S - 1 in flight.
template <class P, int NR, int S, class Prologue, class Reduce>
__device__ __forceinline__ void stream_row_groups(const MatmulGroup& group, int64_t n,
                                                  uint8_t* ring, unsigned first, unsigned stride,
                                                  int lane, Prologue&& prologue, Reduce&& reduce) {
  static_assert(S >= 2, "one segment in flight at least");
  constexpr int kSlot = ring_slot_bytes<P>();
  const unsigned total = group.total;
  const unsigned num_segs = static_cast<unsigned>((n + P::kSegValues - 1) / P::kSegValues);
  const unsigned num_items = first < total ? ((total - 1 - first) / stride + 1) * num_segs : 0;
  auto slot = [&](unsigned item, int r) { return ring + ((item % S) * NR + r) * kSlot; };
  auto issue = [&](unsigned item) {
    const RowGroup rg = locate<NR>(group, first + (item / num_segs) * stride);
    const int64_t s0 = static_cast<int64_t>(item % num_segs) * P::kSegValues;
    const int64_t seg_n = min(static_cast<int64_t>(P::kSegValues), n - s0);
#pragma unroll
    for (int r = 0; r < NR; ++r)
      if (r < rg.num_r)
        stage_bytes(slot(item, r), rg.base + r * rg.row_bytes + segment_bytes<P>(s0),
                    segment_bytes<P>(seg_n), rg.lo, rg.hi, lane);
  };
#pragma unroll
  for (unsigned k = 0; k + 1 < S; ++k) {
    if (k < num_items) issue(k);
    cp_async_commit();
  }
  prologue();
  for (unsigned it = 0; it < num_items; ++it) {
    if (it + S - 1 < num_items) issue(it + S - 1);
    cp_async_commit();
    cp_async_wait<S - 1>();  // item it has landed; S - 1 after it stay in flight
    __syncwarp();
    StagedSegment<NR> st;
    st.rg = locate<NR>(group, first + (it / num_segs) * stride);
    const unsigned s = it % num_segs;
    st.s0 = static_cast<int64_t>(s) * P::kSegValues;
    st.seg_n = static_cast<int>(min(static_cast<int64_t>(P::kSegValues), n - st.s0));
    st.last = s + 1 == num_segs;
#pragma unroll
    for (int r = 0; r < NR; ++r) {
      const uintptr_t src =
          reinterpret_cast<uintptr_t>(st.rg.base + r * st.rg.row_bytes + segment_bytes<P>(st.s0));
      st.segs[r] = slot(it, r) + (src & 15);
      st.aligned[r] = (src & 15) == 0;
    }
    reduce(st);
    __syncwarp();  // this item's slots are staged again S - 1 items on
  }
}

// acc[r][t] summed over the warp; lane 0 writes y of rows r < num_r and
// tokens t < num_t (token t of the pass = t0 + t); acc is cleared.
template <int NR, int NT>
__device__ __forceinline__ void write_rows(const RowGroup& rg, float (&acc)[NR][NT], int64_t t0,
                                           int num_t, int lane) {
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

// The group of `count` weights (checked: same type and row length, n > 0),
// cudaErrorInvalidValue otherwise. Row groups are assigned by assign_rows.
inline cudaError_t make_group(const MatmulWeight* weights, float* const* ys, int count,
                              MatmulGroup& group) {
  if (count < 1 || count > kMaxMatmulGroup) return cudaErrorInvalidValue;
  group = MatmulGroup{};
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
  return weights[0].row_length > 0 ? cudaSuccess : cudaErrorInvalidValue;
}

// Row groups of nr rows: first_group and total.
inline void assign_rows(MatmulGroup& group, int nr) {
  unsigned total = 0;
  for (int g = 0; g < group.count; ++g) {
    group.first_group[g] = total;
    total += static_cast<unsigned>((group.rows[g] + nr - 1) / nr);
  }
  group.total = total;
}

inline int64_t total_rows(const MatmulGroup& group) {
  int64_t rows = 0;
  for (int g = 0; g < group.count; ++g) rows += group.rows[g];
  return rows;
}

// SMs (x) and opt-in shared bytes per block (y) of the current device.
inline int2 matmul_device_limits() {
  static const int2 limits = [] {
    int dev = 0, sms = 0, optin = 0;
    cudaGetDevice(&dev);
    cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
    cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev);
    return make_int2(std::max(1, sms), optin);
  }();
  return limits;
}

// Rows per warp for 2..4 tokens: 4 (each x load serves more rows) when the
// weights give every SM at least kFourRowsPerSm rows, else 2 (twice the
// warps, so that a small matrix still fills the device).
inline constexpr int64_t kFourRowsPerSm = 64;
inline int decode_rows_per_warp(int64_t total_rows) {
  return total_rows >= kFourRowsPerSm * matmul_device_limits().x ? 4 : 2;
}

// Raises a kernel's dynamic shared-memory limit to the opt-in maximum
// (call once per kernel, outside graph captures).
inline void raise_smem_limit(const void* kernel) {
  cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                       matmul_device_limits().y);
}

// Blocks of `kernel` (`threads` threads, `smem` dynamic bytes) that fit on
// the device at once.
inline unsigned query_resident_blocks(const void* kernel, int threads, int smem) {
  int per_sm = 0;
  cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, threads, smem);
  return static_cast<unsigned>(matmul_device_limits().x * std::max(1, per_sm));
}

}  // namespace tokamak::cuda
