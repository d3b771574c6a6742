#include "cli_common.h"

#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "device/device_choice.h"
#include "synth/synth.h"

namespace tokamak::cli {

void fail(const std::string& message) { throw CliError(message); }

void check_model_path(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) fail(fmt::format("{}: no such file", path));
  if (fs::is_directory(st)) fail(fmt::format("{}: is a directory, expected a .gguf file", path));
  if (!fs::is_regular_file(st)) fail(fmt::format("{}: not a regular file", path));
  const auto size = fs::file_size(path, ec);
  if (ec) fail(fmt::format("{}: cannot read the file size: {}", path, ec.message()));
  if (size == 0) fail(fmt::format("{}: the file is empty, expected a GGUF model", path));
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(fmt::format("{}: cannot open the file for reading", path));
}

std::string default_cache_dir() {
  if (const char* d = std::getenv("TOKAMAK_CACHE_DIR"); d && *d) return d;
  if (const char* d = std::getenv("XDG_CACHE_HOME"); d && *d) return std::string(d) + "/tokamak";
  if (const char* d = std::getenv("HOME"); d && *d) return std::string(d) + "/.cache/tokamak";
  return "/tmp/tokamak-cache";
}

std::string resolve_model_spec(const std::string& spec, const std::string& cache_dir_option) {
  const std::string cache_dir = cache_dir_option.empty() ? default_cache_dir() : cache_dir_option;
  if (spec == "demo") {
    const std::string dir = cache_dir + "/models";
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) fail(fmt::format("{}: cannot create the cache folder: {}", dir, ec.message()));
    return take(ensure_demo_model(dir));
  }
  if (spec.rfind("synth:", 0) != 0) {
    check_model_path(spec);
    return spec;
  }
  std::string rest = spec.substr(6);
  std::string preset = rest, mix = "q8_0";
  if (const size_t colon = rest.find(':'); colon != std::string::npos) {
    preset = rest.substr(0, colon);
    mix = rest.substr(colon + 1);
  }
  if (!find_synth_preset(preset)) {
    fail(fmt::format("{}: unknown synth preset '{}' (tokamak-cli synth --list shows them)", spec,
                     preset));
  }
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(cache_dir) / "synth";
  const fs::path path = dir / fmt::format("{}-{}.gguf", preset, mix);
  if (fs::exists(path)) return path.string();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail(fmt::format("{}: cannot create the cache folder: {}", dir.string(), ec.message()));
  fmt::print(stderr, "generating {} into {} (once)\n", spec, path.string());
  SynthOptions so;
  so.preset = preset;
  so.type_mix = mix;
  so.output_path = path.string();
  take(synthesize(so));
  return path.string();
}

void add_model_options(CLI::App* cmd, ModelOptions& o) {
  cmd->add_option("MODEL", o.path, kModelHelp)->required();
  const char* device_help = built_with_cuda()
                                ? "cpu, cuda or auto (auto: cuda when a CUDA device is present)"
                                : "cpu, cuda or auto (auto: cpu in this build)";
  cmd->add_option("--device", o.device, device_help)->check(CLI::IsMember({"cpu", "cuda", "auto"}));
  cmd->add_option("-t,--threads", o.threads, "CPU threads (default: all)");
  cmd->add_option("-c,--ctx-size", o.context,
                  "context positions to reserve KV for (default: min(model, 4096))");
}

void write_text_file(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  if (!f) fail(fmt::format("{}: cannot open for writing", path));
  f << text;
  if (!f) fail(fmt::format("{}: write failed", path));
}

LoadedModel load_model(const ModelOptions& o) {
  const DeviceDecision device = decide_device(o.device);
  if (!device.as_asked)
    fail(fmt::format("--device cuda: no CUDA backend: {} (use --device cpu or auto)",
                     device.cuda_problem));
  LoadedModel m;
  m.model = take(Model::load(resolve_model_spec(o.path)));
  BackendSizes sizes;
  sizes.num_threads = o.threads;
  const int32_t model_ctx = m.model->spec().context_length;
  if (o.context > 0) {
    if (model_ctx > 0 && o.context > model_ctx) {
      fail(fmt::format("--ctx-size {} exceeds the model's context length of {}", o.context,
                       model_ctx));
    }
    const int32_t block_size = KvCacheConfig{}.block_size;
    sizes.num_kv_blocks = (o.context + block_size - 1) / block_size;
  }
  if (o.kv_num_blocks > 0) sizes.num_kv_blocks = o.kv_num_blocks;
  sizes.max_step_tokens = o.max_step_tokens;
  m.backend = take(make_backend(device, m.model, sizes));
  const KvCacheConfig& kv = m.backend->kv_config();
  m.context = kv.num_blocks * kv.block_size;
  if (o.context > 0) m.context = std::min(m.context, o.context);
  if (model_ctx > 0) m.context = std::min(m.context, model_ctx);
  return m;
}

void add_sampling_options(CLI::App* cmd, SamplingOptions& o) {
  SamplingParams& p = o.params;
  cmd->add_option("--temp", p.temperature, "temperature; 0 = greedy")->capture_default_str();
  cmd->add_option("--top-k", p.top_k, "top-k (0 = off)")->capture_default_str();
  cmd->add_option("--top-p", p.top_p, "top-p (1 = off)")->capture_default_str();
  cmd->add_option("--min-p", p.min_p, "min-p (0 = off)")->capture_default_str();
  cmd->add_option("--repeat-penalty", p.repeat_penalty, "repeat penalty (1 = off)")
      ->capture_default_str();
  cmd->add_option("--repeat-last-n", p.repeat_last_n, "tokens the penalties look at (-1 = all)")
      ->capture_default_str();
  cmd->add_option("--frequency-penalty", p.frequency_penalty, "frequency penalty")
      ->capture_default_str();
  cmd->add_option("--presence-penalty", p.presence_penalty, "presence penalty")
      ->capture_default_str();
  cmd->add_option("--seed", o.seed, "random seed (default: random)");
  cmd->add_option("--stop", o.stop, "stop string (repeatable)");
}

SamplingParams resolve_sampling(const SamplingOptions& o) {
  SamplingParams p = o.params;
  if (o.seed >= 0) {
    p.seed = static_cast<uint64_t>(o.seed);
  } else {
    std::random_device rd;
    p.seed = (static_cast<uint64_t>(rd()) << 32) | rd();
  }
  if (std::string bad = p.validate(); !bad.empty()) fail(bad);
  return p;
}

void write_out(const std::string& text) {
  if (text.empty()) return;
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

}  // namespace tokamak::cli
