// The CPU backend: the reference implementation of Backend, multi-threaded
// with a ThreadPool. fp32 activations and KV cache; weights are used in their
// stored type (F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K) through quant::vec_dot.
//
// Everything a step needs is allocated at construction: the KV pool and
// workspaces for max_step_tokens tokens. forward() allocates nothing.
#pragma once

#include <cstdint>
#include <memory>

#include "backend/backend.h"
#include "core/result.h"
#include "model/model.h"

namespace tokamak {

struct CpuBackendOptions {
  int num_threads = 0;  // <= 0: one per hardware thread
  // kv.num_blocks == 0: enough blocks for one sequence of
  // min(context_length, 4096) tokens (rounded up to whole blocks).
  KvCacheConfig kv;
  int32_t max_step_tokens = 512;
};

// Fails with InvalidArgument for non-positive sizes and OutOfMemory when the
// KV pool or workspaces cannot be allocated.
Result<std::unique_ptr<Backend>> make_cpu_backend(std::shared_ptr<const Model> model,
                                                  const CpuBackendOptions& options);

// The KV blocks that CpuBackendOptions{.kv = kv} resolves to for `spec`.
KvCacheConfig resolve_kv_config(const ModelSpec& spec, KvCacheConfig kv);

}  // namespace tokamak
