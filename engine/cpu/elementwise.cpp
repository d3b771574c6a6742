#include "cpu/elementwise.h"

#include <cmath>

#include "cpu/parallel.h"

namespace tokamak::cpu {

void add_rows(float* x, const float* y, int64_t num_rows, int64_t dim) {
  const int64_t n = num_rows * dim;
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

void add_bias(float* x, const float* bias, int64_t num_rows, int64_t dim) {
  for (int64_t r = 0; r < num_rows; ++r)
    for (int64_t i = 0; i < dim; ++i) x[r * dim + i] += bias[i];
}

void swiglu(ThreadPool& pool, float* gate, const float* up, int64_t n) {
  auto run = [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float g = gate[i];
      gate[i] = g / (1.0f + std::exp(-g)) * up[i];
    }
  };
  if (n < 32768) {
    run(0, n);
  } else {
    parallel_range(pool, n, 8192, run);
  }
}

}  // namespace tokamak::cpu
