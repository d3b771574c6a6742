// End to end on a hand-made llama2.c checkpoint with what aidreams260K does
// not have: grouped-query attention (4 heads, 2 kv heads) and its own
// classifier (negative vocab_size). Every weight holds a code naming its
// tensor and position, so each GGUF tensor must be exactly its region of the
// checkpoint, laid out here independently in run.c's order.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "convert/convert.h"
#include "gguf/gguf_file.h"
#include "scratch_dir.h"

namespace tokamak {
namespace {

namespace fs = std::filesystem;

TEST(Llama2cConvert, GqaAndOwnClassifierLandInTheRightTensors) {
  const int32_t dim = 32, hidden = 64, layers = 2, heads = 4, kv_heads = 2, vocab = 512, seq = 8;
  const int32_t kv_dim = dim / heads * kv_heads, head = dim / heads;
  struct Region {
    std::string name;  // GGUF name, "" for freq_cis
    int64_t count;
  };
  std::vector<Region> regions;  // run.c's order: every layer's wq, then every wk, ...
  auto per_layer = [&](const std::string& suffix, int64_t count) {
    for (int l = 0; l < layers; ++l)
      regions.push_back({"blk." + std::to_string(l) + "." + suffix, count});
  };
  regions.push_back({"token_embd.weight", int64_t{vocab} * dim});
  per_layer("attn_norm.weight", dim);
  per_layer("attn_q.weight", int64_t{dim} * dim);
  per_layer("attn_k.weight", int64_t{kv_dim} * dim);
  per_layer("attn_v.weight", int64_t{kv_dim} * dim);
  per_layer("attn_output.weight", int64_t{dim} * dim);
  per_layer("ffn_norm.weight", dim);
  per_layer("ffn_gate.weight", int64_t{hidden} * dim);
  per_layer("ffn_down.weight", int64_t{dim} * hidden);
  per_layer("ffn_up.weight", int64_t{hidden} * dim);
  regions.push_back({"output_norm.weight", dim});
  regions.push_back({"", int64_t{seq} * head});  // freq_cis real + imag
  regions.push_back({"output.weight", int64_t{vocab} * dim});

  // Value j of region r: r + j / 2^18, exact in f32 (r < 32, j < 2^14).
  const std::string dir = ::tokamak::test::scratch_dir("llama2c_gqa");
  fs::create_directories(dir);
  const std::string ckpt = dir + "/gqa.bin";
  {
    std::ofstream out(ckpt, std::ios::binary);
    const int32_t header[7] = {dim, hidden, layers, heads, kv_heads, -vocab, seq};
    out.write(reinterpret_cast<const char*>(header), sizeof(header));
    for (size_t r = 0; r < regions.size(); ++r) {
      for (int64_t j = 0; j < regions[r].count; ++j) {
        const float v = static_cast<float>(r) + static_cast<float>(j) / (1 << 18);
        out.write(reinterpret_cast<const char*>(&v), 4);
      }
    }
  }
  ConvertOptions o;
  o.input_path = ckpt;
  o.tokenizer_path = std::string(TOKAMAK_SHARED_DATA) + "/models/aidreams260K/tok512.bin";
  o.output_path = dir + "/gqa.gguf";
  o.type_mix = "f32";
  auto report = convert_model(o);  // a file: the llama2.c converter
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->source_format, "llama2c");

  auto file = gguf::File::open(o.output_path);
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_EQ((*file)->get_int("llama.attention.head_count_kv").value(), kv_heads);
  EXPECT_EQ((*file)->tensors().size(), 3u + 9u * layers);
  for (size_t r = 0; r < regions.size(); ++r) {
    if (regions[r].name.empty()) continue;
    SCOPED_TRACE(regions[r].name);
    const gguf::TensorInfo* t = (*file)->find_tensor(regions[r].name);
    ASSERT_NE(t, nullptr);
    ASSERT_EQ(t->num_values(), regions[r].count);
    const float* v = reinterpret_cast<const float*>(t->data);
    int64_t wrong = 0;
    for (int64_t j = 0; j < regions[r].count; ++j)
      wrong += v[j] != static_cast<float>(r) + static_cast<float>(j) / (1 << 18);
    EXPECT_EQ(wrong, 0);
  }
  EXPECT_EQ((*file)->find_tensor("blk.1.attn_k.weight")->dims, (std::vector<int64_t>{dim, kv_dim}));
  EXPECT_EQ((*file)->find_tensor("blk.1.ffn_down.weight")->dims,
            (std::vector<int64_t>{hidden, dim}));
}

}  // namespace
}  // namespace tokamak
