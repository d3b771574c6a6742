// gpu_decode_bench MODEL [PROMPT_TOKENS] [DECODE_TOKENS]: prefill and
// batch-1 decode speed of the CUDA backend on a GGUF model, with the bytes of
// weights each decode step reads, the achieved GB/s, and the device's
// measured copy bandwidth (bytes read + written) for comparison. MODEL may
// be synth:PRESET:MIX (a random-weight model written to the temp folder
// first, with app/synth). gpu_decode_bench --kernels times the decode
// kernels alone.
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "cuda/attention.cuh"
#include "cuda/cuda_backend.h"
#include "cuda/matmul.cuh"
#include "cuda/residual_add.cuh"
#include "model/model.h"
#include "quant/quant.h"
#include "synth/synth.h"

namespace tokamak {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

// Device-to-device copy of 2 x 1 GiB buffers, best of 10, counting read + write.
double copy_bandwidth_gb_per_s() {
  const size_t bytes = size_t{1} << 30;
  void *a = nullptr, *b = nullptr;
  if (cudaMalloc(&a, bytes) != cudaSuccess || cudaMalloc(&b, bytes) != cudaSuccess) return 0.0;
  cudaMemset(a, 1, bytes);
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  float best_ms = 1e30f;
  for (int i = 0; i < 10; ++i) {
    cudaEventRecord(e0);
    cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice);
    cudaEventRecord(e1);
    cudaEventSynchronize(e1);
    float ms = 0;
    cudaEventElapsedTime(&ms, e0, e1);
    best_ms = std::min(best_ms, ms);
  }
  cudaFree(a);
  cudaFree(b);
  return 2.0 * bytes / (best_ms * 1e-3) / 1e9;
}

// Weight bytes one decode step reads: every layer matrix, the classifier,
// the norms, one embedding row.
int64_t weight_bytes_per_token(const ModelWeights& w) {
  auto bytes = [](const WeightView& v) {
    return v.present() ? static_cast<int64_t>(v.rows) * static_cast<int64_t>(v.row_bytes()) : 0;
  };
  int64_t total = bytes(w.output) + bytes(w.output_norm) + w.token_embd.row_bytes();
  for (const LayerWeights& l : w.layers)
    for (const WeightView* v : {&l.attn_norm, &l.wq, &l.wk, &l.wv, &l.wo, &l.bq, &l.bk, &l.bv,
                                &l.ffn_norm, &l.w_gate, &l.w_up, &l.w_down})
      total += bytes(*v);
  return total;
}

// Median microseconds of `launch` over 50 runs (after 5 warm-up runs).
template <class F>
double time_us(F&& launch) {
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  std::vector<double> us;
  for (int i = 0; i < 55; ++i) {
    cudaEventRecord(e0);
    launch();
    cudaEventRecord(e1);
    cudaEventSynchronize(e1);
    float ms = 0;
    cudaEventElapsedTime(&ms, e0, e1);
    if (i >= 5) us.push_back(ms * 1e3);
  }
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  return median(us);
}

// The decode kernels alone on random data: the matrix-vector product for
// 7B-sized matrices in each type, and attention over 256 and 2048 positions.
int kernel_bench() {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (TensorType type :
       {TensorType::Q4_0, TensorType::Q8_0, TensorType::Q4_K, TensorType::Q6_K, TensorType::F16}) {
    for (auto [rows, n] : {std::pair<int64_t, int64_t>{4096, 4096}, {11008, 4096}, {4096, 11008}}) {
      const size_t row_bytes = row_size_bytes(type, n);
      std::vector<float> src(n);
      std::vector<uint8_t> host(rows * row_bytes);
      for (int64_t r = 0; r < rows; ++r) {
        for (auto& v : src) v = normal(rng);
        if (!quant::quantize_row(type, src.data(), host.data() + r * row_bytes, n).ok()) return 1;
      }
      void *w = nullptr, *x = nullptr, *y = nullptr;
      cudaMalloc(&w, host.size());
      cudaMalloc(&x, n * sizeof(float));
      cudaMalloc(&y, rows * sizeof(float));
      cudaMemcpy(w, host.data(), host.size(), cudaMemcpyHostToDevice);
      for (auto& v : src) v = normal(rng);
      cudaMemcpy(x, src.data(), n * sizeof(float), cudaMemcpyHostToDevice);
      const cuda::MatmulWeight mw{w, type, rows, n, row_bytes};
      const double us = time_us([&] {
        cuda::launch_matmul(mw, static_cast<float*>(x), 1, static_cast<float*>(y), nullptr);
      });
      std::printf("matvec %-5s %6lld x %-6lld %8.1f us  %7.1f GB/s\n",
                  std::string(tensor_type_name(type)).c_str(), static_cast<long long>(rows),
                  static_cast<long long>(n), us, host.size() / (us * 1e-6) / 1e9);
      cudaFree(w);
      cudaFree(x);
      cudaFree(y);
    }
  }
  // Launch overhead: 100 tiny launches back to back.
  {
    float* one = nullptr;
    cudaMalloc(&one, 2 * sizeof(float));
    cudaMemset(one, 0, 2 * sizeof(float));
    const double us = time_us([&] {
      for (int i = 0; i < 100; ++i) cuda::launch_residual_add(one, one + 1, 1, nullptr);
    });
    std::printf("launch of a 1-element kernel %8.2f us each (100 back to back)\n", us / 100);
    cudaFree(one);
  }
  // Attention, one decode token, 32 heads of 128 (MHA), fp32 KV.
  for (int32_t len : {256, 2048}) {
    const int32_t heads = 32, head_dim = 128, kv_dim = heads * head_dim, bs = 16;
    const int32_t num_blocks = len / bs;
    const size_t pool = static_cast<size_t>(num_blocks) * bs * kv_dim;
    float *k = nullptr, *v = nullptr, *q = nullptr, *out = nullptr;
    int32_t* meta = nullptr;
    cudaMalloc(&k, pool * 4);
    cudaMalloc(&v, pool * 4);
    cudaMalloc(&q, kv_dim * 4);
    cudaMalloc(&out, kv_dim * 4);
    std::vector<int32_t> host_meta = {len - 1, 0, 0};  // position, token_seq, table_start
    for (int32_t b = 0; b < num_blocks; ++b) host_meta.push_back(b);
    cudaMalloc(&meta, host_meta.size() * 4);
    cudaMemcpy(meta, host_meta.data(), host_meta.size() * 4, cudaMemcpyHostToDevice);
    std::vector<float> r(pool);
    for (auto& e : r) e = normal(rng);
    cudaMemcpy(k, r.data(), pool * 4, cudaMemcpyHostToDevice);
    cudaMemcpy(v, r.data(), pool * 4, cudaMemcpyHostToDevice);
    cudaMemcpy(q, r.data(), kv_dim * 4, cudaMemcpyHostToDevice);
    const cuda::PagedKv kv{meta, meta + 1, meta + 2, meta + 3, bs, kv_dim};
    const double us = time_us(
        [&] { cuda::launch_attention(kv, q, k, v, heads, heads, head_dim, 1, out, nullptr); });
    std::printf("attention 32x128 MHA, %5d positions %8.1f us  %7.1f GB/s of K+V\n", len, us,
                2.0 * len * kv_dim * 4 / (us * 1e-6) / 1e9);
    cudaFree(k);
    cudaFree(v);
    cudaFree(q);
    cudaFree(out);
    cudaFree(meta);
  }
  return 0;
}

int run(int argc, char** argv) {
  if (cuda_device_count() == 0) {
    std::fprintf(stderr, "gpu_decode_bench: no CUDA device\n");
    return 1;
  }
  if (argc == 2 && std::string(argv[1]) == "--kernels") return kernel_bench();
  if (argc < 2) {
    std::fprintf(stderr, "usage: gpu_decode_bench MODEL [PROMPT_TOKENS] [DECODE_TOKENS]\n");
    return 2;
  }
  const int32_t num_prompt = argc > 2 ? std::atoi(argv[2]) : 128;
  const int32_t num_decode = argc > 3 ? std::atoi(argv[3]) : 128;
  std::string path = argv[1];
  if (path.rfind("synth:", 0) == 0) {
    const std::string rest = path.substr(6);
    const size_t colon = rest.find(':');
    SynthOptions so;
    so.preset = rest.substr(0, colon);
    so.type_mix = colon == std::string::npos ? "q8_0" : rest.substr(colon + 1);
    so.output_path =
        (std::filesystem::temp_directory_path() / (so.preset + "-" + so.type_mix + ".gguf"))
            .string();
    const auto t0 = std::chrono::steady_clock::now();
    auto report = synthesize(so);
    if (!report.ok()) {
      std::fprintf(stderr, "%s\n", report.error().message.c_str());
      return 1;
    }
    std::printf("synth:    %s %s in %.1f s\n", so.preset.c_str(), so.type_mix.c_str(),
                seconds_since(t0));
    path = so.output_path;
  }
  auto model = Model::load(path);
  if (!model.ok()) {
    std::fprintf(stderr, "%s\n", model.error().message.c_str());
    return 1;
  }
  const ModelSpec& spec = (*model)->spec();
  CudaBackendOptions o;
  o.max_step_tokens = std::max(num_prompt, 1);
  o.kv.block_size = 16;
  o.kv.num_blocks = (num_prompt + num_decode + 15) / 16 + 1;
  const CudaMemoryPlan plan = plan_cuda_memory(**model, o);
  auto backend = make_cuda_backend(*model, o);
  if (!backend.ok()) {
    std::fprintf(stderr, "%s\n", backend.error().message.c_str());
    return 1;
  }
  Backend& b = **backend;
  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, 0);

  std::vector<int32_t> table(o.kv.num_blocks);
  for (int32_t i = 0; i < o.kv.num_blocks; ++i) table[i] = i;
  const StepSequence seq{table};
  std::mt19937 rng(1);
  std::vector<int32_t> prompt(num_prompt), positions(num_prompt), token_seq(num_prompt, 0);
  for (int32_t i = 0; i < num_prompt; ++i) {
    prompt[i] = static_cast<int32_t>(rng() % spec.vocab_size);
    positions[i] = i;
  }
  const int32_t last = num_prompt - 1;
  std::vector<float> logits(spec.vocab_size);
  auto prefill = [&]() {
    const StepPlan p{prompt, positions, token_seq, {&seq, 1}, {&last, 1}};
    return b.forward(p, logits);
  };
  // Warm-up, then timed prefills.
  if (Status s = prefill(); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.error().message.c_str());
    return 1;
  }
  std::vector<double> prefill_tps;
  for (int rep = 0; rep < 3; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    if (Status s = prefill(); !s.ok()) return 1;
    prefill_tps.push_back(num_prompt / seconds_since(t0));
  }
  // Decode: one token per step after the prompt, greedy.
  std::vector<double> step_s;
  int32_t token =
      static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  const int32_t zero = 0;
  for (int32_t i = 0; i < num_decode; ++i) {
    const int32_t pos = num_prompt + i;
    const StepPlan p{{&token, 1}, {&pos, 1}, {&zero, 1}, {&seq, 1}, {&zero, 1}};
    const auto t0 = std::chrono::steady_clock::now();
    if (Status s = b.forward(p, logits); !s.ok()) {
      std::fprintf(stderr, "%s\n", s.error().message.c_str());
      return 1;
    }
    step_s.push_back(seconds_since(t0));
    token = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  }
  std::vector<double> skip_warm(step_s.begin() + std::min<size_t>(4, step_s.size()), step_s.end());
  const double med = median(skip_warm);
  const double lo = *std::min_element(skip_warm.begin(), skip_warm.end());
  const double hi = *std::max_element(skip_warm.begin(), skip_warm.end());
  const int64_t bytes = weight_bytes_per_token((*model)->weights());
  const double gbps = bytes / med / 1e9;
  const double copy = copy_bandwidth_gb_per_s();
  std::printf("device:   %s (%d SMs, %.1f GiB)\n", prop.name, prop.multiProcessorCount,
              prop.totalGlobalMem / 1073741824.0);
  std::printf("model:    %s (%s, %d layers, dim %d, vocab %d)\n", argv[1], spec.arch_name.c_str(),
              spec.num_layers, spec.dim, spec.vocab_size);
  if (path != argv[1]) std::filesystem::remove(path);
  std::printf("memory:   weights %.1f MiB, KV %.1f MiB, workspace %.1f MiB\n",
              plan.weight_bytes / 1048576.0, plan.kv_bytes / 1048576.0,
              plan.workspace_bytes / 1048576.0);
  std::printf("prefill:  %.1f tok/s (pp%d, median of %zu)\n", median(prefill_tps), num_prompt,
              prefill_tps.size());
  std::printf("decode:   %.1f tok/s (tg%d, median step %.3f ms, min %.3f, max %.3f)\n", 1.0 / med,
              num_decode, med * 1e3, lo * 1e3, hi * 1e3);
  std::printf("bytes:    %.1f MiB of weights per token -> %.1f GB/s\n", bytes / 1048576.0, gbps);
  std::printf("copy bw:  %.1f GB/s (D2D, read + write) -> decode at %.1f%% of it\n", copy,
              100.0 * gbps / copy);
  return 0;
}

}  // namespace
}  // namespace tokamak

int main(int argc, char** argv) { return tokamak::run(argc, argv); }
