// Token embedding lookup: one dequantized row of token_embd per token.
#pragma once

#include <cstdint>
#include <span>

#include "model/model_weights.h"

namespace tokamak::cpu {

// x (num_tokens, token_embd.row_length) = token_embd[tokens[t]].
// Precondition: every id in [0, token_embd.rows).
void embed_tokens(const WeightView& token_embd, std::span<const int32_t> tokens, float* x);

}  // namespace tokamak::cpu
