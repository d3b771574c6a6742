// The decode kernels alone: matvec per type and shape, small batches, decode
// (split-K) and prefill (tiled) attention.
//
// Timing: `launches` back-to-back launches between two events (the steady
// state of a decode step's stream), the median of 7 rounds after a warm-up
// round. Weights rotate over enough copies (>= 256 MiB) that every launch
// reads from HBM, not from the 50 MiB L2.
#include "kernel_bench.h"

#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "cuda/attention.cuh"
#include "cuda/matmul.cuh"
#include "cuda/matmul_dp4a.cuh"
#include "cuda/skinny_gemm.cuh"
#include "launch_timer.h"
#include "quant/quant.h"

namespace tokamak {
namespace {

// A (rows, n) matrix of `type`, `copies` times: 64 random rows quantized on
// the host, repeated on the device.
struct BenchMatrix {
  uint8_t* data = nullptr;
  size_t bytes = 0, row_bytes = 0;  // of one copy
  int copies = 1;
  BenchMatrix(TensorType type, int64_t rows, int64_t n, std::mt19937& rng) {
    row_bytes = row_size_bytes(type, n);
    bytes = rows * row_bytes;
    copies = static_cast<int>(std::clamp<size_t>(((size_t{256} << 20) + bytes - 1) / bytes, 1, 16));
    if (cudaMalloc(&data, bytes * copies) != cudaSuccess) {
      data = nullptr;
      return;
    }
    const int64_t seed_rows = std::min<int64_t>(rows, 64);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> src(n);
    std::vector<uint8_t> host(seed_rows * row_bytes);
    for (int64_t r = 0; r < seed_rows; ++r) {
      for (auto& v : src) v = normal(rng);
      if (!quant::quantize_row(type, src.data(), host.data() + r * row_bytes, n).ok()) return;
    }
    cudaMemcpy(data, host.data(), host.size(), cudaMemcpyHostToDevice);
    for (size_t filled = host.size(); filled < bytes * copies;) {
      const size_t chunk = std::min(filled, bytes * copies - filled);
      cudaMemcpy(data + filled, data, chunk, cudaMemcpyDeviceToDevice);
      filled += chunk;
    }
  }
  ~BenchMatrix() { cudaFree(data); }
};

float* device_floats(size_t count, float value) {
  float* p = nullptr;
  if (cudaMalloc(&p, count * sizeof(float)) != cudaSuccess) return nullptr;
  std::vector<float> host(count);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-value, value);
  for (auto& v : host) v = u(rng);
  cudaMemcpy(p, host.data(), count * sizeof(float), cudaMemcpyHostToDevice);
  return p;
}

std::string variant_name(int variant) {
  return variant == cuda::kMatmulDecodeAuto ? "A" : std::to_string(variant);
}

constexpr TensorType kTypes[] = {TensorType::Q4_0, TensorType::Q8_0, TensorType::Q4_K,
                                 TensorType::Q6_K, TensorType::F16,  TensorType::BF16,
                                 TensorType::F32};

void matvec_table(double copy_gbps) {
  std::mt19937 rng(3);
  std::printf("matvec (1 token)           us/launch      GB/s   of copy bw\n");
  const std::pair<int64_t, int64_t> shapes[] = {
      {4096, 4096}, {11008, 4096}, {4096, 11008}, {32000, 4096}, {128256, 4096}};
  float* x = device_floats(11008, 1.0f);
  float* y = device_floats(128256, 0.0f);
  for (TensorType type : kTypes) {
    for (auto [rows, n] : shapes) {
      BenchMatrix m(type, rows, n, rng);
      if (!m.data) continue;
      cuda::MatmulWeight w{m.data, type, rows, n, m.row_bytes};
      // vA: the default (kMatmulDecodeAuto); v0, v1: the fp32 ring kernel
      // with 4 or 2 rows per warp; block types: v2, v3 the dp4a kernel (int8
      // x), v4, v5 the same with 2048-value segments; float types: v6, v7
      // the direct kernel (see matmul.cuh).
      const bool dp4a = cuda::matmul_dp4a_supports(type);
      for (int variant : {cuda::kMatmulDecodeAuto, 0, 1, 2, 3, 4, 5, 6, 7}) {
        if (variant >= 2 && variant <= 5 && !dp4a) continue;
        if (variant >= 6 && dp4a) continue;
        cuda::set_matmul_decode_variant(variant);
        const double us = us_per_launch(4 * m.copies, [&](int i) {
          w.data = m.data + (i % m.copies) * m.bytes;
          cuda::launch_matmul(w, x, 1, y, nullptr);
        });
        const double gbps = m.bytes / (us * 1e-6) / 1e9;
        std::printf("matvec %-5s %6lld x %-6lld v%s %9.1f us %8.1f GB/s %6.1f%%\n",
                    std::string(tensor_type_name(type)).c_str(), static_cast<long long>(rows),
                    static_cast<long long>(n), variant_name(variant).c_str(), us, gbps,
                    100.0 * gbps / copy_gbps);
      }
      cuda::set_matmul_decode_variant(cuda::kMatmulDecodeAuto);
    }
  }
  cudaFree(x);
  cudaFree(y);
}

// The matmul kernels for 1..32 tokens (each weight byte read once per 16
// tokens); device_bench times the GEMM path for the same shapes.
void batch_table() {
  std::mt19937 rng(4);
  std::printf("batch: us per product of the matmul kernels\n");
  float* x = device_floats(32 * 11008, 1.0f);
  float* y = device_floats(32 * 11008, 0.0f);
  for (TensorType type : {TensorType::Q4_0, TensorType::Q8_0, TensorType::Q4_K, TensorType::F16}) {
    for (auto [rows, n] : {std::pair<int64_t, int64_t>{4096, 4096}, {11008, 4096}}) {
      BenchMatrix m(type, rows, n, rng);
      if (!m.data) continue;
      cuda::MatmulWeight w{m.data, type, rows, n, m.row_bytes};
      for (int variant : {cuda::kMatmulDecodeAuto, cuda::kMatmulDecodeFp32}) {
        cuda::set_matmul_decode_variant(variant);
        std::printf("batch %-5s %6lld x %-6lld v%s", std::string(tensor_type_name(type)).c_str(),
                    static_cast<long long>(rows), static_cast<long long>(n),
                    variant_name(variant).c_str());
        for (int64_t tokens : {1, 2, 4, 8, 16, 32}) {
          const double mm = us_per_launch(4 * m.copies, [&](int i) {
            w.data = m.data + (i % m.copies) * m.bytes;
            cuda::launch_matmul(w, x, tokens, y, nullptr);
          });
          std::printf("  T%-2lld %6.1f", static_cast<long long>(tokens), mm);
        }
        std::printf("\n");
      }
      cuda::set_matmul_decode_variant(cuda::kMatmulDecodeAuto);
    }
  }
  cudaFree(x);
  cudaFree(y);
}

// Decode: tokens sequences of `len` positions each; prefill: one sequence
// of len tokens at positions 0 .. len - 1.
void attention_row(int32_t heads, int32_t kv_heads, int32_t len, int32_t tokens, bool prefill,
                   double copy_gbps) {
  const int32_t head_dim = 128, kv_dim = kv_heads * head_dim, bs = 16;
  const int32_t seqs = prefill ? 1 : tokens;
  const int32_t blocks_per_seq = (len + bs - 1) / bs, num_blocks = seqs * blocks_per_seq;
  const size_t pool = static_cast<size_t>(num_blocks) * bs * kv_dim;
  __half *k = nullptr, *v = nullptr;
  int32_t* meta = nullptr;
  if (cudaMalloc(&k, pool * 2) != cudaSuccess || cudaMalloc(&v, pool * 2) != cudaSuccess) return;
  cudaMemset(k, 0x3C, pool * 2);  // halves 0x3C3C, about 1.06
  cudaMemset(v, 0x3C, pool * 2);
  float* q = device_floats(static_cast<size_t>(tokens) * heads * head_dim, 0.1f);
  float* out = device_floats(static_cast<size_t>(tokens) * heads * head_dim, 0.0f);
  float* scratch = nullptr;
  cudaMalloc(&scratch, cuda::attention_scratch_bytes(heads, head_dim));
  // [positions (tokens)][token_seq (tokens)][table_start (seqs)][tables]
  std::vector<int32_t> host;
  for (int32_t t = 0; t < tokens; ++t) host.push_back(prefill ? t : len - 1);
  for (int32_t t = 0; t < tokens; ++t) host.push_back(prefill ? 0 : t);
  for (int32_t s = 0; s < seqs; ++s) host.push_back(s * blocks_per_seq);
  for (int32_t b = 0; b < num_blocks; ++b) host.push_back(b);
  cudaMalloc(&meta, host.size() * 4);
  cudaMemcpy(meta, host.data(), host.size() * 4, cudaMemcpyHostToDevice);
  const cuda::PagedKv kv{meta, meta + tokens, meta + 2 * tokens, meta + 2 * tokens + seqs,
                         bs,   kv_dim};
  const double us = us_per_launch(prefill ? 3 : 20, [&](int) {
    cuda::launch_attention(kv, q, k, v, heads, kv_heads, head_dim, tokens, scratch, out, nullptr);
  });
  if (prefill) {
    const double flops = 4.0 * heads * head_dim * (static_cast<double>(len) * (len + 1) / 2);
    std::printf("attention prefill %2d/%-2d x 128, %5d tokens %9.1f us %8.1f TFLOP/s\n", heads,
                kv_heads, len, us, flops / (us * 1e-6) / 1e12);
  } else {
    const double gbps = 2.0 * seqs * len * kv_dim * 2 / (us * 1e-6) / 1e9;
    std::printf(
        "attention decode %2d/%-2d x 128, %2d x %5d positions %8.1f us %8.1f GB/s %5.1f%%\n", heads,
        kv_heads, tokens, len, us, gbps, 100.0 * gbps / copy_gbps);
  }
  cudaFree(k);
  cudaFree(v);
  cudaFree(q);
  cudaFree(out);
  cudaFree(scratch);
  cudaFree(meta);
}

// One group of F16 weights sharing x (e.g. q/k/v), `copies` times back to
// back (>= 256 MiB) so every launch reads HBM.
struct GemmShape {
  const char* name;
  std::vector<int64_t> rows;
  int64_t n;
};

void skinny_row(const GemmShape& s, cublasHandle_t handle, const cuda::SkinnyWorkspace& ws,
                const __half* x, float* y, double copy_gbps) {
  int64_t total_rows = 0;
  for (int64_t r : s.rows) total_rows += r;
  const size_t bytes = static_cast<size_t>(total_rows) * s.n * 2;
  const int copies =
      static_cast<int>(std::clamp<size_t>(((size_t{256} << 20) + bytes - 1) / bytes, 1, 16));
  uint8_t* data = nullptr;
  if (cudaMalloc(&data, bytes * copies) != cudaSuccess) return;
  cudaMemset(data, 0x2C, bytes * copies);  // halves 0x2C2C, about 0.065
  const int count = static_cast<int>(s.rows.size());
  auto weights = [&](int copy) {
    std::vector<cuda::MatmulWeight> w;
    size_t offset = copy * bytes;
    for (int64_t r : s.rows) {
      w.push_back({data + offset, TensorType::F16, r, s.n, static_cast<size_t>(s.n) * 2});
      offset += static_cast<size_t>(r) * s.n * 2;
    }
    return w;
  };
  std::vector<float*> ys;
  for (int64_t off = 0, g = 0; g < count; off += s.rows[g] * cuda::kSkinnyMaxTokens, ++g)
    ys.push_back(y + off);
  std::printf("gemm %-22s", s.name);
  for (int64_t tokens : {1, 2, 8, 16, 32, 64, 96, 128, 192, 256}) {
    const double skinny = us_per_launch(2 * copies, [&](int i) {
      const std::vector<cuda::MatmulWeight> w = weights(i % copies);
      cuda::launch_skinny_gemm(w.data(), ys.data(), count, x, tokens, ws, nullptr);
    });
    const double cublas = us_per_launch(2 * copies, [&](int i) {
      const float alpha = 1.0f, beta = 0.0f;
      for (const cuda::MatmulWeight& w : weights(i % copies))
        cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(w.rows),
                     static_cast<int>(tokens), static_cast<int>(s.n), &alpha, w.data, CUDA_R_16F,
                     static_cast<int>(s.n), x, CUDA_R_16F, static_cast<int>(s.n), &beta, y,
                     CUDA_R_32F, static_cast<int>(w.rows), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    });
    std::printf(" | T%-3lld %6.1f %4.0f%% / %6.1f %4.0f%%", static_cast<long long>(tokens), skinny,
                100.0 * bytes / (skinny * 1e3) / copy_gbps, cublas,
                100.0 * bytes / (cublas * 1e3) / copy_gbps);
  }
  std::printf("\n");
  // The same with smaller token tiles (16 / 32 tokens, several per step).
  for (int tile : {16, 32}) {
    cuda::set_skinny_gemm_max_tile_tokens(tile);
    std::printf("gemm %-22s tile %d:", s.name, tile);
    for (int64_t tokens : {32, 64, 128}) {
      const double us = us_per_launch(2 * copies, [&](int i) {
        const std::vector<cuda::MatmulWeight> w = weights(i % copies);
        cuda::launch_skinny_gemm(w.data(), ys.data(), count, x, tokens, ws, nullptr);
      });
      std::printf(" | T%-3lld %6.1f %4.0f%%", static_cast<long long>(tokens), us,
                  100.0 * bytes / (us * 1e3) / copy_gbps);
    }
    std::printf("\n");
  }
  cuda::set_skinny_gemm_max_tile_tokens(64);
  // Grid sizes: one block per tile (no workspace), then stream-k over
  // 132 .. 528 blocks.
  for (int64_t tokens : {16, 64}) {
    std::printf("gemm %-22s T%-3lld blocks:", s.name, static_cast<long long>(tokens));
    for (int blocks : {-1, 132, 264, 396, 528}) {
      cuda::set_skinny_gemm_blocks(std::max(blocks, 0));
      const double us = us_per_launch(2 * copies, [&](int i) {
        const std::vector<cuda::MatmulWeight> w = weights(i % copies);
        cuda::launch_skinny_gemm(w.data(), ys.data(), count, x, tokens,
                                 blocks < 0 ? cuda::SkinnyWorkspace{} : ws, nullptr);
      });
      std::printf(" | %s %6.1f %4.0f%%", blocks < 0 ? "tiles" : std::to_string(blocks).c_str(), us,
                  100.0 * bytes / (us * 1e3) / copy_gbps);
    }
    std::printf("\n");
  }
  cuda::set_skinny_gemm_blocks(0);
  cudaFree(data);
}

}  // namespace

int skinny_gemm_bench(double copy_gbps) {
  std::printf("copy bandwidth %.1f GB/s (D2D, read + write)\n", copy_gbps);
  std::printf("per shape and token count: skinny us, %% of copy bw / cublasGemmEx us, %%\n");
  cublasHandle_t handle = nullptr;
  if (cublasCreate(&handle) != CUBLAS_STATUS_SUCCESS) return 1;
  void* cublas_ws = nullptr;
  cudaMalloc(&cublas_ws, size_t{32} << 20);
  cublasSetWorkspace(handle, cublas_ws, size_t{32} << 20);
  float* partials = nullptr;
  unsigned* counters = nullptr;
  cudaMalloc(&partials, cuda::kSkinnyPartialBytes);
  cudaMalloc(&counters, cuda::kSkinnyCounters * 4);
  cudaMemset(counters, 0, cuda::kSkinnyCounters * 4);
  const cuda::SkinnyWorkspace ws{partials, cuda::kSkinnyPartialBytes, counters,
                                 cuda::kSkinnyCounters};
  __half* x = nullptr;
  float* y = nullptr;
  cudaMalloc(&x, cuda::kSkinnyMaxTokens * 11008 * 2);
  cudaMemset(x, 0x2C, cuda::kSkinnyMaxTokens * 11008 * 2);
  cudaMalloc(&y, cuda::kSkinnyMaxTokens * 3 * 32000 * 4);
  const GemmShape shapes[] = {{"qkv 3x4096x4096", {4096, 4096, 4096}, 4096},
                              {"o 4096x4096", {4096}, 4096},
                              {"gate/up 2x11008x4096", {11008, 11008}, 4096},
                              {"down 4096x11008", {4096}, 11008},
                              {"classifier 32000x4096", {32000}, 4096}};
  for (const GemmShape& s : shapes) skinny_row(s, handle, ws, x, y, copy_gbps);
  const cudaError_t err = cudaDeviceSynchronize();
  cublasDestroy(handle);
  cudaFree(cublas_ws);
  cudaFree(partials);
  cudaFree(counters);
  cudaFree(x);
  cudaFree(y);
  if (err != cudaSuccess) {
    std::fprintf(stderr, "gemm bench: %s\n", cudaGetErrorString(err));
    return 1;
  }
  return 0;
}

int kernel_bench(double copy_gbps) {
  std::printf("copy bandwidth %.1f GB/s (D2D, read + write)\n", copy_gbps);
  matvec_table(copy_gbps);
  batch_table();
  for (auto [heads, kv_heads] : {std::pair<int32_t, int32_t>{32, 32}, {32, 8}}) {
    for (int32_t len : {256, 2048, 8192}) attention_row(heads, kv_heads, len, 1, false, copy_gbps);
    attention_row(heads, kv_heads, 2048, 16, false, copy_gbps);
    for (int32_t len : {512, 2048, 4096}) attention_row(heads, kv_heads, len, len, true, copy_gbps);
  }
  const cudaError_t err = cudaDeviceSynchronize();
  if (err != cudaSuccess) {
    std::fprintf(stderr, "kernel bench: %s\n", cudaGetErrorString(err));
    return 1;
  }
  return 0;
}

}  // namespace tokamak
