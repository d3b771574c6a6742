// Model discovery over fake home folders laid out as LM Studio, Ollama,
// GPT4All and the Hugging Face cache lay them out (files start with the GGUF
// magic; discovery reads nothing more), plus the real aidreams260K file.
#include "models/model_discovery.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "aidreams.h"
#include "scratch_dir.h"

namespace tokamak {
namespace {
namespace fs = std::filesystem;

void write(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << bytes;
}
const std::string kGguf = std::string("GGUF\x03\0\0\0", 8) + "rest";

const DiscoveredModel* find(const std::vector<DiscoveredModel>& v, const std::string& name) {
  auto it = std::find_if(v.begin(), v.end(), [&](const auto& m) { return m.display_name == name; });
  return it == v.end() ? nullptr : &*it;
}

TEST(ModelDiscovery, FindsEachToolsLayout) {
  const fs::path home = test::scratch_dir("discovery-home");
  write(home / ".lmstudio/models/lmstudio-community/Qwen-GGUF/qwen.Q4_K_M.gguf", kGguf);
  write(home / ".lmstudio/models/lmstudio-community/Qwen-GGUF/README.md", "not a model");
  write(home / ".cache/lm-studio/models/a/b/old.gguf", kGguf);
  write(home / ".local/share/nomic.ai/GPT4All/orca-mini.gguf", kGguf);
  write(home / ".local/share/nomic.ai/GPT4All/fake.gguf", "NOPE");  // no magic
  // Ollama: a manifest names its model layer by digest.
  const std::string digest = std::string(64, 'a');
  write(home / ".ollama/models/blobs" / ("sha256-" + digest), kGguf);
  write(home / ".ollama/models/blobs" / ("sha256-" + std::string(64, 'b')), "{\"license\":1}");
  write(home / ".ollama/models/manifests/registry.ollama.ai/library/llama3.2/3b",
        R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
            "config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:cc"},
            "layers":[{"mediaType":"application/vnd.ollama.image.model","digest":"sha256:)" +
            digest + R"(","size":12},
                      {"mediaType":"application/vnd.ollama.image.license","digest":"sha256:)" +
            std::string(64, 'b') + R"("}]})");
  // A second tag of the same blob is the same file: listed once.
  write(home / ".ollama/models/manifests/registry.ollama.ai/library/llama3.2/latest",
        R"({"layers":[{"mediaType":"application/vnd.ollama.image.model","digest":"sha256:)" +
            digest + R"("}]})");
  write(home / ".ollama/models/manifests/registry.ollama.ai/library/broken/1", "{not json");
  // Hugging Face: snapshots hold symlinks into blobs.
  const fs::path repo = home / ".cache/huggingface/hub/models--TheBloke--Mistral-7B-GGUF";
  write(repo / "blobs/0123", kGguf);
  fs::create_directories(repo / "snapshots/rev1");
  fs::create_symlink("../../blobs/0123", repo / "snapshots/rev1/mistral.Q2_K.gguf");

  const auto found = discover_models({home.string(), {}});
  ASSERT_EQ(found.size(), 5u);
  const auto* qwen = find(found, "lmstudio-community/Qwen-GGUF/qwen.Q4_K_M.gguf");
  ASSERT_NE(qwen, nullptr);
  EXPECT_EQ(qwen->source, "lmstudio");
  EXPECT_EQ(qwen->size_bytes, static_cast<int64_t>(kGguf.size()));
  ASSERT_NE(find(found, "a/b/old.gguf"), nullptr);
  ASSERT_NE(find(found, "orca-mini.gguf"), nullptr);
  EXPECT_EQ(find(found, "orca-mini.gguf")->source, "gpt4all");
  const auto* llama = find(found, "llama3.2:3b");
  ASSERT_NE(llama, nullptr);
  EXPECT_EQ(llama->source, "ollama");
  EXPECT_EQ(fs::path(llama->path).filename().string(), "sha256-" + digest);
  EXPECT_EQ(find(found, "llama3.2:latest"), nullptr);
  const auto* hf = find(found, "TheBloke/Mistral-7B-GGUF/mistral.Q2_K.gguf");
  ASSERT_NE(hf, nullptr);
  EXPECT_EQ(hf->source, "huggingface");
}

TEST(ModelDiscovery, UserFoldersAndMissingHome) {
  const fs::path home = test::scratch_dir("discovery-empty");
  const auto none = discover_models({(home / "does-not-exist").string(), {}});
  EXPECT_TRUE(none.empty());
  const auto found = discover_models({home.string(), {test::kAidreamsDir}});
  ASSERT_GE(found.size(), 1u);
  const auto* a = find(found, "aidreams260K-llamacpp-f32.gguf");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->source, "folder");
  EXPECT_EQ(a->size_bytes, static_cast<int64_t>(fs::file_size(test::kAidreamsGguf)));
  EXPECT_TRUE(has_gguf_magic(test::kAidreamsGguf));
  EXPECT_FALSE(has_gguf_magic(test::kAidreamsDir + "greedy_from_bos.txt"));
}

}  // namespace
}  // namespace tokamak
