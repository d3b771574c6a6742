#include "bench/serve_timeline.h"

#include <fmt/format.h>

namespace tokamak {

EnergyFigures energy_from_samples(const std::vector<TimelineSample>& samples,
                                  int64_t num_output_tokens, const std::string& why_no_gpu) {
  EnergyFigures e;
  // Samples that carry the figure, in time order.
  const TimelineSample* first_counter = nullptr;
  const TimelineSample* last_counter = nullptr;
  std::vector<const TimelineSample*> power;
  for (const TimelineSample& s : samples) {
    if (!s.gpu) continue;
    if (s.gpu->energy_j >= 0) {
      if (!first_counter) first_counter = &s;
      last_counter = &s;
    }
    if (s.gpu->power_w >= 0) power.push_back(&s);
  }
  if (first_counter && last_counter != first_counter) {
    e.available = true;
    e.source = "nvml_energy_counter";
    e.joules = last_counter->gpu->energy_j - first_counter->gpu->energy_j;
    e.duration_s = last_counter->t_s - first_counter->t_s;
  } else if (power.size() >= 2) {
    e.available = true;
    e.source = "nvml_power_integral";
    for (size_t i = 1; i < power.size(); ++i) {
      const double dt = power[i]->t_s - power[i - 1]->t_s;
      e.joules += 0.5 * (power[i]->gpu->power_w + power[i - 1]->gpu->power_w) * dt;
    }
    e.duration_s = power.back()->t_s - power.front()->t_s;
  } else {
    bool any_gpu = false;
    for (const TimelineSample& s : samples) any_gpu = any_gpu || s.gpu.has_value();
    e.unavailable_reason =
        any_gpu ? fmt::format(
                      "the GPU gave neither an energy counter nor two power readings "
                      "({} samples)",
                      samples.size())
                : why_no_gpu;
    return e;
  }
  if (e.duration_s > 0) e.mean_power_w = e.joules / e.duration_s;
  if (num_output_tokens > 0) {
    e.joules_per_output_token = e.joules / static_cast<double>(num_output_tokens);
  } else {
    e.available = false;
    e.unavailable_reason = "no output tokens to divide the energy by";
  }
  return e;
}

TimelineSample TimelineRecorder::make(double t_s, const EngineStats& stats) {
  TimelineSample s;
  s.t_s = t_s;
  s.num_running = stats.num_running;
  s.num_waiting = stats.num_waiting;
  s.kv_blocks_used = stats.kv_blocks_used;
  s.kv_blocks_total = stats.kv_blocks_total;
  if (gpu_) s.gpu = gpu_->sample();
  return s;
}

const TimelineSample& TimelineRecorder::start(const EngineStats& stats) {
  samples_.clear();
  samples_.push_back(make(0.0, stats));
  return samples_.back();
}

const TimelineSample* TimelineRecorder::tick(const LoadProgress& progress, const EngineStats& stats,
                                             bool force) {
  if (samples_.empty()) start(stats);
  const TimelineSample& last = samples_.back();
  const double dt = progress.elapsed_s - last.t_s;
  if (dt <= 0 || (!force && dt < interval_s_)) return nullptr;
  TimelineSample s = make(progress.elapsed_s, stats);
  s.num_output_tokens = progress.num_output_tokens;
  s.num_ended = progress.num_ended;
  s.output_tokens_per_second =
      static_cast<double>(progress.num_output_tokens - last.num_output_tokens) / dt;
  samples_.push_back(std::move(s));
  return &samples_.back();
}

nlohmann::json to_json(const GpuSample& s) {
  // Absent figures are null, never a number.
  auto num = [](double v) { return v >= 0 ? nlohmann::json(v) : nlohmann::json(nullptr); };
  auto bytes = [](int64_t v) { return v >= 0 ? nlohmann::json(v) : nlohmann::json(nullptr); };
  return {{"utilization_percent", num(s.utilization_percent)},
          {"memory_used_bytes", bytes(s.memory_used_bytes)},
          {"memory_total_bytes", bytes(s.memory_total_bytes)},
          {"sm_clock_mhz", num(s.sm_clock_mhz)},
          {"power_w", num(s.power_w)},
          {"energy_j", num(s.energy_j)}};
}

nlohmann::json to_json(const TimelineSample& s) {
  nlohmann::json j = {{"t_s", s.t_s},
                      {"output_tokens_per_second", s.output_tokens_per_second},
                      {"num_output_tokens", s.num_output_tokens},
                      {"num_ended", s.num_ended},
                      {"num_running", s.num_running},
                      {"num_waiting", s.num_waiting},
                      {"kv_blocks_used", s.kv_blocks_used},
                      {"kv_blocks_total", s.kv_blocks_total}};
  j["gpu"] = s.gpu ? to_json(*s.gpu) : nlohmann::json(nullptr);
  return j;
}

nlohmann::json to_json(const EnergyFigures& e) {
  if (!e.available) {
    return {{"status", "unavailable"},
            {"reason", e.unavailable_reason},
            {"joules", "unavailable"},
            {"joules_per_output_token", "unavailable"},
            {"mean_power_w", "unavailable"}};
  }
  return {{"status", "measured"},
          {"source", e.source},
          {"joules", e.joules},
          {"joules_per_output_token", e.joules_per_output_token},
          {"mean_power_w", e.mean_power_w},
          {"duration_s", e.duration_s}};
}

TimelineSample timeline_sample_from_json(const nlohmann::json& j) {
  TimelineSample s;
  s.t_s = j.value("t_s", 0.0);
  s.output_tokens_per_second = j.value("output_tokens_per_second", 0.0);
  s.num_output_tokens = j.value("num_output_tokens", int64_t{0});
  s.num_ended = j.value("num_ended", 0);
  s.num_running = j.value("num_running", 0);
  s.num_waiting = j.value("num_waiting", 0);
  s.kv_blocks_used = j.value("kv_blocks_used", 0);
  s.kv_blocks_total = j.value("kv_blocks_total", 0);
  if (j.contains("gpu") && j["gpu"].is_object()) {
    const nlohmann::json& g = j["gpu"];
    auto num = [&](const char* k) {
      return g.value(k, nlohmann::json()).is_number() ? g[k].get<double>() : -1.0;
    };
    GpuSample gs;
    gs.utilization_percent = num("utilization_percent");
    gs.memory_used_bytes = static_cast<int64_t>(num("memory_used_bytes"));
    gs.memory_total_bytes = static_cast<int64_t>(num("memory_total_bytes"));
    gs.sm_clock_mhz = num("sm_clock_mhz");
    gs.power_w = num("power_w");
    gs.energy_j = num("energy_j");
    s.gpu = gs;
  }
  return s;
}

}  // namespace tokamak
