// Row-wise elementwise ops of the transformer block.
#pragma once

#include <cstdint>

namespace tokamak {
class ThreadPool;
}

namespace tokamak::cpu {

// x (num_rows, dim) += y (num_rows, dim)   (residual connection)
void add_rows(float* x, const float* y, int64_t num_rows, int64_t dim);

// x (num_rows, dim) += bias (dim)
void add_bias(float* x, const float* bias, int64_t num_rows, int64_t dim);

// gate (n) = silu(gate) * up, silu(g) = g / (1 + exp(-g))   (SwiGLU)
void swiglu(ThreadPool& pool, float* gate, const float* up, int64_t n);

}  // namespace tokamak::cpu
