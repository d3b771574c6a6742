#include "bench/serve_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

namespace tokamak {
namespace {

using nlohmann::json;

json latency_json(const LatencySummary& s) {
  return {{"mean", s.mean}, {"p50", s.p50}, {"p90", s.p90}, {"p99", s.p99}, {"count", s.count}};
}

json options_json(const ServeRunResult& r) {
  const EngineOptions& e = r.engine_options;
  return {{"max_sequences", e.max_sequences},  {"max_step_tokens", e.max_step_tokens},
          {"batch_size", e.batch_size},        {"max_batch_delay_ms", e.max_batch_delay_ms},
          {"max_context", e.max_context},      {"max_kv_blocks", e.max_kv_blocks},
          {"prefix_caching", e.prefix_caching}};
}

// CSV column -> JSON pointer into a run's JSON.
const std::vector<std::pair<std::string, std::string>>& csv_map() {
  static const std::vector<std::pair<std::string, std::string>> m = [] {
    std::vector<std::pair<std::string, std::string>> v = {
        {"policy", "/policy"},
        {"workload", "/workload"},
        {"concurrency", "/concurrency"},
        {"rate", "/rate"},
        {"batch_size", "/batch_size"},
        {"max_sequences", "/max_sequences"},
        {"num_requests", "/num_requests"},
        {"num_completed", "/num_completed"},
        {"num_errors", "/num_errors"},
        {"num_cancelled", "/num_cancelled"},
        {"num_unaccounted", "/num_unaccounted"},
        {"num_prompt_tokens", "/num_prompt_tokens"},
        {"num_output_tokens", "/num_output_tokens"},
        {"duration_s", "/duration_s"},
        {"requests_per_second", "/requests_per_second"},
        {"output_tokens_per_second", "/output_tokens_per_second"},
        {"total_tokens_per_second", "/total_tokens_per_second"}};
    for (const char* metric : {"ttft_ms", "tpot_ms", "itl_ms", "e2e_ms"}) {
      for (const char* stat : {"mean", "p50", "p90", "p99"}) {
        v.emplace_back(fmt::format("{}_{}", metric, stat), fmt::format("/{}/{}", metric, stat));
      }
    }
    const std::vector<std::pair<std::string, std::string>> tail = {
        {"kv_waste_percent", "/kv_waste_percent"},
        {"kv_blocks_total", "/kv_blocks_total"},
        {"kv_blocks_peak_used", "/kv_blocks_peak_used"},
        {"peak_running", "/peak_running"},
        {"mean_running", "/mean_running"},
        {"num_steps", "/num_steps"},
        {"num_preemptions", "/num_preemptions"},
        {"num_prefix_hit_tokens", "/num_prefix_hit_tokens"},
        {"repetitions", "/repetitions/count"},
        {"requests_per_second_min", "/repetitions/requests_per_second/min"},
        {"requests_per_second_max", "/repetitions/requests_per_second/max"},
        {"device_memory_bytes", "/device_memory_bytes"},
        {"device_memory_kind", "/device_memory_kind"},
        {"energy_status", "/energy/status"},
        {"gpu_energy_j", "/energy/joules"},
        {"joules_per_output_token", "/energy/joules_per_output_token"},
        {"mean_gpu_power_w", "/energy/mean_power_w"},
        {"max_step_tokens", "/options/max_step_tokens"},
        {"prefix_caching", "/options/prefix_caching"},
        {"model", "/model"},
        {"model_path", "/model_path"},
        {"device", "/device"},
        {"engine_version", "/engine_version"},
        {"commit", "/commit"},
        {"date", "/date"},
        {"cpu_model", "/machine/cpu_model"},
        {"gpu_name", "/machine/gpu_name"}};
    v.insert(v.end(), tail.begin(), tail.end());
    return v;
  }();
  return m;
}

std::string csv_field(const json& v) {
  std::string s;
  if (v.is_string()) {
    s = v.get<std::string>();
  } else if (v.is_null()) {
    s = "";
  } else {
    s = v.dump();
  }
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string quoted = "\"";
  for (char c : s) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

}  // namespace

json to_json(const ServeBenchConfig& c) {
  return {{"model", c.model},
          {"model_path", c.model_path},
          {"model_name", c.model_name},
          {"arch", c.arch},
          {"device", c.device},
          {"num_threads", c.num_threads},
          {"context", c.context},
          {"kv_block_size", c.kv_block_size},
          {"kv_num_blocks", c.kv_num_blocks},
          {"kv_pool_bytes", c.kv_pool_bytes},
          {"seed", c.seed},
          {"warmup_requests", c.warmup_requests},
          {"repetitions", c.repetitions},
          {"engine_version", c.engine_version},
          {"commit", c.commit},
          {"date", c.date},
          {"command_line", c.command_line},
          {"machine",
           {{"cpu_model", c.machine.cpu_model},
            {"num_cpus", c.machine.num_cpus},
            {"gpu_name", c.machine.gpu_name},
            {"hostname", c.machine.hostname},
            {"os", c.machine.os}}}};
}

json to_json(const ServeRunResult& r, const ServeBenchConfig& c) {
  const ServeMetrics& m = r.metrics;
  const json config = to_json(c);
  json j = {{"policy", std::string(policy_name(r.point.policy))},
            {"workload", r.point.workload.name()},
            {"concurrency", r.point.rate > 0 ? 0 : r.point.concurrency},
            {"rate", r.point.rate},
            {"batch_size", r.point.batch_size},
            {"max_sequences", r.point.max_sequences},
            {"num_requests", m.num_requests},
            {"num_completed", m.num_completed},
            {"num_errors", m.num_errors},
            {"num_cancelled", m.num_cancelled},
            {"num_unaccounted", m.num_unaccounted},
            {"num_duplicate_ends", m.num_duplicate_ends},
            {"num_token_mismatches", m.num_token_mismatches},
            {"num_prompt_tokens", m.num_prompt_tokens},
            {"num_output_tokens", m.num_output_tokens},
            {"duration_s", m.duration_s},
            {"requests_per_second", m.requests_per_second},
            {"output_tokens_per_second", m.output_tokens_per_second},
            {"total_tokens_per_second", m.total_tokens_per_second},
            {"ttft_ms", latency_json(m.ttft_ms)},
            {"tpot_ms", latency_json(m.tpot_ms)},
            {"itl_ms", latency_json(m.itl_ms)},
            {"e2e_ms", latency_json(m.e2e_ms)},
            {"kv_waste_percent", r.kv_waste_percent},
            {"kv_blocks_total", r.kv_blocks_total},
            {"kv_blocks_peak_used", r.kv_blocks_peak_used},
            {"peak_running", r.peak_running},
            {"mean_running", r.mean_running},
            {"num_steps", r.num_steps},
            {"num_preemptions", r.num_preemptions},
            {"num_prefix_hit_tokens", r.num_prefix_hit_tokens},
            {"device_memory_bytes", r.device_memory_bytes},
            {"device_memory_kind", r.device_memory_kind},
            {"error_samples", r.error_samples},
            {"repetitions",
             {{"count", r.requests_per_second_spread.samples.size()},
              {"requests_per_second",
               {{"median", r.requests_per_second_spread.median},
                {"min", r.requests_per_second_spread.min},
                {"max", r.requests_per_second_spread.max},
                {"samples", r.requests_per_second_spread.samples}}}}},
            {"options", options_json(r)}};
  j["energy"] = to_json(r.energy);
  const bool has_gpu = std::any_of(r.timeline.begin(), r.timeline.end(),
                                   [](const TimelineSample& t) { return t.gpu.has_value(); });
  j["gpu_telemetry"] =
      has_gpu ? json{{"status", "nvml"}, {"gpu_name", r.gpu_name}}
              : json{{"status", "unavailable"}, {"reason", r.energy.unavailable_reason}};
  json timeline = json::array();
  for (const TimelineSample& t : r.timeline) timeline.push_back(to_json(t));
  j["timeline"] = std::move(timeline);
  for (const char* key :
       {"model", "model_path", "device", "engine_version", "commit", "date", "machine"}) {
    j[key] = config[key];
  }
  return j;
}

json serve_report_json(const std::vector<ServeRunResult>& runs, const ServeBenchConfig& config) {
  json out = {{"config", to_json(config)}, {"runs", json::array()}};
  for (const ServeRunResult& r : runs) out["runs"].push_back(to_json(r, config));
  return out;
}

std::vector<std::string> csv_columns() {
  std::vector<std::string> names;
  for (const auto& [name, pointer] : csv_map()) names.push_back(name);
  return names;
}

std::string serve_report_csv(const std::vector<ServeRunResult>& runs,
                             const ServeBenchConfig& config) {
  return serve_report_csv_from_json(serve_report_json(runs, config));
}

std::string serve_report_csv_from_json(const json& report) {
  std::string out;
  for (const auto& [name, pointer] : csv_map()) out += (out.empty() ? "" : ",") + name;
  out += "\n";
  if (!report.contains("runs") || !report["runs"].is_array()) return out;
  for (const json& j : report["runs"]) {
    std::string line;
    for (const auto& [name, pointer] : csv_map()) {
      const json::json_pointer p(pointer);
      line += (line.empty() ? "" : ",") + csv_field(j.contains(p) ? j.at(p) : json());
    }
    out += line + "\n";
  }
  return out;
}

std::string serve_report_table(const std::vector<ServeRunResult>& runs) {
  std::string out = fmt::format(
      "{:<10} {:<22} {:>5} {:>5} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>6} {:>5} {:>6}\n",
      "policy", "workload", "conc", "batch", "req/s", "out tok/s", "ttft p50", "ttft p99",
      "tpot p50", "itl p50", "e2e p50", "kv w%", "peak", "errors");
  for (const ServeRunResult& r : runs) {
    const ServeMetrics& m = r.metrics;
    const std::string conc = r.point.rate > 0 ? fmt::format("{:g}/s", r.point.rate)
                                              : std::to_string(r.point.concurrency);
    out += fmt::format(
        "{:<10} {:<22} {:>5} {:>5} {:>8.2f} {:>9.1f} {:>9.2f} {:>9.2f} {:>9.2f} {:>9.2f} "
        "{:>9.1f} {:>6.1f} {:>5} {:>6}\n",
        policy_name(r.point.policy), r.point.workload.name(), conc, r.point.batch_size,
        m.requests_per_second, m.output_tokens_per_second, m.ttft_ms.p50, m.ttft_ms.p99,
        m.tpot_ms.p50, m.itl_ms.p50, m.e2e_ms.p50, r.kv_waste_percent, r.peak_running,
        m.num_errors + m.num_unaccounted);
  }
  return out;
}

}  // namespace tokamak
