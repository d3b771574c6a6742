// Views of the weight tensors inside a mapped GGUF file, by role.
// Shapes are given as (rows, row_length): a matrix W of shape (out, in) is
// stored as `out` rows of `in` values each, so y = W x is one dot per row.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/result.h"
#include "core/tensor_type.h"
#include "model/model_spec.h"

namespace tokamak {
namespace gguf {
class File;
struct TensorInfo;
}  // namespace gguf

struct WeightView {
  const void* data = nullptr;
  TensorType type = TensorType::F32;
  int64_t rows = 0;        // dims[1] (1 for vectors)
  int64_t row_length = 0;  // dims[0]
  const char* name = nullptr;

  bool present() const { return data != nullptr; }
  size_t row_bytes() const { return row_size_bytes(type, row_length); }
  const uint8_t* row(int64_t r) const { return static_cast<const uint8_t*>(data) + r * row_bytes(); }
};

struct LayerWeights {
  WeightView attn_norm;   // (dim)
  WeightView wq;          // (num_heads * head_dim, dim)
  WeightView wk;          // (num_kv_heads * head_dim, dim)
  WeightView wv;          // (num_kv_heads * head_dim, dim)
  WeightView wo;          // (dim, num_heads * head_dim)
  WeightView bq, bk, bv;  // qwen2 only: (q dim), (kv dim), (kv dim)
  WeightView ffn_norm;    // (dim)
  WeightView w_gate;      // (hidden_dim, dim)
  WeightView w_up;        // (hidden_dim, dim)
  WeightView w_down;      // (dim, hidden_dim)
};

struct ModelWeights {
  WeightView token_embd;   // (vocab_size, dim)
  WeightView output_norm;  // (dim)
  WeightView output;       // (vocab_size, dim); = token_embd when tied
  std::vector<LayerWeights> layers;

  // Finds every tensor by its llama.cpp name (token_embd.weight,
  // blk.N.attn_q.weight, ...), checks shapes against the spec and types
  // against what the engine computes with (norms and biases must be F32),
  // and completes the spec's tensor-dependent fields. Errors name the tensor.
  static Result<ModelWeights> bind(const gguf::File& file, ModelSpec& spec);
};

}  // namespace tokamak
