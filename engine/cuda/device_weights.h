// The model's weights on the device: one allocation holding every tensor in
// its stored type, each 256-byte aligned; tied weights are stored once.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "core/result.h"
#include "cuda/device_memory.h"
#include "cuda/matmul.cuh"
#include "model/model_weights.h"

namespace tokamak::cuda {

struct DeviceLayer {
  const float* attn_norm = nullptr;
  MatmulWeight wq, wk, wv, wo;
  const float *bq = nullptr, *bk = nullptr, *bv = nullptr;  // nullptr: no bias
  const float* ffn_norm = nullptr;
  MatmulWeight w_gate, w_up, w_down;
};

struct DeviceWeights {
  DeviceMemory memory;
  MatmulWeight token_embd;
  MatmulWeight output;
  const float* output_norm = nullptr;
  std::vector<DeviceLayer> layers;
};

// Bytes upload_weights allocates for `weights`.
int64_t device_weight_bytes(const ModelWeights& weights);

// Copies every tensor to the device (synchronously).
Result<DeviceWeights> upload_weights(const ModelWeights& weights);

}  // namespace tokamak::cuda
