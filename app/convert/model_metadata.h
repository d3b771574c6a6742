// The GGUF metadata of a llama-family model, as llama.cpp's converters write
// it: general.*, <arch>.* hyperparameters. Shared by both converters and synth.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/result.h"

namespace tokamak {
namespace gguf {
class Writer;
}

struct LlamaHParams {
  std::string arch = "llama";  // "llama" or "qwen2"
  std::string name;            // general.name
  int32_t dim = 0;
  int32_t hidden_dim = 0;
  int32_t num_layers = 0;
  int32_t num_heads = 0;
  int32_t num_kv_heads = 0;
  int32_t head_dim = 0;  // 0: dim / num_heads
  int32_t vocab_size = 0;
  int32_t context_length = 0;
  float rms_eps = 1e-5f;
  float rope_theta = 10000.0f;
  // Llama 3.1 rope scaling ("rope_type": "llama3"). Written as the
  // rope_freqs.weight tensor, as llama.cpp does: no rope.scaling.* keys,
  // which llama.cpp would read as linear scaling.
  bool llama3_rope = false;
  float rope_factor = 8.0f;
  float low_freq_factor = 1.0f;
  float high_freq_factor = 4.0f;
  int32_t original_context = 8192;
  // Linear position interpolation ("rope_type": "linear"): written as
  // rope.scaling.type "linear" + rope.scaling.factor. 0: none.
  float linear_rope_factor = 0.0f;

  int32_t effective_head_dim() const { return head_dim > 0 ? head_dim : dim / num_heads; }
  int32_t kv_dim() const { return num_kv_heads * effective_head_dim(); }
  int32_t q_dim() const { return num_heads * effective_head_dim(); }

  // Positive counts, heads that divide, an even head width; the message
  // names `source` and the field.
  Status validate(const std::string& source) const;
};

// general.architecture/name/file_type(/quantization_version) and the
// <arch>.* keys.
void write_model_metadata(gguf::Writer& writer, const LlamaHParams& hp, uint32_t file_type,
                          bool quantized);

// The rope_freqs.weight values (head_dim / 2 divisors) of Llama 3.1 scaling,
// as llama.cpp's convert_hf_to_gguf.py computes them.
std::vector<float> llama3_rope_factors(const LlamaHParams& hp);

// "1,234,567" (for messages about sizes).
std::string with_commas(uint64_t n);

}  // namespace tokamak
