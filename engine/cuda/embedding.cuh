// Embedding gather: x (num_tokens, dim) = dequantize(table[tokens[t]]), for
// any weight type.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "core/tensor_type.h"

namespace tokamak::cuda {

// table: (vocab, dim) rows of row_bytes in `type`; tokens on the device.
cudaError_t launch_embedding(TensorType type, const void* table, size_t row_bytes, int64_t dim,
                             const int32_t* tokens, int64_t num_tokens, float* x,
                             cudaStream_t stream);

}  // namespace tokamak::cuda
