// Stores of fp32 results also written in a GEMM's input type (fp16, or bf16),
// round to nearest even as launch_convert_activations, so that a kernel
// producing a GEMM's x saves the conversion pass (PrefillGemm::converted_x).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

namespace tokamak::cuda {

// out[i] = v (out: __half, or __nv_bfloat16 when bf16).
__device__ __forceinline__ void store_converted(void* out, int64_t i, float v, bool bf16) {
  if (bf16) {
    static_cast<__nv_bfloat16*>(out)[i] = __float2bfloat16_rn(v);
  } else {
    static_cast<__half*>(out)[i] = __float2half_rn(v);
  }
}

// out[i .. i + 3] = v; i a multiple of 4 and out 8-byte aligned.
__device__ __forceinline__ void store_converted4(void* out, int64_t i, float4 v, bool bf16) {
  if (bf16) {
    __nv_bfloat162* o = reinterpret_cast<__nv_bfloat162*>(static_cast<__nv_bfloat16*>(out) + i);
    o[0] = __floats2bfloat162_rn(v.x, v.y);
    o[1] = __floats2bfloat162_rn(v.z, v.w);
  } else {
    __half2* o = reinterpret_cast<__half2*>(static_cast<__half*>(out) + i);
    o[0] = __floats2half2_rn(v.x, v.y);
    o[1] = __floats2half2_rn(v.z, v.w);
  }
}

}  // namespace tokamak::cuda
