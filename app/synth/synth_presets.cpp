#include <algorithm>
#include <cctype>

#include "synth/synth.h"

namespace tokamak {
namespace {

SynthPreset preset(std::string name, std::string description, std::string arch, int32_t dim,
                   int32_t hidden, int32_t layers, int32_t heads, int32_t kv_heads, int32_t vocab,
                   int32_t context, float theta, float eps) {
  SynthPreset p;
  p.name = std::move(name);
  p.description = std::move(description);
  p.arch_name = std::move(arch);
  p.dim = dim;
  p.hidden_dim = hidden;
  p.num_layers = layers;
  p.num_heads = heads;
  p.num_kv_heads = kv_heads;
  p.vocab_size = vocab;
  p.context_length = context;
  p.rope_theta = theta;
  p.rms_eps = eps;
  return p;
}

std::vector<SynthPreset> make_presets() {
  std::vector<SynthPreset> out;
  out.push_back(preset("llama2-7b", "Llama 2 7B shapes (MHA, 6.7 B parameters)", "llama", 4096,
                       11008, 32, 32, 32, 32000, 4096, 10000.0f, 1e-5f));
  SynthPreset l3 = preset("llama3-8b", "Llama 3.1 8B shapes (GQA 32/8, vocab 128256, rope scaling)",
                          "llama", 4096, 14336, 32, 32, 8, 128256, 8192, 500000.0f, 1e-5f);
  l3.llama3_rope = true;
  out.push_back(l3);
  out.push_back(preset("tinyllama-1.1b", "TinyLlama 1.1B shapes (GQA 32/4)", "llama", 2048, 5632,
                       22, 32, 4, 32000, 2048, 10000.0f, 1e-5f));
  SynthPreset qw = preset("qwen2.5-0.5b", "Qwen2.5 0.5B shapes (qwen2, biases, tied, vocab 151936)",
                          "qwen2", 896, 4864, 24, 14, 2, 151936, 32768, 1000000.0f, 1e-6f);
  qw.attn_bias = true;
  qw.tied_embeddings = true;
  out.push_back(qw);
  SynthPreset smol = preset("smollm-135m", "SmolLM 135M shapes (GQA 9/3, tied)", "llama", 576, 1536,
                            30, 9, 3, 49152, 2048, 10000.0f, 1e-5f);
  smol.tied_embeddings = true;
  out.push_back(smol);
  out.push_back(preset("demo", "the built-in demo model (dim 288, 6 layers, byte vocab 512)",
                       "llama", 288, 768, 6, 6, 6, 512, 512, 10000.0f, 1e-5f));
  out.push_back(preset("tiny", "a tiny llama for tests (dim 256, 2 layers, GQA 4/2)", "llama", 256,
                       512, 2, 4, 2, 512, 256, 10000.0f, 1e-5f));
  SynthPreset tq = preset("tiny-qwen2", "a tiny qwen2 for tests (biases, tied)", "qwen2", 256, 512,
                          2, 4, 2, 512, 256, 1000000.0f, 1e-6f);
  tq.attn_bias = true;
  tq.tied_embeddings = true;
  out.push_back(tq);
  SynthPreset tl3 = preset("tiny-llama3", "a tiny llama with Llama 3.1 rope scaling, for tests",
                           "llama", 256, 512, 2, 4, 2, 512, 256, 500000.0f, 1e-5f);
  tl3.llama3_rope = true;
  out.push_back(tl3);
  return out;
}

}  // namespace

const std::vector<SynthPreset>& synth_presets() {
  static const std::vector<SynthPreset> presets = make_presets();
  return presets;
}

std::optional<SynthPreset> find_synth_preset(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const auto& p : synth_presets())
    if (p.name == lower) return p;
  return std::nullopt;
}

}  // namespace tokamak
