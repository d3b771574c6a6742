// tokamak-cli info MODEL [--json]: what the file holds and what running it
// would take, without loading the weights.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "commands.h"
#include "gguf/gguf_file.h"
#include "model/model_info.h"

namespace tokamak::cli {
namespace {

struct InfoOptions {
  std::string path;
  bool json = false;
  int64_t context = 0;  // 0: the model's context length
};

std::string human_bytes(uint64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024.0 && u < 4) v /= 1024.0, ++u;
  return u == 0 ? fmt::format("{} B", b) : fmt::format("{:.2f} {}", v, units[u]);
}

std::string human_count(int64_t n) {
  if (n >= 1000000000) return fmt::format("{:.2f} B", n / 1e9);
  if (n >= 1000000) return fmt::format("{:.2f} M", n / 1e6);
  if (n >= 1000) return fmt::format("{:.2f} K", n / 1e3);
  return std::to_string(n);
}

nlohmann::ordered_json to_json(const ModelInfo& info, int64_t context) {
  nlohmann::ordered_json j;
  j["path"] = info.path;
  j["file_size_bytes"] = info.file_size_bytes;
  j["gguf_version"] = info.gguf_version;
  j["architecture"] = info.arch_name;
  j["architecture_supported"] = info.architecture_supported;
  j["name"] = info.name;
  j["num_params"] = info.num_params;
  j["tensor_types"] = nlohmann::ordered_json::object();
  for (const auto& [type, count] : info.type_counts) {
    j["tensor_types"][type] = {{"num_tensors", count}, {"num_params", info.type_params.at(type)}};
  }
  j["unsupported_types"] = info.unsupported_types;
  j["tokenizer_model"] = info.tokenizer_model;
  j["vocab_size"] = info.vocab_size;
  j["context_length"] = info.context_length;
  j["has_chat_template"] = info.has_chat_template;
  j["weights_bytes"] = info.weights_bytes;
  if (info.architecture_supported) {
    const ModelSpec& s = info.spec;
    j["num_layers"] = s.num_layers;
    j["dim"] = s.dim;
    j["hidden_dim"] = s.hidden_dim;
    j["num_heads"] = s.num_heads;
    j["num_kv_heads"] = s.num_kv_heads;
    j["head_dim"] = s.head_dim;
    j["rope_theta"] = s.rope.theta;
  }
  j["kv_context"] = context;
  j["kv_cache_bytes_f32"] = info.kv_cache_bytes(context, 4);
  j["kv_cache_bytes_f16"] = info.kv_cache_bytes(context, 2);
  return j;
}

void print_text(const ModelInfo& info, int64_t context) {
  fmt::print("file:          {} ({}, GGUF v{})\n", info.path, human_bytes(info.file_size_bytes),
             info.gguf_version);
  if (!info.name.empty()) fmt::print("name:          {}\n", info.name);
  fmt::print("architecture:  {}{}\n", info.arch_name.empty() ? "(none)" : info.arch_name,
             info.architecture_supported ? "" : " (not supported by this engine)");
  fmt::print("parameters:    {} ({})\n", human_count(info.num_params), info.num_params);
  std::string mix;
  for (const auto& [type, count] : info.type_counts) {
    const double share = info.num_params ? 100.0 * info.type_params.at(type) / info.num_params : 0;
    mix += fmt::format("{}{} x{} ({:.1f}% of params)", mix.empty() ? "" : ", ", type, count, share);
  }
  fmt::print("tensor types:  {}\n", mix);
  if (!info.unsupported_types.empty()) {
    fmt::print("unsupported:   {} (this engine cannot run these types)\n", info.unsupported_types);
  }
  if (info.architecture_supported) {
    const ModelSpec& s = info.spec;
    fmt::print("shape:         {} layers, dim {}, ffn {}, {} heads ({} kv), head dim {}\n",
               s.num_layers, s.dim, s.hidden_dim, s.num_heads, s.num_kv_heads, s.head_dim);
  }
  fmt::print("vocabulary:    {} tokens ({})\n", info.vocab_size,
             info.tokenizer_model.empty() ? "no tokenizer" : info.tokenizer_model);
  fmt::print("context:       {} tokens\n", info.context_length);
  fmt::print("chat template: {}\n", info.has_chat_template ? "yes" : "no");
  fmt::print("memory:        weights {}; KV cache at {} tokens: {} (f32, CPU), {} (f16)\n",
             human_bytes(info.weights_bytes), context, human_bytes(info.kv_cache_bytes(context, 4)),
             human_bytes(info.kv_cache_bytes(context, 2)));
}

void run_info(const InfoOptions& o) {
  auto file = take(gguf::File::open(resolve_model_spec(o.path)));
  const ModelInfo info = take(ModelInfo::describe(*file));
  const int64_t context = o.context > 0 ? o.context : info.context_length;
  if (o.json) {
    fmt::print(
        "{}\n",
        to_json(info, context).dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
  } else {
    print_text(info, context);
  }
}

}  // namespace

void add_info_command(CLI::App& app) {
  auto o = std::make_shared<InfoOptions>();
  CLI::App* cmd = app.add_subcommand("info", "Describe a GGUF model file");
  cmd->add_option("MODEL", o->path, kModelHelp)->required();
  cmd->add_flag("--json", o->json, "print one JSON object");
  cmd->add_option("-c,--ctx-size", o->context, "context length for the KV estimate");
  cmd->callback([o] { run_info(*o); });
}

}  // namespace tokamak::cli
