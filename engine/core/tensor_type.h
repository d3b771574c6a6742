// Tensor element types, numbered as GGUF/ggml number them (values on disk:
// never renumber). Block layouts follow llama.cpp's ggml-common.h:
//
//   Q8_0  32 values: f16 d, int8 qs[32]                        34 bytes
//   Q4_0  32 values: f16 d, uint8 qs[16] (lo nibble = j, hi = j+16)  18 bytes
//   Q4_K 256 values: f16 d, f16 dmin, uint8 scales[12] (6-bit scale/min per
//                    32-value sub-block), uint8 qs[128]        144 bytes
//   Q6_K 256 values: uint8 ql[128], uint8 qh[64], int8 scales[16], f16 d
//                                                              210 bytes
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tokamak {

enum class TensorType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
};

struct TensorTypeTraits {
  std::string_view name;  // "F32", "Q4_K", ...
  int64_t block_size;     // values per block
  size_t type_size;       // bytes per block
  bool supported;         // the engine computes with it (weights)
};

// Traits of a type known to ggml; nullopt for a number ggml does not define.
std::optional<TensorTypeTraits> tensor_type_traits(uint32_t type);
const TensorTypeTraits& traits(TensorType type);  // precondition: known type
std::string_view tensor_type_name(TensorType type);
// Parses "f16", "Q4_K", "q4_k_m"-style names are NOT accepted here (mixes are
// an app concern); exact type names only, case-insensitive.
std::optional<TensorType> parse_tensor_type(std::string_view name);
bool is_supported_weight_type(TensorType type);

// Bytes of `num_values` values of `type`; precondition: num_values is a
// multiple of the block size.
inline size_t row_size_bytes(TensorType type, int64_t num_values) {
  const auto& t = traits(type);
  return static_cast<size_t>(num_values / t.block_size) * t.type_size;
}

}  // namespace tokamak
