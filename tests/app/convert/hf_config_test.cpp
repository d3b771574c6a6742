// config.json parsing, the tensor plan and the Q/K row permutation.
#include "convert/hf_config.h"

#include <gtest/gtest.h>

#include <numeric>
#include <string>
#include <vector>

#include "convert/hf_tensor_map.h"
#include "convert/model_metadata.h"
#include "model/model_spec.h"

namespace tokamak {
namespace {

const char* kLlama31 = R"({
  "architectures": ["LlamaForCausalLM"], "hidden_size": 4096, "intermediate_size": 14336,
  "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
  "rms_norm_eps": 1e-05, "rope_theta": 500000.0, "max_position_embeddings": 131072,
  "vocab_size": 128256, "tie_word_embeddings": false, "hidden_act": "silu",
  "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009],
  "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                   "original_max_position_embeddings": 8192, "rope_type": "llama3"}})";

TEST(HfConfig, ReadsLlama31) {
  auto c = HfConfig::parse(kLlama31, "config.json");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->hp.arch, "llama");
  EXPECT_TRUE(c->permute_qk);
  EXPECT_FALSE(c->attn_bias);
  EXPECT_EQ(c->hp.dim, 4096);
  EXPECT_EQ(c->hp.kv_dim(), 1024);
  EXPECT_EQ(c->hp.context_length, 131072);
  EXPECT_FLOAT_EQ(c->hp.rope_theta, 500000.0f);
  EXPECT_TRUE(c->hp.llama3_rope);
  EXPECT_EQ(c->hp.original_context, 8192);
  EXPECT_EQ(c->bos_token_id, 128000);
  EXPECT_EQ(c->eos_token_id, 128001);
}

// The rope_freqs values of Llama 3.1 8B as llama.cpp's converter writes them:
// 1 for high frequencies (wavelength < 2048), 8 for low (> 8192), smooth between.
TEST(HfConfig, Llama3RopeFactors) {
  auto c = HfConfig::parse(kLlama31, "config.json");
  const std::vector<float> f = llama3_rope_factors(c->hp);
  ASSERT_EQ(f.size(), 64u);
  EXPECT_EQ(f[0], 1.0f);
  EXPECT_EQ(f[63], 8.0f);
  int smooth = 0;
  for (size_t i = 1; i < f.size(); ++i) {
    EXPECT_GE(f[i], f[i - 1]);
    smooth += f[i] > 1.0f && f[i] < 8.0f;
  }
  EXPECT_GT(smooth, 0);
}

// The converter's factors (computed as llama.cpp's converter does, in float32
// like torch) agree with the engine's own llama3_freq_factors (double).
TEST(HfConfig, Llama3RopeFactorsAgreeWithTheEngine) {
  auto c = HfConfig::parse(kLlama31, "config.json");
  RopeConfig rope;
  rope.theta = c->hp.rope_theta;
  rope.dim = c->hp.effective_head_dim();
  rope.scaling = RopeScaling::Llama3;
  rope.factor = c->hp.rope_factor;
  rope.low_freq_factor = c->hp.low_freq_factor;
  rope.high_freq_factor = c->hp.high_freq_factor;
  rope.original_context = c->hp.original_context;
  const std::vector<float> engine = llama3_freq_factors(rope);
  const std::vector<float> ours = llama3_rope_factors(c->hp);
  ASSERT_EQ(engine.size(), ours.size());
  for (size_t i = 0; i < ours.size(); ++i) EXPECT_NEAR(ours[i], engine[i], 1e-4 * engine[i]) << i;
}

// transformers 5 writes theta and scaling under "rope_parameters".
TEST(HfConfig, ReadsTransformers5RopeParameters) {
  auto c = HfConfig::parse(R"({
    "architectures": ["LlamaForCausalLM"], "hidden_size": 64, "intermediate_size": 128,
    "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
    "vocab_size": 100, "rope_parameters": {"rope_theta": 500000.0, "rope_type": "llama3",
      "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
      "original_max_position_embeddings": 8192}})",
                           "config.json");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_FLOAT_EQ(c->hp.rope_theta, 500000.0f);
  EXPECT_TRUE(c->hp.llama3_rope);
  EXPECT_FLOAT_EQ(c->hp.rope_factor, 32.0f);

  auto q = HfConfig::parse(R"({
    "architectures": ["Qwen2ForCausalLM"], "hidden_size": 64, "intermediate_size": 128,
    "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
    "vocab_size": 100, "rope_parameters": {"rope_theta": 1000000.0, "rope_type": "default"}})",
                           "config.json");
  ASSERT_TRUE(q.ok()) << q.error().message;
  EXPECT_FLOAT_EQ(q->hp.rope_theta, 1000000.0f);
  EXPECT_FALSE(q->hp.llama3_rope);
}

TEST(HfConfig, LinearRopeScalingBecomesGgufKeys) {
  auto c = HfConfig::parse(R"({
    "architectures": ["LlamaForCausalLM"], "hidden_size": 64, "intermediate_size": 128,
    "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 100,
    "rope_scaling": {"rope_type": "linear", "factor": 4.0}})",
                           "config.json");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_FLOAT_EQ(c->hp.linear_rope_factor, 4.0f);
  EXPECT_FALSE(c->hp.llama3_rope);
}

TEST(HfConfig, Qwen2HasBiasesAndNoPermutation) {
  auto c = HfConfig::parse(R"({"architectures": ["Qwen2ForCausalLM"], "hidden_size": 896,
      "intermediate_size": 4864, "num_hidden_layers": 24, "num_attention_heads": 14,
      "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
      "max_position_embeddings": 32768, "vocab_size": 151936, "tie_word_embeddings": true,
      "sliding_window": 32768, "use_sliding_window": false})",
                           "config.json");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->hp.arch, "qwen2");
  EXPECT_FALSE(c->permute_qk);
  EXPECT_TRUE(c->attn_bias);
  EXPECT_TRUE(c->tied_embeddings);
  EXPECT_TRUE(c->notes.empty());
  const auto plan = plan_hf_tensors(*c);
  EXPECT_EQ(plan.size(), 2u + 24u * 12u);  // no output.weight; 9 weights + 3 biases per layer
  for (const auto& p : plan) EXPECT_EQ(p.permute_head_dim, 0) << p.gguf_name;
}

TEST(HfConfig, RefusesWhatWeCannotConvert) {
  auto c = HfConfig::parse(R"({"architectures": ["GemmaForCausalLM"]})", "x/config.json");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, ErrorCode::Unsupported);
  EXPECT_NE(c.error().message.find("GemmaForCausalLM"), std::string::npos);

  c = HfConfig::parse(R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 64})",
                      "x/config.json");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("intermediate_size"), std::string::npos) << c.error().message;

  c = HfConfig::parse(R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 64,
      "intermediate_size": 128, "num_hidden_layers": 1, "num_attention_heads": 4,
      "num_key_value_heads": 3, "vocab_size": 10})",
                      "x/config.json");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("num_kv_heads 3"), std::string::npos) << c.error().message;

  // Values of the wrong JSON type fail cleanly, never as an exception.
  c = HfConfig::parse(R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 64,
      "intermediate_size": 128, "num_hidden_layers": 1, "num_attention_heads": 4,
      "vocab_size": 10, "tie_word_embeddings": "yes"})",
                      "x/config.json");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, ErrorCode::BadFormat);
  EXPECT_NE(c.error().message.find("x/config.json"), std::string::npos);
  c = HfConfig::parse(R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 64,
      "intermediate_size": 128, "num_hidden_layers": 1, "num_attention_heads": 4,
      "vocab_size": 10, "rope_scaling": {"rope_type": 3}})",
                      "x/config.json");
  ASSERT_FALSE(c.ok());

  c = HfConfig::parse("[1, 2]", "x/config.json");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, ErrorCode::BadFormat);
}

// HF pairs (i, i + hd/2) of a head become GGUF's adjacent pairs (2i, 2i+1):
// GGUF row h*hd + 2i + j comes from HF row h*hd + j*hd/2 + i.
TEST(HfTensorMap, PermutationOfQKRows) {
  std::vector<int64_t> rows;
  for (int64_t r = 0; r < 8; ++r) rows.push_back(permuted_source_row(r, 4));
  EXPECT_EQ(rows, (std::vector<int64_t>{0, 2, 1, 3, 4, 6, 5, 7}));
  rows.clear();
  for (int64_t r = 0; r < 8; ++r) rows.push_back(permuted_source_row(r, 8));
  EXPECT_EQ(rows, (std::vector<int64_t>{0, 4, 1, 5, 2, 6, 3, 7}));
  // A permutation: every source row used once.
  std::vector<int> seen(128, 0);
  for (int64_t r = 0; r < 128; ++r) ++seen[permuted_source_row(r, 64)];
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), 128);
}

TEST(HfTensorMap, LlamaPlanNamesAndShapes) {
  auto c = HfConfig::parse(kLlama31, "config.json");
  const auto plan = plan_hf_tensors(*c);
  EXPECT_EQ(plan.size(), 3u + 32u * 9u);
  EXPECT_EQ(plan[0].gguf_name, "token_embd.weight");
  EXPECT_EQ(plan[0].dims, (std::vector<int64_t>{4096, 128256}));
  EXPECT_EQ(plan[2].hf_name, "lm_head.weight");
  for (const auto& p : plan) {
    if (p.gguf_name == "blk.5.attn_k.weight") {
      EXPECT_EQ(p.hf_name, "model.layers.5.self_attn.k_proj.weight");
      EXPECT_EQ(p.dims, (std::vector<int64_t>{4096, 1024}));
      EXPECT_EQ(p.permute_head_dim, 128);
    }
    if (p.gguf_name == "blk.5.attn_v.weight") {
      EXPECT_EQ(p.permute_head_dim, 0);
    }
    if (p.gguf_name == "blk.5.ffn_down.weight") {
      EXPECT_EQ(p.hf_name, "model.layers.5.mlp.down_proj.weight");
      EXPECT_EQ(p.dims, (std::vector<int64_t>{14336, 4096}));
    }
  }
  EXPECT_TRUE(is_ignored_hf_tensor("model.layers.0.self_attn.rotary_emb.inv_freq"));
  EXPECT_FALSE(is_ignored_hf_tensor("model.layers.0.self_attn.q_proj.weight"));
}

}  // namespace
}  // namespace tokamak
