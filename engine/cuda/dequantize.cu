#include <cuda_bf16.h>

#include <cstdlib>

#include "cuda/common.cuh"
#include "cuda/dequantize.cuh"

namespace tokamak::cuda {
namespace {

__device__ __forceinline__ void store(float* dst, int k, float v) { dst[k] = v; }
__device__ __forceinline__ void store(__half* dst, int k, float v) { dst[k] = __float2half_rn(v); }

// 32 values to dst, 16-byte stores when the chunk is whole and aligned.
__device__ __forceinline__ void store_chunk(float* dst, const float* w) {
#pragma unroll
  for (int k = 0; k < 8; ++k)
    reinterpret_cast<float4*>(dst)[k] =
        make_float4(w[4 * k], w[4 * k + 1], w[4 * k + 2], w[4 * k + 3]);
}
__device__ __forceinline__ void store_chunk(__half* dst, const float* w) {
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    __half2 h[4];
#pragma unroll
    for (int j = 0; j < 4; ++j) h[j] = __floats2half2_rn(w[8 * k + 2 * j], w[8 * k + 2 * j + 1]);
    reinterpret_cast<uint4*>(dst)[k] = *reinterpret_cast<const uint4*>(h);
  }
}

// Block r takes row r of the range; its threads walk the row's chunks (no
// 64-bit division per chunk, which made this kernel compute-bound).
template <TensorType T, class Out>
__global__ void dequantize_kernel(const uint8_t* w_data, size_t row_bytes, int64_t n,
                                  int64_t row_begin, Out* out) {
  const int64_t r = blockIdx.x;
  const uint8_t* row = w_data + (row_begin + r) * row_bytes;
  const int64_t chunks = num_chunks(n);
  for (int64_t c = threadIdx.x; c < chunks; c += blockDim.x) {
    float w[kChunk];
    load_chunk<T>(row, c, n, w);
    Out* dst = out + r * n + c * kChunk;
    if ((c + 1) * kChunk <= n && (reinterpret_cast<uintptr_t>(dst) & 15) == 0) {
      store_chunk(dst, w);
    } else {
#pragma unroll
      for (int k = 0; k < kChunk; ++k)
        if (c * kChunk + k < n) store(dst, k, w[k]);
    }
  }
}

// Block types: the rows of a range are one contiguous run of blocks, and
// chunk i of the run (of `num_chunks` chunks) is output values 32 i .. 32 i + 31
// (whatever the rows). A thread takes kFlatChunks chunks, a block's worth of
// threads apart (so a warp reads neighbouring chunks), all loads before the
// stores: several chunks in flight per thread instead of one per row-block.
constexpr int kFlatChunks = 4;
constexpr int kFlatThreads = 256;

// 32 values as 4 x 16 bytes of fp16 (stored with store_halves).
__device__ __forceinline__ void pack_halves(const float* w, uint4* h) {
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    __half2 p[4];
#pragma unroll
    for (int j = 0; j < 4; ++j) p[j] = __floats2half2_rn(w[8 * k + 2 * j], w[8 * k + 2 * j + 1]);
    h[k] = *reinterpret_cast<const uint4*>(p);
  }
}

template <TensorType T, class Out>
__global__ void __launch_bounds__(kFlatThreads, 2)
    dequantize_flat_kernel(const uint8_t* __restrict__ blocks, int64_t num_chunks,
                           Out* __restrict__ out) {
  const int64_t first = static_cast<int64_t>(blockIdx.x) * kFlatThreads * kFlatChunks + threadIdx.x;
  if constexpr (std::is_same_v<Out, __half>) {
    uint4 h[kFlatChunks][4];  // packed right after each decode: 16 registers a chunk
#pragma unroll
    for (int k = 0; k < kFlatChunks; ++k) {
      const int64_t c = first + k * kFlatThreads;
      if (c < num_chunks) {
        float w[kChunk];
        load_chunk<T>(blocks, c, c * kChunk + kChunk, w);
        pack_halves(w, h[k]);
      }
    }
#pragma unroll
    for (int k = 0; k < kFlatChunks; ++k) {
      const int64_t c = first + k * kFlatThreads;
      if (c < num_chunks) {
        uint4* dst = reinterpret_cast<uint4*>(out + c * kChunk);
#pragma unroll
        for (int i = 0; i < 4; ++i) dst[i] = h[k][i];
      }
    }
  } else {
#pragma unroll
    for (int k = 0; k < kFlatChunks; ++k) {
      const int64_t c = first + k * kFlatThreads;
      if (c < num_chunks) {
        float w[kChunk];
        load_chunk<T>(blocks, c, c * kChunk + kChunk, w);
        store_chunk(out + c * kChunk, w);
      }
    }
  }
}

// Bytes of one chunk's block share for the block types (a K-quant block is 8
// chunks); 0 for the float types.
constexpr size_t block_bytes(TensorType t) {
  switch (t) {
    case TensorType::Q8_0:
      return 34;
    case TensorType::Q4_0:
      return 18;
    case TensorType::Q4_K:
      return 144;
    case TensorType::Q6_K:
      return 210;
    default:
      return 0;
  }
}
constexpr int64_t block_values(TensorType t) {
  return t == TensorType::Q4_K || t == TensorType::Q6_K ? 256 : 32;
}

template <class Out>
cudaError_t dequantize(const MatmulWeight& w, int64_t row_begin, int64_t num_rows, Out* out,
                       cudaStream_t stream) {
  if (num_rows == 0) return cudaSuccess;
  const size_t bb = block_bytes(w.type);
  const bool out_aligned = (reinterpret_cast<uintptr_t>(out) & 15) == 0;
  // TOKAMAK_DEQUANT_ROW_KERNEL=1 (benchmarks only): the row kernel below for every type.
  static const bool row_kernel = std::getenv("TOKAMAK_DEQUANT_ROW_KERNEL") != nullptr;
  if (!row_kernel && bb != 0 && out_aligned && w.row_length % block_values(w.type) == 0 &&
      w.row_bytes == static_cast<size_t>(w.row_length / block_values(w.type)) * bb) {
    const int64_t chunks = num_rows * (w.row_length / kChunk);
    const int64_t per_block = int64_t{kFlatThreads} * kFlatChunks;
    const int64_t grid = (chunks + per_block - 1) / per_block;
    if (grid > 0x7fffffff) return cudaErrorInvalidValue;
    const auto* data = static_cast<const uint8_t*>(w.data) + row_begin * w.row_bytes;
    dispatch_weight_type(w.type, [&](auto tag) {
      constexpr TensorType T = decltype(tag)::value;
      dequantize_flat_kernel<T, Out>
          <<<static_cast<unsigned>(grid), kFlatThreads, 0, stream>>>(data, chunks, out);
    });
    return cudaGetLastError();
  }
  const int64_t chunks = num_chunks(w.row_length);
  const int threads = chunks >= 128 ? 128 : 32 * static_cast<int>((chunks + 31) / 32);
  const auto* data = static_cast<const uint8_t*>(w.data);
  const bool ok = dispatch_weight_type(w.type, [&](auto tag) {
    constexpr TensorType T = decltype(tag)::value;
    dequantize_kernel<T, Out><<<static_cast<unsigned>(num_rows), threads, 0, stream>>>(
        data, w.row_bytes, w.row_length, row_begin, out);
  });
  if (!ok) return cudaErrorInvalidValue;
  return cudaGetLastError();
}

// 4 values per thread (count % 4 handled by the last thread).
template <class Out>
__global__ void convert_kernel(const float* x, int64_t count, Out* out) {
  const int64_t i = (blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x) * 4;
  if (i + 4 <= count && (count & 3) == 0) {
    const float4 v = *reinterpret_cast<const float4*>(x + i);
    if constexpr (sizeof(Out) == 2 && std::is_same_v<Out, __half>) {
      reinterpret_cast<__half2*>(out + i)[0] = __floats2half2_rn(v.x, v.y);
      reinterpret_cast<__half2*>(out + i)[1] = __floats2half2_rn(v.z, v.w);
    } else {
      reinterpret_cast<__nv_bfloat162*>(out + i)[0] = __floats2bfloat162_rn(v.x, v.y);
      reinterpret_cast<__nv_bfloat162*>(out + i)[1] = __floats2bfloat162_rn(v.z, v.w);
    }
    return;
  }
  for (int64_t j = i; j < i + 4 && j < count; ++j) {
    if constexpr (std::is_same_v<Out, __half>) {
      out[j] = __float2half_rn(x[j]);
    } else {
      out[j] = __float2bfloat16_rn(x[j]);
    }
  }
}

}  // namespace

cudaError_t launch_dequantize(const MatmulWeight& w, int64_t row_begin, int64_t num_rows,
                              float* out, cudaStream_t stream) {
  return dequantize(w, row_begin, num_rows, out, stream);
}

cudaError_t launch_dequantize_f16(const MatmulWeight& w, int64_t row_begin, int64_t num_rows,
                                  void* out, cudaStream_t stream) {
  return dequantize(w, row_begin, num_rows, static_cast<__half*>(out), stream);
}

cudaError_t launch_convert_activations(const float* x, int64_t count, bool bf16, void* out,
                                       cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  const int64_t threads = (count + 3) / 4;
  const unsigned grid = static_cast<unsigned>((threads + 255) / 256);
  if (bf16) {
    convert_kernel<<<grid, 256, 0, stream>>>(x, count, static_cast<__nv_bfloat16*>(out));
  } else {
    convert_kernel<<<grid, 256, 0, stream>>>(x, count, static_cast<__half*>(out));
  }
  return cudaGetLastError();
}

}  // namespace tokamak::cuda
