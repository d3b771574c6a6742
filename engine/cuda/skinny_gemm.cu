#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <mutex>

#include "cuda/skinny_gemm.cuh"

namespace tokamak::cuda {
namespace {

constexpr int kBM = 128;  // weight rows per block
constexpr int kBK = 64;   // values per k-tile (128 bytes: 8 chunks of 16)
constexpr int kWarps = 8;
constexpr int kThreads = kWarps * 32;

struct SkinnyMatrix {
  const uint16_t* w = nullptr;  // (rows, n)
  float* y = nullptr;           // (num_tokens, rows)
  int rows = 0;
  int splits = 1;         // k ranges per row tile
  int cta_begin = 0;      // first blockIdx.x of this matrix
  int partial_begin = 0;  // first partial slot (split matrices)
  int counter_begin = 0;  // first tile counter (split matrices)
};

struct SkinnyParams {
  SkinnyMatrix m[kMaxMatmulGroup];
  int count = 1;
  const uint16_t* x = nullptr;  // (num_tokens, n)
  int num_tokens = 0;
  int n = 0;
  int k_tiles = 0;
  int token_tiles = 1;    // blockIdx.x = block of the matrices x token_tiles + token tile
  int partial_slots = 0;  // per token tile
  int num_counters = 0;   // per token tile
  float* partials = nullptr;
  unsigned* counters = nullptr;
};

__device__ __forceinline__ uint32_t smem_u32(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}
__device__ __forceinline__ void cp_async16(uint32_t dst, const void* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src),
               "r"(valid ? 16 : 0)
               : "memory");
}
__device__ __forceinline__ void cp_commit() {
  asm volatile("cp.async.commit_group;\n" ::: "memory");
}
template <int N>
__device__ __forceinline__ void cp_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
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

// Issues the cp.async of k-tile kt (W rows row0.., x tokens tok0..) into a stage.
template <int BN>
__device__ __forceinline__ void load_tile(const SkinnyParams& p, const SkinnyMatrix& m, int row0,
                                          int tok0, int kt, uint32_t sa, uint32_t sb) {
  const int k0 = kt * kBK;
#pragma unroll
  for (int i = 0; i < kBM * 8 / kThreads; ++i) {
    const int c = threadIdx.x + i * kThreads, r = c >> 3, ch = c & 7;
    const int k = k0 + ch * 8;
    const bool valid = row0 + r < m.rows && k < p.n;
    const uint16_t* src = valid ? m.w + static_cast<int64_t>(row0 + r) * p.n + k : m.w;
    cp_async16(sa + swz(r, ch), src, valid);
  }
#pragma unroll
  for (int i = 0; i < (BN * 8 + kThreads - 1) / kThreads; ++i) {
    const int c = threadIdx.x + i * kThreads, r = c >> 3, ch = c & 7;
    if (BN * 8 % kThreads != 0 && c >= BN * 8) break;
    const int k = k0 + ch * 8;
    const bool valid = tok0 + r < p.num_tokens && k < p.n;
    const uint16_t* src = valid ? p.x + static_cast<int64_t>(tok0 + r) * p.n + k : p.x;
    cp_async16(sb + swz(r, ch), src, valid);
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

// The block's matrix: the last of the group whose first block <= blockIdx.x
// (selects, no dynamic indexing into the parameters).
__device__ __forceinline__ SkinnyMatrix pick_matrix(const SkinnyParams& p, int cta) {
  SkinnyMatrix m = p.m[0];
  if (p.count > 1 && cta >= p.m[1].cta_begin) m = p.m[1];
  if (p.count > 2 && cta >= p.m[2].cta_begin) m = p.m[2];
  return m;
}

template <int BN, int WM, int STAGES, bool BF16>
__global__ void __launch_bounds__(kThreads, 2)
    skinny_gemm_kernel(const __grid_constant__ SkinnyParams p) {
  using G = Geometry<BN, WM, STAGES>;
  extern __shared__ __align__(128) uint8_t smem[];
  // The token tiles of one weight tile are neighbours in the grid: they run
  // together and the weight tile comes from HBM once.
  const int cta = static_cast<int>(blockIdx.x) / p.token_tiles;
  const int token_tile = static_cast<int>(blockIdx.x) % p.token_tiles;
  const SkinnyMatrix m = pick_matrix(p, cta);
  const int local = cta - m.cta_begin;
  const int tile = local / m.splits, split = local % m.splits;
  const int row0 = tile * kBM, tok0 = token_tile * BN;
  const int kt0 = static_cast<int>(static_cast<int64_t>(split) * p.k_tiles / m.splits);
  const int kt1 = static_cast<int>(static_cast<int64_t>(split + 1) * p.k_tiles / m.splits);
  const int num_kt = kt1 - kt0;
  const uint32_t s0 = smem_u32(smem);
  const uint32_t sb0 = s0 + STAGES * G::kStageA;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int wm0 = (warp % WM) * (kBM / WM), wn0 = (warp / WM) * (BN / G::kWN);

  float acc[G::kMT][G::kNT][4];
#pragma unroll
  for (int mt = 0; mt < G::kMT; ++mt)
#pragma unroll
    for (int nt = 0; nt < G::kNT; ++nt)
#pragma unroll
      for (int j = 0; j < 4; ++j) acc[mt][nt][j] = 0.0f;

#pragma unroll
  for (int s = 0; s < STAGES - 1; ++s) {
    if (s < num_kt)
      load_tile<BN>(p, m, row0, tok0, kt0 + s, s0 + s * G::kStageA, sb0 + s * G::kStageB);
    cp_commit();
  }
  for (int i = 0; i < num_kt; ++i) {
    cp_wait<STAGES - 2>();  // k-tile i has landed
    __syncthreads();        // and every warp is done with the stage reloaded below
    const int next = i + STAGES - 1;
    if (next < num_kt) {
      const int st = next % STAGES;
      load_tile<BN>(p, m, row0, tok0, kt0 + next, s0 + st * G::kStageA, sb0 + st * G::kStageB);
    }
    cp_commit();
    const int st = i % STAGES;
    compute_tile<BN, WM, STAGES, BF16>(s0 + st * G::kStageA, sb0 + st * G::kStageB, wm0, wn0, acc);
  }
  cp_wait<0>();

  // Fragment element (mt, nt, j) sits at row wm0 + 16 mt + lane / 4 (+ 8 for
  // j >= 2), token wn0 + 8 nt + 2 (lane % 4) + (j & 1).
  if (m.splits > 1) {
    const int64_t slots = static_cast<int64_t>(token_tile) * p.partial_slots + m.partial_begin;
    float* mine = p.partials + (slots + local) * (kBM * BN);
#pragma unroll
    for (int mt = 0; mt < G::kMT; ++mt)
#pragma unroll
      for (int nt = 0; nt < G::kNT; ++nt)
#pragma unroll
        for (int j = 0; j < 4; ++j)
          __stcg(mine + ((mt * G::kNT + nt) * 4 + j) * kThreads + threadIdx.x, acc[mt][nt][j]);
    __threadfence();
    __syncthreads();
    __shared__ int last;
    if (threadIdx.x == 0) {
      unsigned* counter =
          p.counters + static_cast<int64_t>(token_tile) * p.num_counters + m.counter_begin + tile;
      last = atomicAdd(counter, 1u) == static_cast<unsigned>(m.splits - 1);
      if (last) *counter = 0;  // re-armed: every split of this tile has counted
    }
    __syncthreads();
    if (!last) return;
    __threadfence();
    const float* first = p.partials + (slots + tile * m.splits) * (kBM * BN);
#pragma unroll
    for (int mt = 0; mt < G::kMT; ++mt)
#pragma unroll
      for (int nt = 0; nt < G::kNT; ++nt)
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          const int idx = ((mt * G::kNT + nt) * 4 + j) * kThreads + threadIdx.x;
          float sum = 0.0f;
          for (int s = 0; s < m.splits; ++s)
            sum += s == split ? acc[mt][nt][j] : __ldcg(first + s * (kBM * BN) + idx);
          acc[mt][nt][j] = sum;
        }
  }
#pragma unroll
  for (int mt = 0; mt < G::kMT; ++mt)
#pragma unroll
    for (int nt = 0; nt < G::kNT; ++nt)
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int r = row0 + wm0 + mt * 16 + (lane >> 2) + (j >= 2 ? 8 : 0);
        const int t = tok0 + wn0 + nt * 8 + 2 * (lane & 3) + (j & 1);
        if (r < m.rows && t < p.num_tokens)
          m.y[static_cast<int64_t>(t) * m.rows + r] = acc[mt][nt][j];
      }
}

// One instantiation's kernel, its shared memory and resident blocks per SM
// (set up once per process).
struct Variant {
  const void* kernel = nullptr;
  int smem = 0;
  int resident = 0;  // blocks on the whole device
  int bn = 0;
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
  return v;
}

// Variants by token tile (16, 32, 64) for fp16 [0..2] and bf16 [3..5]. (A
// 128-token tile needs 64 accumulators per thread and spilled at 2 blocks
// per SM; more than 64 tokens take several 64-token tiles instead.)
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

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }

// Splits of every matrix: the most that keep all blocks of one token tile
// within the resident blocks, with >= 4 k-tiles per split and the partials
// and counters within the workspace.
int choose_splits(int total_tiles, int k_tiles, int resident, int max_slots, int max_counters) {
  if (total_tiles > max_counters) return 1;
  int splits = std::max(1, resident / std::max(1, total_tiles));
  splits = std::min({splits, std::max(1, k_tiles / 4), 16});
  while (splits > 1 && total_tiles * splits > max_slots) --splits;
  return splits;
}

}  // namespace

bool skinny_gemm_supports(const MatmulWeight* weights, int count, const void* x,
                          int64_t num_tokens) {
  if (count < 1 || count > kMaxMatmulGroup || num_tokens < 1 || num_tokens > kSkinnyMaxTokens)
    return false;
  const TensorType type = weights[0].type;
  const int64_t n = weights[0].row_length;
  if ((type != TensorType::F16 && type != TensorType::BF16) || n % 8 != 0 || !aligned16(x))
    return false;
  if (n > (int64_t{1} << 24)) return false;
  for (int g = 0; g < count; ++g) {
    const MatmulWeight& w = weights[g];
    if (w.type != type || w.row_length != n || w.row_bytes != static_cast<size_t>(n) * 2 ||
        !aligned16(w.data) || w.rows < 1 || w.rows > (int64_t{1} << 28))
      return false;
  }
  return true;
}

cudaError_t launch_skinny_gemm(const MatmulWeight* weights, float* const* ys, int count,
                               const void* x, int64_t num_tokens, const SkinnyWorkspace& ws,
                               cudaStream_t stream) {
  if (!skinny_gemm_supports(weights, count, x, num_tokens)) return cudaErrorInvalidValue;
  const bool bf16 = weights[0].type == TensorType::BF16;
  const int bucket = num_tokens <= 16 ? 0 : num_tokens <= 32 ? 1 : 2;
  const Variant& v = variants()[(bf16 ? 3 : 0) + bucket];
  if (v.resident == 0) return cudaErrorInvalidValue;
  SkinnyParams p;
  p.count = count;
  p.x = static_cast<const uint16_t*>(x);
  p.num_tokens = static_cast<int>(num_tokens);
  p.n = static_cast<int>(weights[0].row_length);
  p.k_tiles = (p.n + kBK - 1) / kBK;
  const int token_tiles = static_cast<int>((num_tokens + v.bn - 1) / v.bn);
  int total_tiles = 0;
  for (int g = 0; g < count; ++g)
    total_tiles += static_cast<int>((weights[g].rows + kBM - 1) / kBM);
  const int64_t slot_bytes = int64_t{kBM} * v.bn * 4;
  const int max_slots =
      static_cast<int>(static_cast<int64_t>(ws.partial_bytes) / slot_bytes / token_tiles);
  const int max_counters = static_cast<int>(ws.num_counters / token_tiles);
  const int splits =
      ws.partials && ws.counters
          ? choose_splits(total_tiles, p.k_tiles, v.resident / token_tiles, max_slots, max_counters)
          : 1;
  int cta = 0;
  for (int g = 0; g < count; ++g) {
    SkinnyMatrix& m = p.m[g];
    const int tiles = static_cast<int>((weights[g].rows + kBM - 1) / kBM);
    m.w = static_cast<const uint16_t*>(weights[g].data);
    m.y = ys[g];
    m.rows = static_cast<int>(weights[g].rows);
    m.splits = splits;
    m.cta_begin = cta;
    m.partial_begin = splits > 1 ? cta : 0;
    m.counter_begin = splits > 1 ? cta / splits : 0;
    cta += tiles * splits;
  }
  if (splits > 1) {
    p.partial_slots = cta;
    p.num_counters = total_tiles;
    p.partials = ws.partials;
    p.counters = ws.counters;
  }
  p.token_tiles = token_tiles;
  const dim3 grid(static_cast<unsigned>(cta) * token_tiles);
  const void* args[] = {&p};
  return cudaLaunchKernel(v.kernel, grid, dim3(kThreads), const_cast<void**>(args), v.smem, stream);
}

}  // namespace tokamak::cuda
