// gpu_decode_bench MODEL [PROMPT_TOKENS] [DECODE_TOKENS]: prefill and
// batch-1 decode speed of the CUDA backend on a GGUF model, with the bytes of
// weights each decode step reads, the achieved GB/s, and the device's
// measured copy bandwidth (bytes read + written) for comparison. MODEL may
// be synth:PRESET:MIX (a random-weight model written to the temp folder
// first, with app/synth). gpu_decode_bench --kernels times the decode
// kernels alone (kernel_bench.cpp), --gemm the skinny GEMM against cuBLAS
// (kernel_bench.cpp). TOKAMAK_MATMUL_DECODE_VARIANT=N sets
// cuda::set_matmul_decode_variant(N) first (0: the fp32 matvec for every
// type; default -1: dp4a for block types), TOKAMAK_GEMM_MIN_TOKENS=N the
// backend's gemm_min_tokens.
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "cuda/cuda_backend.h"
#include "cuda/matmul.cuh"
#include "kernel_bench.h"
#include "model/model.h"
#include "quant/quant.h"
#include "synth_arg.h"

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

int run(int argc, char** argv) {
  if (cuda_device_count() == 0) {
    std::fprintf(stderr, "gpu_decode_bench: no CUDA device\n");
    return 1;
  }
  if (argc == 2 && std::string(argv[1]) == "--kernels")
    return kernel_bench(copy_bandwidth_gb_per_s());
  if (argc == 2 && std::string(argv[1]) == "--gemm")
    return skinny_gemm_bench(copy_bandwidth_gb_per_s());
  if (argc < 2) {
    std::fprintf(stderr, "usage: gpu_decode_bench MODEL [PROMPT_TOKENS] [DECODE_TOKENS]\n");
    return 2;
  }
  // TOKAMAK_MATMUL_DECODE_VARIANT=0: the fp32 matvec for block types too
  // (see cuda/matmul.cuh), to compare whole-model decode with the default.
  const char* variant = std::getenv("TOKAMAK_MATMUL_DECODE_VARIANT");
  if (variant) cuda::set_matmul_decode_variant(std::atoi(variant));
  const int32_t num_prompt = argc > 2 ? std::atoi(argv[2]) : 128;
  const int32_t num_decode = argc > 3 ? std::atoi(argv[3]) : 128;
  std::string path = argv[1];
  if (const std::optional<SynthOptions> so = parse_synth_arg(path, "q8_0")) {
    const auto t0 = std::chrono::steady_clock::now();
    auto report = synthesize(*so);
    if (!report.ok()) {
      std::fprintf(stderr, "%s\n", report.error().message.c_str());
      return 1;
    }
    std::printf("synth:    %s %s in %.1f s\n", so->preset.c_str(), so->type_mix.c_str(),
                seconds_since(t0));
    path = so->output_path;
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
  // TOKAMAK_GEMM_MIN_TOKENS=N: steps of fewer tokens take the matmul kernels
  // (e.g. 2: F16 decode on the matvec instead of cuBLAS).
  if (const char* g = std::getenv("TOKAMAK_GEMM_MIN_TOKENS")) o.gemm_min_tokens = std::atoi(g);
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
  std::printf("matvec:   decode variant %s\n",
              variant ? variant : "auto (the default: dp4a for block types)");
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
