// Sampling on the device: one id per logits row, chosen as sample_row()
// (sampling/sampler.h) chooses it, so that only ids cross to the host.
//
//   greedy (temperature <= 0): argmax, ties -> lowest id
//   else:  top-k on the raw logits -> s = logit / temperature -> top-p over
//          softmax(s) in (s desc, id asc) order -> min-p (s >= max s +
//          log min_p) -> softmax in double -> inverse-CDF draw with u
//
// The host sorts candidates; the device never sorts. Every element gets a
// unique 64-bit key, (order-preserving bits of the value) << 32 | ~id, so
// that "comes first" is "larger key", and each cut (the k-th element, the
// smallest prefix with mass >= top_p, the element where the cumulative
// probability passes u * total) is found by an 8-pass radix search over the
// key bytes: per pass, a 256-bin histogram of the weight (count or
// probability, summed in double) of the elements that match the digits
// found so far. Sums run in another order than the host's sequential ones;
// they differ from them only in the last bits of a double, far below the
// float rounding of each probability.
//
// One block per row; the work depends on the row's parameters, the launch
// only on the number of rows (so a graph can replay it).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace tokamak::cuda {

// One row's parameters on the device (filled on the host from RowSampling).
struct DeviceRowSampling {
  double u = 0.0;            // uniform in [0, 1)
  float temperature = 0.0f;  // <= 0: greedy
  int32_t top_k = 0;         // <= 0 or >= vocab: off
  float top_p = 1.0f;        // >= 1: off
  float min_p = 0.0f;        // <= 0: off
  float log_min_p = 0.0f;    // std::log(min_p) computed on the host (as sample_row does)
  int32_t pad = 0;
};

// ids[r] = the id row r of logits (num_rows, vocab) samples to under rows[r].
// logits, rows and ids on the device; one block per row.
cudaError_t launch_sample_rows(const float* logits, int64_t num_rows, int32_t vocab,
                               const DeviceRowSampling* rows, int32_t* ids, cudaStream_t stream);

}  // namespace tokamak::cuda
