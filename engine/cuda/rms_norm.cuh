// RMSNorm with the residual add fused in front and an optional row gather:
//   r = rows ? rows[i] : i
//   if delta: x[r] += delta[r]          (residual connection, written back)
//   y[i] = x[r] / sqrt(mean(x[r]^2) + eps) * weight
//   y16[i] = y[i] rounded to fp16 (bf16 when y16_bf16), when y16 is given
//            (a GEMM's converted x: PrefillGemm::converted_x)
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace tokamak::cuda {

// x, delta: (*, dim); y: (num_rows, dim); rows (num_rows) or nullptr;
// delta and y16 may be nullptr; y16 (num_rows, dim). Precondition: not both rows and delta (two
// blocks could update one row).
cudaError_t launch_rms_norm(float* x, const float* delta, const int32_t* rows, const float* weight,
                            float* y, int64_t num_rows, int64_t dim, float eps, cudaStream_t stream,
                            void* y16 = nullptr, bool y16_bf16 = false);

}  // namespace tokamak::cuda
