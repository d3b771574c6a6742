#include "convert/llama2c_checkpoint.h"

#include <fmt/format.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace tokamak {

Result<Llama2cLayout> llama2c_layout(const std::string& path, const uint8_t* bytes,
                                     uint64_t size_bytes) {
  const std::string file = std::filesystem::path(path).filename().string();
  if (size_bytes < Llama2cLayout::kHeaderBytes) {
    return make_error(ErrorCode::BadFormat,
                      fmt::format("{}: {} bytes is too short for a llama2.c checkpoint header "
                                  "(7 x int32 = 28 bytes)",
                                  file, size_bytes));
  }
  int32_t h[7];
  std::memcpy(h, bytes, sizeof(h));
  Llama2cLayout L;
  LlamaHParams& hp = L.hp;
  hp.arch = "llama";
  hp.dim = h[0];
  hp.hidden_dim = h[1];
  hp.num_layers = h[2];
  hp.num_heads = h[3];
  hp.num_kv_heads = h[4];
  L.shared_classifier = h[5] > 0;
  hp.vocab_size = std::abs(h[5]);
  hp.context_length = h[6];
  hp.rms_eps = 1e-5f;
  hp.rope_theta = 10000.0f;
  const std::string header_text = fmt::format(
      "dim {}, hidden_dim {}, {} layers, {} heads, {} kv heads, vocab {} ({}), seq_len {}", h[0],
      h[1], h[2], h[3], h[4], hp.vocab_size,
      L.shared_classifier ? "shared classifier" : "own classifier", h[6]);
  // Guard against files that are not checkpoints at all (huge or negative numbers).
  for (int i = 0; i < 7; ++i) {
    if (i != 5 && (h[i] <= 0 || h[i] > (1 << 24))) {
      return make_error(
          ErrorCode::BadFormat,
          fmt::format("{}: not a llama2.c checkpoint: header says {}", file, header_text));
    }
  }
  TK_TRY(hp.validate(file));

  const int64_t dim = hp.dim, hidden = hp.hidden_dim, layers = hp.num_layers;
  const int64_t kv_dim = hp.kv_dim(), head_size = hp.effective_head_dim();
  int64_t at = 0;
  auto take = [&at](int64_t count) {
    const int64_t start = at;
    at += count;
    return start;
  };
  L.token_embd = take(hp.vocab_size * dim);
  L.rms_att = take(layers * dim);
  L.wq = take(layers * dim * dim);
  L.wk = take(layers * kv_dim * dim);
  L.wv = take(layers * kv_dim * dim);
  L.wo = take(layers * dim * dim);
  L.rms_ffn = take(layers * dim);
  L.w1 = take(layers * hidden * dim);
  L.w2 = take(layers * dim * hidden);
  L.w3 = take(layers * hidden * dim);
  L.rms_final = take(dim);
  L.freq_cis = take(hp.context_length * head_size);  // real and imag halves
  L.wcls = L.shared_classifier ? L.token_embd : take(hp.vocab_size * dim);
  L.num_floats = at;
  L.expected_size_bytes = Llama2cLayout::kHeaderBytes + static_cast<uint64_t>(at) * 4;
  if (L.expected_size_bytes != size_bytes) {
    return make_error(
        ErrorCode::BadFormat,
        fmt::format("{}: expected {} bytes for {} but the file has {} bytes", file,
                    with_commas(L.expected_size_bytes), header_text, with_commas(size_bytes)));
  }
  return L;
}

}  // namespace tokamak
