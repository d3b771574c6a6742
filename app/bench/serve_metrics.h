// The figures of one `bench serve` run, from the load generator's records
// (client-side times: what a user of the engine sees).
//
//   TTFT  first TokenDelta - submit                     (requests with >= 1 token)
//   TPOT  (last token - first token) / (tokens - 1)     (requests with >= 2 tokens)
//   ITL   every gap between consecutive TokenDeltas of a request, all requests pooled
//   E2E   end (Finished) - submit
//   throughput: completed requests, their output tokens, and their prompt +
//   output tokens, each divided by the run's duration (first submit -> last end)
//
// Requests that ended with an error or were cancelled count in num_errors /
// num_cancelled and in no latency or throughput figure.
#pragma once

#include <cstdint>
#include <vector>

#include "bench/load_generator.h"

namespace tokamak {

// The p-th percentile (0 <= p <= 100) of ascending `sorted`, as numpy's
// default (method "linear", type 7 of Hyndman & Fan):
//   h = (n - 1) * p / 100,  x[floor(h)] + (h - floor(h)) * (x[floor(h) + 1] - x[floor(h)])
// 0 for an empty vector.
double percentile(const std::vector<double>& sorted, double p);

struct LatencySummary {
  int64_t count = 0;
  double mean = 0.0;
  double p50 = 0.0;
  double p90 = 0.0;
  double p99 = 0.0;
};
LatencySummary summarize_latency(std::vector<double> values);

struct ServeMetrics {
  int32_t num_requests = 0;
  int32_t num_completed = 0;         // Finished, not cancelled
  int32_t num_errors = 0;            // RequestError
  int32_t num_cancelled = 0;         // Finished "cancelled"
  int32_t num_unaccounted = 0;       // no end event (0 in a correct run)
  int32_t num_duplicate_ends = 0;    // end events beyond the first (0 in a correct run)
  int32_t num_token_mismatches = 0;  // deltas != the engine's generated count
  int64_t num_prompt_tokens = 0;     // completed requests
  int64_t num_output_tokens = 0;     // completed requests: TokenDeltas received
  double duration_s = 0.0;
  double requests_per_second = 0.0;
  double output_tokens_per_second = 0.0;
  double total_tokens_per_second = 0.0;
  LatencySummary ttft_ms;
  LatencySummary tpot_ms;
  LatencySummary itl_ms;
  LatencySummary e2e_ms;

  // Every request ended exactly once.
  bool all_accounted() const { return num_unaccounted == 0 && num_duplicate_ends == 0; }
};

ServeMetrics compute_metrics(const LoadResult& load);

}  // namespace tokamak
