// The CPU benchmark behind `tokamak-cli bench`: prefill and decode speed of
// a model on the CPU backend, next to the memory-bandwidth bound of this
// machine.
//
//   prefill: one step of num_prompt_tokens random tokens at positions 0..N-1
//   decode:  num_decode_tokens steps of one token at positions 0..n-1
//            (as llama-bench's pp / tg tests)
//   each: `warmup` untimed runs, then `repetitions` timed runs -> median, min, max
//
//   decode ceiling = bandwidth / bytes of weights read per token, where a
//   token reads every matrix and norm once, and one row of token_embd
//   (all of it when it doubles as the classifier). KV reads are not counted.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "bench/memory_bandwidth.h"
#include "bench/spread.h"
#include "core/result.h"
#include "model/model.h"

namespace tokamak {

struct CpuBenchOptions {
  std::string model_path;
  int32_t num_prompt_tokens = 512;
  int32_t num_decode_tokens = 128;
  int repetitions = 5;
  int warmup = 1;
  int num_threads = 0;                                // <= 0: one per hardware thread
  uint64_t seed = 1;                                  // for the random prompt
  BandwidthOptions bandwidth;                         // num_threads is taken from above
  std::function<void(std::string_view)> on_progress;  // one line of status
};

struct CpuBenchResult {
  std::string model_path;
  std::string arch_name;
  std::string model_name;
  int64_t num_params = 0;
  uint64_t file_size_bytes = 0;
  uint64_t bytes_per_token = 0;  // weights read per decoded token
  int num_threads = 0;
  int32_t num_prompt_tokens = 0;
  int32_t num_decode_tokens = 0;
  Spread prefill_tokens_per_second;
  Spread decode_tokens_per_second;
  BandwidthResult bandwidth;
  double decode_ceiling_tokens_per_second = 0.0;  // best bandwidth / bytes_per_token
  double achieved_gb_per_s = 0.0;                 // median decode * bytes_per_token
  double percent_of_bound = 0.0;                  // achieved / best bandwidth
};

// Bytes of weights one decoded token reads (see the header comment).
uint64_t weight_bytes_per_token(const Model& model);

Result<CpuBenchResult> run_cpu_bench(const CpuBenchOptions& options);

nlohmann::json to_json(const CpuBenchResult& r);

}  // namespace tokamak
