#include "cuda/common.cuh"
#include "cuda/matmul.cuh"

namespace tokamak::cuda {
namespace {

constexpr int kWarpsPerBlock = 4;
constexpr int kTokensPerPass = 8;

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

// grid (sum of ceil(rows_g / 4), ceil(num_tokens / NT)), block 128 = 4 warps.
template <TensorType T, int NT>
__global__ void __launch_bounds__(kWarpsPerBlock* kWarpSize)
    matmul_kernel(MatmulGroup group, int64_t n, const float* x, int64_t num_tokens) {
  int g = 0;
  while (g + 1 < group.count && blockIdx.x >= group.first_block[g + 1]) ++g;
  const int lane = threadIdx.x % kWarpSize;
  const int64_t rows = group.rows[g];
  const int64_t r = (blockIdx.x - group.first_block[g]) * static_cast<int64_t>(kWarpsPerBlock) +
                    threadIdx.x / kWarpSize;
  if (r >= rows) return;
  const int64_t t0 = static_cast<int64_t>(blockIdx.y) * NT;
  const int num_t = static_cast<int>(num_tokens - t0 < NT ? num_tokens - t0 : NT);
  const uint8_t* row = group.data[g] + r * group.row_bytes[g];
  float* y = group.y[g];
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
    num_blocks += static_cast<unsigned>((w.rows + kWarpsPerBlock - 1) / kWarpsPerBlock);
  }
  group.first_block[count] = num_blocks;
  if (num_blocks == 0) return cudaSuccess;
  const int64_t n = weights[0].row_length;
  const dim3 block(kWarpsPerBlock * kWarpSize);
  const bool ok = dispatch_weight_type(weights[0].type, [&](auto tag) {
    constexpr TensorType T = decltype(tag)::value;
    if (num_tokens == 1) {
      matmul_kernel<T, 1><<<dim3(num_blocks, 1), block, 0, stream>>>(group, n, x, num_tokens);
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
