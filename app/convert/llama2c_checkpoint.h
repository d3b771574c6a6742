// The legacy llama2.c checkpoint format (run.c, "version 0", all fp32):
//
//   int32 dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len
//   f32 token_embedding (vocab, dim)
//   f32 rms_att (layer, dim)     wq (layer, dim, dim)
//   f32 wk (layer, kv_dim, dim)  wv (layer, kv_dim, dim)   wo (layer, dim, dim)
//   f32 rms_ffn (layer, dim)     w1 (layer, hidden, dim)
//   f32 w2 (layer, dim, hidden)  w3 (layer, hidden, dim)
//   f32 rms_final (dim)
//   f32 freq_cis_real (seq_len, head_size/2), freq_cis_imag (same)  -- unused
//   f32 wcls (vocab, dim)        only when vocab_size < 0 (unshared classifier)
//
// Matrices are row-major (out, in): row i yields output i, as GGUF stores
// them. RoPE rotates adjacent pairs, as GGUF llama does: no permutation.
#pragma once

#include <cstdint>
#include <string>

#include "convert/model_metadata.h"
#include "core/result.h"

namespace tokamak {

struct Llama2cLayout {
  LlamaHParams hp;  // arch llama, theta 10000, eps 1e-5
  bool shared_classifier = true;
  // Offsets in floats from the start of the weights (after the 28-byte header).
  int64_t token_embd = 0, rms_att = 0, wq = 0, wk = 0, wv = 0, wo = 0, rms_ffn = 0;
  int64_t w1 = 0, w2 = 0, w3 = 0, rms_final = 0, freq_cis = 0, wcls = 0;
  int64_t num_floats = 0;
  uint64_t expected_size_bytes = 0;

  static constexpr uint64_t kHeaderBytes = 28;
};

// Parses the header and computes the layout; fails when the header is
// implausible or the file size disagrees with it (the message gives both
// sizes and the header's numbers).
Result<Llama2cLayout> llama2c_layout(const std::string& path, const uint8_t* bytes,
                                     uint64_t size_bytes);

}  // namespace tokamak
