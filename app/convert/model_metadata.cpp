#include "convert/model_metadata.h"

#include <fmt/format.h>

#include <cmath>

#include "gguf/gguf_writer.h"

namespace tokamak {

Status LlamaHParams::validate(const std::string& source) const {
  auto bad = [&](const std::string& what) {
    return make_error(ErrorCode::BadFormat, source + ": " + what);
  };
  const std::pair<const char*, int32_t> counts[] = {{"dim", dim},
                                                    {"hidden_dim", hidden_dim},
                                                    {"num_layers", num_layers},
                                                    {"num_heads", num_heads},
                                                    {"num_kv_heads", num_kv_heads},
                                                    {"vocab_size", vocab_size},
                                                    {"context_length", context_length}};
  for (const auto& [key, v] : counts) {
    if (v <= 0) return bad(fmt::format("{} is {}; expected a positive count", key, v));
  }
  if (head_dim <= 0 && dim % num_heads != 0) {
    return bad(fmt::format("dim {} is not a multiple of num_heads {}", dim, num_heads));
  }
  if (num_heads % num_kv_heads != 0) {
    return bad(
        fmt::format("num_heads {} is not a multiple of num_kv_heads {}", num_heads, num_kv_heads));
  }
  if (effective_head_dim() % 2 != 0) {
    return bad(fmt::format("head width {} is odd; rope needs pairs", effective_head_dim()));
  }
  if (!(rms_eps > 0.0f) || !(rope_theta > 0.0f)) {
    return bad(fmt::format("rms_eps {} and rope_theta {} must be positive", rms_eps, rope_theta));
  }
  return {};
}

void write_model_metadata(gguf::Writer& w, const LlamaHParams& hp, uint32_t file_type,
                          bool quantized) {
  using gguf::Value;
  const std::string& a = hp.arch;
  w.set("general.architecture", Value::string(a));
  w.set("general.name", Value::string(hp.name));
  w.set("general.file_type", Value::u32(file_type));
  if (quantized) w.set("general.quantization_version", Value::u32(2));
  w.set(a + ".vocab_size", Value::u32(static_cast<uint32_t>(hp.vocab_size)));
  w.set(a + ".context_length", Value::u32(static_cast<uint32_t>(hp.context_length)));
  w.set(a + ".embedding_length", Value::u32(static_cast<uint32_t>(hp.dim)));
  w.set(a + ".feed_forward_length", Value::u32(static_cast<uint32_t>(hp.hidden_dim)));
  w.set(a + ".block_count", Value::u32(static_cast<uint32_t>(hp.num_layers)));
  w.set(a + ".attention.head_count", Value::u32(static_cast<uint32_t>(hp.num_heads)));
  w.set(a + ".attention.head_count_kv", Value::u32(static_cast<uint32_t>(hp.num_kv_heads)));
  w.set(a + ".attention.layer_norm_rms_epsilon", Value::f32(hp.rms_eps));
  w.set(a + ".rope.freq_base", Value::f32(hp.rope_theta));
  w.set(a + ".rope.dimension_count", Value::u32(static_cast<uint32_t>(hp.effective_head_dim())));
  if (hp.linear_rope_factor > 0.0f) {
    w.set(a + ".rope.scaling.type", Value::string("linear"));
    w.set(a + ".rope.scaling.factor", Value::f32(hp.linear_rope_factor));
  }
  if (hp.head_dim > 0 && hp.head_dim * hp.num_heads != hp.dim) {
    w.set(a + ".attention.key_length", Value::u32(static_cast<uint32_t>(hp.head_dim)));
    w.set(a + ".attention.value_length", Value::u32(static_cast<uint32_t>(hp.head_dim)));
  }
}

std::vector<float> llama3_rope_factors(const LlamaHParams& hp) {
  constexpr double kPi = 3.14159265358979323846;
  const int32_t dim = hp.effective_head_dim();
  const double low_wavelen = hp.original_context / static_cast<double>(hp.low_freq_factor);
  const double high_wavelen = hp.original_context / static_cast<double>(hp.high_freq_factor);
  std::vector<float> out(static_cast<size_t>(dim / 2));
  for (int32_t i = 0; i < dim / 2; ++i) {
    // torch computes base ** (arange(0, dim, 2) / dim) in float32.
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(dim);
    const float freq = 1.0f / std::pow(hp.rope_theta, exponent);
    const double wavelen = 2.0 * kPi / freq;
    double factor = 1.0;
    if (wavelen < high_wavelen) {
      factor = 1.0;
    } else if (wavelen > low_wavelen) {
      factor = hp.rope_factor;
    } else {
      const double smooth = (hp.original_context / wavelen - hp.low_freq_factor) /
                            (hp.high_freq_factor - hp.low_freq_factor);
      factor = 1.0 / ((1.0 - smooth) / hp.rope_factor + smooth);
    }
    out[static_cast<size_t>(i)] = static_cast<float>(factor);
  }
  return out;
}

std::string with_commas(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  const size_t first = digits.size() % 3 == 0 ? 3 : digits.size() % 3;
  out = digits.substr(0, first);
  for (size_t i = first; i < digits.size(); i += 3) out += "," + digits.substr(i, 3);
  return out;
}

}  // namespace tokamak
