#include "store/benchmark_store.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>

#include "store/utc_time.h"

namespace tokamak {
namespace {

constexpr const char* kInsertSession = R"sql(
INSERT INTO bench_sessions (created_at, kind, model, model_path, device, engine_version,
                            git_commit, cpu_model, gpu_name, config_json)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?))sql";

constexpr const char* kInsertRun = R"sql(
INSERT INTO bench_runs (session_id, position, policy, workload, concurrency, rate, batch_size,
  max_sequences, num_requests, num_errors, duration_s, requests_per_second,
  output_tokens_per_second, total_tokens_per_second, ttft_p50_ms, ttft_p99_ms, tpot_p50_ms,
  itl_p50_ms, e2e_p50_ms, e2e_p99_ms, kv_waste_percent, peak_running, mean_running, result_json,
  gpu_energy_j, joules_per_output_token)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?))sql";

constexpr const char* kSessionColumns =
    "id, created_at, kind, model, model_path, device, engine_version, git_commit, cpu_model, "
    "gpu_name, config_json";

constexpr const char* kSelectRuns = R"sql(
SELECT id, policy, workload, concurrency, rate, batch_size, max_sequences, num_requests,
  num_errors, duration_s, requests_per_second, output_tokens_per_second, total_tokens_per_second,
  ttft_p50_ms, ttft_p99_ms, tpot_p50_ms, itl_p50_ms, e2e_p50_ms, e2e_p99_ms, kv_waste_percent,
  peak_running, mean_running, result_json, gpu_energy_j, joules_per_output_token
FROM bench_runs WHERE session_id = ? ORDER BY position)sql";

constexpr const char* kDeleteSession = "DELETE FROM bench_sessions WHERE id = ?";

Error store_error(const Database& db, const char* doing, const SQLite::Exception& e) {
  return make_error(ErrorCode::IoError,
                    fmt::format("{}: {} failed: {}", db.path(), doing, e.what()));
}

void bind_run(SQLite::Statement& q, int64_t session_id, int position, const BenchRunRecord& r) {
  int i = 1;
  q.bind(i++, session_id);
  q.bind(i++, position);
  q.bind(i++, r.policy);
  q.bind(i++, r.workload);
  q.bind(i++, r.concurrency);
  q.bind(i++, r.rate);
  q.bind(i++, r.batch_size);
  q.bind(i++, r.max_sequences);
  q.bind(i++, r.num_requests);
  q.bind(i++, r.num_errors);
  for (double v : {r.duration_s, r.requests_per_second, r.output_tokens_per_second,
                   r.total_tokens_per_second, r.ttft_p50_ms, r.ttft_p99_ms, r.tpot_p50_ms,
                   r.itl_p50_ms, r.e2e_p50_ms, r.e2e_p99_ms, r.kv_waste_percent}) {
    q.bind(i++, v);
  }
  q.bind(i++, r.peak_running);
  q.bind(i++, r.mean_running);
  q.bind(i++, r.result_json);
  for (const std::optional<double>* v : {&r.gpu_energy_j, &r.joules_per_output_token}) {
    if (v->has_value()) {
      q.bind(i++, **v);
    } else {
      q.bind(i++);  // NULL: not measured
    }
  }
}

BenchSessionRecord read_session(SQLite::Statement& q) {
  BenchSessionRecord s;
  int i = 0;
  s.id = q.getColumn(i++).getInt64();
  for (std::string* f :
       {&s.created_at, &s.kind, &s.model, &s.model_path, &s.device, &s.engine_version,
        &s.git_commit, &s.cpu_model, &s.gpu_name, &s.config_json}) {
    *f = q.getColumn(i++).getString();
  }
  return s;
}

BenchRunRecord read_run(SQLite::Statement& q) {
  BenchRunRecord r;
  int i = 0;
  r.id = q.getColumn(i++).getInt64();
  r.policy = q.getColumn(i++).getString();
  r.workload = q.getColumn(i++).getString();
  r.concurrency = q.getColumn(i++).getInt();
  r.rate = q.getColumn(i++).getDouble();
  r.batch_size = q.getColumn(i++).getInt();
  r.max_sequences = q.getColumn(i++).getInt();
  r.num_requests = q.getColumn(i++).getInt64();
  r.num_errors = q.getColumn(i++).getInt64();
  for (double* v : {&r.duration_s, &r.requests_per_second, &r.output_tokens_per_second,
                    &r.total_tokens_per_second, &r.ttft_p50_ms, &r.ttft_p99_ms, &r.tpot_p50_ms,
                    &r.itl_p50_ms, &r.e2e_p50_ms, &r.e2e_p99_ms, &r.kv_waste_percent}) {
    *v = q.getColumn(i++).getDouble();
  }
  r.peak_running = q.getColumn(i++).getInt();
  r.mean_running = q.getColumn(i++).getDouble();
  r.result_json = q.getColumn(i++).getString();
  for (std::optional<double>* v : {&r.gpu_energy_j, &r.joules_per_output_token}) {
    const SQLite::Column c = q.getColumn(i++);
    if (!c.isNull()) *v = c.getDouble();
  }
  return r;
}

}  // namespace

Result<int64_t> BenchmarkStore::save(const BenchSessionRecord& s) {
  SQLite::Database& db = db_.sql();
  try {
    // IMMEDIATE: take the write lock first, so the busy timeout applies (a
    // deferred transaction that read first could fail at once with BUSY).
    SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
    SQLite::Statement q(db, kInsertSession);
    int i = 1;
    q.bind(i++, s.created_at.empty() ? utc_timestamp_now() : s.created_at);
    for (const std::string* f : {&s.kind, &s.model, &s.model_path, &s.device, &s.engine_version,
                                 &s.git_commit, &s.cpu_model, &s.gpu_name, &s.config_json}) {
      q.bind(i++, *f);
    }
    q.exec();
    const int64_t session_id = db.getLastInsertRowid();
    SQLite::Statement run(db, kInsertRun);
    for (size_t p = 0; p < s.runs.size(); ++p) {
      run.reset();
      run.clearBindings();
      bind_run(run, session_id, static_cast<int>(p), s.runs[p]);
      run.exec();
    }
    tx.commit();
    return session_id;
  } catch (const SQLite::Exception& e) {
    return store_error(db_, "saving a benchmark session", e);
  }
}

Result<std::vector<BenchSessionRecord>> BenchmarkStore::list_sessions(int32_t limit) {
  try {
    SQLite::Statement q(db_.sql(), fmt::format("SELECT {} FROM bench_sessions ORDER BY "
                                               "created_at DESC, id DESC LIMIT ?",
                                               kSessionColumns));
    q.bind(1, limit);
    std::vector<BenchSessionRecord> out;
    while (q.executeStep()) out.push_back(read_session(q));
    return out;
  } catch (const SQLite::Exception& e) {
    return store_error(db_, "listing benchmark sessions", e);
  }
}

Result<BenchSessionRecord> BenchmarkStore::load(int64_t session_id) {
  try {
    SQLite::Statement q(db_.sql(),
                        fmt::format("SELECT {} FROM bench_sessions WHERE id = ?", kSessionColumns));
    q.bind(1, session_id);
    if (!q.executeStep()) {
      return make_error(ErrorCode::NotFound,
                        fmt::format("{}: no benchmark session {}", db_.path(), session_id));
    }
    BenchSessionRecord s = read_session(q);
    SQLite::Statement runs(db_.sql(), kSelectRuns);
    runs.bind(1, session_id);
    while (runs.executeStep()) s.runs.push_back(read_run(runs));
    return s;
  } catch (const SQLite::Exception& e) {
    return store_error(db_, "loading a benchmark session", e);
  }
}

Status BenchmarkStore::remove(int64_t session_id) {
  try {
    SQLite::Statement q(db_.sql(), kDeleteSession);
    q.bind(1, session_id);
    if (q.exec() == 0) {
      return make_error(ErrorCode::NotFound,
                        fmt::format("{}: no benchmark session {}", db_.path(), session_id));
    }
    return {};
  } catch (const SQLite::Exception& e) {
    return store_error(db_, "removing a benchmark session", e);
  }
}

}  // namespace tokamak
