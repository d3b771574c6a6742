// Helpers shared by the quant tests: seeded random rows and error measures.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "core/tensor_type.h"
#include "quant/quant.h"

namespace tokamak::quant::testing {

inline std::vector<float> gaussian_row(int64_t n, uint32_t seed, float sigma = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, sigma);
  std::vector<float> x(static_cast<size_t>(n));
  for (auto& v : x) v = dist(rng);
  return x;
}

inline std::vector<uint8_t> quantized(TensorType type, const std::vector<float>& x) {
  std::vector<uint8_t> q(row_size_bytes(type, static_cast<int64_t>(x.size())));
  const Status st = quantize_row(type, x.data(), q.data(), static_cast<int64_t>(x.size()));
  if (!st.ok()) q.clear();
  return q;
}

inline std::vector<float> dequantized(TensorType type, const std::vector<uint8_t>& q, int64_t n) {
  std::vector<float> y(static_cast<size_t>(n));
  dequantize_row(type, q.data(), y.data(), n);
  return y;
}

// sqrt(mean (x - y)^2) / sqrt(mean x^2)
inline double relative_rmse(const std::vector<float>& x, const std::vector<float>& y) {
  double err = 0, sum = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    err += (static_cast<double>(x[i]) - y[i]) * (static_cast<double>(x[i]) - y[i]);
    sum += static_cast<double>(x[i]) * x[i];
  }
  return sum > 0 ? std::sqrt(err / sum) : std::sqrt(err);
}

inline bool all_finite(const std::vector<float>& y) {
  for (float v : y)
    if (!std::isfinite(v)) return false;
  return true;
}

}  // namespace tokamak::quant::testing
