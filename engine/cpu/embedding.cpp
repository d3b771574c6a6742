#include "cpu/embedding.h"

#include "quant/quant.h"

namespace tokamak::cpu {

void embed_tokens(const WeightView& token_embd, std::span<const int32_t> tokens, float* x) {
  const int64_t dim = token_embd.row_length;
  for (size_t t = 0; t < tokens.size(); ++t)
    quant::dequantize_row(token_embd.type, token_embd.row(tokens[t]), x + t * dim, dim);
}

}  // namespace tokamak::cpu
