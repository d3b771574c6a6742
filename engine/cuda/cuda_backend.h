// The CUDA backend: Backend on one NVIDIA GPU. Plain C++ (no CUDA headers),
// so the CLI and app can include it whatever the build.
//
// Weights are uploaded once in their GGUF type (F32, F16, BF16, Q8_0, Q4_0,
// Q4_K, Q6_K) and dequantized inside the kernels; activations and the KV
// pool are fp32, every sum is fp32. Everything (weights, KV pool, step
// workspaces for max_step_tokens tokens) is allocated at construction, after
// checking that it fits in the device's free memory.
//
// Errors: every CUDA call is checked; a failure during forward() returns
// DeviceFault naming the call, file and line, and the backend is then faulted:
// later forward() calls fail at once with the first error. Nothing aborts.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "backend/backend.h"
#include "core/result.h"
#include "model/model.h"

namespace tokamak {

struct CudaBackendOptions {
  int device = 0;  // CUDA device index
  // kv.num_blocks == 0: enough blocks for one sequence of
  // min(context_length, 4096) tokens, as the CPU backend.
  KvCacheConfig kv;
  int32_t max_step_tokens = 512;
};

// Device memory the backend needs, in bytes.
struct CudaMemoryPlan {
  int64_t weight_bytes = 0;     // every tensor in its stored type (+ alignment)
  int64_t kv_bytes = 0;         // K and V pools of all layers
  int64_t workspace_bytes = 0;  // activations for max_step_tokens tokens, step metadata
  int64_t total_bytes() const { return weight_bytes + kv_bytes + workspace_bytes; }
};

// Number of usable CUDA devices; 0 when there is no device or no driver
// (never an error).
int cuda_device_count();

// The plan for `model` with `options` (kv.num_blocks resolved as above).
CudaMemoryPlan plan_cuda_memory(const Model& model, const CudaBackendOptions& options);

// InvalidArgument for bad sizes, DeviceFault when the device cannot be used,
// OutOfMemory (with the plan's numbers and the free memory) when the plan
// does not fit, Unsupported for weight types or head sizes the kernels lack.
Result<std::unique_ptr<Backend>> make_cuda_backend(std::shared_ptr<const Model> model,
                                                   const CudaBackendOptions& options);

}  // namespace tokamak
