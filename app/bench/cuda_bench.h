// The CUDA benchmark behind `tokamak-cli bench MODEL --device cuda`: the
// figures issue 3 asks for, each next to what the device can do, measured in
// the same run.
//
//   decode:   num_decode_tokens greedy steps after a num_prompt_tokens prompt
//             (ids sampled on the device), graphs on and off -> ms/token,
//             tok/s, GB/s = (weight bytes + KV bytes read) per token / time,
//             and the fraction of the device-to-device copy bandwidth
//   prefill:  one step of N tokens for N in prefill_lengths -> tok/s,
//             TFLOP/s = (2 * matrix params * N + causal attention
//             4 * layers * heads * head_dim * N(N+1)/2 + classifier row) / time,
//             against cuBLAS's fp16 GEMM rate for the model's layer shapes at N
//   latency:  ms per output token after prompts of latency_prompts tokens
//   gemm sweep: a step of n tokens through the matmul kernels vs the GEMM,
//             for choosing gemm_min_tokens
//   breakdown: device time by kind of operation of one more prefill step and
//             decode run (without graphs), from events between the kernels
// Each figure: `warmup` untimed runs, then `repetitions` -> median, min, max.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bench/spread.h"
#include "core/result.h"

namespace tokamak {

struct CudaBenchOptions {
  std::string model_path;
  int device = 0;
  int32_t num_prompt_tokens = 512;
  int32_t num_decode_tokens = 128;
  std::vector<int32_t> prefill_lengths = {512, 2048};
  std::vector<int32_t> latency_prompts = {512, 1024, 2048, 4096};
  int32_t latency_decode_tokens = 32;
  std::vector<int32_t> sweep_tokens = {1, 2, 4, 8, 16, 32, 64, 128};
  int repetitions = 3;
  int warmup = 1;
  uint64_t seed = 1;
  std::function<void(std::string_view)> on_progress;
};

// Device milliseconds by kind of operation (gemm, attention, norm, ...).
using OpBreakdown = std::vector<std::pair<std::string, double>>;

struct CudaDecodeFigures {
  bool graphs = false;
  OpBreakdown ms_by_op;  // per token, one untimed extra run (graphs off only)
  Spread ms_per_token;
  double tokens_per_second = 0.0;  // from the median
  double gb_per_s = 0.0;
  double fraction_of_copy = 0.0;
};

struct CudaPrefillFigures {
  int32_t num_tokens = 0;
  Spread tokens_per_second;
  double flops = 0.0;  // one step
  double tflops = 0.0;
  double cublas_tflops = 0.0;  // the layer shapes at num_tokens
  double fraction_of_cublas = 0.0;
  OpBreakdown ms_by_op;  // one extra step
};

struct CudaLatencyFigures {
  int32_t prompt_tokens = 0;
  Spread ms_per_token;
};

struct GemmSweepPoint {
  int32_t num_tokens = 0;
  double matmul_ms = 0.0;  // median step time, matmul kernels
  double gemm_ms = 0.0;    // median step time, tensor-core GEMM
};

struct CudaBenchResult {
  std::string model_path;
  std::string arch_name;
  int64_t num_params = 0;
  std::string device;
  double copy_gb_per_s = 0.0;  // best D2D copy, read + write
  uint64_t weight_bytes_per_token = 0;
  double kv_bytes_per_position = 0.0;  // all layers, K and V
  int32_t num_prompt_tokens = 0;
  int32_t num_decode_tokens = 0;
  std::vector<CudaDecodeFigures> decode;  // graphs on, then off
  std::vector<CudaPrefillFigures> prefill;
  std::vector<CudaLatencyFigures> latency;
  std::vector<GemmSweepPoint> gemm_sweep;
};

// Unsupported in builds without CUDA.
Result<CudaBenchResult> run_cuda_bench(const CudaBenchOptions& options);

nlohmann::json to_json(const CudaBenchResult& r);

}  // namespace tokamak
