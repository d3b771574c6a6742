// A Hugging Face config.json, read into what the converter needs.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "convert/model_metadata.h"
#include "core/result.h"

namespace tokamak {

struct HfConfig {
  std::string architecture;  // "LlamaForCausalLM", ...
  LlamaHParams hp;           // arch "llama" or "qwen2"
  bool tied_embeddings = false;
  bool permute_qk = true;  // llama/mistral: rotate-half -> adjacent pairs
  bool attn_bias = false;  // qwen2
  std::optional<int32_t> bos_token_id;
  std::optional<int32_t> eos_token_id;
  std::vector<std::string> notes;  // e.g. "sliding_window 4096 ignored"

  // Reads <dir>/config.json. Unsupported architectures and rope scalings
  // fail naming them.
  static Result<HfConfig> read(const std::string& dir);
  static Result<HfConfig> parse(const std::string& json_text, const std::string& source);

 private:
  static Result<HfConfig> parse_object(const nlohmann::json& j, const std::string& source);
};

}  // namespace tokamak
