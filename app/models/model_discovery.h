// Model discovery: GGUF files that other local tools have already downloaded,
// so the Models page can offer them without copying anything.
//
//   LM Studio    ~/.lmstudio/models/**.gguf, ~/.cache/lm-studio/models/**.gguf
//   Ollama       ~/.ollama/models/manifests/<host>/<namespace>/<model>/<tag>
//                (JSON; the layer of mediaType application/vnd.ollama.image.model
//                names blobs/sha256-<hex>, a GGUF without an extension)
//   GPT4All      ~/.local/share/nomic.ai/GPT4All/*.gguf
//   Hugging Face ~/.cache/huggingface/hub/models--<org>--<name>/snapshots/<rev>/**.gguf
//   user folders <folder>/**.gguf
// Only files that start with the GGUF magic are listed; one file reached by
// two routes (a symlink, two tags of one blob) is listed once, first route wins.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tokamak {

struct DiscoveredModel {
  std::string path;  // the GGUF file (for Ollama, the blob)
  std::string
      display_name;  // "llama3.2:3b", "TheBloke/Mistral-7B-GGUF/mistral.Q4_K_M.gguf", the file name
  std::string source;  // "lmstudio" | "ollama" | "gpt4all" | "huggingface" | "folder"
  int64_t size_bytes = 0;
};

struct DiscoveryOptions {
  std::string home;  // "" : $HOME
  std::vector<std::string> extra_folders;
  int32_t max_depth = 6;  // folder levels searched below each root
};

// Never fails: missing or unreadable folders and bad manifests are skipped.
std::vector<DiscoveredModel> discover_models(const DiscoveryOptions& options = {});

// True when the file starts with "GGUF".
bool has_gguf_magic(const std::string& path);

}  // namespace tokamak
