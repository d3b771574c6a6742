// A multi-threaded streaming-read benchmark of this machine's memory: every
// thread sums its own contiguous slice of a buffer much larger than the
// caches (256-bit loads where AVX2 is available). The best repetition is
// the practical bandwidth bound that a memory-bound decode step can reach.
#pragma once

#include <cstdint>
#include <vector>

#include "core/result.h"

namespace tokamak {

struct BandwidthOptions {
  int num_threads = 0;  // <= 0: one per hardware thread
  uint64_t buffer_bytes = 512ull << 20;
  int repetitions = 5;  // after one untimed warm-up pass
};

struct BandwidthResult {
  int num_threads = 0;
  uint64_t buffer_bytes = 0;
  std::vector<double> gb_per_s;  // (repetitions) 1 GB = 1e9 bytes
  double best_gb_per_s = 0.0;
  double median_gb_per_s = 0.0;
};

// Fails with OutOfMemory when the buffer cannot be allocated and
// InvalidArgument for a buffer under 1 MiB or no repetitions.
Result<BandwidthResult> measure_read_bandwidth(const BandwidthOptions& options);

}  // namespace tokamak
