#include "store/benchmark_store.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include "scratch_dir.h"
#include "store_test_util.h"

namespace tokamak {
namespace {

std::unique_ptr<Database> open_db(const std::string& name) {
  DatabaseOptions o;
  o.path = test::fresh_dir(name) + "/tokamak.db";
  auto db = Database::open(o);
  EXPECT_TRUE(db.ok()) << db.error().message;
  return db.ok() ? std::move(db).value() : nullptr;
}

BenchRunRecord make_run(const std::string& policy, double rps) {
  BenchRunRecord r;
  r.policy = policy;
  r.workload = "fixed:16:8";
  r.concurrency = 4;
  r.rate = 0.0;
  r.batch_size = 8;
  r.max_sequences = 64;
  r.num_requests = 32;
  r.num_errors = 1;
  r.duration_s = 1.25;
  r.requests_per_second = rps;
  r.output_tokens_per_second = rps * 8;
  r.total_tokens_per_second = rps * 24;
  r.ttft_p50_ms = 1.5;
  r.ttft_p99_ms = 9.25;
  r.tpot_p50_ms = 0.75;
  r.itl_p50_ms = 0.7;
  r.e2e_p50_ms = 12.0;
  r.e2e_p99_ms = 30.5;
  r.kv_waste_percent = 3.125;
  r.peak_running = 4;
  r.mean_running = 3.5;
  r.result_json = R"({"policy":")" + policy + R"("})";
  return r;
}

BenchSessionRecord make_session(const std::string& created_at) {
  BenchSessionRecord s;
  s.created_at = created_at;
  s.model = "synth:tiny";
  s.model_path = "/cache/synth/tiny-q8_0.gguf";
  s.device = "cpu";
  s.engine_version = "0.1.0";
  s.git_commit = "abc123";
  s.cpu_model = "AMD EPYC";
  s.gpu_name = "";
  s.config_json = R"({"requests":32})";
  s.runs = {make_run("none", 10.0), make_run("paged", 42.5)};
  return s;
}

void expect_same_run(const BenchRunRecord& a, const BenchRunRecord& b) {
  EXPECT_EQ(a.policy, b.policy);
  EXPECT_EQ(a.workload, b.workload);
  EXPECT_EQ(a.concurrency, b.concurrency);
  EXPECT_EQ(a.rate, b.rate);
  EXPECT_EQ(a.batch_size, b.batch_size);
  EXPECT_EQ(a.max_sequences, b.max_sequences);
  EXPECT_EQ(a.num_requests, b.num_requests);
  EXPECT_EQ(a.num_errors, b.num_errors);
  // Doubles are stored as REAL (IEEE binary64): exact round trip.
  EXPECT_EQ(a.duration_s, b.duration_s);
  EXPECT_EQ(a.requests_per_second, b.requests_per_second);
  EXPECT_EQ(a.output_tokens_per_second, b.output_tokens_per_second);
  EXPECT_EQ(a.total_tokens_per_second, b.total_tokens_per_second);
  EXPECT_EQ(a.ttft_p50_ms, b.ttft_p50_ms);
  EXPECT_EQ(a.ttft_p99_ms, b.ttft_p99_ms);
  EXPECT_EQ(a.tpot_p50_ms, b.tpot_p50_ms);
  EXPECT_EQ(a.itl_p50_ms, b.itl_p50_ms);
  EXPECT_EQ(a.e2e_p50_ms, b.e2e_p50_ms);
  EXPECT_EQ(a.e2e_p99_ms, b.e2e_p99_ms);
  EXPECT_EQ(a.kv_waste_percent, b.kv_waste_percent);
  EXPECT_EQ(a.peak_running, b.peak_running);
  EXPECT_EQ(a.mean_running, b.mean_running);
  EXPECT_EQ(a.result_json, b.result_json);
}

TEST(BenchmarkStore, SaveAndLoadRoundTrip) {
  auto db = open_db("roundtrip");
  ASSERT_TRUE(db);
  BenchmarkStore store(*db);
  const BenchSessionRecord s = make_session("2026-11-21T10:00:00Z");
  auto id = store.save(s);
  ASSERT_TRUE(id.ok()) << id.error().message;
  auto loaded = store.load(*id);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  const BenchSessionRecord& l = *loaded;
  EXPECT_EQ(l.id, *id);
  EXPECT_EQ(l.created_at, s.created_at);
  EXPECT_EQ(l.kind, "serve");
  EXPECT_EQ(l.model, s.model);
  EXPECT_EQ(l.model_path, s.model_path);
  EXPECT_EQ(l.device, s.device);
  EXPECT_EQ(l.engine_version, s.engine_version);
  EXPECT_EQ(l.git_commit, s.git_commit);
  EXPECT_EQ(l.cpu_model, s.cpu_model);
  EXPECT_EQ(l.gpu_name, s.gpu_name);
  EXPECT_EQ(l.config_json, s.config_json);
  ASSERT_EQ(l.runs.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    expect_same_run(l.runs[i], s.runs[i]);
    EXPECT_GT(l.runs[i].id, 0);
  }
}

TEST(BenchmarkStore, ListsNewestFirstAndSurvivesReopening) {
  const std::string dir = test::fresh_dir("list");
  DatabaseOptions o;
  o.path = dir + "/tokamak.db";
  {
    auto db = Database::open(o);
    ASSERT_TRUE(db.ok()) << db.error().message;
    BenchmarkStore store(**db);
    ASSERT_TRUE(store.save(make_session("2026-11-20T09:00:00Z")).ok());
    ASSERT_TRUE(store.save(make_session("2026-11-21T09:00:00Z")).ok());
    BenchSessionRecord empty_time = make_session("");  // filled with the current time
    ASSERT_TRUE(store.save(empty_time).ok());
  }
  auto db = Database::open(o);
  ASSERT_TRUE(db.ok()) << db.error().message;
  BenchmarkStore store(**db);
  auto list = store.list_sessions(2);
  ASSERT_TRUE(list.ok()) << list.error().message;
  ASSERT_EQ(list->size(), 2u);
  // The one saved without a time got the current one, later than both others.
  EXPECT_GT((*list)[0].created_at, "2026-11-21T09:00:00Z");
  EXPECT_EQ((*list)[1].created_at, "2026-11-21T09:00:00Z");
  EXPECT_TRUE((*list)[0].runs.empty());  // the list has no runs
  EXPECT_EQ((*list)[0].created_at.size(), std::string("2026-11-21T09:00:00Z").size());
}

TEST(BenchmarkStore, RemovingASessionRemovesItsRuns) {
  auto db = open_db("remove");
  ASSERT_TRUE(db);
  BenchmarkStore store(*db);
  auto id = store.save(make_session("2026-11-21T10:00:00Z"));
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(store.remove(*id).ok());
  EXPECT_EQ(db->sql().execAndGet("SELECT count(*) FROM bench_runs").getInt(), 0);
  auto again = store.remove(*id);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::NotFound);
  auto missing = store.load(*id);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::NotFound);
}

TEST(BenchmarkStore, ARunWithoutItsSessionIsRefused) {
  auto db = open_db("fk");
  ASSERT_TRUE(db);
  // Foreign keys are on: a run naming no session cannot be inserted.
  EXPECT_THROW(db->sql().exec("INSERT INTO bench_runs (session_id, position, policy, workload, "
                              "concurrency, rate, batch_size, max_sequences, num_requests, "
                              "num_errors, duration_s, requests_per_second, "
                              "output_tokens_per_second, total_tokens_per_second, ttft_p50_ms, "
                              "ttft_p99_ms, tpot_p50_ms, itl_p50_ms, e2e_p50_ms, e2e_p99_ms, "
                              "kv_waste_percent, peak_running, mean_running, result_json) VALUES "
                              "(999, 0, 'p', 'w', 1, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, "
                              "0, 0, 0, '{}')"),
               SQLite::Exception);
}

TEST(BenchmarkStore, EnergyRoundTripsAndAbsentEnergyStaysNull) {
  auto db = open_db("energy");
  ASSERT_TRUE(db);
  BenchmarkStore store(*db);
  BenchSessionRecord s;
  s.model = "m";
  s.device = "cuda";
  s.engine_version = "t";
  s.config_json = "{}";
  s.runs = {make_run("paged", 3.0), make_run("none", 1.0)};
  s.runs[0].gpu_energy_j = 1234.5;
  s.runs[0].joules_per_output_token = 0.0625;
  const int64_t id = store.save(s).value();
  const BenchSessionRecord back = store.load(id).value();
  ASSERT_EQ(back.runs.size(), 2u);
  EXPECT_EQ(back.runs[0].gpu_energy_j, 1234.5);
  EXPECT_EQ(back.runs[0].joules_per_output_token, 0.0625);
  EXPECT_FALSE(back.runs[1].gpu_energy_j.has_value());
  EXPECT_FALSE(back.runs[1].joules_per_output_token.has_value());
  EXPECT_TRUE(
      db->sql()
          .execAndGet("SELECT joules_per_output_token FROM bench_runs WHERE policy = 'none'")
          .isNull());
}

// The version that added the energy columns.
int32_t energy_version() {
  for (const Migration& m : schema_migrations()) {
    if (m.sql.find("joules_per_output_token") != std::string_view::npos) return m.version;
  }
  return 0;
}

TEST(BenchmarkStore, RunsFromEveryEarlierVersionSurviveTheEnergyMigration) {
  ASSERT_GT(energy_version(), 1);
  const std::string dir = test::fresh_dir("energy_versions");
  for (int32_t v = 0; v < latest_schema_version(); ++v) {
    SCOPED_TRACE(v);
    const std::string path = dir + "/v" + std::to_string(v) + ".db";
    test::make_database_at_version(path, v);
    int64_t old_id = 0;
    if (v >= 1 && v < energy_version()) {  // a session saved by that version's columns
      DatabaseOptions o;
      o.path = path;
      auto old = Database::open(o, schema_migrations().first(v));
      ASSERT_TRUE(old.ok()) << old.error().message;
      SQLite::Database& q = (*old)->sql();
      q.exec(
          "INSERT INTO bench_sessions (created_at, kind, model, model_path, device, "
          "engine_version, config_json) VALUES ('2026-01-01T00:00:00Z', 'serve', 'old', 'p', "
          "'cpu', '0.1', '{}')");
      old_id = q.getLastInsertRowid();
      q.exec(
          "INSERT INTO bench_runs (session_id, position, policy, workload, concurrency, rate, "
          "batch_size, max_sequences, num_requests, num_errors, duration_s, requests_per_second, "
          "output_tokens_per_second, total_tokens_per_second, ttft_p50_ms, ttft_p99_ms, "
          "tpot_p50_ms, itl_p50_ms, e2e_p50_ms, e2e_p99_ms, kv_waste_percent, peak_running, "
          "mean_running, result_json) VALUES (" +
          std::to_string(old_id) +
          ", 0, 'paged', 'lmi', 50, 0, 8, 64, 100, 0, 10, 10, 500, 900, 1, 2, 3, 4, 5, 6, 7, 8, "
          "9, '{\"policy\":\"paged\"}')");
    }
    DatabaseOptions o;
    o.path = path;
    auto db = Database::open(o);
    ASSERT_TRUE(db.ok()) << db.error().message;
    EXPECT_EQ((*db)->schema_version(), latest_schema_version());
    BenchmarkStore store(**db);
    if (old_id != 0) {
      const BenchSessionRecord old = store.load(old_id).value();
      ASSERT_EQ(old.runs.size(), 1u);
      EXPECT_EQ(old.runs[0].requests_per_second, 10.0);
      EXPECT_EQ(old.runs[0].e2e_p99_ms, 6.0);
      EXPECT_FALSE(old.runs[0].joules_per_output_token.has_value());
    }
    BenchSessionRecord s;
    s.model = "new";
    s.device = "cuda";
    s.engine_version = "t";
    s.config_json = "{}";
    s.runs = {make_run("paged", 2.0)};
    s.runs[0].joules_per_output_token = 0.5;
    const int64_t id = store.save(s).value();
    EXPECT_EQ(store.load(id).value().runs[0].joules_per_output_token, 0.5);
    EXPECT_EQ(store.list_sessions().value().size(), old_id != 0 ? 2u : 1u);
  }
}

}  // namespace
}  // namespace tokamak
