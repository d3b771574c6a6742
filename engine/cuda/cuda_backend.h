// The CUDA backend: Backend on one NVIDIA GPU. Plain C++ (no CUDA headers),
// so the CLI and app can include it whatever the build.
//
// Weights are uploaded once in their GGUF type (F32, F16, BF16, Q8_0, Q4_0,
// Q4_K, Q6_K) and dequantized inside the kernels; activations and the KV
// pool are fp32, every sum is fp32. Everything (weights, KV pool, step
// workspaces for max_step_tokens tokens) is allocated at construction, after
// checking that it fits in the device's free memory.
//
// Sampling runs on the device (forward_sampled copies back only the ids);
// decode steps replay CUDA graphs (see CudaBackendOptions::use_graphs).
//
// Errors: every CUDA call is checked; a failure during a step returns
// DeviceFault naming the call, file and line, and the backend is then faulted:
// later forward()/forward_sampled() calls fail at once with the first error.
// Nothing aborts.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

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
  // Decode steps (each token a different sequence's next token, up to 128
  // of them) replay a CUDA graph per batch-size bucket (1, 2, 4, ... 128).
  bool use_graphs = true;
  // Matrix products of at least this many tokens go through the tensor-core
  // GEMM (fp16/bf16 inputs, fp32 accumulation), smaller ones through the
  // fp32 matmul kernels. 0: measured defaults per weight type (F16/BF16 2,
  // block types 8, F32 16; see prefill_gemm.h).
  int32_t gemm_min_tokens = 0;
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

namespace cuda::testing {
// Makes the next forward/forward_sampled of a CUDA backend fail inside the
// step at a real device call (an invalid launch configuration). False when
// `backend` is not a CUDA backend.
bool fail_next_step(Backend& backend);
// Decode graphs captured so far (0 for other backends).
int32_t num_decode_graphs(const Backend& backend);
}  // namespace cuda::testing

// Benchmarks switch these on a live backend (false: not a CUDA backend).
namespace cuda::tuning {
bool set_use_graphs(Backend& backend, bool on);
bool set_gemm_min_tokens(Backend& backend, int32_t n);
// Device time by kind of operation (gemm, attention, norm, ...) of the
// steps run without a graph after set_op_timing(true), which clears it.
Status set_op_timing(Backend& backend, bool on);
std::vector<std::pair<std::string, double>> op_times_ms(const Backend& backend);
}  // namespace cuda::tuning

}  // namespace tokamak
