// One point of `tokamak-cli bench serve`: a fresh Engine with one batching
// policy over an already loaded backend, a warm-up, then the workload through
// the load generator, and the run's figures.
//
//   for each point (policy x workload x concurrency x batch size):
//     Engine::create(backend, tokenizer, options of the point)
//     warm-up: `warmup_requests` requests of the workload's shape (other
//              prompts, so they seed no prefix cache), one at a time
//     measured: the workload (same seed -> same requests for every policy)
//     figures: ServeMetrics from the client-side records; engine figures
//              (steps, running sequences, KV waste, preemptions, prefix hits)
//              over the measured steps only (the warm-up's are subtracted)
//     timeline: a TimelineSample about every sample_interval_s (tokens/s,
//              running/waiting, KV blocks, GPU figures) and the energy per
//              output token from them (serve_timeline.h)
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bench/gpu_telemetry.h"
#include "bench/serve_metrics.h"
#include "bench/serve_timeline.h"
#include "bench/spread.h"
#include "bench/workload.h"
#include "runtime/engine.h"

namespace tokamak {

struct ServePoint {
  BatchPolicy policy = BatchPolicy::Paged;
  WorkloadSpec workload;
  int32_t num_requests = 0;
  int32_t concurrency = 1;  // closed loop clients (ignored when rate > 0)
  double rate = 0.0;        // > 0: open loop, requests per second
  int32_t batch_size = 8;   // EngineOptions::batch_size (static, dynamic)
  int32_t max_sequences = 64;
};

struct ServeBenchOptions {
  EngineOptions engine;     // the rest of the engine's options (policy, batch size and
                            // max sequences come from the point)
  SamplingParams sampling;  // every request's; bench serve uses greedy
  uint64_t seed = 1;        // prompts and arrival times
  int32_t warmup_requests = 2;
  int32_t max_context = 0;  // requests must fit (0: no check)
  double stall_timeout_s = 600.0;
  std::function<void(const ServePoint&, const LoadProgress&)> on_progress;
  // Timeline: a sample about every sample_interval_s, each also given to
  // on_sample (on the calling thread) as it is taken.
  double sample_interval_s = 0.25;
  std::function<void(const ServePoint&, const TimelineSample&)> on_sample;
  // GPU figures: this telemetry; when null, NVML's GPU 0 is opened for the
  // cuda backend (none for the cpu backend: its energy is "unavailable").
  std::shared_ptr<GpuTelemetry> gpu;
  // Set (from any thread) to stop the run: what runs is cancelled, nothing
  // more is submitted, and run_serve_point fails with ErrorCode::Cancelled.
  const std::atomic<bool>* cancel = nullptr;
};

struct ServeRunResult {
  ServePoint point;
  EngineOptions engine_options;  // as the engine ran
  ServeMetrics metrics;
  // Engine figures over the measured steps.
  int64_t num_steps = 0;
  int32_t peak_running = 0;
  double mean_running = 0.0;
  double kv_waste_percent = 0.0;
  int32_t kv_blocks_total = 0;
  int32_t kv_blocks_peak_used = 0;  // sampled about every 100 ms
  int64_t num_preemptions = 0;
  int64_t num_prefix_hit_tokens = 0;
  // cuda: used device memory after the run; cpu: peak host RSS of the process.
  int64_t device_memory_bytes = 0;
  std::string device_memory_kind;          // "cuda_used" | "host_peak_rss"
  std::vector<std::string> error_samples;  // the first few RequestError messages
  // run_serve_point_repeated: requests/s of every repetition; this result is
  // the one with the median requests/s (the lower middle one for an even count).
  Spread requests_per_second_spread;
  int32_t num_unaccounted_all = 0;       // requests not ended exactly once, over all repetitions
  std::vector<TimelineSample> timeline;  // the measured phase, in time order
  EnergyFigures energy;                  // from the timeline's GPU figures
  std::string gpu_name;                  // NVML's name ("" without telemetry)
};

Result<ServeRunResult> run_serve_point(const std::shared_ptr<Backend>& backend,
                                       const std::shared_ptr<const Tokenizer>& tokenizer,
                                       const PromptVocab& vocab, const ServePoint& point,
                                       const ServeBenchOptions& options);

// The point `repetitions` times (each on a fresh engine, with its warm-up);
// the median run by requests/s, with the spread of all of them.
Result<ServeRunResult> run_serve_point_repeated(const std::shared_ptr<Backend>& backend,
                                                const std::shared_ptr<const Tokenizer>& tokenizer,
                                                const PromptVocab& vocab, const ServePoint& point,
                                                const ServeBenchOptions& options,
                                                int32_t repetitions);

}  // namespace tokamak
