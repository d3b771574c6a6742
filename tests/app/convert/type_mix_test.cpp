// Type mixes: names, llama.cpp's Q4_K_M recipe, row-length fallbacks.
#include "convert/type_mix.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace tokamak {
namespace {

TensorRole role(const std::string& name, std::vector<int64_t> dims, int32_t num_layers = 32,
                bool tied = false) {
  static std::set<std::string> names;  // keep the string_view valid
  TensorRole r;
  r.name = *names.insert(name).first;
  r.dims = std::move(dims);
  r.layer = layer_of_tensor(r.name);
  r.num_layers = num_layers;
  r.tied_embeddings = tied;
  return r;
}

TEST(TypeMix, ParsesEveryNameCaseInsensitively) {
  const std::pair<const char*, TensorType> cases[] = {
      {"f32", TensorType::F32},     {"F16", TensorType::F16},   {"bf16", TensorType::BF16},
      {"Q8_0", TensorType::Q8_0},   {"q4_0", TensorType::Q4_0}, {"q4_k", TensorType::Q4_K},
      {"Q4_K_M", TensorType::Q4_K}, {"q6_K", TensorType::Q6_K}};
  for (const auto& [name, type] : cases) {
    auto mix = TypeMix::parse(name);
    ASSERT_TRUE(mix.ok()) << name;
    EXPECT_EQ(mix->base_type(), type) << name;
  }
  EXPECT_TRUE(TypeMix::parse("q4_k_m")->is_q4_k_m());
  EXPECT_FALSE(TypeMix::parse("q4_k")->is_q4_k_m());
  EXPECT_EQ(TypeMix::parse("Q4_K_M")->name(), "q4_k_m");
  EXPECT_EQ(TypeMix::names().size(), 8u);
}

TEST(TypeMix, UnknownNameListsTheValidOnes) {
  auto mix = TypeMix::parse("q5_k_m");
  ASSERT_FALSE(mix.ok());
  EXPECT_EQ(mix.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(mix.error().message.find("q5_k_m"), std::string::npos);
  EXPECT_NE(mix.error().message.find("f32, f16, bf16, q8_0, q4_0, q4_k, q4_k_m, q6_k"),
            std::string::npos)
      << mix.error().message;
}

TEST(TypeMix, FileTypesAreLlamaCppFtypes) {
  EXPECT_EQ(TypeMix::parse("f32")->file_type(), 0u);
  EXPECT_EQ(TypeMix::parse("f16")->file_type(), 1u);
  EXPECT_EQ(TypeMix::parse("q4_0")->file_type(), 2u);
  EXPECT_EQ(TypeMix::parse("q8_0")->file_type(), 7u);
  EXPECT_EQ(TypeMix::parse("q4_k")->file_type(), 14u);
  EXPECT_EQ(TypeMix::parse("q4_k_m")->file_type(), 15u);
  EXPECT_EQ(TypeMix::parse("q6_k")->file_type(), 18u);
  EXPECT_EQ(TypeMix::parse("bf16")->file_type(), 32u);
}

TEST(TypeMix, VectorsStayF32InEveryMix) {
  for (const auto& name : TypeMix::names()) {
    auto mix = TypeMix::parse(name);
    for (const char* t : {"blk.0.attn_norm.weight", "output_norm.weight", "blk.3.attn_q.bias",
                          "rope_freqs.weight"}) {
      EXPECT_EQ(mix->choose(role(t, {4096})).type, TensorType::F32) << name << " " << t;
    }
  }
}

TEST(TypeMix, PureMixesUseOneTypeForEveryMatrix) {
  auto mix = TypeMix::parse("q4_k");
  EXPECT_EQ(mix->choose(role("output.weight", {4096, 32000})).type, TensorType::Q4_K);
  EXPECT_EQ(mix->choose(role("blk.0.attn_v.weight", {4096, 4096})).type, TensorType::Q4_K);
  EXPECT_EQ(TypeMix::parse("bf16")->choose(role("token_embd.weight", {4096, 32000})).type,
            TensorType::BF16);
}

// llama.cpp's use_more_bits for 32 layers: the first and last 4, and every
// third layer between (i - 4) % 3 == 2: 16 layers in all.
TEST(TypeMix, Q4KMGivesQ6KToHalfTheAttnVAndFfnDownLayers) {
  const std::set<int> more = {0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31};
  auto mix = TypeMix::parse("q4_k_m");
  for (int l = 0; l < 32; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    const TensorType want = more.count(l) ? TensorType::Q6_K : TensorType::Q4_K;
    EXPECT_EQ(use_more_bits(l, 32), more.count(l) == 1) << l;
    EXPECT_EQ(mix->choose(role(b + "attn_v.weight", {4096, 1024})).type, want) << l;
    EXPECT_EQ(mix->choose(role(b + "ffn_down.weight", {14336, 4096})).type, want) << l;
    EXPECT_EQ(mix->choose(role(b + "attn_q.weight", {4096, 4096})).type, TensorType::Q4_K);
    EXPECT_EQ(mix->choose(role(b + "attn_k.weight", {4096, 1024})).type, TensorType::Q4_K);
    EXPECT_EQ(mix->choose(role(b + "attn_output.weight", {4096, 4096})).type, TensorType::Q4_K);
    EXPECT_EQ(mix->choose(role(b + "ffn_gate.weight", {4096, 14336})).type, TensorType::Q4_K);
    EXPECT_EQ(mix->choose(role(b + "ffn_up.weight", {4096, 14336})).type, TensorType::Q4_K);
  }
  EXPECT_EQ(mix->choose(role("output.weight", {4096, 32000})).type, TensorType::Q6_K);
  EXPECT_EQ(mix->choose(role("token_embd.weight", {4096, 32000})).type, TensorType::Q4_K);
  // Tied: the embeddings are the classifier and get the classifier's type.
  EXPECT_EQ(mix->choose(role("token_embd.weight", {4096, 32000}, 32, true)).type, TensorType::Q6_K);
}

TEST(TypeMix, RowsThatDoNotFitFallBackAndSaySo) {
  // Qwen2.5 0.5B: rows of 896 are no multiple of 256 but are of 32.
  auto q4km = TypeMix::parse("q4_k_m");
  TypeChoice c = q4km->choose(role("blk.0.attn_q.weight", {896, 896}, 24));
  EXPECT_EQ(c.wanted, TensorType::Q4_K);
  EXPECT_EQ(c.type, TensorType::Q8_0);
  EXPECT_TRUE(c.fell_back());
  EXPECT_EQ(c.note,
            "blk.0.attn_q.weight: row length 896 is not a multiple of 256 (Q4_K); using Q8_0");
  // ffn_down rows of 4864 = 19 x 256 fit.
  c = q4km->choose(role("blk.0.ffn_down.weight", {4864, 896}, 24));
  EXPECT_EQ(c.type, TensorType::Q6_K);
  EXPECT_TRUE(c.note.empty());
  // Not even a multiple of 32: F16.
  c = TypeMix::parse("q6_k")->choose(role("blk.1.ffn_down.weight", {172, 64}, 4));
  EXPECT_EQ(c.type, TensorType::F16);
  EXPECT_NE(c.note.find("using F16"), std::string::npos);
  c = TypeMix::parse("q4_0")->choose(role("blk.1.ffn_down.weight", {172, 64}, 4));
  EXPECT_EQ(c.type, TensorType::F16);
  c = TypeMix::parse("f16")->choose(role("blk.1.ffn_down.weight", {172, 64}, 4));
  EXPECT_EQ(c.type, TensorType::F16);
  EXPECT_FALSE(c.fell_back());
}

TEST(TypeMix, LayerOfTensor) {
  EXPECT_EQ(layer_of_tensor("blk.0.attn_q.weight"), 0);
  EXPECT_EQ(layer_of_tensor("blk.31.ffn_down.weight"), 31);
  EXPECT_EQ(layer_of_tensor("token_embd.weight"), -1);
  EXPECT_EQ(layer_of_tensor("blk.x.attn_q.weight"), -1);
  EXPECT_EQ(layer_of_tensor("blk.7"), -1);
}

}  // namespace
}  // namespace tokamak
