#include "cpu/rms_norm.h"

#include <algorithm>
#include <cmath>

#include "cpu/parallel.h"

namespace tokamak::cpu {
namespace {

void rms_norm_row(const float* x, const float* weight, float* y, int64_t dim, float eps) {
  double sum_sq = 0.0;
  for (int64_t i = 0; i < dim; ++i) sum_sq += static_cast<double>(x[i]) * x[i];
  const float scale = static_cast<float>(1.0 / std::sqrt(sum_sq / dim + eps));
  for (int64_t i = 0; i < dim; ++i) y[i] = x[i] * scale * weight[i];
}

}  // namespace

void rms_norm(ThreadPool& pool, const float* x, const float* weight, float* y, int64_t num_rows,
              int64_t dim, float eps) {
  // Rows are independent; below ~16k values threading costs more than it saves.
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, dim));
  if (num_rows <= grain) {
    for (int64_t r = 0; r < num_rows; ++r) rms_norm_row(x + r * dim, weight, y + r * dim, dim, eps);
    return;
  }
  parallel_range(pool, num_rows, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) rms_norm_row(x + r * dim, weight, y + r * dim, dim, eps);
  });
}

}  // namespace tokamak::cpu
