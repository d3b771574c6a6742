#include "bench/serve_metrics.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

namespace tokamak {
namespace {

// numpy.percentile (default "linear") on the samples of
// percentile_fixture.json, written by make_percentile_fixture.py.
TEST(Percentile, MatchesNumpy) {
  std::ifstream f(std::string(TOKAMAK_SOURCE_DIR) + "/tests/app/bench/percentile_fixture.json");
  ASSERT_TRUE(f) << "percentile_fixture.json missing";
  const nlohmann::json j = nlohmann::json::parse(f);
  ASSERT_GE(j["cases"].size(), 5u);
  for (const auto& c : j["cases"]) {
    std::vector<double> samples = c["samples"].get<std::vector<double>>();
    const auto ps = c["percentiles"].get<std::vector<double>>();
    const auto expected = c["expected"].get<std::vector<double>>();
    std::vector<double> sorted = samples;
    std::sort(sorted.begin(), sorted.end());
    for (size_t i = 0; i < ps.size(); ++i) {
      EXPECT_NEAR(percentile(sorted, ps[i]), expected[i],
                  1e-9 * std::max(1.0, std::abs(expected[i])))
          << "n=" << samples.size() << " p=" << ps[i];
    }
    const LatencySummary s = summarize_latency(samples);  // unsorted in
    EXPECT_EQ(s.count, static_cast<int64_t>(samples.size()));
    EXPECT_NEAR(s.mean, c["mean"].get<double>(), 1e-9 * std::abs(c["mean"].get<double>()));
  }
}

// By hand: for 1..10, h = 9p/100: p50 -> h 4.5 -> 5 + 0.5 * (6 - 5) = 5.5;
// p90 -> h 8.1 -> 9 + 0.1 * 1 = 9.1; p99 -> h 8.91 -> 9.91.
TEST(Percentile, HandCheckedCases) {
  const std::vector<double> one_to_ten = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  EXPECT_DOUBLE_EQ(percentile(one_to_ten, 50), 5.5);
  EXPECT_NEAR(percentile(one_to_ten, 90), 9.1, 1e-12);
  EXPECT_NEAR(percentile(one_to_ten, 99), 9.91, 1e-12);
  EXPECT_DOUBLE_EQ(percentile(one_to_ten, 0), 1.0);
  EXPECT_DOUBLE_EQ(percentile(one_to_ten, 100), 10.0);
  EXPECT_DOUBLE_EQ(percentile({7.0}, 99), 7.0);
  EXPECT_DOUBLE_EQ(percentile({}, 50), 0.0);
  const LatencySummary s = summarize_latency({10, 1, 4, 7});  // sorted: 1 4 7 10
  EXPECT_DOUBLE_EQ(s.mean, 5.5);
  EXPECT_DOUBLE_EQ(s.p50, 5.5);     // h 1.5: 4 + 0.5 * 3
  EXPECT_NEAR(s.p90, 9.1, 1e-12);   // h 2.7: 7 + 0.7 * 3
  EXPECT_NEAR(s.p99, 9.91, 1e-12);  // h 2.97: 7 + 0.97 * 3
  EXPECT_EQ(summarize_latency({}).count, 0);
}

RequestRecord record(double submit, std::vector<double> tokens, double end) {
  RequestRecord r;
  r.num_prompt_tokens = 10;
  r.max_tokens = static_cast<int32_t>(tokens.size());
  r.submit_s = submit;
  r.token_s = std::move(tokens);
  r.end_s = end;
  r.num_end_events = 1;
  r.finish_reason = "length";
  r.engine_timings.num_generated_tokens = static_cast<int32_t>(r.token_s.size());
  return r;
}

// Two completed requests, one error, one cancelled, one that never ended:
//   A: submit 0, tokens at 0.1 0.2 0.4, end 0.4  -> TTFT 100, TPOT 150, ITL 100 200, E2E 400
//   B: submit 0.5, tokens at 0.6 0.7, end 1.0    -> TTFT 100, TPOT 100, ITL 100, E2E 500
// duration 2.0 s (given): 1 req/s, 2.5 output tok/s, (20 + 5) / 2 = 12.5 total tok/s.
TEST(ComputeMetrics, HandCheckedRun) {
  LoadResult load;
  load.duration_s = 2.0;
  load.records.push_back(record(0.0, {0.1, 0.2, 0.4}, 0.4));
  load.records.push_back(record(0.5, {0.6, 0.7}, 1.0));
  RequestRecord err = record(0.2, {}, 0.3);
  err.error = true;
  err.error_message = "too long";
  load.records.push_back(err);
  RequestRecord cancelled = record(0.3, {0.35}, 0.5);
  cancelled.finish_reason = "cancelled";
  load.records.push_back(cancelled);
  RequestRecord lost = record(0.4, {}, -1.0);
  lost.num_end_events = 0;
  load.records.push_back(lost);

  const ServeMetrics m = compute_metrics(load);
  EXPECT_EQ(m.num_requests, 5);
  EXPECT_EQ(m.num_completed, 2);
  EXPECT_EQ(m.num_errors, 1);
  EXPECT_EQ(m.num_cancelled, 1);
  EXPECT_EQ(m.num_unaccounted, 1);
  EXPECT_FALSE(m.all_accounted());
  EXPECT_EQ(m.num_prompt_tokens, 20);
  EXPECT_EQ(m.num_output_tokens, 5);
  EXPECT_DOUBLE_EQ(m.requests_per_second, 1.0);
  EXPECT_DOUBLE_EQ(m.output_tokens_per_second, 2.5);
  EXPECT_DOUBLE_EQ(m.total_tokens_per_second, 12.5);
  EXPECT_EQ(m.ttft_ms.count, 2);
  EXPECT_NEAR(m.ttft_ms.mean, 100.0, 1e-9);
  EXPECT_EQ(m.tpot_ms.count, 2);
  EXPECT_NEAR(m.tpot_ms.mean, 125.0, 1e-9);
  EXPECT_NEAR(m.tpot_ms.p50, 125.0, 1e-9);
  EXPECT_EQ(m.itl_ms.count, 3);  // 100, 200, 100 pooled
  EXPECT_NEAR(m.itl_ms.mean, 400.0 / 3.0, 1e-9);
  EXPECT_NEAR(m.itl_ms.p50, 100.0, 1e-9);
  EXPECT_NEAR(m.itl_ms.p99, 198.0, 1e-9);  // sorted 100 100 200: h 1.98 -> 100 + 0.98 * 100
  EXPECT_EQ(m.e2e_ms.count, 2);
  EXPECT_NEAR(m.e2e_ms.p50, 450.0, 1e-9);
  EXPECT_EQ(m.num_token_mismatches, 0);
}

TEST(ComputeMetrics, CountsDuplicateEndsAndTokenMismatches) {
  LoadResult load;
  load.duration_s = 1.0;
  RequestRecord twice = record(0.0, {0.1}, 0.2);
  twice.num_end_events = 2;
  load.records.push_back(twice);
  RequestRecord short_count = record(0.0, {0.1, 0.2}, 0.3);
  short_count.engine_timings.num_generated_tokens = 3;  // one delta missing
  load.records.push_back(short_count);
  const ServeMetrics m = compute_metrics(load);
  EXPECT_EQ(m.num_duplicate_ends, 1);
  EXPECT_FALSE(m.all_accounted());
  EXPECT_EQ(m.num_token_mismatches, 1);
}

}  // namespace
}  // namespace tokamak
