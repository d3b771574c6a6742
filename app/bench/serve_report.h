// Results of `bench serve` as JSON, CSV and a terminal table.
//
// JSON: {"config": {...}, "runs": [run, ...]} where each run holds the point
// (policy, workload, concurrency, rate, batch_size, max_sequences), the
// figures (requests_per_second, output_tokens_per_second,
// total_tokens_per_second, ttft_ms / tpot_ms / itl_ms / e2e_ms as {mean, p50,
// p90, p99, count}, kv_waste_percent, peak_running, mean_running, ...), the
// accounting (num_completed, num_errors, ...) and the configuration it ran in
// (model, device, engine_version, commit, date, machine, options), the
// timeline (serve_timeline.h: "timeline": [sample, ...]), "energy" ({status:
// "measured", joules, joules_per_output_token, ...} or {status: "unavailable",
// reason, and "unavailable" for each figure}) and "gpu_telemetry".
// CSV: one row per run, the columns of csv_columns().
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/machine_info.h"
#include "bench/serve_bench.h"

namespace tokamak {

struct ServeBenchConfig {
  std::string model;       // as given: path, demo or synth:...
  std::string model_path;  // the GGUF file
  std::string model_name;  // general.name ("" when absent)
  std::string arch;
  std::string device;       // "cpu" | "cuda"
  int32_t num_threads = 0;  // CPU backend threads
  int32_t context = 0;      // positions one sequence may use
  int32_t kv_block_size = 0;
  int32_t kv_num_blocks = 0;  // the backend's pool
  int64_t kv_pool_bytes = 0;  // K and V of all layers (cpu: fp32, cuda: fp16)
  uint64_t seed = 0;
  int32_t warmup_requests = 0;
  int32_t repetitions = 1;  // runs of each point (the median one is reported)
  std::string engine_version;
  std::string commit;
  std::string date;  // ISO 8601 UTC
  std::string command_line;
  MachineInfo machine;
};

nlohmann::json to_json(const ServeBenchConfig& config);
nlohmann::json to_json(const ServeRunResult& run, const ServeBenchConfig& config);
// {"config": ..., "runs": [...]}
nlohmann::json serve_report_json(const std::vector<ServeRunResult>& runs,
                                 const ServeBenchConfig& config);

std::vector<std::string> csv_columns();
// Header line and one line per run (RFC 4180 quoting where a field needs it).
std::string serve_report_csv(const std::vector<ServeRunResult>& runs,
                             const ServeBenchConfig& config);

// The same CSV from a report as serve_report_json writes it (e.g. rebuilt
// from the store's result_json of each run).
std::string serve_report_csv_from_json(const nlohmann::json& report);

// A fixed-width table of the headline figures, one line per run.
std::string serve_report_table(const std::vector<ServeRunResult>& runs);

}  // namespace tokamak
