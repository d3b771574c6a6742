#include "convert/hf_config.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace tokamak {
namespace {

using json = nlohmann::json;

Error bad(const std::string& source, const std::string& what) {
  return make_error(ErrorCode::BadFormat, source + ": " + what);
}

Result<int32_t> get_int(const json& j, const std::string& source, const char* key,
                        std::optional<int32_t> fallback = std::nullopt) {
  if (!j.contains(key) || j[key].is_null()) {
    if (fallback) return *fallback;
    return bad(source, fmt::format("missing \"{}\"", key));
  }
  if (!j[key].is_number_integer()) return bad(source, fmt::format("\"{}\" is not an integer", key));
  return j[key].get<int32_t>();
}

Result<float> get_float(const json& j, const std::string& source, const char* key, float fallback) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  if (!j[key].is_number()) return bad(source, fmt::format("\"{}\" is not a number", key));
  return j[key].get<float>();
}

// First id of an int-or-list field ("eos_token_id": [128001, 128009]).
std::optional<int32_t> first_id(const json& j, const char* key) {
  if (!j.contains(key)) return std::nullopt;
  const json& v = j[key];
  if (v.is_number_integer()) return v.get<int32_t>();
  if (v.is_array() && !v.empty() && v[0].is_number_integer()) return v[0].get<int32_t>();
  return std::nullopt;
}

// Rope settings live in "rope_scaling" (transformers 4.x) or, since
// transformers 5, in "rope_parameters" (which also carries rope_theta).
const json* rope_object(const json& j) {
  for (const char* key : {"rope_scaling", "rope_parameters"}) {
    if (j.contains(key) && !j[key].is_null()) return &j[key];
  }
  return nullptr;
}

Status read_rope_scaling(const json& j, const std::string& source, HfConfig& c) {
  const json* found = rope_object(j);
  if (found == nullptr) return {};
  const json& rs = *found;
  if (!rs.is_object()) return bad(source, "\"rope_scaling\" is not an object");
  if (!j.contains("rope_theta")) {
    TK_ASSIGN(c.hp.rope_theta, get_float(rs, source, "rope_theta", 10000.0f));
  }
  std::string type = rs.value("rope_type", rs.value("type", std::string()));
  if (type == "llama3") {
    c.hp.llama3_rope = true;
    TK_ASSIGN(c.hp.rope_factor, get_float(rs, source, "factor", 8.0f));
    TK_ASSIGN(c.hp.low_freq_factor, get_float(rs, source, "low_freq_factor", 1.0f));
    TK_ASSIGN(c.hp.high_freq_factor, get_float(rs, source, "high_freq_factor", 4.0f));
    TK_ASSIGN(c.hp.original_context, get_int(rs, source, "original_max_position_embeddings", 8192));
    if (!(c.hp.high_freq_factor > c.hp.low_freq_factor) || c.hp.original_context <= 0) {
      return bad(source,
                 "rope_scaling llama3 needs high_freq_factor > low_freq_factor and a "
                 "positive original_max_position_embeddings");
    }
    return {};
  }
  if (type == "linear") {
    TK_ASSIGN(c.hp.linear_rope_factor, get_float(rs, source, "factor", 1.0f));
    if (!(c.hp.linear_rope_factor > 0.0f))
      return bad(source, "rope_scaling linear needs factor > 0");
    return {};
  }
  if (type == "default" || type.empty()) return {};
  return make_error(ErrorCode::Unsupported,
                    source + ": rope_scaling type \"" + type +
                        "\" is not supported by the converter (supported: llama3, linear)");
}

}  // namespace

Result<HfConfig> HfConfig::read(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / "config.json").string();
  std::ifstream in(path);
  if (!in) {
    return make_error(ErrorCode::NotFound,
                      path + ": cannot open (a Hugging Face model folder has a config.json)");
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), path);
}

Result<HfConfig> HfConfig::parse(const std::string& text, const std::string& source) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return bad(source, "not a JSON object");
  try {
    return parse_object(j, source);
  } catch (const json::exception& e) {  // a value of the wrong JSON type
    return bad(source, e.what());
  }
}

Result<HfConfig> HfConfig::parse_object(const nlohmann::json& j, const std::string& source) {
  HfConfig c;
  if (j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty() &&
      j["architectures"][0].is_string()) {
    c.architecture = j["architectures"][0].get<std::string>();
  } else {
    return bad(source, "no \"architectures\" list");
  }
  if (c.architecture == "LlamaForCausalLM" || c.architecture == "MistralForCausalLM") {
    c.hp.arch = "llama";
    c.permute_qk = true;
  } else if (c.architecture == "Qwen2ForCausalLM") {
    c.hp.arch = "qwen2";
    c.permute_qk = false;
    c.attn_bias = true;
  } else {
    return make_error(ErrorCode::Unsupported,
                      source + ": architecture " + c.architecture +
                          " is not supported (supported: LlamaForCausalLM, MistralForCausalLM, "
                          "Qwen2ForCausalLM)");
  }
  LlamaHParams& hp = c.hp;
  TK_ASSIGN(hp.dim, get_int(j, source, "hidden_size"));
  TK_ASSIGN(hp.hidden_dim, get_int(j, source, "intermediate_size"));
  TK_ASSIGN(hp.num_layers, get_int(j, source, "num_hidden_layers"));
  TK_ASSIGN(hp.num_heads, get_int(j, source, "num_attention_heads"));
  TK_ASSIGN(hp.num_kv_heads, get_int(j, source, "num_key_value_heads", hp.num_heads));
  TK_ASSIGN(hp.vocab_size, get_int(j, source, "vocab_size"));
  TK_ASSIGN(hp.context_length, get_int(j, source, "max_position_embeddings", 4096));
  TK_ASSIGN(hp.rms_eps, get_float(j, source, "rms_norm_eps", 1e-6f));
  TK_ASSIGN(hp.rope_theta, get_float(j, source, "rope_theta", 10000.0f));
  if (j.contains("head_dim") && j["head_dim"].is_number_integer() &&
      j["head_dim"].get<int32_t>() * hp.num_heads != hp.dim) {
    return make_error(ErrorCode::Unsupported,
                      fmt::format("{}: head_dim {} x {} heads != hidden_size {}: models with a "
                                  "separate head width are not supported",
                                  source, j["head_dim"].get<int32_t>(), hp.num_heads, hp.dim));
  }
  c.tied_embeddings = j.value("tie_word_embeddings", false);
  if (j.contains("attention_bias") && j["attention_bias"].is_boolean() &&
      j["attention_bias"].get<bool>() && c.hp.arch == "llama") {
    return make_error(ErrorCode::Unsupported,
                      source +
                          ": attention_bias is set; llama models with q/k/v biases are not "
                          "supported");
  }
  // Qwen2 lists a window it does not use (use_sliding_window false).
  const bool uses_window = j.value("use_sliding_window", c.architecture == "MistralForCausalLM");
  if (uses_window && j.contains("sliding_window") && j["sliding_window"].is_number_integer()) {
    c.notes.push_back(fmt::format("{}: sliding_window {} is ignored (full attention)", source,
                                  j["sliding_window"].get<int64_t>()));
  }
  if (j.contains("hidden_act") && j["hidden_act"] != "silu") {
    return make_error(ErrorCode::Unsupported, source + ": hidden_act " + j["hidden_act"].dump() +
                                                  " is not supported (silu only)");
  }
  TK_TRY(read_rope_scaling(j, source, c));
  c.bos_token_id = first_id(j, "bos_token_id");
  c.eos_token_id = first_id(j, "eos_token_id");
  TK_TRY(hp.validate(source));
  return c;
}

}  // namespace tokamak
