// A serving-benchmark plan from the choices of the app's Benchmarks page:
// one workload, the policies to compare and a sweep of concurrency (closed
// loop) or batch size, policy innermost (as `tokamak-cli bench serve`).
//
//   workload  "fixed" (IN:OUT), "random" (IN_MIN-IN_MAX:OUT_MIN-OUT_MAX),
//             "lmi" (the published Llama 2 comparison, scaled)
//   arrivals  closed loop (clients) or Poisson at `rate` requests/s
//   sweep     "concurrency" (clients; closed loop only), "batch" (the
//             static/dynamic batch size) or "prompt" (fixed prompt lengths,
//             for latency per token vs prompt length)
//   KV pool   every sequence that can run at once at the longest request
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench/serve_bench.h"
#include "core/result.h"

namespace tokamak {

struct ServePlanInput {
  std::vector<std::string> policies = {"none", "static", "continuous", "paged"};
  std::string workload = "fixed";  // fixed | random | lmi
  int32_t min_prompt_tokens = 16;  // random: the range; fixed: max only
  int32_t max_prompt_tokens = 64;
  int32_t min_output_tokens = 8;
  int32_t max_output_tokens = 32;
  double lmi_scale = 0.02;            // lmi: 100 requests, prompts 1..10 tokens, outputs 1..5
  double rate = 0.0;                  // > 0: Poisson arrivals (requests/s)
  std::string sweep = "concurrency";  // concurrency | batch | prompt
  std::vector<int32_t> sweep_values = {1, 4, 8};
  int32_t concurrency = 8;   // when sweeping batch sizes or prompt lengths
  int32_t batch_size = 8;    // when sweeping concurrency
  int32_t num_requests = 0;  // 0: lmi 5000 x scale, else 32
  int32_t max_sequences = 64;
};

struct ServePlan {
  std::vector<ServePoint> points;
  WorkloadSpec workload;        // the last point's (a prompt sweep has one per point)
  int32_t longest_request = 0;  // prompt + output tokens
  int32_t most_running = 0;     // sequences that can run at once in any point
  // KV blocks of `block_size` tokens for most_running sequences of the longest request.
  int32_t kv_blocks(int32_t block_size) const;
};

// InvalidArgument naming the field and the value for choices that cannot run.
Result<ServePlan> make_serve_plan(const ServePlanInput& input);

}  // namespace tokamak
