#include "cuda/common.cuh"
#include "cuda/matmul.cuh"

namespace tokamak::cuda {
namespace {

constexpr int kWarpsPerBlock = 4;
constexpr int kTokensPerPass = 8;
constexpr int kDecodeRowsPerWarp = 4;

// 32 values of x at x[c*32 ..], zero past n.
__device__ __forceinline__ float dot_chunk(const float* w, const float* x, int64_t c, int64_t n) {
  const float* p = x + c * kChunk;
  float acc = 0.0f;
  if ((c + 1) * kChunk <= n && (reinterpret_cast<uintptr_t>(p) & 15) == 0) {
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const float4 v = reinterpret_cast<const float4*>(p)[i];
      acc = fmaf(w[4 * i], v.x, acc);
      acc = fmaf(w[4 * i + 1], v.y, acc);
      acc = fmaf(w[4 * i + 2], v.z, acc);
      acc = fmaf(w[4 * i + 3], v.w, acc);
    }
    return acc;
  }
  const int64_t left = n - c * kChunk;
#pragma unroll
  for (int i = 0; i < kChunk; ++i)
    if (i < left) acc = fmaf(w[i], p[i], acc);
  return acc;
}

// Up to kMaxMatmulGroup weights of one type and row length sharing the input x:
// the grid's x dimension walks the row blocks of weight 0, then weight 1, ...
struct MatmulGroup {
  const uint8_t* data[kMaxMatmulGroup];
  size_t row_bytes[kMaxMatmulGroup];
  int64_t rows[kMaxMatmulGroup];
  float* y[kMaxMatmulGroup];
  unsigned first_block[kMaxMatmulGroup + 1];  // row-block ranges per weight
  int count;
};

// group.field[g] without dynamic indexing (which would copy the parameter
// struct to local memory).
template <class V>
__device__ __forceinline__ V pick(const V (&a)[kMaxMatmulGroup], int g) {
  return g == 0 ? a[0] : (g == 1 ? a[1] : a[2]);
}

__device__ __forceinline__ int group_of(const MatmulGroup& group) {
  int g = 0;
  if (group.count > 1 && blockIdx.x >= group.first_block[1]) g = 1;
  if (group.count > 2 && blockIdx.x >= group.first_block[2]) g = 2;
  return g;
}

// acc[i] = this lane's share of dot(row i, x) for i < num_r (kFull: all NR
// rows exist, so the loads of every row can be issued without guards).
template <TensorType T, int NR, bool kFull>
__device__ __forceinline__ void matvec_rows(const uint8_t* base, size_t row_bytes, int num_r,
                                            int64_t n, const float* x, int lane, float* acc) {
#pragma unroll
  for (int i = 0; i < NR; ++i) acc[i] = 0.0f;
  float xc[kChunk], w[kChunk];
  for (int64_t c = lane; c < num_chunks(n); c += kWarpSize) {
    load_chunk<TensorType::F32>(reinterpret_cast<const uint8_t*>(x), c, n, xc);
#pragma unroll
    for (int i = 0; i < NR; ++i) {
      if (kFull || i < num_r) {
        load_chunk<T>(base + i * row_bytes, c, n, w);
        float s = 0.0f;
#pragma unroll
        for (int k = 0; k < kChunk; ++k) s = fmaf(w[k], xc[k], s);
        acc[i] += s;
      }
    }
  }
}

// Decode (one token): warp w of a block takes NR consecutive rows and walks
// their chunks together, so each x chunk is loaded once for NR rows.
// grid (sum of ceil(rows_g / (4 NR))), block 128 = 4 warps.
template <TensorType T, int NR>
__global__ void __launch_bounds__(kWarpsPerBlock* kWarpSize)
    matvec_kernel(MatmulGroup group, int64_t n, const float* x) {
  const int g = group_of(group);
  const int lane = threadIdx.x % kWarpSize;
  const int64_t rows = pick(group.rows, g);
  const unsigned first =
      g == 0 ? group.first_block[0] : (g == 1 ? group.first_block[1] : group.first_block[2]);
  const int64_t r0 =
      ((blockIdx.x - first) * static_cast<int64_t>(kWarpsPerBlock) + threadIdx.x / kWarpSize) * NR;
  if (r0 >= rows) return;
  const int num_r = static_cast<int>(rows - r0 < NR ? rows - r0 : NR);
  const size_t row_bytes = pick(group.row_bytes, g);
  const uint8_t* base = pick(group.data, g) + r0 * row_bytes;
  float acc[NR];
  if (num_r == NR) {
    matvec_rows<T, NR, true>(base, row_bytes, NR, n, x, lane, acc);
  } else {
    matvec_rows<T, NR, false>(base, row_bytes, num_r, n, x, lane, acc);
  }
  float* y = pick(group.y, g);
#pragma unroll
  for (int i = 0; i < NR; ++i) {
    const float s = warp_sum(acc[i]);
    if (lane == 0 && i < num_r) y[r0 + i] = s;
  }
}

// Small batches (2..15 tokens): one row per warp, up to NT tokens per pass.
// grid (sum of ceil(rows_g / 4), ceil(num_tokens / NT)), block 128 = 4 warps.
template <TensorType T, int NT>
__global__ void __launch_bounds__(kWarpsPerBlock* kWarpSize)
    matmul_kernel(MatmulGroup group, int64_t n, const float* x, int64_t num_tokens) {
  const int g = group_of(group);
  const int lane = threadIdx.x % kWarpSize;
  const int64_t rows = pick(group.rows, g);
  const unsigned first =
      g == 0 ? group.first_block[0] : (g == 1 ? group.first_block[1] : group.first_block[2]);
  const int64_t r =
      (blockIdx.x - first) * static_cast<int64_t>(kWarpsPerBlock) + threadIdx.x / kWarpSize;
  if (r >= rows) return;
  const int64_t t0 = static_cast<int64_t>(blockIdx.y) * NT;
  const int num_t = static_cast<int>(num_tokens - t0 < NT ? num_tokens - t0 : NT);
  const uint8_t* row = pick(group.data, g) + r * pick(group.row_bytes, g);
  float* y = pick(group.y, g);
  float acc[NT];
#pragma unroll
  for (int t = 0; t < NT; ++t) acc[t] = 0.0f;
  float w[kChunk];
  for (int64_t c = lane; c < num_chunks(n); c += kWarpSize) {
    load_chunk<T>(row, c, n, w);
#pragma unroll
    for (int t = 0; t < NT; ++t)
      if (t < num_t) acc[t] += dot_chunk(w, x + (t0 + t) * n, c, n);
  }
#pragma unroll
  for (int t = 0; t < NT; ++t) {
    const float s = warp_sum(acc[t]);
    if (lane == 0 && t < num_t) y[(t0 + t) * rows + r] = s;
  }
}

}  // namespace

cudaError_t launch_matmul_group(const MatmulWeight* weights, float* const* ys, int count,
                                const float* x, int64_t num_tokens, cudaStream_t stream) {
  if (count < 1 || count > kMaxMatmulGroup) return cudaErrorInvalidValue;
  if (num_tokens == 0) return cudaSuccess;
  MatmulGroup group{};
  group.count = count;
  const int64_t rows_per_block = kWarpsPerBlock * (num_tokens == 1 ? kDecodeRowsPerWarp : 1);
  unsigned num_blocks = 0;
  for (int g = 0; g < count; ++g) {
    const MatmulWeight& w = weights[g];
    if (w.type != weights[0].type || w.row_length != weights[0].row_length)
      return cudaErrorInvalidValue;
    group.data[g] = static_cast<const uint8_t*>(w.data);
    group.row_bytes[g] = w.row_bytes;
    group.rows[g] = w.rows;
    group.y[g] = ys[g];
    group.first_block[g] = num_blocks;
    num_blocks += static_cast<unsigned>((w.rows + rows_per_block - 1) / rows_per_block);
  }
  group.first_block[count] = num_blocks;
  if (num_blocks == 0) return cudaSuccess;
  const int64_t n = weights[0].row_length;
  const dim3 block(kWarpsPerBlock * kWarpSize);
  const bool ok = dispatch_weight_type(weights[0].type, [&](auto tag) {
    constexpr TensorType T = decltype(tag)::value;
    if (num_tokens == 1) {
      matvec_kernel<T, kDecodeRowsPerWarp><<<num_blocks, block, 0, stream>>>(group, n, x);
    } else {
      const unsigned gy = static_cast<unsigned>((num_tokens + kTokensPerPass - 1) / kTokensPerPass);
      matmul_kernel<T, kTokensPerPass>
          <<<dim3(num_blocks, gy), block, 0, stream>>>(group, n, x, num_tokens);
    }
  });
  if (!ok) return cudaErrorInvalidValue;
  return cudaGetLastError();
}

cudaError_t launch_matmul(const MatmulWeight& w, const float* x, int64_t num_tokens, float* y,
                          cudaStream_t stream) {
  return launch_matmul_group(&w, &y, 1, x, num_tokens, stream);
}

}  // namespace tokamak::cuda
