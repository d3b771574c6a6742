// Random-weight GGUF models with the exact shapes of real ones, for
// benchmarks and tests (and the app's built-in demo model).
//
// Weights come from a seeded PRNG (splitmix64 -> xoshiro256**, one stream per
// (tensor, chunk)), ~N(0, 0.02) for matrices (scaled so activations stay
// sane), ~1.0 for norm weights; they are generated and quantized in parallel
// chunks inside the writer's fill callbacks. Same options and seed -> the
// same file, byte for byte, whatever the number of threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "convert/convert.h"
#include "core/result.h"

namespace tokamak {

struct SynthPreset {
  std::string name;         // "llama2-7b"
  std::string description;  // one line for `tokamak-cli synth --list`
  std::string arch_name;    // "llama" or "qwen2"
  int32_t dim = 0;
  int32_t hidden_dim = 0;
  int32_t num_layers = 0;
  int32_t num_heads = 0;
  int32_t num_kv_heads = 0;
  int32_t vocab_size = 0;
  int32_t context_length = 0;
  float rope_theta = 10000.0f;
  float rms_eps = 1e-5f;
  bool tied_embeddings = false;
  bool attn_bias = false;    // qwen2: q/k/v biases
  bool llama3_rope = false;  // Llama 3.1 rope scaling (factor 8, low 1, high 4, orig 8192)
};

const std::vector<SynthPreset>& synth_presets();
std::optional<SynthPreset> find_synth_preset(std::string_view name);

struct SynthOptions {
  std::string preset = "tiny";  // a name from synth_presets()
  std::string output_path;
  std::string type_mix = "f16";  // see convert/type_mix.h
  // "byte": a byte-level BPE vocabulary of the preset's size (256 byte
  // tokens, BOS, EOS, filler tokens). Otherwise a tokenizer file handed to
  // import_vocab (tokenizer.model, tokenizer.json, tokenizer.bin, a folder
  // with encoder.json + vocab.bpe); the preset's vocab_size then becomes the
  // vocabulary's size.
  std::string vocab = "byte";
  std::string vocab_pre_hint;  // passed to import_vocab ("llama-bpe", ...)
  uint64_t seed = 1;
  int32_t num_layers = 0;  // > 0: override the preset's layer count
  std::string name;        // general.name; default "synth-<preset>"
  int num_threads = 0;     // <= 0: one per hardware thread
  // Plan only: the report lists the tensors, types and sizes; nothing is
  // generated or written (output_path may be empty).
  bool dry_run = false;
  ConvertProgressFn on_progress;
};

struct SynthReport : WriteReport {
  std::string preset;
  std::string type_mix;
  uint64_t seed = 0;
};

Result<SynthReport> synthesize(const SynthOptions& options);

// The app's built-in demo model (preset "demo": llama, dim 288, 6 layers,
// byte-level vocab 512, Q8_0, seed 1): writes <cache_dir>/tokamak-demo-q8_0.gguf
// once (creating cache_dir) and returns its path; an existing valid file is
// reused.
Result<std::string> ensure_demo_model(const std::string& cache_dir);

}  // namespace tokamak
