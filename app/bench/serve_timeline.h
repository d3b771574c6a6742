// The live timeline of one `bench serve` run and its energy per output token.
//
//   every ~interval_s of the measured phase (the load generator's ticks):
//     output tokens/s  = tokens received since the last sample / time since it
//     running, waiting = the engine's sequences now
//     kv blocks        = held by sequences now / the engine's total
//     gpu              = one GpuTelemetry reading (absent without NVML)
//
//   energy of the run:
//     "nvml_energy_counter": the GPU's total-energy counter at the last
//        sample minus at the first (the most exact: the driver integrates)
//     "nvml_power_integral": without the counter, the trapezoid sum of the
//        power readings over time
//     unavailable (with the reason) when neither exists, e.g. the CPU backend
//     or no NVIDIA driver; joules per output token = energy / output tokens
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "bench/gpu_telemetry.h"
#include "bench/load_generator.h"

namespace tokamak {

struct TimelineSample {
  double t_s = 0.0;  // since the start of the measured phase
  double output_tokens_per_second = 0.0;
  int64_t num_output_tokens = 0;  // so far
  int32_t num_ended = 0;          // requests ended so far
  int32_t num_running = 0;
  int32_t num_waiting = 0;
  int32_t kv_blocks_used = 0;
  int32_t kv_blocks_total = 0;
  std::optional<GpuSample> gpu;
};

struct EnergyFigures {
  bool available = false;
  std::string unavailable_reason;  // when !available
  std::string source;              // "nvml_energy_counter" | "nvml_power_integral"
  double joules = 0.0;
  double joules_per_output_token = 0.0;
  double mean_power_w = 0.0;
  double duration_s = 0.0;  // first to last sample
};

// Energy from the samples (see the header comment); `why_no_gpu` is the
// reason given when no sample has GPU figures.
EnergyFigures energy_from_samples(const std::vector<TimelineSample>& samples,
                                  int64_t num_output_tokens, const std::string& why_no_gpu);

// Collects samples at most every interval_s from the load generator's ticks.
class TimelineRecorder {
 public:
  TimelineRecorder(double interval_s, std::shared_ptr<GpuTelemetry> gpu)
      : interval_s_(interval_s), gpu_(std::move(gpu)) {}

  // The first sample (t = 0): the GPU's state before the measured phase.
  const TimelineSample& start(const EngineStats& stats);
  // A sample when interval_s passed since the last one (or `force`, for the
  // final tick); null otherwise.
  const TimelineSample* tick(const LoadProgress& progress, const EngineStats& stats,
                             bool force = false);
  const std::vector<TimelineSample>& samples() const { return samples_; }
  std::vector<TimelineSample> take_samples() { return std::move(samples_); }
  bool has_gpu() const { return gpu_ != nullptr; }

 private:
  TimelineSample make(double t_s, const EngineStats& stats);
  double interval_s_;
  std::shared_ptr<GpuTelemetry> gpu_;
  std::vector<TimelineSample> samples_;
};

nlohmann::json to_json(const GpuSample& s);
nlohmann::json to_json(const TimelineSample& s);
nlohmann::json to_json(const EnergyFigures& e);
// Back from to_json (the app reads runs from the store's result_json).
TimelineSample timeline_sample_from_json(const nlohmann::json& j);

}  // namespace tokamak
