// RMSNorm over rows: y = x / sqrt(mean(x^2) + eps) * weight.
#pragma once

#include <cstdint>

namespace tokamak {
class ThreadPool;
}

namespace tokamak::cpu {

// x (num_rows, dim), weight (dim), y (num_rows, dim); y may equal x.
// The sum of squares is accumulated in double.
void rms_norm(ThreadPool& pool, const float* x, const float* weight, float* y, int64_t num_rows,
              int64_t dim, float eps);

}  // namespace tokamak::cpu
