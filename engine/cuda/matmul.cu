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

// grid (ceil(rows / 4), ceil(num_tokens / NT)), block 128 = 4 warps.
template <TensorType T, int NT>
__global__ void __launch_bounds__(kWarpsPerBlock* kWarpSize)
    matmul_kernel(const uint8_t* w_data, size_t row_bytes, int64_t rows, int64_t n, const float* x,
                  int64_t num_tokens, float* y) {
  const int lane = threadIdx.x % kWarpSize;
  const int64_t r = blockIdx.x * static_cast<int64_t>(kWarpsPerBlock) + threadIdx.x / kWarpSize;
  if (r >= rows) return;
  const int64_t t0 = static_cast<int64_t>(blockIdx.y) * NT;
  const int num_t = static_cast<int>(num_tokens - t0 < NT ? num_tokens - t0 : NT);
  const uint8_t* row = w_data + r * row_bytes;
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

cudaError_t launch_matmul(const MatmulWeight& w, const float* x, int64_t num_tokens, float* y,
                          cudaStream_t stream) {
  if (num_tokens == 0 || w.rows == 0) return cudaSuccess;
  const dim3 block(kWarpsPerBlock * kWarpSize);
  const auto* data = static_cast<const uint8_t*>(w.data);
  const bool ok = dispatch_weight_type(w.type, [&](auto tag) {
    constexpr TensorType T = decltype(tag)::value;
    const unsigned gx = static_cast<unsigned>((w.rows + kWarpsPerBlock - 1) / kWarpsPerBlock);
    if (num_tokens == 1) {
      matmul_kernel<T, 1><<<dim3(gx, 1), block, 0, stream>>>(data, w.row_bytes, w.rows,
                                                             w.row_length, x, num_tokens, y);
    } else {
      const unsigned gy = static_cast<unsigned>((num_tokens + kTokensPerPass - 1) / kTokensPerPass);
      matmul_kernel<T, kTokensPerPass><<<dim3(gx, gy), block, 0, stream>>>(
          data, w.row_bytes, w.rows, w.row_length, x, num_tokens, y);
    }
  });
  if (!ok) return cudaErrorInvalidValue;
  return cudaGetLastError();
}

}  // namespace tokamak::cuda
