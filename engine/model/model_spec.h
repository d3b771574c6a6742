// Hyperparameters of a llama-family model, read from GGUF metadata
// ("<arch>.block_count", "<arch>.embedding_length", ... as llama.cpp names them).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace tokamak {
namespace gguf {
class File;
}

enum class Architecture { Llama, Qwen2 };

enum class RopeScaling { None, Linear, Llama3 };

// Which dimensions of a head RoPE rotates together (llama.cpp's rope types):
//   Normal: adjacent pairs (0,1), (2,3), ...          GGUF "llama" (as llama2.c,
//           Meta's original weights; HF checkpoints are permuted on conversion)
//   Neox:   halves (i, i + dim/2), "rotate_half"      GGUF "qwen2"
enum class RopeStyle { Normal, Neox };

struct RopeConfig {
  float theta = 10000.0f;  // <arch>.rope.freq_base
  int32_t dim = 0;         // rotated dimensions per head (= head_dim)
  RopeScaling scaling = RopeScaling::None;
  float factor = 1.0f;  // <arch>.rope.scaling.factor
  // Llama 3.1 ("llama3") parameters, when given as metadata.
  float low_freq_factor = 1.0f;
  float high_freq_factor = 4.0f;
  int32_t original_context = 8192;
  // Per-frequency divisors (dim / 2 values): from a rope_freqs.weight tensor
  // (as llama.cpp's converter writes them for llama3 scaling) or computed
  // from the llama3 parameters. Empty: no per-frequency scaling.
  std::vector<float> freq_factors;

  // The inverse frequency of pair i (0 <= i < dim / 2), all scaling applied:
  // theta^(-2i/dim) / freq_factors[i] / (linear ? factor : 1).
  float inv_freq(int32_t i) const;
};

// Llama 3.1 per-frequency divisors (dim / 2 values) computed from factor,
// low/high_freq_factor and original_context, as Meta's reference does.
std::vector<float> llama3_freq_factors(const RopeConfig& rope);

struct ModelSpec {
  Architecture arch = Architecture::Llama;
  std::string arch_name;  // "llama", "qwen2"
  std::string name;       // general.name, may be empty
  int32_t num_layers = 0;
  int32_t dim = 0;         // embedding width
  int32_t hidden_dim = 0;  // feed-forward width
  int32_t num_heads = 0;
  int32_t num_kv_heads = 0;
  int32_t head_dim = 0;  // <arch>.attention.key_length, else dim / num_heads
  int32_t vocab_size = 0;
  int32_t context_length = 0;
  float rms_eps = 1e-5f;
  RopeConfig rope;
  RopeStyle rope_style = RopeStyle::Normal;  // from the architecture
  bool tied_embeddings = false;              // no output.weight: the classifier is token_embd
  bool attn_bias = false;                    // qwen2: q/k/v projections have biases

  // Reads and validates the metadata; the message names the missing or bad
  // key. Tensor-dependent fields (tied_embeddings, attn_bias, freq_factors)
  // are filled by ModelWeights::bind.
  static Result<ModelSpec> from_gguf(const gguf::File& file);

  int32_t q_dim() const { return num_heads * head_dim; }
  int32_t kv_dim() const { return num_kv_heads * head_dim; }
  // K+V bytes per token for all layers at the given element size.
  int64_t kv_bytes_per_token(int64_t element_bytes) const {
    return 2LL * num_layers * kv_dim() * element_bytes;
  }
};

std::string_view architecture_name(Architecture arch);
std::string_view rope_style_name(RopeStyle style);
RopeStyle rope_style_for(Architecture arch);

}  // namespace tokamak
