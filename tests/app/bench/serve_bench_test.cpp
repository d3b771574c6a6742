// bench serve end to end on the CPU with the real aidreams260K model: every
// policy over the same workload, every request accounted for, the figures
// consistent with the workload, the JSON/CSV schema, and a save to the store.
#include "bench/serve_bench.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "aidreams.h"
#include "bench/serve_record.h"
#include "bench/serve_report.h"
#include "cpu/cpu_backend.h"
#include "model/model.h"
#include "scratch_dir.h"
#include "store/benchmark_store.h"

namespace tokamak {
namespace {

constexpr int32_t kRequests = 12;
constexpr int32_t kPrompt = 12;
constexpr int32_t kOutput = 6;

struct Fixture {
  std::shared_ptr<const Model> model;
  std::shared_ptr<Backend> backend;
  std::shared_ptr<const Tokenizer> tokenizer;
};

Fixture& fixture() {
  static Fixture f = [] {
    Fixture x;
    auto m = Model::load(test::kAidreamsGguf);
    if (!m.ok()) return x;
    x.model = *m;
    CpuBackendOptions o;
    o.num_threads = 1;
    o.kv.num_blocks = 32;  // 512 positions: 4 full-context sequences
    auto b = make_cpu_backend(x.model, o);
    if (!b.ok()) return x;
    x.backend = std::shared_ptr<Backend>(std::move(b).value());
    x.tokenizer = std::shared_ptr<const Tokenizer>(x.model, &x.model->tokenizer());
    return x;
  }();
  return f;
}

ServeBenchOptions bench_options() {
  ServeBenchOptions o;
  o.sampling.temperature = 0.0f;
  o.engine.max_context = fixture().model->spec().context_length;
  o.max_context = o.engine.max_context;
  o.warmup_requests = 1;
  o.stall_timeout_s = 60.0;
  return o;
}

ServePoint point(BatchPolicy policy) {
  ServePoint p;
  p.policy = policy;
  p.workload = *parse_workload("fixed:12:6");
  p.num_requests = kRequests;
  p.concurrency = 4;
  p.batch_size = 3;
  p.max_sequences = 4;
  return p;
}

ServeBenchConfig config() {
  ServeBenchConfig c;
  c.model = test::kAidreamsGguf;
  c.model_path = test::kAidreamsGguf;
  c.device = "cpu";
  c.engine_version = "test";
  c.commit = "abc";
  c.date = "2026-11-21T10:00:00Z";
  c.machine.cpu_model = "Test CPU, 2 cores";  // a comma: CSV must quote it
  return c;
}

std::vector<ServeRunResult>& all_policy_runs() {
  static std::vector<ServeRunResult> runs = [] {
    std::vector<ServeRunResult> out;
    Fixture& f = fixture();
    if (!f.backend) return out;
    const PromptVocab vocab = prompt_vocab(*f.tokenizer);
    for (BatchPolicy p : {BatchPolicy::None, BatchPolicy::Static, BatchPolicy::Dynamic,
                          BatchPolicy::Continuous, BatchPolicy::Paged}) {
      auto r = run_serve_point(f.backend, f.tokenizer, vocab, point(p), bench_options());
      if (!r.ok()) {
        ADD_FAILURE() << policy_name(p) << ": " << r.error().message;
        continue;
      }
      out.push_back(std::move(r).value());
    }
    return out;
  }();
  return runs;
}

TEST(ServeBench, EveryPolicyAccountsForEveryRequest) {
  ASSERT_TRUE(fixture().backend) << "cannot load " << test::kAidreamsGguf;
  const auto& runs = all_policy_runs();
  ASSERT_EQ(runs.size(), 5u);
  for (const ServeRunResult& r : runs) {
    SCOPED_TRACE(std::string(policy_name(r.point.policy)));
    const ServeMetrics& m = r.metrics;
    EXPECT_TRUE(m.all_accounted());
    EXPECT_EQ(m.num_requests, kRequests);
    EXPECT_EQ(m.num_completed, kRequests);
    EXPECT_EQ(m.num_errors, 0);
    EXPECT_EQ(m.num_token_mismatches, 0);
    EXPECT_EQ(m.num_prompt_tokens, int64_t{kRequests} * kPrompt);
    EXPECT_EQ(m.num_output_tokens, int64_t{kRequests} * kOutput);  // ignore_eos: exactly
    EXPECT_EQ(m.ttft_ms.count, kRequests);
    EXPECT_EQ(m.tpot_ms.count, kRequests);
    EXPECT_EQ(m.itl_ms.count, int64_t{kRequests} * (kOutput - 1));
    EXPECT_GT(m.duration_s, 0.0);
    EXPECT_NEAR(m.output_tokens_per_second, kOutput * m.requests_per_second, 1e-6);
    EXPECT_LE(m.ttft_ms.p50, m.e2e_ms.p50);
    EXPECT_GE(r.peak_running, 1);
    EXPECT_LE(r.peak_running, 4);  // max_sequences
    EXPECT_GT(r.num_steps, 0);
    EXPECT_GE(r.kv_waste_percent, 0.0);
    EXPECT_LT(r.kv_waste_percent, 100.0);
    EXPECT_EQ(r.kv_blocks_total, 32);
    EXPECT_EQ(r.device_memory_kind, "host_peak_rss");
    EXPECT_GT(r.device_memory_bytes, 0);
  }
  EXPECT_EQ(runs[0].peak_running, 1);  // none: one request at a time
  EXPECT_LE(runs[1].peak_running, 3);  // static: batches of batch_size
}

TEST(ServeBench, JsonHasTheFieldsTheIssueAsksFor) {
  const auto& runs = all_policy_runs();
  ASSERT_EQ(runs.size(), 5u);
  const nlohmann::json j = serve_report_json(runs, config());
  ASSERT_TRUE(j.contains("config"));
  EXPECT_EQ(j["config"]["machine"]["cpu_model"], "Test CPU, 2 cores");
  ASSERT_EQ(j["runs"].size(), 5u);
  const char* policies[] = {"none", "static", "dynamic", "continuous", "paged"};
  for (size_t i = 0; i < 5; ++i) {
    const nlohmann::json& r = j["runs"][i];
    EXPECT_EQ(r["policy"], policies[i]);
    for (const char* key : {"requests_per_second", "output_tokens_per_second",
                            "total_tokens_per_second", "kv_waste_percent", "peak_running",
                            "mean_running", "num_errors", "device_memory_bytes"}) {
      ASSERT_TRUE(r.contains(key)) << key;
      EXPECT_TRUE(r[key].is_number()) << key;
    }
    for (const char* key : {"ttft_ms", "tpot_ms", "itl_ms", "e2e_ms"}) {
      for (const char* stat : {"mean", "p50", "p90", "p99"}) {
        ASSERT_TRUE(r[key].contains(stat)) << key << "." << stat;
        EXPECT_TRUE(r[key][stat].is_number());
      }
      EXPECT_LE(r[key]["p50"].get<double>(), r[key]["p99"].get<double>()) << key;
    }
    for (const char* key : {"model", "workload", "device", "engine_version", "commit", "date"}) {
      ASSERT_TRUE(r.contains(key)) << key;
      EXPECT_TRUE(r[key].is_string()) << key;
    }
    EXPECT_EQ(r["workload"], "fixed:12:6");
    EXPECT_TRUE(r["machine"].is_object());
    EXPECT_TRUE(r["options"].is_object());
    EXPECT_EQ(r["options"]["max_sequences"], 4);
  }
}

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        out.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        out.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.emplace_back();
    } else {
      out.back() += c;
    }
  }
  return out;
}

TEST(ServeBench, CsvHasOneRowPerRunWithEveryColumn) {
  const auto& runs = all_policy_runs();
  ASSERT_EQ(runs.size(), 5u);
  const std::string csv = serve_report_csv(runs, config());
  std::istringstream in(csv);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 6u);
  const std::vector<std::string> header = split_csv_line(lines[0]);
  EXPECT_EQ(header, csv_columns());
  const auto col = [&](const std::string& name) {
    return std::find(header.begin(), header.end(), name) - header.begin();
  };
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::vector<std::string> row = split_csv_line(lines[i]);
    ASSERT_EQ(row.size(), header.size()) << lines[i];
    EXPECT_EQ(row[col("cpu_model")], "Test CPU, 2 cores");
    EXPECT_EQ(row[col("num_completed")], std::to_string(kRequests));
    EXPECT_EQ(std::stod(row[col("requests_per_second")]), runs[i - 1].metrics.requests_per_second);
    EXPECT_EQ(row[col("policy")], std::string(policy_name(runs[i - 1].point.policy)));
    EXPECT_EQ(row[col("energy_status")], "unavailable");  // cpu: never a made-up number
    EXPECT_EQ(row[col("joules_per_output_token")], "unavailable");
  }
  for (const char* name : {"ttft_ms_p99", "tpot_ms_p50", "itl_ms_p90", "e2e_ms_mean",
                           "kv_waste_percent", "peak_running"}) {
    EXPECT_LT(col(name), static_cast<std::ptrdiff_t>(header.size())) << name;
  }
}

TEST(ServeBench, OpenLoopRunAccountsForEveryRequest) {
  ASSERT_TRUE(fixture().backend);
  ServePoint p = point(BatchPolicy::Paged);
  p.rate = 200.0;
  p.workload = *parse_workload("random:4-20:1-8");
  p.num_requests = 20;
  Fixture& f = fixture();
  auto r = run_serve_point(f.backend, f.tokenizer, prompt_vocab(*f.tokenizer), p, bench_options());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->metrics.all_accounted());
  EXPECT_EQ(r->metrics.num_completed, 20);
}

TEST(ServeBench, RepetitionsReportTheMedianRunWithTheRange) {
  ASSERT_TRUE(fixture().backend);
  Fixture& f = fixture();
  auto r = run_serve_point_repeated(f.backend, f.tokenizer, prompt_vocab(*f.tokenizer),
                                    point(BatchPolicy::Continuous), bench_options(), 3);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Spread& s = r->requests_per_second_spread;
  ASSERT_EQ(s.samples.size(), 3u);
  EXPECT_EQ(r->metrics.requests_per_second, s.median);  // the median run itself
  EXPECT_LE(s.min, s.median);
  EXPECT_LE(s.median, s.max);
  EXPECT_EQ(r->num_unaccounted_all, 0);
  const nlohmann::json j = to_json(*r, config());
  EXPECT_EQ(j["repetitions"]["count"], 3);
  EXPECT_EQ(j["repetitions"]["requests_per_second"]["samples"].size(), 3u);
  auto none = run_serve_point_repeated(f.backend, f.tokenizer, prompt_vocab(*f.tokenizer),
                                       point(BatchPolicy::None), bench_options(), 0);
  EXPECT_FALSE(none.ok());
}

TEST(ServeBench, ARequestLongerThanThePoolIsAnErrorNotAHang) {
  ASSERT_TRUE(fixture().backend);
  ServeBenchOptions o = bench_options();
  o.max_context = 0;         // let the workload through; the engine must refuse it
  o.engine.max_context = 0;  // the whole pool (512 positions)
  o.warmup_requests = 0;
  ServePoint p = point(BatchPolicy::Paged);
  p.workload = *parse_workload("fixed:600:4");
  p.num_requests = 3;
  Fixture& f = fixture();
  auto r = run_serve_point(f.backend, f.tokenizer, prompt_vocab(*f.tokenizer), p, o);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->metrics.all_accounted());
  EXPECT_EQ(r->metrics.num_errors, 3);
  EXPECT_EQ(r->error_samples.size(), 3u);
}

TEST(ServeBench, RunsSaveToTheStoreAndLoadBack) {
  const auto& runs = all_policy_runs();
  ASSERT_EQ(runs.size(), 5u);
  DatabaseOptions dbo;
  dbo.path = test::scratch_dir("serve_store") + "/tokamak.db";
  auto db = Database::open(dbo);
  ASSERT_TRUE(db.ok()) << db.error().message;
  BenchmarkStore store(**db);
  BenchSessionRecord s;
  s.model = "aidreams";
  s.model_path = test::kAidreamsGguf;
  s.device = "cpu";
  s.engine_version = "test";
  s.config_json = to_json(config()).dump();
  for (const ServeRunResult& r : runs) {
    BenchRunRecord rec;
    rec.policy = std::string(policy_name(r.point.policy));
    rec.workload = r.point.workload.name();
    rec.requests_per_second = r.metrics.requests_per_second;
    rec.result_json = to_json(r, config()).dump();
    s.runs.push_back(rec);
  }
  auto id = store.save(s);
  ASSERT_TRUE(id.ok()) << id.error().message;
  auto loaded = store.load(*id);
  ASSERT_TRUE(loaded.ok());
  ASSERT_EQ(loaded->runs.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    const nlohmann::json j = nlohmann::json::parse(loaded->runs[i].result_json);
    EXPECT_EQ(j["policy"], loaded->runs[i].policy);
    EXPECT_EQ(j["requests_per_second"].get<double>(), runs[i].metrics.requests_per_second);
  }
}

TEST(ServeBench, TheTimelineFollowsTheRun) {
  const auto& runs = all_policy_runs();
  ASSERT_EQ(runs.size(), 5u);
  for (const ServeRunResult& r : runs) {
    SCOPED_TRACE(std::string(policy_name(r.point.policy)));
    ASSERT_GE(r.timeline.size(), 2u);  // the start and the final tick at least
    EXPECT_EQ(r.timeline.front().t_s, 0.0);
    int64_t tokens = 0;
    double area = 0.0;  // integral of tokens/s over time = tokens received
    for (size_t i = 1; i < r.timeline.size(); ++i) {
      const TimelineSample& s = r.timeline[i];
      EXPECT_GT(s.t_s, r.timeline[i - 1].t_s);
      EXPECT_GE(s.num_output_tokens, tokens);
      tokens = s.num_output_tokens;
      area += s.output_tokens_per_second * (s.t_s - r.timeline[i - 1].t_s);
      EXPECT_LE(s.num_running, 4);
      EXPECT_LE(s.kv_blocks_used, s.kv_blocks_total);
      EXPECT_EQ(s.kv_blocks_total, 32);
      EXPECT_FALSE(s.gpu.has_value());
    }
    EXPECT_EQ(r.timeline.back().num_output_tokens, r.metrics.num_output_tokens);
    EXPECT_EQ(r.timeline.back().num_ended, kRequests);
    EXPECT_NEAR(area, static_cast<double>(r.metrics.num_output_tokens), 1e-6);
    EXPECT_FALSE(r.energy.available);
    EXPECT_NE(r.energy.unavailable_reason.find("cpu backend"), std::string::npos);
  }
  const nlohmann::json j = to_json(runs[4], config());
  EXPECT_EQ(j["energy"]["status"], "unavailable");
  EXPECT_EQ(j["energy"]["joules_per_output_token"], "unavailable");
  EXPECT_EQ(j["gpu_telemetry"]["status"], "unavailable");
  EXPECT_EQ(j["timeline"].size(), runs[4].timeline.size());
  EXPECT_TRUE(j["timeline"][1]["gpu"].is_null());
}

// A fake GPU whose energy counter adds exactly 2 J at every reading.
unsigned long long g_energy_mj = 0;
int fake_device = 0;
NvmlApi counting_gpu() {
  NvmlApi a;
  a.init = [] { return 0; };
  a.device_by_index = [](unsigned int, NvmlApi::Device* d) {
    *d = &fake_device;
    return 0;
  };
  a.energy_mj = [](NvmlApi::Device, unsigned long long* mj) {
    g_energy_mj += 2000;
    *mj = g_energy_mj;
    return 0;
  };
  a.power_mw = [](NvmlApi::Device, unsigned int* mw) {
    *mw = 123000;
    return 0;
  };
  return a;
}

TEST(ServeBench, EnergyPerOutputTokenFromTheGpuCounter) {
  ASSERT_TRUE(fixture().backend);
  auto gpu = GpuTelemetry::open_with(counting_gpu(), 0, nullptr);
  ASSERT_TRUE(gpu.ok());
  ServeBenchOptions o = bench_options();
  o.gpu = *gpu;
  std::vector<TimelineSample> live;
  o.on_sample = [&](const ServePoint&, const TimelineSample& s) { live.push_back(s); };
  Fixture& f = fixture();
  auto r = run_serve_point(f.backend, f.tokenizer, prompt_vocab(*f.tokenizer),
                           point(BatchPolicy::Paged), o);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(live.size(), r->timeline.size());  // every sample went out live
  // n readings of a counter adding 2 J each: 2 (n - 1) J between the first and last.
  const double joules = 2.0 * static_cast<double>(r->timeline.size() - 1);
  ASSERT_TRUE(r->energy.available) << r->energy.unavailable_reason;
  EXPECT_EQ(r->energy.source, "nvml_energy_counter");
  EXPECT_DOUBLE_EQ(r->energy.joules, joules);
  EXPECT_DOUBLE_EQ(r->energy.joules_per_output_token, joules / (kRequests * kOutput));
  EXPECT_DOUBLE_EQ(r->timeline.back().gpu->power_w, 123.0);
  const BenchRunRecord rec = bench_run_record(*r, config());
  ASSERT_TRUE(rec.joules_per_output_token.has_value());
  EXPECT_DOUBLE_EQ(*rec.joules_per_output_token, joules / (kRequests * kOutput));
  const nlohmann::json j = nlohmann::json::parse(rec.result_json);
  EXPECT_EQ(j["energy"]["status"], "measured");
  EXPECT_EQ(j["gpu_telemetry"]["status"], "nvml");
  EXPECT_DOUBLE_EQ(j["timeline"].back()["gpu"]["power_w"].get<double>(), 123.0);
}

TEST(ServeBench, CancellingEndsTheRunEarlyWithCancelled) {
  ASSERT_TRUE(fixture().backend);
  ServeBenchOptions o = bench_options();
  std::atomic<bool> cancel{false};
  o.cancel = &cancel;
  int32_t ended_at_cancel = -1;
  o.on_progress = [&](const ServePoint&, const LoadProgress& p) {
    if (ended_at_cancel < 0 && p.num_ended >= 1) {
      ended_at_cancel = p.num_ended;
      cancel = true;
    }
  };
  ServePoint p = point(BatchPolicy::Continuous);
  p.workload = *parse_workload("fixed:12:40");
  p.num_requests = 400;  // minutes of work if it were not cancelled
  Fixture& f = fixture();
  auto r = run_serve_point(f.backend, f.tokenizer, prompt_vocab(*f.tokenizer), p, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::Cancelled);
  EXPECT_GE(ended_at_cancel, 1);
  // The engine is free again: a later run on the same backend works.
  o.cancel = nullptr;
  o.on_progress = nullptr;
  auto again = run_serve_point(f.backend, f.tokenizer, prompt_vocab(*f.tokenizer),
                               point(BatchPolicy::Paged), o);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->metrics.num_completed, kRequests);
}

TEST(ServeBench, SessionRecordsCarryEveryRunAndReadBackFromTheStore) {
  const auto& runs = all_policy_runs();
  ASSERT_EQ(runs.size(), 5u);
  DatabaseOptions dbo;
  dbo.path = test::scratch_dir("serve_record") + "/records.db";
  std::filesystem::remove(dbo.path);
  auto db = Database::open(dbo);
  ASSERT_TRUE(db.ok()) << db.error().message;
  BenchmarkStore store(**db);
  auto id = store.save(bench_session_record(runs, config()));
  ASSERT_TRUE(id.ok()) << id.error().message;
  auto loaded = store.load(*id);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->model, test::kAidreamsGguf);
  EXPECT_EQ(loaded->cpu_model, "Test CPU, 2 cores");
  ASSERT_EQ(loaded->runs.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    const BenchRunRecord& rec = loaded->runs[i];
    EXPECT_EQ(rec.policy, policy_name(runs[i].point.policy));
    EXPECT_EQ(rec.tpot_p50_ms, runs[i].metrics.tpot_ms.p50);
    EXPECT_EQ(rec.e2e_p99_ms, runs[i].metrics.e2e_ms.p99);
    EXPECT_FALSE(rec.joules_per_output_token.has_value());  // cpu: not measured
    const nlohmann::json j = nlohmann::json::parse(rec.result_json);
    EXPECT_EQ(j["timeline"].size(), runs[i].timeline.size());
  }
}

}  // namespace
}  // namespace tokamak
