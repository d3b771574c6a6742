// Helpers of the GPU tests: skipping without a device, device arrays that
// start poisoned (NaN) so unwritten outputs show, random data, comparisons.
#pragma once

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "cuda/cuda_backend.h"

namespace tokamak::gpu_testing {

// GTEST_SKIP()s the calling test when there is no CUDA device.
#define TK_REQUIRE_CUDA_DEVICE()                                               \
  do {                                                                         \
    if (::tokamak::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device"; \
  } while (0)

#define TK_EXPECT_CUDA_OK(call) ASSERT_EQ((call), cudaSuccess) << #call

// Where the shared data lives: $TOKAMAK_GPU_DATA (the GPU machine gets a
// carried copy) or the build's TOKAMAK_SHARED_DATA.
inline std::string shared_data() {
  if (const char* env = std::getenv("TOKAMAK_GPU_DATA")) return env;
  return TOKAMAK_SHARED_DATA;
}

// A device array of T; new arrays are filled with NaN bytes (0xFF) unless
// given host values.
template <class T>
class DeviceArray {
 public:
  explicit DeviceArray(size_t count) : count_(count) {
    if (cudaMalloc(&ptr_, bytes()) != cudaSuccess) ptr_ = nullptr;
    poison();
  }
  explicit DeviceArray(const std::vector<T>& host) : DeviceArray(host.size()) { upload(host); }
  ~DeviceArray() { cudaFree(ptr_); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;

  T* get() const { return ptr_; }
  size_t bytes() const { return count_ * sizeof(T); }
  void poison() {
    if (ptr_) cudaMemset(ptr_, 0xFF, bytes());
  }
  void upload(const std::vector<T>& host) {
    if (ptr_) cudaMemcpy(ptr_, host.data(), bytes(), cudaMemcpyHostToDevice);
  }
  std::vector<T> download() const {
    std::vector<T> out(count_);
    cudaDeviceSynchronize();
    if (ptr_) cudaMemcpy(out.data(), ptr_, bytes(), cudaMemcpyDeviceToHost);
    return out;
  }

 private:
  T* ptr_ = nullptr;
  size_t count_ = 0;
};

inline std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.0f,
                                        float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

// max |a - b| / max(|b|, floor); NaN anywhere in a gives infinity.
inline double rel_max_diff(const std::vector<float>& a, const std::vector<float>& b,
                           double floor = 1e-30) {
  double diff = 0, scale = floor;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i])) return INFINITY;
    diff = std::max(diff, std::abs(static_cast<double>(a[i]) - b[i]));
    scale = std::max(scale, std::abs(static_cast<double>(b[i])));
  }
  return diff / scale;
}

// The geometry of a parameterized attention test (decode and prefill).
struct AttentionShape {
  int32_t num_heads, num_kv_heads, head_dim, block_size;
};

// Its test name, e.g. "h32_kv8_d128_bs16".
inline std::string attention_shape_name(const ::testing::TestParamInfo<AttentionShape>& info) {
  const AttentionShape& c = info.param;
  return "h" + std::to_string(c.num_heads) + "_kv" + std::to_string(c.num_kv_heads) + "_d" +
         std::to_string(c.head_dim) + "_bs" + std::to_string(c.block_size);
}

inline size_t count_non_finite(const std::vector<float>& a) {
  size_t n = 0;
  for (float x : a) n += !std::isfinite(x);
  return n;
}

}  // namespace tokamak::gpu_testing
