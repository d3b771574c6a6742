#include "models/model_discovery.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

namespace tokamak {
namespace fs = std::filesystem;
namespace {

class Collector {
 public:
  explicit Collector(std::vector<DiscoveredModel>& out) : out_(out) {}

  void add(const fs::path& file, std::string name, const std::string& source) {
    std::error_code ec;
    const fs::path canonical = fs::canonical(file, ec);
    if (ec || !fs::is_regular_file(canonical, ec) || !has_gguf_magic(canonical.string())) return;
    if (!seen_.insert(canonical.string()).second) return;
    const auto size = fs::file_size(canonical, ec);
    out_.push_back({file.string(), std::move(name), source, ec ? 0 : static_cast<int64_t>(size)});
  }

  // Every *.gguf below `root` (symlinks followed), named relative to `root`.
  // `prefix` goes before the relative name ("org/name" for the HF cache).
  void scan(const fs::path& root, const std::string& source, int32_t max_depth,
            const std::string& prefix = "") {
    std::error_code ec;
    if (!fs::is_directory(root, ec)) return;
    auto it = fs::recursive_directory_iterator(root,
                                               fs::directory_options::follow_directory_symlink |
                                                   fs::directory_options::skip_permission_denied,
                                               ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it.depth() >= max_depth) it.disable_recursion_pending();
      const fs::path& p = it->path();
      if (p.extension() != ".gguf" && p.extension() != ".GGUF") continue;
      const std::string rel = p.lexically_relative(root).string();
      add(p, prefix.empty() ? rel : prefix + "/" + rel, source);
    }
  }

 private:
  std::vector<DiscoveredModel>& out_;
  std::set<std::string> seen_;
};

// manifests/<host>/<namespace>/<model>/<tag> -> "model:tag" for the default
// registry's library, else "host/namespace/model:tag" less the default host.
std::string ollama_name(const fs::path& manifests, const fs::path& file) {
  std::vector<std::string> parts;
  for (const auto& part : file.lexically_relative(manifests)) parts.push_back(part.string());
  if (parts.size() != 4) return file.filename().string();
  const std::string model_tag = parts[2] + ":" + parts[3];
  if (parts[0] == "registry.ollama.ai") {
    return parts[1] == "library" ? model_tag : parts[1] + "/" + model_tag;
  }
  return parts[0] + "/" + parts[1] + "/" + model_tag;
}

void scan_ollama(Collector& c, const fs::path& models) {
  const fs::path manifests = models / "manifests";
  std::error_code ec;
  if (!fs::is_directory(manifests, ec)) return;
  auto it = fs::recursive_directory_iterator(manifests,
                                             fs::directory_options::skip_permission_denied, ec);
  std::vector<fs::path> files;  // sorted: the same blob is named after its first tag
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it.depth() <= 4 && it->is_regular_file()) files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  for (const fs::path& file : files) {
    std::ifstream in(file);
    const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
    if (!j.is_object() || !j.contains("layers") || !j["layers"].is_array()) continue;
    for (const auto& layer : j["layers"]) {
      if (!layer.is_object() ||
          layer.value("mediaType", "") != "application/vnd.ollama.image.model") {
        continue;
      }
      std::string digest = layer.value("digest", "");
      const size_t colon = digest.find(':');
      if (colon == std::string::npos) continue;
      digest[colon] = '-';  // blobs are named sha256-<hex>
      c.add(models / "blobs" / digest, ollama_name(manifests, file), "ollama");
    }
  }
}

// models--<org>--<name>/snapshots/<rev>/... -> "<org>/<name>/<file>".
void scan_huggingface(Collector& c, const fs::path& hub, int32_t max_depth) {
  std::error_code ec;
  if (!fs::is_directory(hub, ec)) return;
  for (const auto& repo : fs::directory_iterator(hub, ec)) {
    const std::string dir = repo.path().filename().string();
    if (dir.rfind("models--", 0) != 0) continue;
    std::string name = dir.substr(8);
    if (const size_t sep = name.find("--"); sep != std::string::npos) name.replace(sep, 2, "/");
    std::error_code ec2;
    for (const auto& rev : fs::directory_iterator(repo.path() / "snapshots", ec2)) {
      c.scan(rev.path(), "huggingface", max_depth, name);
    }
  }
}

}  // namespace

bool has_gguf_magic(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, 4) && std::string_view(magic, 4) == "GGUF";
}

std::vector<DiscoveredModel> discover_models(const DiscoveryOptions& options) {
  std::string home = options.home;
  if (home.empty()) {
    const char* h = std::getenv("HOME");
    home = h ? h : "";
  }
  std::vector<DiscoveredModel> out;
  Collector c(out);
  if (!home.empty()) {
    const fs::path h(home);
    c.scan(h / ".lmstudio" / "models", "lmstudio", options.max_depth);
    c.scan(h / ".cache" / "lm-studio" / "models", "lmstudio", options.max_depth);
    scan_ollama(c, h / ".ollama" / "models");
    c.scan(h / ".local" / "share" / "nomic.ai" / "GPT4All", "gpt4all", 1);
    scan_huggingface(c, h / ".cache" / "huggingface" / "hub", options.max_depth);
  }
  for (const std::string& folder : options.extra_folders)
    c.scan(folder, "folder", options.max_depth);
  return out;
}

}  // namespace tokamak
