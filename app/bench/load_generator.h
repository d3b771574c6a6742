// The load generator of `bench serve`: submits a workload's requests to an
// engine and records, per request, when it was submitted, when each token
// arrived and how it ended.
//
//   closed loop (rate == 0): `concurrency` clients; each submits its next
//       request as soon as its last one ended (Finished or RequestError).
//   open loop (rate > 0): request k is submitted at arrival_times[k]
//       (Poisson, seeded), whatever is still running.
//
// All submissions happen on the calling thread; the event callbacks (on the
// engine thread) only record times and wake it. Times are seconds from the
// start of the run on std::chrono::steady_clock.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bench/workload.h"
#include "runtime/engine.h"

namespace tokamak {

struct RequestRecord {
  int32_t num_prompt_tokens = 0;
  int32_t max_tokens = 0;
  double submit_s = -1.0;
  std::vector<double> token_s;  // arrival time of each TokenDelta
  double end_s = -1.0;          // Finished or RequestError
  int32_t num_end_events = 0;   // 1 when accounted for exactly once
  bool error = false;
  std::string finish_reason;      // Finished: "eos" | "stop" | "length" | "cancelled"
  std::string error_message;      // RequestError
  RequestTimings engine_timings;  // as the engine reported them (Finished only)
};

struct LoadProgress {
  int32_t num_requests = 0;
  int32_t num_submitted = 0;
  int32_t num_ended = 0;
  int32_t num_errors = 0;
  int64_t num_output_tokens = 0;
  double elapsed_s = 0.0;
};

struct LoadOptions {
  int32_t concurrency = 1;  // closed loop: clients
  double rate = 0.0;        // > 0: open loop, requests per second
  uint64_t seed = 1;        // arrival times
  SamplingParams sampling;  // every request's (greedy by default in bench serve)
  bool ignore_eos = true;   // generate exactly max_tokens
  // Called on the calling thread about every tick_s while the run lasts.
  std::function<void(const LoadProgress&)> on_tick;
  double tick_s = 0.1;
  // A run that gets no event for this long is stopped with an error (an
  // engine that hangs must not hang the benchmark); 0: wait forever.
  double stall_timeout_s = 600.0;
};

using SubmitFn = std::function<RequestId(Request, EventCallback)>;

struct LoadResult {
  std::vector<RequestRecord> records;  // in workload order
  double duration_s = 0.0;             // first submission -> last end
  int64_t num_submitted = 0;
};

// Runs the workload through `submit` (Engine::submit, or a fake in tests).
// Fails (InvalidArgument) for concurrency < 1 in closed loop, and (Internal)
// when no event arrives within stall_timeout_s; every request has then been
// submitted or not, and records say which ended.
Result<LoadResult> run_load(const std::vector<WorkloadRequest>& workload, const SubmitFn& submit,
                            const LoadOptions& options);

}  // namespace tokamak
