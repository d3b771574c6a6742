#include "model/model_spec.h"

#include <cmath>
#include <string>

#include "gguf/gguf_file.h"

namespace tokamak {
namespace {

constexpr double kPi = 3.14159265358979323846;

Error bad_key(const gguf::File& file, const std::string& key, const std::string& what) {
  return make_error(ErrorCode::BadFormat, file.path() + ": metadata key " + key + " " + what);
}

// Reads a required positive integer key.
Result<int32_t> positive_int(const gguf::File& file, const std::string& key) {
  TK_ASSIGN(int64_t v, file.get_int(key));
  if (v <= 0 || v > (1LL << 31) - 1)
    return bad_key(file, key, "is " + std::to_string(v) + "; expected a positive 32-bit count");
  return static_cast<int32_t>(v);
}

Result<int32_t> positive_int_or(const gguf::File& file, const std::string& key, int64_t fallback) {
  if (file.find(key) == nullptr) return static_cast<int32_t>(fallback);
  return positive_int(file, key);
}

Result<Architecture> parse_architecture(const gguf::File& file, const std::string& name) {
  if (name == "llama") return Architecture::Llama;
  if (name == "qwen2") return Architecture::Qwen2;
  return make_error(ErrorCode::Unsupported,
                    file.path() + ": architecture \"" + name +
                        "\" is not supported by Tokamak (supported: llama, qwen2)");
}

// Head counts and widths must divide as attention needs them to.
Status check_heads(const gguf::File& file, const std::string& a, const ModelSpec& s) {
  if (s.num_heads % s.num_kv_heads != 0)
    return bad_key(file, a + ".attention.head_count_kv",
                   "is " + std::to_string(s.num_kv_heads) + ", which does not divide " + a +
                       ".attention.head_count = " + std::to_string(s.num_heads));
  if (s.head_dim <= 0 || s.head_dim % 2 != 0)
    return bad_key(file, a + ".attention.head_count",
                   "gives a head width of " + std::to_string(s.head_dim) +
                       "; expected an even positive width");
  if (s.rope.dim <= 0 || s.rope.dim % 2 != 0 || s.rope.dim > s.head_dim)
    return bad_key(file, a + ".rope.dimension_count",
                   "is " + std::to_string(s.rope.dim) + "; expected an even count <= head width " +
                       std::to_string(s.head_dim));
  return {};
}

// rope.scaling.* keys (llama.cpp names): none, linear, or Llama 3 parameters.
Status read_rope_scaling(const gguf::File& file, const std::string& a, ModelSpec& s) {
  TK_ASSIGN(std::string type, file.get_string_or(a + ".rope.scaling.type", "none"));
  TK_ASSIGN(double factor, file.get_float_or(a + ".rope.scaling.factor", 1.0));
  TK_ASSIGN(double low, file.get_float_or(a + ".rope.scaling.low_freq_factor", 1.0));
  TK_ASSIGN(double high, file.get_float_or(a + ".rope.scaling.high_freq_factor", 4.0));
  TK_ASSIGN(int64_t orig, file.get_int_or(a + ".rope.scaling.original_context_length", 8192));
  s.rope.factor = static_cast<float>(factor);
  s.rope.low_freq_factor = static_cast<float>(low);
  s.rope.high_freq_factor = static_cast<float>(high);
  s.rope.original_context = static_cast<int32_t>(orig);
  const bool has_llama3_keys = file.find(a + ".rope.scaling.low_freq_factor") != nullptr ||
                               file.find(a + ".rope.scaling.high_freq_factor") != nullptr;
  if (type == "none" || type.empty()) {
    s.rope.scaling = has_llama3_keys ? RopeScaling::Llama3 : RopeScaling::None;
  } else if (type == "linear") {
    s.rope.scaling = RopeScaling::Linear;
  } else if (type == "llama3") {
    s.rope.scaling = RopeScaling::Llama3;
  } else {
    return make_error(ErrorCode::Unsupported, file.path() + ": " + a + ".rope.scaling.type \"" +
                                                  type +
                                                  "\" is not supported (supported: none, "
                                                  "linear, llama3)");
  }
  if (s.rope.scaling != RopeScaling::None && !(factor > 0.0))
    return bad_key(file, a + ".rope.scaling.factor",
                   "is " + std::to_string(factor) + "; expected a positive factor");
  if (s.rope.scaling == RopeScaling::Llama3) {
    if (!(high > low) || orig <= 0)
      return bad_key(file, a + ".rope.scaling.high_freq_factor",
                     "must exceed low_freq_factor, with a positive original context length");
    s.rope.freq_factors = llama3_freq_factors(s.rope);
  }
  return {};
}

}  // namespace

std::string_view architecture_name(Architecture arch) {
  switch (arch) {
    case Architecture::Llama:
      return "llama";
    case Architecture::Qwen2:
      return "qwen2";
  }
  return "unknown";
}

std::string_view rope_style_name(RopeStyle style) {
  return style == RopeStyle::Normal ? "normal (adjacent pairs)" : "neox (rotate half)";
}

RopeStyle rope_style_for(Architecture arch) {
  // As llama.cpp's llama_model_rope_type: LLAMA_ROPE_TYPE_NORM for llama,
  // LLAMA_ROPE_TYPE_NEOX for qwen2.
  return arch == Architecture::Qwen2 ? RopeStyle::Neox : RopeStyle::Normal;
}

float RopeConfig::inv_freq(int32_t i) const {
  double f = std::pow(static_cast<double>(theta), -2.0 * i / dim);
  if (i < static_cast<int32_t>(freq_factors.size())) f /= freq_factors[i];
  if (scaling == RopeScaling::Linear) f /= factor;
  return static_cast<float>(f);
}

std::vector<float> llama3_freq_factors(const RopeConfig& rope) {
  // As Meta's apply_scaling (and llama.cpp's converter, which stores these
  // divisors as rope_freqs.weight): high frequencies are kept, low ones are
  // divided by `factor`, and the band between is interpolated smoothly.
  const double low_wavelen = rope.original_context / rope.low_freq_factor;
  const double high_wavelen = rope.original_context / rope.high_freq_factor;
  std::vector<float> out(rope.dim / 2);
  for (int32_t i = 0; i < rope.dim / 2; ++i) {
    const double freq = std::pow(static_cast<double>(rope.theta), -2.0 * i / rope.dim);
    const double wavelen = 2.0 * kPi / freq;
    double divisor = 1.0;
    if (wavelen > low_wavelen) {
      divisor = rope.factor;
    } else if (wavelen >= high_wavelen) {
      const double smooth = (rope.original_context / wavelen - rope.low_freq_factor) /
                            (rope.high_freq_factor - rope.low_freq_factor);
      divisor = 1.0 / ((1.0 - smooth) / rope.factor + smooth);
    }
    out[i] = static_cast<float>(divisor);
  }
  return out;
}

Result<ModelSpec> ModelSpec::from_gguf(const gguf::File& file) {
  ModelSpec s;
  TK_ASSIGN(s.arch_name, file.get_string("general.architecture"));
  TK_ASSIGN(s.arch, parse_architecture(file, s.arch_name));
  s.rope_style = rope_style_for(s.arch);
  TK_ASSIGN(s.name, file.get_string_or("general.name", ""));
  const std::string& a = s.arch_name;
  TK_ASSIGN(s.num_layers, positive_int(file, a + ".block_count"));
  TK_ASSIGN(s.dim, positive_int(file, a + ".embedding_length"));
  TK_ASSIGN(s.hidden_dim, positive_int(file, a + ".feed_forward_length"));
  TK_ASSIGN(s.num_heads, positive_int(file, a + ".attention.head_count"));
  TK_ASSIGN(s.num_kv_heads, positive_int_or(file, a + ".attention.head_count_kv", s.num_heads));
  if (file.find(a + ".attention.key_length") != nullptr) {
    TK_ASSIGN(s.head_dim, positive_int(file, a + ".attention.key_length"));
    TK_ASSIGN(int32_t value_length,
              positive_int_or(file, a + ".attention.value_length", s.head_dim));
    if (value_length != s.head_dim)
      return bad_key(file, a + ".attention.value_length",
                     "is " + std::to_string(value_length) + ", unlike key_length " +
                         std::to_string(s.head_dim) + "; Tokamak needs them equal");
  } else {
    if (s.dim % s.num_heads != 0)
      return bad_key(file, a + ".attention.head_count",
                     "is " + std::to_string(s.num_heads) + ", which does not divide " + a +
                         ".embedding_length = " + std::to_string(s.dim));
    s.head_dim = s.dim / s.num_heads;
  }
  TK_ASSIGN(double eps, file.get_float(a + ".attention.layer_norm_rms_epsilon"));
  if (!(eps > 0.0) || eps > 1.0)
    return bad_key(file, a + ".attention.layer_norm_rms_epsilon",
                   "is " + std::to_string(eps) + "; expected a small positive number");
  s.rms_eps = static_cast<float>(eps);
  TK_ASSIGN(double theta, file.get_float_or(a + ".rope.freq_base", 10000.0));
  if (!(theta > 1.0))
    return bad_key(file, a + ".rope.freq_base", "is " + std::to_string(theta) + "; expected > 1");
  s.rope.theta = static_cast<float>(theta);
  TK_ASSIGN(s.rope.dim, positive_int_or(file, a + ".rope.dimension_count", s.head_dim));
  TK_ASSIGN(s.context_length, positive_int(file, a + ".context_length"));
  if (file.find(a + ".vocab_size") != nullptr) {
    TK_ASSIGN(s.vocab_size, positive_int(file, a + ".vocab_size"));
  } else if (const gguf::TensorInfo* embd = file.find_tensor("token_embd.weight")) {
    s.vocab_size = static_cast<int32_t>(embd->num_rows());
  } else {
    return make_error(ErrorCode::BadFormat, file.path() + ": no " + a +
                                                ".vocab_size key and no token_embd.weight "
                                                "tensor to take the vocabulary size from");
  }
  TK_TRY(check_heads(file, a, s));
  TK_TRY(read_rope_scaling(file, a, s));
  return s;
}

}  // namespace tokamak
