#include "convert/type_mix.h"

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <charconv>

namespace tokamak {
namespace {

struct MixEntry {
  std::string_view name;
  TensorType base;
  bool q4_k_m;
  uint32_t file_type;  // llama_ftype
};

constexpr std::array kMixes = {
    MixEntry{"f32", TensorType::F32, false, 0},     MixEntry{"f16", TensorType::F16, false, 1},
    MixEntry{"bf16", TensorType::BF16, false, 32},  MixEntry{"q8_0", TensorType::Q8_0, false, 7},
    MixEntry{"q4_0", TensorType::Q4_0, false, 2},   MixEntry{"q4_k", TensorType::Q4_K, false, 14},
    MixEntry{"q4_k_m", TensorType::Q4_K, true, 15}, MixEntry{"q6_k", TensorType::Q6_K, false, 18},
};

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool fits(TensorType type, int64_t row_length) { return row_length % traits(type).block_size == 0; }

// The type a Q4_K_M mix wants for a matrix (llama.cpp llama_tensor_get_type).
TensorType q4_k_m_type(const TensorRole& role) {
  const bool is_output =
      role.name == "output.weight" || (role.tied_embeddings && role.name == "token_embd.weight");
  if (is_output) return TensorType::Q6_K;
  const bool more_bits_role =
      ends_with(role.name, ".attn_v.weight") || ends_with(role.name, ".ffn_down.weight");
  if (more_bits_role && role.layer >= 0 && use_more_bits(role.layer, role.num_layers)) {
    return TensorType::Q6_K;
  }
  return TensorType::Q4_K;
}

}  // namespace

bool use_more_bits(int32_t layer, int32_t num_layers) {
  return layer < num_layers / 8 || layer >= 7 * num_layers / 8 || (layer - num_layers / 8) % 3 == 2;
}

int32_t layer_of_tensor(std::string_view name) {
  constexpr std::string_view kPrefix = "blk.";
  if (name.substr(0, kPrefix.size()) != kPrefix) return -1;
  name.remove_prefix(kPrefix.size());
  int32_t layer = -1;
  auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), layer);
  if (ec != std::errc() || end == name.data() || end == name.data() + name.size() || *end != '.') {
    return -1;
  }
  return layer;
}

Result<TypeMix> TypeMix::parse(std::string_view name) {
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& e : kMixes) {
    if (e.name == lower) {
      TypeMix mix;
      mix.name_ = std::string(e.name);
      mix.base_ = e.base;
      mix.q4_k_m_ = e.q4_k_m;
      return mix;
    }
  }
  return make_error(
      ErrorCode::InvalidArgument,
      fmt::format("unknown weight type '{}': expected one of {}", name, fmt::join(names(), ", ")));
}

std::vector<std::string> TypeMix::names() {
  std::vector<std::string> out;
  for (const auto& e : kMixes) out.emplace_back(e.name);
  return out;
}

uint32_t TypeMix::file_type() const {
  for (const auto& e : kMixes)
    if (e.name == name_) return e.file_type;
  return 0;
}

TypeChoice TypeMix::choose(const TensorRole& role) const {
  TypeChoice choice;
  // 1-D tensors (norms, biases, rope_freqs) stay F32, as in llama.cpp.
  if (role.dims.size() < 2) return choice;
  choice.wanted = q4_k_m_ ? q4_k_m_type(role) : base_;
  choice.type = choice.wanted;
  const int64_t row_length = role.dims[0];
  if (fits(choice.type, row_length)) return choice;

  if (choice.type == TensorType::Q4_K || choice.type == TensorType::Q6_K) {
    choice.type = TensorType::Q8_0;
  }
  if (!fits(choice.type, row_length)) choice.type = TensorType::F16;
  choice.note = fmt::format("{}: row length {} is not a multiple of {} ({}); using {}", role.name,
                            row_length, traits(choice.wanted).block_size,
                            tensor_type_name(choice.wanted), tensor_type_name(choice.type));
  return choice;
}

}  // namespace tokamak
