// Timing of back-to-back kernel launches for the GPU benches: the steady
// state of a step's stream.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <vector>

namespace tokamak {

// Microseconds per launch of launch(i), i = 0 .. launches - 1, between two
// events: the median of 7 rounds after a warm-up round.
template <class F>
double us_per_launch(int launches, F&& launch) {
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  std::vector<double> us;
  for (int round = 0; round < 8; ++round) {
    cudaEventRecord(e0);
    for (int i = 0; i < launches; ++i) launch(i);
    cudaEventRecord(e1);
    cudaEventSynchronize(e1);
    float ms = 0;
    cudaEventElapsedTime(&ms, e0, e1);
    if (round > 0) us.push_back(ms * 1e3 / launches);
  }
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  std::sort(us.begin(), us.end());
  return us[us.size() / 2];
}

}  // namespace tokamak
