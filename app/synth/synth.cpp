#include "synth/synth.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "convert/model_metadata.h"
#include "convert/model_writer.h"
#include "convert/no_throw.h"
#include "convert/vocab_import.h"
#include "gguf/gguf_file.h"
#include "model/model_spec.h"
#include "synth/byte_vocab.h"
#include "synth/prng.h"
#include "tokenizer/vocab.h"

namespace tokamak {
namespace {

namespace fs = std::filesystem;

enum class Fill { Matrix, Norm, Bias };

// Seeded values for a tensor; chunk boundaries depend only on the row
// length (see row_converter.h), so the bytes do not depend on threads.
RowSourceFn random_rows(uint64_t seed, std::string name, int64_t row_length, Fill fill) {
  // Matrices: N(0, s) with s = min(0.02, 0.5 / sqrt(row_length)), so y = W x
  // keeps about half the RMS of a normalised x and logits stay moderate.
  const float std_dev = fill == Fill::Matrix
                            ? std::min(0.02f, 0.5f / std::sqrt(static_cast<float>(row_length)))
                            : 0.02f;
  const float mean = fill == Fill::Norm ? 1.0f : 0.0f;
  return [seed, name = std::move(name), row_length, std_dev, mean](int64_t first, int64_t n,
                                                                   float* dst) -> Status {
    synth::Xoshiro256 rng(synth::stream_seed(seed, name, first));
    const int64_t count = n * row_length;
    for (int64_t i = 0; i < count; ++i) dst[i] = mean + std_dev * rng.normal();
    return {};
  };
}

LlamaHParams hparams_of(const SynthPreset& p, int32_t num_layers, int32_t vocab_size,
                        std::string name) {
  LlamaHParams hp;
  hp.arch = p.arch_name;
  hp.name = std::move(name);
  hp.dim = p.dim;
  hp.hidden_dim = p.hidden_dim;
  hp.num_layers = num_layers;
  hp.num_heads = p.num_heads;
  hp.num_kv_heads = p.num_kv_heads;
  hp.vocab_size = vocab_size;
  hp.context_length = p.context_length;
  hp.rms_eps = p.rms_eps;
  hp.rope_theta = p.rope_theta;
  hp.llama3_rope = p.llama3_rope;  // factor 8, low 1, high 4, original 8192 (defaults)
  return hp;
}

void add_synth_tensors(ModelWriter& w, const LlamaHParams& hp, const SynthPreset& p,
                       uint64_t seed) {
  const int64_t dim = hp.dim, hidden = hp.hidden_dim, vocab = hp.vocab_size;
  const int64_t q_dim = hp.q_dim(), kv_dim = hp.kv_dim();
  auto matrix = [&](const std::string& name, int64_t row_length, int64_t rows) {
    w.add(name, {row_length, rows}, random_rows(seed, name, row_length, Fill::Matrix));
  };
  auto vec = [&](const std::string& name, int64_t n, Fill fill) {
    w.add(name, {n}, random_rows(seed, name, n, fill));
  };
  matrix("token_embd.weight", dim, vocab);
  vec("output_norm.weight", dim, Fill::Norm);
  if (!p.tied_embeddings) matrix("output.weight", dim, vocab);
  if (hp.llama3_rope) {
    const std::vector<float> factors = llama3_rope_factors(hp);
    w.add_f32("rope_freqs.weight", {static_cast<int64_t>(factors.size())}, factors);
  }
  for (int32_t l = 0; l < hp.num_layers; ++l) {
    const std::string b = fmt::format("blk.{}.", l);
    vec(b + "attn_norm.weight", dim, Fill::Norm);
    matrix(b + "attn_q.weight", dim, q_dim);
    matrix(b + "attn_k.weight", dim, kv_dim);
    matrix(b + "attn_v.weight", dim, kv_dim);
    if (p.attn_bias) {
      vec(b + "attn_q.bias", q_dim, Fill::Bias);
      vec(b + "attn_k.bias", kv_dim, Fill::Bias);
      vec(b + "attn_v.bias", kv_dim, Fill::Bias);
    }
    matrix(b + "attn_output.weight", q_dim, dim);
    vec(b + "ffn_norm.weight", dim, Fill::Norm);
    matrix(b + "ffn_gate.weight", dim, hidden);
    matrix(b + "ffn_down.weight", hidden, dim);
    matrix(b + "ffn_up.weight", dim, hidden);
  }
}

std::string preset_names() {
  std::vector<std::string> names;
  for (const auto& p : synth_presets()) names.push_back(p.name);
  return fmt::format("{}", fmt::join(names, ", "));
}

}  // namespace

static Result<SynthReport> synthesize_impl(const SynthOptions& options) {
  std::optional<SynthPreset> preset = find_synth_preset(options.preset);
  if (!preset) {
    return make_error(ErrorCode::InvalidArgument,
                      fmt::format("unknown synth preset '{}': expected one of {}", options.preset,
                                  preset_names()));
  }
  if (options.output_path.empty() && !options.dry_run) {
    return make_error(ErrorCode::InvalidArgument, "synth: no output path given");
  }
  TK_ASSIGN(TypeMix mix, TypeMix::parse(options.type_mix));
  if (options.num_layers < 0) {
    return make_error(ErrorCode::InvalidArgument,
                      fmt::format("synth: num_layers {} is negative", options.num_layers));
  }
  const int32_t num_layers = options.num_layers > 0 ? options.num_layers : preset->num_layers;

  Vocab vocab;
  if (options.vocab.empty() || options.vocab == "byte") {
    TK_ASSIGN(vocab, synth::make_byte_vocab(preset->vocab_size));
  } else {
    TK_ASSIGN(vocab, import_vocab(options.vocab, options.vocab_pre_hint));
  }
  const std::string name = options.name.empty() ? "synth-" + preset->name : options.name;
  const LlamaHParams hp = hparams_of(*preset, num_layers, vocab.size(), name);
  TK_TRY(hp.validate("synth preset " + preset->name));

  ModelWriter w(mix, options.num_threads, hp.num_layers, preset->tied_embeddings);
  const TensorType base = mix.base_type();
  const bool quantized =
      base != TensorType::F32 && base != TensorType::F16 && base != TensorType::BF16;
  write_model_metadata(w.writer(), hp, mix.file_type(), quantized);
  w.writer().set("tokamak.synth.preset", gguf::Value::string(preset->name));
  w.writer().set("tokamak.synth.seed", gguf::Value::u64(options.seed));
  vocab.to_gguf(w.writer());
  add_synth_tensors(w, hp, *preset, options.seed);
  SynthReport report;
  if (options.dry_run) {
    static_cast<WriteReport&>(report) = w.plan();
  } else {
    TK_ASSIGN(WriteReport written, w.write(options.output_path, options.on_progress));
    static_cast<WriteReport&>(report) = std::move(written);
  }
  report.preset = preset->name;
  report.type_mix = mix.name();
  report.seed = options.seed;
  return report;
}

static Result<std::string> ensure_demo_model_impl(const std::string& cache_dir) {
  std::error_code ec;
  fs::create_directories(cache_dir, ec);
  if (ec) {
    return make_error(ErrorCode::IoError,
                      cache_dir + ": cannot create the cache folder: " + ec.message());
  }
  const std::string path = (fs::path(cache_dir) / "tokamak-demo-q8_0.gguf").string();
  if (fs::exists(path, ec)) {
    auto file = gguf::File::open(path);
    if (file.ok() && ModelSpec::from_gguf(**file).ok()) {
      auto preset = (*file)->get_string_or("tokamak.synth.preset", "");
      if (preset.ok() && *preset == "demo") return path;
    }
    // A damaged or foreign file: write it again (Writer replaces it atomically).
  }
  SynthOptions o;
  o.preset = "demo";
  o.output_path = path;
  o.type_mix = "q8_0";
  o.seed = 1;
  o.name = "Tokamak demo (random weights)";
  TK_TRY(synthesize(o));
  return path;
}

Result<SynthReport> synthesize(const SynthOptions& options) {
  return no_throw("synth " + options.output_path, [&] { return synthesize_impl(options); });
}

Result<std::string> ensure_demo_model(const std::string& cache_dir) {
  return no_throw(cache_dir, [&] { return ensure_demo_model_impl(cache_dir); });
}

}  // namespace tokamak
