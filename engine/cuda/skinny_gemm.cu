#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <mutex>

#include "cuda/async_copy.cuh"
#include "cuda/skinny_gemm.cuh"

namespace tokamak::cuda {
namespace {

constexpr int kBM = 128;  // weight rows per tile
constexpr int kBK = 64;   // values per k-tile (128 bytes: 8 chunks of 16)
constexpr int kWarps = 8;
constexpr int kThreads = kWarps * 32;

struct SkinnyMatrix {
  const uint16_t* w = nullptr;  // (rows, n)
  float* y = nullptr;           // (num_tokens, rows)
  int rows = 0;
  int tile_begin = 0;  // row tiles of the group before this matrix
};

// The work: tiles wt = (row tile of the group) x token_tiles + token tile,
// k_tiles units each; block c takes units [c U / C, (c + 1) U / C) of the
// U = num_tiles x k_tiles, in order (C = gridDim.x).
struct SkinnyParams {
  SkinnyMatrix m[kMaxMatmulGroup];
  int count = 1;
  const uint16_t* x = nullptr;  // (num_tokens, n)
  int num_tokens = 0;
  int n = 0;
  int k_tiles = 0;
  int token_tiles = 1;
  int64_t num_units = 0;
  float* partials = nullptr;     // 2 slots per block: its first and its last tile
  unsigned* counters = nullptr;  // per tile
};

// Where tile wt's weights, outputs and tokens are.
struct TilePlace {
  const uint16_t* w;
  float* y;
  int rows, row0, tok0;
};

template <int BN>
__device__ __forceinline__ TilePlace place(const SkinnyParams& p, int wt) {
  const int row_tile = wt / p.token_tiles;
  SkinnyMatrix m = p.m[0];
  if (p.count > 1 && row_tile >= p.m[1].tile_begin) m = p.m[1];
  if (p.count > 2 && row_tile >= p.m[2].tile_begin) m = p.m[2];
  return {m.w, m.y, m.rows, (row_tile - m.tile_begin) * kBM, (wt % p.token_tiles) * BN};
}

// First unit of block c, and the block that holds unit u.
__device__ __forceinline__ int64_t first_unit(const SkinnyParams& p, int64_t c) {
  return c * p.num_units / gridDim.x;
}
__device__ __forceinline__ int64_t block_of(const SkinnyParams& p, int64_t u) {
  return ((u + 1) * gridDim.x + p.num_units - 1) / p.num_units - 1;
}

__device__ __forceinline__ void ldsm_x4(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
template <bool BF16>
__device__ __forceinline__ void mma(float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                                    uint32_t b1) {
  if constexpr (BF16) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
}

// Byte offset of 16-byte chunk c of row r in a tile of 128-byte rows, XOR-
// swizzled so that ldmatrix's 8 rows at one chunk hit 8 different banks.
__device__ __forceinline__ uint32_t swz(int r, int c) { return r * 128 + ((c ^ (r & 7)) << 4); }

// Geometry of one instantiation: BN tokens per block, warps WM (rows) x
// 8 / WM (tokens), each warp MT m16 tiles x NT n8 tiles.
template <int BN, int WM, int STAGES>
struct Geometry {
  static constexpr int kWN = kWarps / WM;
  static constexpr int kMT = kBM / WM / 16;
  static constexpr int kNT = BN / kWN / 8;
  static constexpr int kStageA = kBM * kBK * 2;  // bytes
  static constexpr int kStageB = BN * kBK * 2;
  static constexpr int kSmem = STAGES * (kStageA + kStageB);
  static_assert(kNT % 2 == 0, "B fragments come two n8 tiles per ldmatrix.x4");
};

// The load side's position: tile wt (placed) and its k-tile kt; advanced
// unit by unit without divisions.
struct LoadCursor {
  TilePlace t;
  int wt, kt;
};

// Issues the cp.async of the cursor's unit into a stage, then advances it.
template <int BN>
__device__ __forceinline__ void load_unit(const SkinnyParams& p, LoadCursor& cur, uint32_t sa,
                                          uint32_t sb) {
  const TilePlace& t = cur.t;
  const int k0 = cur.kt * kBK;
#pragma unroll
  for (int i = 0; i < kBM * 8 / kThreads; ++i) {
    const int c = threadIdx.x + i * kThreads, r = c >> 3, ch = c & 7;
    const int k = k0 + ch * 8;
    const bool valid = t.row0 + r < t.rows && k < p.n;
    const uint16_t* src = valid ? t.w + static_cast<int64_t>(t.row0 + r) * p.n + k : t.w;
    cp_async16(sa + swz(r, ch), src, valid);
  }
#pragma unroll
  for (int i = 0; i < (BN * 8 + kThreads - 1) / kThreads; ++i) {
    const int c = threadIdx.x + i * kThreads, r = c >> 3, ch = c & 7;
    if (BN * 8 % kThreads != 0 && c >= BN * 8) break;
    const int k = k0 + ch * 8;
    const bool valid = t.tok0 + r < p.num_tokens && k < p.n;
    const uint16_t* src = valid ? p.x + static_cast<int64_t>(t.tok0 + r) * p.n + k : p.x;
    cp_async16(sb + swz(r, ch), src, valid);
  }
  if (++cur.kt == p.k_tiles) {
    cur.kt = 0;
    cur.t = place<BN>(p, ++cur.wt);
  }
}

// acc += the stage's A (warp rows wm0..) x B (warp tokens wn0..).
template <int BN, int WM, int STAGES, bool BF16>
__device__ __forceinline__ void compute_tile(
    uint32_t sa, uint32_t sb, int wm0, int wn0,
    float (&acc)[Geometry<BN, WM, STAGES>::kMT][Geometry<BN, WM, STAGES>::kNT][4]) {
  using G = Geometry<BN, WM, STAGES>;
  const int lane = threadIdx.x & 31;
#pragma unroll
  for (int kk = 0; kk < kBK / 16; ++kk) {
    uint32_t a[G::kMT][4];
#pragma unroll
    for (int mt = 0; mt < G::kMT; ++mt)
      ldsm_x4(a[mt], sa + swz(wm0 + mt * 16 + (lane & 15), kk * 2 + (lane >> 4)));
#pragma unroll
    for (int np = 0; np < G::kNT / 2; ++np) {
      uint32_t b[4];  // n8 tile 2np: b[0], b[1]; 2np + 1: b[2], b[3]
      ldsm_x4(
          b, sb + swz(wn0 + np * 16 + (lane & 7) + ((lane >> 4) << 3), kk * 2 + ((lane >> 3) & 1)));
#pragma unroll
      for (int mt = 0; mt < G::kMT; ++mt) {
        mma<BF16>(acc[mt][2 * np], a[mt], b[0], b[1]);
        mma<BF16>(acc[mt][2 * np + 1], a[mt], b[2], b[3]);
      }
    }
  }
}

// Fragment element e = (mt, nt, j) of the accumulators, flattened.
template <class G>
constexpr int kFrag = G::kMT* G::kNT * 4;

// The end of block `me`'s segment of tile wt (units [s0, s1)): a whole tile
// goes to y; a part goes to the block's partial slot, and the tile's last
// block to finish sums the parts in block order (the same sum whichever
// finishes last) into y and re-arms the tile's counter.
template <int BN, int WM, int STAGES>
__device__ __forceinline__ void finish_segment(const SkinnyParams& p, int wt, int64_t s0,
                                               int64_t s1,
                                               float (&acc)[kFrag<Geometry<BN, WM, STAGES>>]) {
  using G = Geometry<BN, WM, STAGES>;
  constexpr int kSlot = kBM * BN;  // floats
  const int64_t t0 = static_cast<int64_t>(wt) * p.k_tiles, t1 = t0 + p.k_tiles;
  const int64_t me = blockIdx.x;
  if (s0 != t0 || s1 != t1) {
    __shared__ int last;
    const int64_t c_first = block_of(p, t0), c_last = block_of(p, t1 - 1);
    // A block's slot 0 holds the tile it starts in, slot 1 the tile it ends in.
    auto slot = [&](int64_t c) {
      return p.partials + (2 * c + (first_unit(p, c) >= t0 ? 0 : 1)) * kSlot;
    };
    float* mine = slot(me);
#pragma unroll
    for (int e = 0; e < kFrag<G>; ++e) __stcg(mine + e * kThreads + threadIdx.x, acc[e]);
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) {
      unsigned* counter = p.counters + wt;
      last = atomicAdd(counter, 1u) == static_cast<unsigned>(c_last - c_first);
      if (last) *counter = 0;  // every part of this tile has counted
    }
    __syncthreads();
    if (!last) return;
    __threadfence();
    float sum[kFrag<G>];
#pragma unroll
    for (int e = 0; e < kFrag<G>; ++e) sum[e] = 0.0f;
    for (int64_t c = c_first; c <= c_last; ++c) {
      const float* part = slot(c);
#pragma unroll
      for (int e = 0; e < kFrag<G>; ++e)
        sum[e] += c == me ? acc[e] : __ldcg(part + e * kThreads + threadIdx.x);
    }
#pragma unroll
    for (int e = 0; e < kFrag<G>; ++e) acc[e] = sum[e];
  }
  // Element (mt, nt, j) sits at row wm0 + 16 mt + lane / 4 (+ 8 for j >= 2),
  // token wn0 + 8 nt + 2 (lane % 4) + (j & 1).
  const TilePlace t = place<BN>(p, wt);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int wm0 = (warp % WM) * (kBM / WM), wn0 = (warp / WM) * (BN / G::kWN);
#pragma unroll
  for (int mt = 0; mt < G::kMT; ++mt)
#pragma unroll
    for (int nt = 0; nt < G::kNT; ++nt)
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int r = t.row0 + wm0 + mt * 16 + (lane >> 2) + (j >= 2 ? 8 : 0);
        const int tok = t.tok0 + wn0 + nt * 8 + 2 * (lane & 3) + (j & 1);
        if (r < t.rows && tok < p.num_tokens)
          t.y[static_cast<int64_t>(tok) * t.rows + r] = acc[(mt * G::kNT + nt) * 4 + j];
      }
}

template <int BN, int WM, int STAGES, bool BF16>
__global__ void __launch_bounds__(kThreads, 2)
    skinny_gemm_kernel(const __grid_constant__ SkinnyParams p) {
  using G = Geometry<BN, WM, STAGES>;
  extern __shared__ __align__(128) uint8_t smem[];
  const int64_t u0 = first_unit(p, blockIdx.x), u1 = first_unit(p, blockIdx.x + 1);
  const int num_units = static_cast<int>(u1 - u0);
  const uint32_t s0 = smem_addr(smem);
  const uint32_t sb0 = s0 + STAGES * G::kStageA;
  const int warp = threadIdx.x >> 5;
  const int wm0 = (warp % WM) * (kBM / WM), wn0 = (warp / WM) * (BN / G::kWN);

  float acc[kFrag<G>];
#pragma unroll
  for (int e = 0; e < kFrag<G>; ++e) acc[e] = 0.0f;
  const int wt0 = static_cast<int>(u0 / p.k_tiles),
            kt0 = static_cast<int>(u0 - int64_t{wt0} * p.k_tiles);
  LoadCursor cur{place<BN>(p, wt0), wt0, kt0};
#pragma unroll
  for (int s = 0; s < STAGES - 1; ++s) {
    if (s < num_units) load_unit<BN>(p, cur, s0 + s * G::kStageA, sb0 + s * G::kStageB);
    cp_async_commit();
  }
  int wt = wt0, kt = kt0;  // the unit computed next
  int64_t seg0 = u0;       // first unit of tile wt's segment
  for (int i = 0; i < num_units; ++i) {
    cp_async_wait<STAGES - 2>();  // unit i has landed
    __syncthreads();              // and every warp is done with the stage reloaded below
    const int next = i + STAGES - 1;
    if (next < num_units) {
      const int st = next % STAGES;
      load_unit<BN>(p, cur, s0 + st * G::kStageA, sb0 + st * G::kStageB);
    }
    cp_async_commit();
    const int st = i % STAGES;
    compute_tile<BN, WM, STAGES, BF16>(s0 + st * G::kStageA, sb0 + st * G::kStageB, wm0, wn0,
                                       reinterpret_cast<float(&)[G::kMT][G::kNT][4]>(acc));
    if (++kt == p.k_tiles || i + 1 == num_units) {
      const int64_t u = u0 + i + 1;
      finish_segment<BN, WM, STAGES>(p, wt, seg0, u, acc);
#pragma unroll
      for (int e = 0; e < kFrag<G>; ++e) acc[e] = 0.0f;
      seg0 = u;
      kt = 0;
      ++wt;
    }
  }
  cp_async_wait<0>();
}

// One instantiation's kernel, its shared memory and resident blocks on the
// device (set up once per process).
struct Variant {
  const void* kernel = nullptr;
  int smem = 0;
  int resident = 0;
  int bn = 0;
  int sms = 0;
};

template <int BN, int WM, int STAGES, bool BF16>
Variant make_variant() {
  using G = Geometry<BN, WM, STAGES>;
  const void* k = reinterpret_cast<const void*>(skinny_gemm_kernel<BN, WM, STAGES, BF16>);
  Variant v{k, G::kSmem, 0, BN};
  if (cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, G::kSmem) != cudaSuccess)
    return v;
  int per_sm = 0, device = 0, sms = 0;
  cudaGetDevice(&device);
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
  cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, k, kThreads, G::kSmem);
  v.resident = per_sm * sms;
  v.sms = sms;
  return v;
}

// Variants by token tile (16, 32, 64) for fp16 [0..2] and bf16 [3..5], 4
// stages each (5 and 6 for 16 and 32 tokens were no better in the one H200
// run that tried them, with other changes). A 128-token tile needs 64
// accumulators per thread and spilled at 2 blocks per SM: more than 64
// tokens take several 64-token tiles, each reading the weights again.
const Variant* variants() {
  static Variant v[6];
  static std::once_flag once;
  std::call_once(once, [] {
    v[0] = make_variant<16, 8, 4, false>();
    v[1] = make_variant<32, 8, 4, false>();
    v[2] = make_variant<64, 4, 4, false>();
    v[3] = make_variant<16, 8, 4, true>();
    v[4] = make_variant<32, 8, 4, true>();
    v[5] = make_variant<64, 4, 4, true>();
  });
  return v;
}

int max_tile_tokens = 64;
int forced_blocks = 0;

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }

int64_t row_tiles(const MatmulWeight* weights, int count) {
  int64_t tiles = 0;
  for (int g = 0; g < count; ++g) tiles += (weights[g].rows + kBM - 1) / kBM;
  return tiles;
}

}  // namespace

bool skinny_gemm_supports(const MatmulWeight* weights, int count, const void* x,
                          int64_t num_tokens) {
  if (count < 1 || count > kMaxMatmulGroup || num_tokens < 1 || num_tokens > kSkinnyMaxTokens)
    return false;
  const TensorType type = weights[0].type;
  const int64_t n = weights[0].row_length;
  if ((type != TensorType::F16 && type != TensorType::BF16) || n % 8 != 0 || !aligned16(x) ||
      n > (int64_t{1} << 24))
    return false;
  for (int g = 0; g < count; ++g) {
    const MatmulWeight& w = weights[g];
    if (w.type != type || w.row_length != n || w.row_bytes != static_cast<size_t>(n) * 2 ||
        !aligned16(w.data) || w.rows < 1 || w.rows > (int64_t{1} << 28))
      return false;
  }
  // Tiles of 16 tokens at most; every tile has a counter.
  return row_tiles(weights, count) * ((num_tokens + 15) / 16) <= kSkinnyCounters;
}

cudaError_t launch_skinny_gemm(const MatmulWeight* weights, float* const* ys, int count,
                               const void* x, int64_t num_tokens, const SkinnyWorkspace& ws,
                               cudaStream_t stream) {
  if (!skinny_gemm_supports(weights, count, x, num_tokens)) return cudaErrorInvalidValue;
  const bool bf16 = weights[0].type == TensorType::BF16;
  const int bucket = num_tokens <= 16 || max_tile_tokens <= 16   ? 0
                     : num_tokens <= 32 || max_tile_tokens <= 32 ? 1
                                                                 : 2;
  const Variant& v = variants()[(bf16 ? 3 : 0) + bucket];
  if (v.resident == 0) return cudaErrorInvalidValue;
  SkinnyParams p;
  p.count = count;
  p.x = static_cast<const uint16_t*>(x);
  p.num_tokens = static_cast<int>(num_tokens);
  p.n = static_cast<int>(weights[0].row_length);
  p.k_tiles = (p.n + kBK - 1) / kBK;
  p.token_tiles = static_cast<int>((num_tokens + v.bn - 1) / v.bn);
  int tiles = 0;
  for (int g = 0; g < count; ++g) {
    p.m[g] = {static_cast<const uint16_t*>(weights[g].data), ys[g],
              static_cast<int>(weights[g].rows), tiles};
    tiles += static_cast<int>((weights[g].rows + kBM - 1) / kBM);
  }
  const int num_tiles = tiles * p.token_tiles;
  p.num_units = static_cast<int64_t>(num_tiles) * p.k_tiles;
  // Blocks: one per tile where there are at least as many tiles as SMs
  // (every tile whole, no partials); else one per SM (stream-k), each with
  // >= 4 units and a slot pair in the workspace. Without a workspace: one
  // per tile. (H200, `gpu_decode_bench --gemm`'s grid sweep: stream-k over
  // 132 blocks beat 264..528 on every matrix of fewer tiles than SMs, one
  // block per tile beat stream-k on 32000 x 4096.)
  const int64_t slot_pair_bytes = int64_t{2} * kBM * v.bn * 4;
  int64_t blocks = num_tiles;
  if (ws.partials && ws.counters && num_tiles <= ws.num_counters) {
    if (forced_blocks > 0)
      blocks = forced_blocks;
    else if (num_tiles < v.sms)
      blocks = std::min<int64_t>(v.sms, (p.num_units + 3) / 4);
    blocks = std::min<int64_t>(
        {blocks, p.num_units, static_cast<int64_t>(ws.partial_bytes) / slot_pair_bytes});
    blocks = std::max<int64_t>(blocks, 1);
    p.partials = ws.partials;
    p.counters = ws.counters;
  }
  const void* args[] = {&p};
  return cudaLaunchKernel(v.kernel, dim3(static_cast<unsigned>(blocks)), dim3(kThreads),
                          const_cast<void**>(args), v.smem, stream);
}

void set_skinny_gemm_max_tile_tokens(int tokens) { max_tile_tokens = tokens; }
void set_skinny_gemm_blocks(int blocks) { forced_blocks = blocks; }

}  // namespace tokamak::cuda
