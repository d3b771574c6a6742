#include "cuda/common.cuh"
#include "cuda/dequantize.cuh"

namespace tokamak::cuda {
namespace {

// Thread i of the grid takes chunk i of the (num_rows * chunks per row) chunks.
template <TensorType T>
__global__ void dequantize_kernel(const uint8_t* w_data, size_t row_bytes, int64_t n,
                                  int64_t row_begin, int64_t num_rows, float* out) {
  const int64_t chunks_per_row = num_chunks(n);
  const int64_t total = num_rows * chunks_per_row;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = i / chunks_per_row, c = i % chunks_per_row;
    float w[kChunk];
    load_chunk<T>(w_data + (row_begin + r) * row_bytes, c, n, w);
    float* dst = out + r * n + c * kChunk;
    if ((c + 1) * kChunk <= n && (reinterpret_cast<uintptr_t>(dst) & 15) == 0) {
#pragma unroll
      for (int k = 0; k < 8; ++k)
        reinterpret_cast<float4*>(dst)[k] =
            make_float4(w[4 * k], w[4 * k + 1], w[4 * k + 2], w[4 * k + 3]);
    } else {
#pragma unroll
      for (int k = 0; k < kChunk; ++k)
        if (c * kChunk + k < n) dst[k] = w[k];
    }
  }
}

}  // namespace

cudaError_t launch_dequantize(const MatmulWeight& w, int64_t row_begin, int64_t num_rows,
                              float* out, cudaStream_t stream) {
  if (num_rows == 0) return cudaSuccess;
  const int64_t total = num_rows * num_chunks(w.row_length);
  const int64_t blocks = (total + 255) / 256;
  const unsigned grid = static_cast<unsigned>(blocks < 65535 ? blocks : 65535);
  const auto* data = static_cast<const uint8_t*>(w.data);
  const bool ok = dispatch_weight_type(w.type, [&](auto tag) {
    constexpr TensorType T = decltype(tag)::value;
    dequantize_kernel<T>
        <<<grid, 256, 0, stream>>>(data, w.row_bytes, w.row_length, row_begin, num_rows, out);
  });
  if (!ok) return cudaErrorInvalidValue;
  return cudaGetLastError();
}

}  // namespace tokamak::cuda
