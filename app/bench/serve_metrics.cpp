#include "bench/serve_metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace tokamak {

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0.0;
  const double h = (static_cast<double>(sorted.size()) - 1.0) * p / 100.0;
  const size_t lo = static_cast<size_t>(std::floor(h));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (h - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

LatencySummary summarize_latency(std::vector<double> values) {
  LatencySummary s;
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  s.count = static_cast<int64_t>(values.size());
  s.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(s.count);
  s.p50 = percentile(values, 50.0);
  s.p90 = percentile(values, 90.0);
  s.p99 = percentile(values, 99.0);
  return s;
}

ServeMetrics compute_metrics(const LoadResult& load) {
  ServeMetrics m;
  m.num_requests = static_cast<int32_t>(load.records.size());
  m.duration_s = load.duration_s;
  std::vector<double> ttft, tpot, itl, e2e;
  for (const RequestRecord& r : load.records) {
    if (r.num_end_events == 0) {
      ++m.num_unaccounted;
      continue;
    }
    m.num_duplicate_ends += r.num_end_events - 1;
    if (r.error) {
      ++m.num_errors;
      continue;
    }
    if (r.finish_reason == "cancelled") {
      ++m.num_cancelled;
      continue;
    }
    ++m.num_completed;
    const int64_t n = static_cast<int64_t>(r.token_s.size());
    if (n != r.engine_timings.num_generated_tokens) ++m.num_token_mismatches;
    m.num_prompt_tokens += r.num_prompt_tokens;
    m.num_output_tokens += n;
    e2e.push_back((r.end_s - r.submit_s) * 1e3);
    if (n >= 1) ttft.push_back((r.token_s[0] - r.submit_s) * 1e3);
    if (n >= 2)
      tpot.push_back((r.token_s[n - 1] - r.token_s[0]) * 1e3 / static_cast<double>(n - 1));
    for (int64_t i = 1; i < n; ++i) itl.push_back((r.token_s[i] - r.token_s[i - 1]) * 1e3);
  }
  if (m.duration_s > 0.0) {
    m.requests_per_second = m.num_completed / m.duration_s;
    m.output_tokens_per_second = static_cast<double>(m.num_output_tokens) / m.duration_s;
    m.total_tokens_per_second =
        static_cast<double>(m.num_prompt_tokens + m.num_output_tokens) / m.duration_s;
  }
  m.ttft_ms = summarize_latency(std::move(ttft));
  m.tpot_ms = summarize_latency(std::move(tpot));
  m.itl_ms = summarize_latency(std::move(itl));
  m.e2e_ms = summarize_latency(std::move(e2e));
  return m;
}

}  // namespace tokamak
