// Streaming flash-decoding (head dims 64 and 128): the K/V of a slice
// stream through shared memory with cp.async, S stages in flight, so that
// HBM stays busy while the scores, softmax and PV of earlier keys are
// computed.
//
// One warp per (token, slice, KV head) item, a block of one warp: the
// item's keys are cut into chunks of kChunk keys, each chunk one stage (its
// K rows then its V rows, fp16, 4 KB) of the warp's pipeline, with an
// online softmax (running max and sum per q head, PV accumulator rescaled
// per chunk). No block barrier, no combine across warps; one-warp blocks
// also keep the last wave short. With one slice the warp writes the
// normalised output, else a partial for the merge kernel. Items of one
// token and slice are adjacent (all KV heads of the same positions: whole
// pool rows read together).
//
// Per chunk, scores by lane groups: kWidth = D / 16 lanes per key, each lane
// two 16-byte pieces of the row (dims 8 part .. and 8 (part + kWidth) ..,
// so that 8 lanes read 128 contiguous bytes: no bank conflict), a q slice
// read once per head for all kRounds keys of the lane, a shuffle sum in the
// group. PV: lane owns D / 32 output dims of every head, the probabilities
// come by shuffle.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "cuda/async_copy.cuh"
#include "cuda/attention.cuh"
#include "cuda/attention_kernels.cuh"
#include "cuda/common.cuh"

namespace tokamak::cuda {
namespace {

constexpr int kRounds = 2;       // score rounds per chunk
constexpr int kWarpsPerSm = 16;  // resident one-warp blocks (shared memory, registers)

// A launch's geometry (from the token count and the tuning only).
struct Geometry {
  int32_t num_kv_heads = 0;
  int splits = 1;     // slots per token (some may be empty)
  int min_slice = 1;  // positions
  int bs_shift = -1;  // log2(block_size) when a power of two
};

template <int D>
struct Shape {
  static constexpr int kWidth = D / 16;                            // lanes per key (scores)
  static constexpr int kKeysPerRound = kWarpSize / kWidth;         // keys per warp per round
  static constexpr int kChunk = kRounds * kKeysPerRound;           // keys per stage
  static constexpr int kRowPieces = D / 8;                         // 16-byte pieces per row
  static constexpr int kPieces = kChunk * kRowPieces / kWarpSize;  // K pieces per lane per chunk
  static constexpr int kDims = D / kWarpSize;                      // output dims per lane
  static constexpr int kStageHalves = 2 * kChunk * D;              // K rows then V rows
};

// The slice of keys [p0, p1) of slot `split` for a token at `pos`: the
// len = pos + 1 keys cut into n = min(splits, len / min_slice) (at least 1)
// equal slices, their length rounded up to whole chunks; slots from n on
// (or past the end after the rounding) are empty.
__device__ __forceinline__ void stream_slice(int32_t pos, int split, const Geometry& geo,
                                             int chunk_keys, int32_t& p0, int32_t& p1) {
  const int32_t len = pos + 1;
  const int32_t n = max(1, min(geo.splits, len / geo.min_slice));
  int32_t chunk = (len + n - 1) / n;
  chunk = (chunk + chunk_keys - 1) / chunk_keys * chunk_keys;
  p0 = split * chunk;
  p1 = min(len, p0 + chunk);
}

// One warp's state: running max / sum per head (G: the group rounded up).
template <int G>
struct WarpState {
  float m[G], l[G];
};

// Scores, online softmax and PV of one chunk in shared memory (ks: K rows,
// vs: V rows, kChunk x D each; rows past p1 are zero). j0: its first key.
template <int D, int G>
__device__ __forceinline__ void chunk_step(const __half* ks, const __half* vs, const float* qs,
                                           int g, int32_t j0, int32_t p1, int lane,
                                           WarpState<G>& st, float (*o)[Shape<D>::kDims]) {
  using Sh = Shape<D>;
  const int sub = lane / Sh::kWidth, part = lane % Sh::kWidth;
  float kf[kRounds][16];
#pragma unroll
  for (int r = 0; r < kRounds; ++r) {
    const __half* k = ks + (r * Sh::kKeysPerRound + sub) * D;
    half8_to_float(*reinterpret_cast<const uint4*>(k + 8 * part), kf[r]);
    half8_to_float(*reinterpret_cast<const uint4*>(k + 8 * (part + Sh::kWidth)), kf[r] + 8);
  }
  float s[kRounds][G];
#pragma unroll
  for (int h = 0; h < G; ++h) {
    if (h >= g) break;
    float acc[kRounds];
#pragma unroll
    for (int r = 0; r < kRounds; ++r) acc[r] = 0.0f;
    const float* q0 = qs + h * D + 8 * part;
    const float* q1 = qs + h * D + 8 * (part + Sh::kWidth);
#pragma unroll
    for (int e = 0; e < 8; e += 4) {
      const float4 a = *reinterpret_cast<const float4*>(q0 + e);
      const float4 b = *reinterpret_cast<const float4*>(q1 + e);
#pragma unroll
      for (int r = 0; r < kRounds; ++r) {
        acc[r] = fmaf(a.x, kf[r][e], acc[r]);
        acc[r] = fmaf(a.y, kf[r][e + 1], acc[r]);
        acc[r] = fmaf(a.z, kf[r][e + 2], acc[r]);
        acc[r] = fmaf(a.w, kf[r][e + 3], acc[r]);
        acc[r] = fmaf(b.x, kf[r][8 + e], acc[r]);
        acc[r] = fmaf(b.y, kf[r][8 + e + 1], acc[r]);
        acc[r] = fmaf(b.z, kf[r][8 + e + 2], acc[r]);
        acc[r] = fmaf(b.w, kf[r][8 + e + 3], acc[r]);
      }
    }
#pragma unroll
    for (int r = 0; r < kRounds; ++r) {
#pragma unroll
      for (int x = Sh::kWidth / 2; x > 0; x /= 2) acc[r] += __shfl_xor_sync(0xffffffffu, acc[r], x);
      s[r][h] = j0 + r * Sh::kKeysPerRound + sub < p1 ? acc[r] : -INFINITY;
    }
  }
  // Online softmax per head: the chunk's max over all lane groups, then
  // probabilities (0 past p1) and the rescale of the running state.
#pragma unroll
  for (int h = 0; h < G; ++h) {
    if (h >= g) break;
    float mx = s[0][h];
#pragma unroll
    for (int r = 1; r < kRounds; ++r) mx = fmaxf(mx, s[r][h]);
#pragma unroll
    for (int x = Sh::kWidth; x < kWarpSize; x *= 2)
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, x));
    const float nm = fmaxf(st.m[h], mx);  // finite: key j0 is valid
    const float c = expf(st.m[h] - nm);   // 0 on the warp's first chunk
    float sum = 0.0f;
#pragma unroll
    for (int r = 0; r < kRounds; ++r) {
      s[r][h] = expf(s[r][h] - nm);
      sum += s[r][h];
    }
#pragma unroll
    for (int x = Sh::kWidth; x < kWarpSize; x *= 2) sum += __shfl_xor_sync(0xffffffffu, sum, x);
    st.l[h] = st.l[h] * c + sum;
    st.m[h] = nm;
#pragma unroll
    for (int e = 0; e < Sh::kDims; ++e) o[h][e] *= c;
  }
  // PV: key kk's probability lives in the lanes of group kk % kKeysPerRound.
#pragma unroll
  for (int kk = 0; kk < Sh::kChunk; ++kk) {
    const int r = kk / Sh::kKeysPerRound, src = (kk % Sh::kKeysPerRound) * Sh::kWidth;
    float v[Sh::kDims];
    const __half* vrow = vs + kk * D + lane * Sh::kDims;
    if constexpr (Sh::kDims == 4) {
      const uint2 raw = *reinterpret_cast<const uint2*>(vrow);
      const float2 a = __half22float2(*reinterpret_cast<const __half2*>(&raw.x));
      const float2 b = __half22float2(*reinterpret_cast<const __half2*>(&raw.y));
      v[0] = a.x, v[1] = a.y, v[2] = b.x, v[3] = b.y;
    } else {
      const float2 a = __half22float2(*reinterpret_cast<const __half2*>(vrow));
      v[0] = a.x, v[1] = a.y;
    }
#pragma unroll
    for (int h = 0; h < G; ++h) {
      if (h >= g) break;
      const float p = __shfl_sync(0xffffffffu, s[r][h], src);
#pragma unroll
      for (int e = 0; e < Sh::kDims; ++e) o[h][e] = fmaf(p, v[e], o[h][e]);
    }
  }
}

// Shared memory: S stages of kStageHalves halves, then the item's scaled q
// rows (g, D) fp32. Grid: one block (one warp) per item, items ordered
// (token, slice, KV head).
template <int D, int S, int G>
__global__ void __launch_bounds__(kWarpSize, kWarpsPerSm)
    stream_kernel(AttentionArgs a, Geometry geo, float* part_o, float* part_ml) {
  using Sh = Shape<D>;
  extern __shared__ __align__(16) unsigned char smem[];
  __half* stages = reinterpret_cast<__half*>(smem);
  float* qs = reinterpret_cast<float*>(smem + S * Sh::kStageHalves * sizeof(__half));
  const int64_t item = blockIdx.x;
  const int32_t kh = static_cast<int32_t>(item % geo.num_kv_heads);
  const int split = static_cast<int>(item / geo.num_kv_heads % geo.splits);
  const int64_t t = item / geo.num_kv_heads / geo.splits;
  const int32_t g = a.group, h0 = kh * g;
  const int lane = threadIdx.x;
  int32_t p0, p1;
  stream_slice(a.kv.positions[t], split, geo, Sh::kChunk, p0, p1);
  const int64_t part = (t * a.num_heads + h0) * kAttentionSplits + split;  // head h0's slot
  if (p0 >= p1) {  // empty slice (never the first)
    if (lane < g) {
      part_ml[2 * (part + lane * kAttentionSplits)] = -INFINITY;
      part_ml[2 * (part + lane * kAttentionSplits) + 1] = 0.0f;
    }
    return;
  }
  const int32_t* table = a.kv.tables + a.kv.table_start[a.kv.token_seq[t]];
  const int32_t bs = a.kv.block_size;
  const int64_t head_off = static_cast<int64_t>(kh) * D;
  const int num_chunks = (p1 - p0 + Sh::kChunk - 1) / Sh::kChunk;
  auto first_key = [&](int i) { return p0 + i * Sh::kChunk; };

  // Block table entries of the next chunk to issue, fetched one chunk early.
  int32_t blk[Sh::kPieces];
  auto fetch = [&](int i) {
#pragma unroll
    for (int k = 0; k < Sh::kPieces; ++k) {
      const int32_t j = first_key(i) + (lane + k * kWarpSize) / Sh::kRowPieces;
      blk[k] = i < num_chunks && j < p1 ? table[geo.bs_shift >= 0 ? j >> geo.bs_shift : j / bs] : 0;
    }
  };
  // Chunk i (if there is one) into stage i % S; always one group.
  auto issue = [&](int i) {
    if (i < num_chunks) {
      __half* ks = stages + (i % S) * Sh::kStageHalves;
      __half* vs = ks + Sh::kChunk * D;
#pragma unroll
      for (int k = 0; k < Sh::kPieces; ++k) {
        const int piece = lane + k * kWarpSize;
        const int r = piece / Sh::kRowPieces, c = (piece % Sh::kRowPieces) * 8;
        const int32_t j = first_key(i) + r;
        const bool valid = j < p1;
        const int32_t slot = geo.bs_shift >= 0 ? j & (bs - 1) : j % bs;
        const int64_t off =
            valid ? static_cast<int64_t>(blk[k] * bs + slot) * a.kv.kv_dim + head_off + c : 0;
        cp_async16(ks + r * D + c, a.k_pool + off, valid);
        cp_async16(vs + r * D + c, a.v_pool + off, valid);
      }
    }
    asm volatile("cp.async.commit_group;\n" ::: "memory");
  };

  // The pipeline's first S - 1 chunks go out before q is staged.
#pragma unroll
  for (int i = 0; i < S - 1; ++i) {
    fetch(i);
    issue(i);
  }
  fetch(S - 1);
  for (int i = lane; i < g * D; i += kWarpSize)
    qs[i] = a.q[(t * a.num_heads + h0) * D + i] * a.scale;
  __syncwarp();

  WarpState<G> st;
  float o[G][Sh::kDims];
#pragma unroll
  for (int h = 0; h < G; ++h) {
    st.m[h] = -INFINITY;
    st.l[h] = 0.0f;
#pragma unroll
    for (int e = 0; e < Sh::kDims; ++e) o[h][e] = 0.0f;
  }
  for (int i = 0; i < num_chunks; ++i) {
    issue(i + S - 1);  // into the stage chunk i - 1 used (the warp is past it)
    fetch(i + S);
    asm volatile("cp.async.wait_group %0;\n" ::"n"(S - 1) : "memory");  // chunk i landed
    __syncwarp();
    const __half* ks = stages + (i % S) * Sh::kStageHalves;
    chunk_step<D, G>(ks, ks + Sh::kChunk * D, qs, g, first_key(i), p1, lane, st, o);
    __syncwarp();
  }
  asm volatile("cp.async.wait_group 0;\n" ::: "memory");

#pragma unroll
  for (int h = 0; h < G; ++h) {
    if (h >= g) break;
    const int64_t row = t * a.num_heads + h0 + h;
#pragma unroll
    for (int e = 0; e < Sh::kDims; ++e) {
      const int d = lane * Sh::kDims + e;
      if (geo.splits == 1)
        a.out[row * D + d] = o[h][e] / st.l[h];
      else
        part_o[(part + h * kAttentionSplits) * D + d] = o[h][e];
    }
    if (geo.splits > 1 && lane == 0) {
      part_ml[2 * (part + h * kAttentionSplits)] = st.m[h];
      part_ml[2 * (part + h * kAttentionSplits) + 1] = st.l[h];
    }
  }
}

template <int D, int S, int G>
cudaError_t launch_shape(const AttentionArgs& a, int64_t num_items, const Geometry& geo,
                         float* part_o, float* part_ml, cudaStream_t stream) {
  constexpr size_t kStageBytes = S * Shape<D>::kStageHalves * sizeof(__half);
  static const cudaError_t raised =
      cudaFuncSetAttribute(stream_kernel<D, S, G>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                           static_cast<int>(kStageBytes + G * D * sizeof(float)));
  if (raised != cudaSuccess) return raised;
  const size_t bytes = kStageBytes + static_cast<size_t>(a.group) * D * sizeof(float);
  stream_kernel<D, S, G>
      <<<static_cast<unsigned>(num_items), kWarpSize, bytes, stream>>>(a, geo, part_o, part_ml);
  return cudaSuccess;
}

// The instance for head_dim D and S stages: G = the group rounded up to 1,
// 2, 4 or 8.
template <int D, int S>
cudaError_t launch_group(const AttentionArgs& a, int64_t num_items, const Geometry& geo,
                         float* part_o, float* part_ml, cudaStream_t stream) {
  if (a.group == 1) return launch_shape<D, S, 1>(a, num_items, geo, part_o, part_ml, stream);
  if (a.group == 2) return launch_shape<D, S, 2>(a, num_items, geo, part_o, part_ml, stream);
  if (a.group <= 4) return launch_shape<D, S, 4>(a, num_items, geo, part_o, part_ml, stream);
  return launch_shape<D, S, 8>(a, num_items, geo, part_o, part_ml, stream);
}

template <int D>
cudaError_t launch_dim(const AttentionArgs& a, int64_t num_items, const Geometry& geo,
                       float* part_o, float* part_ml, cudaStream_t stream) {
  // Auto: 3 stages for MHA, 2 for groups (fewer bytes of shared memory
  // per warp; measured faster there, H200).
  int stages = decode_attention_tuning().stages;
  if (stages <= 0) stages = a.group == 1 ? 3 : 2;
  if (stages <= 2) return launch_group<D, 2>(a, num_items, geo, part_o, part_ml, stream);
  if (stages >= 4) return launch_group<D, 4>(a, num_items, geo, part_o, part_ml, stream);
  return launch_group<D, 3>(a, num_items, geo, part_o, part_ml, stream);
}

int env_int(const char* name, int fallback) {
  const char* e = std::getenv(name);
  return e != nullptr && std::atoi(e) > 0 ? std::atoi(e) : fallback;
}

int num_sms() {
  static const int sms = [] {
    int device = 0, n = 0;
    if (cudaGetDevice(&device) != cudaSuccess ||
        cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, device) != cudaSuccess || n <= 0)
      n = 132;
    return n;
  }();
  return sms;
}

}  // namespace

DecodeAttentionTuning& decode_attention_tuning() {
  static DecodeAttentionTuning t = [] {
    DecodeAttentionTuning d;
    const char* k = std::getenv("TOKAMAK_CUDA_DECODE_KERNEL");
    d.streaming = !(k != nullptr && std::string_view(k) == "split");
    d.splits = env_int("TOKAMAK_CUDA_DECODE_SPLITS", 0);
    d.stages = env_int("TOKAMAK_CUDA_DECODE_STAGES", d.stages);  // 0: auto
    d.min_slice = env_int("TOKAMAK_CUDA_DECODE_MIN_SLICE", d.min_slice);
    d.min_pairs = env_int("TOKAMAK_CUDA_DECODE_MIN_PAIRS", d.min_pairs);
    d.one_slice_percent = env_int("TOKAMAK_CUDA_DECODE_ONE_SLICE_PERCENT", d.one_slice_percent);
    return d;
  }();
  return t;
}

bool attention_stream_supports(const AttentionArgs& a, int32_t num_kv_heads, int64_t num_tokens) {
  const DecodeAttentionTuning& tune = decode_attention_tuning();
  // Groups over 4 (register-heavy, shuffle-heavy chunks) need 4x the pairs.
  const int64_t min_pairs = static_cast<int64_t>(tune.min_pairs) * (a.group > 4 ? 4 : 1);
  return tune.streaming && num_tokens * num_kv_heads >= min_pairs &&
         (a.head_dim == 64 || a.head_dim == 128) && a.kv.kv_dim % 8 == 0 &&
         a.group <= kMaxSplitGroup && reinterpret_cast<uintptr_t>(a.k_pool) % 16 == 0 &&
         reinterpret_cast<uintptr_t>(a.v_pool) % 16 == 0;
}

cudaError_t launch_attention_stream(const AttentionArgs& a, int32_t num_kv_heads,
                                    int64_t num_tokens, float* scratch, cudaStream_t stream) {
  const DecodeAttentionTuning& tune = decode_attention_tuning();
  // Slots per token from the token count only (a graph of a bucket keeps
  // its geometry): one when the (token, KV head) pairs fill a wave of
  // resident warps (one_slice_percent of it), else about one wave of slots
  // (at least 2, at most kAttentionSplits). min_slice keeps short sequences
  // from being cut into tiny slices (their extra slots stay empty, and
  // empty warps still cost: hence no more slots than a wave needs).
  Geometry geo;
  geo.num_kv_heads = num_kv_heads;
  const int64_t pairs = num_tokens * num_kv_heads;
  const int64_t wave = static_cast<int64_t>(num_sms()) * kWarpsPerSm;
  if (tune.splits > 0)
    geo.splits = tune.splits;
  else if (pairs * 100 >= wave * tune.one_slice_percent)
    geo.splits = 1;
  else
    geo.splits = static_cast<int>(
        std::min<int64_t>(kAttentionSplits, std::max<int64_t>(2, (wave + pairs - 1) / pairs)));
  geo.splits = std::max(1, std::min(geo.splits, kAttentionSplits));
  geo.min_slice = std::max(1, tune.min_slice);
  const int32_t bs = a.kv.block_size;
  geo.bs_shift = (bs & (bs - 1)) == 0 ? __builtin_ctz(static_cast<unsigned>(bs)) : -1;
  float* part_o = scratch;
  float* part_ml =
      scratch + static_cast<int64_t>(kMaxSplitTokens) * a.num_heads * kAttentionSplits * a.head_dim;
  const int64_t items = pairs * geo.splits;
  const cudaError_t err = a.head_dim == 128
                              ? launch_dim<128>(a, items, geo, part_o, part_ml, stream)
                              : launch_dim<64>(a, items, geo, part_o, part_ml, stream);
  if (err != cudaSuccess) return err;
  if (geo.splits > 1)
    return launch_attention_merge(part_o, part_ml, num_tokens, a.num_heads, a.head_dim, geo.splits,
                                  a.out, stream);
  return cudaGetLastError();
}

}  // namespace tokamak::cuda
