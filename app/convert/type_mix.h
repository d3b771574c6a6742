// Weight type mixes: a name the user types ("f16", "q8_0", "q4_k_m", ...)
// becomes a per-tensor type choice.
//
//   f32 f16 bf16 q8_0 q4_0 q4_k q6_k   every matrix of that type ("pure")
//   q4_k_m                             llama.cpp's Q4_K_M recipe:
//       Q4_K for matrices, Q6_K for output.weight (token_embd.weight when
//       the embeddings are tied), and Q6_K for attn_v / ffn_down in the
//       layers where llama.cpp's use_more_bits(i, n) holds
//       (i < n/8 || i >= 7n/8 || (i - n/8) % 3 == 2).
//
// Always F32: 1-D tensors (norms, biases, rope_freqs). A matrix whose row
// length is not a multiple of the chosen type's block size falls back
// Q4_K/Q6_K -> Q8_0 -> F16 (Q8_0/Q4_0 -> F16), and the choice says so.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/tensor_type.h"

namespace tokamak {

// What the type choice needs to know about one tensor.
struct TensorRole {
  std::string_view name;      // GGUF name: "blk.3.attn_v.weight", "output.weight"
  std::vector<int64_t> dims;  // dims[0] = row length
  int32_t layer = -1;         // block index for blk.N.*, else -1
  int32_t num_layers = 0;
  bool tied_embeddings = false;  // no output.weight: token_embd is also the classifier
};

struct TypeChoice {
  TensorType type = TensorType::F32;
  TensorType wanted = TensorType::F32;  // before a row-length fallback
  std::string note;                     // non-empty when it fell back, e.g.
  // "blk.0.ffn_down.weight: row length 4864 is not a multiple of 256 (Q4_K); using Q8_0"
  bool fell_back() const { return type != wanted; }
};

class TypeMix {
 public:
  // Accepts f32, f16, bf16, q8_0, q4_0, q4_k, q4_k_m, q6_k (case-insensitive;
  // "Q4_K_M" and "q4_K_M" too). Unknown names fail listing the valid ones.
  static Result<TypeMix> parse(std::string_view name);
  static std::vector<std::string> names();  // the accepted names, lower case

  const std::string& name() const { return name_; }  // canonical, lower case
  TensorType base_type() const { return base_; }     // Q4_K for q4_k_m
  bool is_q4_k_m() const { return q4_k_m_; }
  // GGUF general.file_type (llama_ftype): 0 F32, 1 F16, 2 Q4_0, 7 Q8_0,
  // 14 Q4_K_S (pure q4_k), 15 Q4_K_M, 18 Q6_K, 32 BF16.
  uint32_t file_type() const;

  TypeChoice choose(const TensorRole& role) const;

 private:
  std::string name_;
  TensorType base_ = TensorType::F32;
  bool q4_k_m_ = false;
};

// llama.cpp's use_more_bits(i_layer, n_layers).
bool use_more_bits(int32_t layer, int32_t num_layers);

// "blk.12.attn_q.weight" -> 12; anything else -> -1.
int32_t layer_of_tensor(std::string_view gguf_name);

}  // namespace tokamak
