#include "cuda/device_bench.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "cuda/cuda_check.h"
#include "cuda/device_memory.h"

namespace tokamak {
namespace {

// Events and a stream, destroyed on scope exit.
struct Timer {
  cudaStream_t stream = nullptr;
  cudaEvent_t start = nullptr, stop = nullptr;
  ~Timer() {
    if (start) cudaEventDestroy(start);
    if (stop) cudaEventDestroy(stop);
    if (stream) cudaStreamDestroy(stream);
  }
  Status init() {
    TK_CUDA_TRY(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    TK_CUDA_TRY(cudaEventCreate(&start));
    TK_CUDA_TRY(cudaEventCreate(&stop));
    return {};
  }
  Result<double> seconds() {
    TK_CUDA_TRY(cudaEventSynchronize(stop));
    float ms = 0.0f;
    TK_CUDA_TRY(cudaEventElapsedTime(&ms, start, stop));
    return ms * 1e-3;
  }
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

}  // namespace

Result<std::string> cuda_device_description(int device) {
  cudaDeviceProp prop{};
  TK_CUDA_TRY(cudaGetDeviceProperties(&prop, device));
  char text[256];
  std::snprintf(text, sizeof text, "%s (%d SMs, %.1f GiB)", prop.name, prop.multiProcessorCount,
                prop.totalGlobalMem / 1073741824.0);
  return std::string(text);
}

Result<CopyBandwidth> measure_copy_bandwidth(int device, size_t bytes, int repetitions) {
  TK_CUDA_TRY(cudaSetDevice(device));
  cuda::DeviceMemory a, b;
  TK_TRY(a.allocate(bytes, "the copy-bandwidth source"));
  TK_TRY(b.allocate(bytes, "the copy-bandwidth destination"));
  TK_CUDA_TRY(cudaMemset(a.get(), 1, bytes));
  Timer timer;
  TK_TRY(timer.init());
  std::vector<double> rates;
  for (int i = 0; i < repetitions + 1; ++i) {
    TK_CUDA_TRY(cudaEventRecord(timer.start, timer.stream));
    TK_CUDA_TRY(cudaMemcpyAsync(b.get(), a.get(), bytes, cudaMemcpyDeviceToDevice, timer.stream));
    TK_CUDA_TRY(cudaEventRecord(timer.stop, timer.stream));
    TK_ASSIGN(const double s, timer.seconds());
    if (i > 0) rates.push_back(2.0 * static_cast<double>(bytes) / s / 1e9);
  }
  CopyBandwidth bw;
  bw.best_gb_per_s = *std::max_element(rates.begin(), rates.end());
  bw.median_gb_per_s = median(rates);
  return bw;
}

Result<double> measure_gemm_seconds(int device, std::span<const GemmShape> shapes,
                                    int64_t num_tokens, int repetitions) {
  TK_CUDA_TRY(cudaSetDevice(device));
  int64_t max_w = 0, max_n = 0, max_rows = 0;
  for (const GemmShape& s : shapes) {
    max_w = std::max(max_w, s.rows * s.n);
    max_n = std::max(max_n, s.n);
    max_rows = std::max(max_rows, s.rows);
  }
  cuda::DeviceMemory w, x, y, workspace;
  TK_TRY(w.allocate(max_w * 2, "the GEMM benchmark's weights"));
  TK_TRY(x.allocate(num_tokens * max_n * 2, "the GEMM benchmark's inputs"));
  TK_TRY(y.allocate(num_tokens * max_rows * 4, "the GEMM benchmark's outputs"));
  TK_TRY(workspace.allocate(size_t{32} << 20, "the GEMM benchmark's cuBLAS workspace"));
  // 0x2E2E: fp16 ~0.1, finite products.
  TK_CUDA_TRY(cudaMemset(w.get(), 0x2E, max_w * 2));
  TK_CUDA_TRY(cudaMemset(x.get(), 0x2E, num_tokens * max_n * 2));
  Timer timer;
  TK_TRY(timer.init());
  cublasHandle_t handle = nullptr;
  TK_CUBLAS_TRY(cublasCreate(&handle));
  struct Destroy {
    cublasHandle_t h;
    ~Destroy() { cublasDestroy(h); }
  } destroy{handle};
  TK_CUBLAS_TRY(cublasSetStream(handle, timer.stream));
  TK_CUBLAS_TRY(cublasSetWorkspace(handle, workspace.get(), size_t{32} << 20));
  const float alpha = 1.0f, beta = 0.0f;
  std::vector<double> times;
  for (int i = 0; i < repetitions + 1; ++i) {
    TK_CUDA_TRY(cudaEventRecord(timer.start, timer.stream));
    for (const GemmShape& s : shapes) {
      const int m = static_cast<int>(s.rows), t = static_cast<int>(num_tokens),
                k = static_cast<int>(s.n);
      TK_CUBLAS_TRY(cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, m, t, k, &alpha, w.get(),
                                 CUDA_R_16F, k, x.get(), CUDA_R_16F, k, &beta, y.get(), CUDA_R_32F,
                                 m, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    }
    TK_CUDA_TRY(cudaEventRecord(timer.stop, timer.stream));
    TK_ASSIGN(const double s, timer.seconds());
    if (i > 0) times.push_back(s);
  }
  return median(times);
}

}  // namespace tokamak
