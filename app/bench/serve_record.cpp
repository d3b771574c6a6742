#include "bench/serve_record.h"

namespace tokamak {

BenchRunRecord bench_run_record(const ServeRunResult& r, const ServeBenchConfig& config) {
  const ServeMetrics& m = r.metrics;
  BenchRunRecord rec;
  rec.policy = std::string(policy_name(r.point.policy));
  rec.workload = r.point.workload.name();
  rec.concurrency = r.point.rate > 0 ? 0 : r.point.concurrency;
  rec.rate = r.point.rate;
  rec.batch_size = r.point.batch_size;
  rec.max_sequences = r.point.max_sequences;
  rec.num_requests = m.num_requests;
  rec.num_errors = m.num_errors + m.num_unaccounted;
  rec.duration_s = m.duration_s;
  rec.requests_per_second = m.requests_per_second;
  rec.output_tokens_per_second = m.output_tokens_per_second;
  rec.total_tokens_per_second = m.total_tokens_per_second;
  rec.ttft_p50_ms = m.ttft_ms.p50;
  rec.ttft_p99_ms = m.ttft_ms.p99;
  rec.tpot_p50_ms = m.tpot_ms.p50;
  rec.itl_p50_ms = m.itl_ms.p50;
  rec.e2e_p50_ms = m.e2e_ms.p50;
  rec.e2e_p99_ms = m.e2e_ms.p99;
  rec.kv_waste_percent = r.kv_waste_percent;
  rec.peak_running = r.peak_running;
  rec.mean_running = r.mean_running;
  if (r.energy.available) {
    rec.gpu_energy_j = r.energy.joules;
    rec.joules_per_output_token = r.energy.joules_per_output_token;
  }
  rec.result_json = to_json(r, config).dump();
  return rec;
}

BenchSessionRecord bench_session_record(const std::vector<ServeRunResult>& runs,
                                        const ServeBenchConfig& config) {
  BenchSessionRecord s;
  s.created_at = config.date;
  s.kind = "serve";
  s.model = config.model;
  s.model_path = config.model_path;
  s.device = config.device;
  s.engine_version = config.engine_version;
  s.git_commit = config.commit;
  s.cpu_model = config.machine.cpu_model;
  s.gpu_name = config.machine.gpu_name;
  s.config_json = to_json(config).dump();
  for (const ServeRunResult& r : runs) s.runs.push_back(bench_run_record(r, config));
  return s;
}

}  // namespace tokamak
