// StepTrace: a per-step record of the engine loop for performance work,
// written as CSV when the engine stops. Off unless the environment variable
// TOKAMAK_ENGINE_TRACE names a file prefix; engine k of the process then
// writes PREFIX.k.csv (k = 0, 1, ...). Costs nothing when off.
//
// Columns (times in microseconds, from the trace's start):
//   start_us     the step's start (schedule() called)
//   gap_us       since the previous step ended: waiting for work, intake
//   schedule_us  scheduling and planning
//   forward_us   the backend's forward pass (upload, device, copy back)
//   post_us      ids -> tokens, events, stats
//   tokens, sequences, decodes (sequences fed one token), sampled,
//   running, waiting
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace tokamak {

struct StepRecord {
  double start_us = 0, gap_us = 0, schedule_us = 0, forward_us = 0, post_us = 0;
  int32_t num_tokens = 0, num_sequences = 0, num_decodes = 0, num_sampled = 0;
  int32_t num_running = 0, num_waiting = 0;
};

class StepTrace {
 public:
  using Clock = std::chrono::steady_clock;

  // Reads TOKAMAK_ENGINE_TRACE; off when unset or empty.
  StepTrace();
  ~StepTrace();  // writes the file
  StepTrace(const StepTrace&) = delete;
  StepTrace& operator=(const StepTrace&) = delete;

  bool on() const { return !path_.empty(); }
  double us_since_start(Clock::time_point t) const {
    return std::chrono::duration<double, std::micro>(t - start_).count();
  }
  void add(const StepRecord& r) { records_.push_back(r); }

 private:
  std::string path_;
  Clock::time_point start_ = Clock::now();
  std::vector<StepRecord> records_;
};

}  // namespace tokamak
