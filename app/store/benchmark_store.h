// BenchmarkStore: benchmark sessions and their runs in the app's database
// (tables of migration 1, energy columns of migration 4, schema_migrations.cpp). A session is one
// benchmark command; its runs are the points it measured, in order.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "store/database.h"

namespace tokamak {

struct BenchRunRecord {
  int64_t id = 0;  // set by save / load
  std::string policy;
  std::string workload;
  int32_t concurrency = 0;
  double rate = 0.0;
  int32_t batch_size = 0;
  int32_t max_sequences = 0;
  int64_t num_requests = 0;
  int64_t num_errors = 0;
  double duration_s = 0.0;
  double requests_per_second = 0.0;
  double output_tokens_per_second = 0.0;
  double total_tokens_per_second = 0.0;
  double ttft_p50_ms = 0.0;
  double ttft_p99_ms = 0.0;
  double tpot_p50_ms = 0.0;
  double itl_p50_ms = 0.0;
  double e2e_p50_ms = 0.0;
  double e2e_p99_ms = 0.0;
  double kv_waste_percent = 0.0;
  int32_t peak_running = 0;
  double mean_running = 0.0;
  // GPU energy of the measured phase (NVML); absent when not measured.
  std::optional<double> gpu_energy_j;
  std::optional<double> joules_per_output_token;
  std::string result_json;  // the whole run
};

struct BenchSessionRecord {
  int64_t id = 0;          // set by save / load
  std::string created_at;  // ISO 8601 UTC
  std::string kind = "serve";
  std::string model;
  std::string model_path;
  std::string device;
  std::string engine_version;
  std::string git_commit;
  std::string cpu_model;
  std::string gpu_name;
  std::string config_json;
  std::vector<BenchRunRecord> runs;  // in the order run
};

class BenchmarkStore {
 public:
  explicit BenchmarkStore(Database& db) : db_(db) {}

  // Saves the session and its runs in one transaction; returns the session
  // id (and sets nothing on failure: the transaction is rolled back).
  Result<int64_t> save(const BenchSessionRecord& session);
  // Sessions, newest first, without their runs (at most `limit`).
  Result<std::vector<BenchSessionRecord>> list_sessions(int32_t limit = 100);
  // One session with its runs; NotFound for an unknown id.
  Result<BenchSessionRecord> load(int64_t session_id);
  // Removes a session and (by the foreign key) its runs; NotFound when absent.
  Status remove(int64_t session_id);

 private:
  Database& db_;
};

}  // namespace tokamak
