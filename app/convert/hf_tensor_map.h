// Hugging Face -> GGUF tensor names, shapes and the Q/K row permutation.
//
//   model.embed_tokens.weight                  -> token_embd.weight
//   model.norm.weight                          -> output_norm.weight
//   lm_head.weight                             -> output.weight (absent when tied)
//   model.layers.N.input_layernorm.weight      -> blk.N.attn_norm.weight
//   model.layers.N.self_attn.{q,k,v}_proj.*    -> blk.N.attn_{q,k,v}.*  (.bias: qwen2)
//   model.layers.N.self_attn.o_proj.weight     -> blk.N.attn_output.weight
//   model.layers.N.post_attention_layernorm.*  -> blk.N.ffn_norm.weight
//   model.layers.N.mlp.{gate,up,down}_proj.*   -> blk.N.ffn_{gate,up,down}.weight
//
// HF stores a Linear's weight as (out, in): GGUF dims are {in, out}.
//
// Q/K permutation (architecture llama only). HF rotates the two halves of
// each head (x[i], x[i + hd/2]); GGUF llama rotates adjacent pairs (x[2i],
// x[2i+1]). llama.cpp's converter reorders the rows of each head:
//   reshape (n_head, 2, hd/2, in) -> swapaxes(1, 2) -> (n_head * hd, in)
// so GGUF row h*hd + 2i + j comes from HF row h*hd + j*hd/2 + i.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "convert/hf_config.h"

namespace tokamak {

struct HfTensorPlan {
  std::string gguf_name;
  std::string hf_name;
  std::vector<int64_t> dims;     // GGUF order: dims[0] = row length
  int64_t permute_head_dim = 0;  // > 0: rows permuted with this head width
};

// The tensors a model of this config has, in the order llama.cpp writes them.
std::vector<HfTensorPlan> plan_hf_tensors(const HfConfig& config);

// The HF row that GGUF row `row` of a permuted Q/K weight (or bias) comes from.
inline int64_t permuted_source_row(int64_t row, int64_t head_dim) {
  const int64_t head = row / head_dim, within = row % head_dim;
  return head * head_dim + (within % 2) * (head_dim / 2) + within / 2;
}

// HF names that carry no weights of ours (rotary inverse-frequency buffers).
bool is_ignored_hf_tensor(const std::string& hf_name);

}  // namespace tokamak
