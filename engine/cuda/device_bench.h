// Device measurements that benchmarks set their figures against: the copy
// bandwidth of device memory and the cuBLAS tensor-core GEMM rate for given
// shapes. Plain C++ (no CUDA headers).
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "core/result.h"

namespace tokamak {

// "NVIDIA H200 (132 SMs, 139.8 GiB)".
Result<std::string> cuda_device_description(int device);

// Device-to-device copies of `bytes` (read + write counted), best and median
// of `repetitions` in GB/s (1e9 bytes).
struct CopyBandwidth {
  double best_gb_per_s = 0.0;
  double median_gb_per_s = 0.0;
};
Result<CopyBandwidth> measure_copy_bandwidth(int device, size_t bytes, int repetitions);

struct GemmShape {
  int64_t rows = 0;  // W (rows, n)
  int64_t n = 0;
};

// Median seconds of one pass over `shapes` (y (tokens, rows) = x · W^T each,
// cublasGemmEx with fp16 inputs, fp32 output and accumulation: the prefill
// GEMM's configuration), over `repetitions` after one warm-up pass.
Result<double> measure_gemm_seconds(int device, std::span<const GemmShape> shapes,
                                    int64_t num_tokens, int repetitions);

}  // namespace tokamak
