// Device time of a step's operations by kind, from CUDA events recorded
// between them on the stream: for benchmarks' "where the time goes". Off
// unless enabled, and never used inside a graph capture.
#pragma once

#include <cuda_runtime.h>

#include <array>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"

namespace tokamak::cuda {

class OpTimer {
 public:
  enum Op { kEmbedding, kNorm, kGemm, kRopeKv, kAttention, kElementwise, kClassifier, kSampling };
  static constexpr int kNumOps = 8;
  static const char* name(int op);

  OpTimer() = default;
  ~OpTimer();
  OpTimer(const OpTimer&) = delete;
  OpTimer& operator=(const OpTimer&) = delete;

  // Creates the events on first use; clears the totals.
  Status enable(bool on);
  bool enabled() const { return enabled_; }

  // Starts a step's intervals on `stream`.
  Status start(cudaStream_t stream);
  // The time since the previous mark (or start) counts as `op`'s.
  Status mark(cudaStream_t stream, Op op);
  // After the stream has been synchronized: adds the step's intervals.
  Status collect();

  // (name, milliseconds) of every kind, summed over the steps since enable().
  std::vector<std::pair<std::string, double>> totals_ms() const;

 private:
  static constexpr size_t kMaxEvents = 2048;
  bool enabled_ = false;
  std::vector<cudaEvent_t> events_;
  std::vector<int> ops_;  // ops_[i]: the kind of the interval ending at event i (i >= 1)
  size_t used_ = 0;
  std::array<double, kNumOps> totals_{};
};

}  // namespace tokamak::cuda
