// ModelSpec, ModelWeights, Model and ModelInfo on small GGUF files built in
// memory, and on the real aidreams260K file written by llama.cpp.
#include "model/model.h"

#include <gtest/gtest.h>

#include <string>

#include "engine/model/tiny_gguf.h"
#include "model/model_info.h"

namespace tokamak {
namespace {

using testing::TinyConfig;

// Spec + bind of a tiny file built from `c` after `edit` changed its writer.
Result<ModelSpec> spec_of(const TinyConfig& c,
                          const std::function<void(gguf::Writer&)>& edit = nullptr) {
  gguf::Writer w = testing::tiny_writer(c);
  if (edit) edit(w);
  TK_ASSIGN(testing::TinyFile f, testing::open_writer(w, "tiny.gguf"));
  TK_ASSIGN(ModelSpec spec, ModelSpec::from_gguf(*f.file));
  TK_TRY(ModelWeights::bind(*f.file, spec));
  return spec;
}

void expect_error(const Result<ModelSpec>& r, ErrorCode code, const std::string& needle) {
  ASSERT_FALSE(r.ok()) << "expected an error containing: " << needle;
  EXPECT_EQ(r.error().code, code) << r.error().message;
  EXPECT_NE(r.error().message.find(needle), std::string::npos) << r.error().message;
}

TEST(ModelSpec, ReadsLlamaMetadata) {
  auto s = spec_of(TinyConfig{});
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->arch, Architecture::Llama);
  EXPECT_EQ(s->arch_name, "llama");
  EXPECT_EQ(s->name, "tiny-llama");
  EXPECT_EQ(s->num_layers, 2);
  EXPECT_EQ(s->dim, 256);
  EXPECT_EQ(s->hidden_dim, 512);
  EXPECT_EQ(s->num_heads, 4);
  EXPECT_EQ(s->num_kv_heads, 2);
  EXPECT_EQ(s->head_dim, 64);
  EXPECT_EQ(s->kv_dim(), 128);
  EXPECT_EQ(s->vocab_size, 64);  // no llama.vocab_size key: token_embd rows
  EXPECT_EQ(s->context_length, 256);
  EXPECT_EQ(s->rope.dim, 64);
  EXPECT_EQ(s->rope_style, RopeStyle::Normal);
  EXPECT_EQ(s->rope.scaling, RopeScaling::None);
  EXPECT_FALSE(s->tied_embeddings);
  EXPECT_FALSE(s->attn_bias);
  EXPECT_EQ(s->kv_bytes_per_token(4), 2 * 2 * 128 * 4);
}

TEST(ModelSpec, Qwen2UsesNeoxRopeAndBiases) {
  TinyConfig c;
  c.arch = "qwen2";
  c.biases = true;
  c.tied = true;
  auto s = spec_of(c);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->arch, Architecture::Qwen2);
  EXPECT_EQ(s->rope_style, RopeStyle::Neox);
  EXPECT_TRUE(s->attn_bias);
  EXPECT_TRUE(s->tied_embeddings);
  c.biases = false;
  expect_error(spec_of(c), ErrorCode::BadFormat, "attn_q.bias");
}

TEST(ModelSpec, DefaultsForOptionalKeys) {
  gguf::Writer w = testing::tiny_writer(TinyConfig{});
  w.remove("llama.attention.head_count_kv");
  w.remove("llama.rope.freq_base");
  w.remove("llama.rope.dimension_count");
  w.set("llama.vocab_size", gguf::Value::u32(64));
  auto f = testing::open_writer(w);
  ASSERT_TRUE(f.ok());
  auto spec = ModelSpec::from_gguf(*f->file);
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  EXPECT_EQ(spec->num_kv_heads, 4);
  EXPECT_EQ(spec->rope.theta, 10000.0f);
  EXPECT_EQ(spec->rope.dim, 64);
  EXPECT_EQ(spec->vocab_size, 64);
}

TEST(ModelSpec, MissingKeyIsNamed) {
  for (const char* key :
       {"llama.block_count", "llama.embedding_length", "llama.feed_forward_length",
        "llama.attention.head_count", "llama.attention.layer_norm_rms_epsilon",
        "llama.context_length", "general.architecture"}) {
    expect_error(spec_of(TinyConfig{}, [&](gguf::Writer& w) { w.remove(key); }),
                 ErrorCode::NotFound, key);
  }
}

TEST(ModelSpec, BadHeadCountsAreNamed) {
  expect_error(
      spec_of(TinyConfig{},
              [](gguf::Writer& w) { w.set("llama.attention.head_count_kv", gguf::Value::u32(3)); }),
      ErrorCode::BadFormat, "llama.attention.head_count_kv");
  expect_error(
      spec_of(TinyConfig{},
              [](gguf::Writer& w) { w.set("llama.attention.head_count", gguf::Value::u32(3)); }),
      ErrorCode::BadFormat, "does not divide llama.embedding_length = 256");
  expect_error(
      spec_of(TinyConfig{},
              [](gguf::Writer& w) { w.set("llama.attention.head_count", gguf::Value::u32(0)); }),
      ErrorCode::BadFormat, "llama.attention.head_count");
  expect_error(
      spec_of(TinyConfig{},
              [](gguf::Writer& w) { w.set("llama.rope.dimension_count", gguf::Value::u32(80)); }),
      ErrorCode::BadFormat, "llama.rope.dimension_count");
}

TEST(ModelSpec, UnsupportedArchitectureIsNamed) {
  TinyConfig c;
  c.arch = "gemma";
  expect_error(spec_of(c), ErrorCode::Unsupported, "\"gemma\"");
}

TEST(ModelSpec, RopeScalingMetadata) {
  auto linear = spec_of(TinyConfig{}, [](gguf::Writer& w) {
    w.set("llama.rope.scaling.type", gguf::Value::string("linear"));
    w.set("llama.rope.scaling.factor", gguf::Value::f32(4.0f));
  });
  ASSERT_TRUE(linear.ok()) << linear.error().message;
  EXPECT_EQ(linear->rope.scaling, RopeScaling::Linear);
  EXPECT_NEAR(linear->rope.inv_freq(0), 0.25f, 1e-7);

  auto llama3 = spec_of(TinyConfig{}, [](gguf::Writer& w) {
    w.set("llama.rope.scaling.factor", gguf::Value::f32(8.0f));
    w.set("llama.rope.scaling.low_freq_factor", gguf::Value::f32(1.0f));
    w.set("llama.rope.scaling.high_freq_factor", gguf::Value::f32(4.0f));
    w.set("llama.rope.scaling.original_context_length", gguf::Value::u32(8192));
  });
  ASSERT_TRUE(llama3.ok()) << llama3.error().message;
  EXPECT_EQ(llama3->rope.scaling, RopeScaling::Llama3);
  ASSERT_EQ(llama3->rope.freq_factors.size(), 32u);
  EXPECT_EQ(llama3->rope.freq_factors.front(), 1.0f);
  EXPECT_EQ(llama3->rope.freq_factors.back(), 8.0f);

  expect_error(spec_of(TinyConfig{},
                       [](gguf::Writer& w) {
                         w.set("llama.rope.scaling.type", gguf::Value::string("yarn"));
                       }),
               ErrorCode::Unsupported, "\"yarn\"");
}

TEST(ModelWeights, UnsupportedTensorTypeIsNamed) {
  TinyConfig c;
  c.tweak = [](std::string& name, std::vector<int64_t>&, TensorType& type) {
    if (name == "blk.0.ffn_down.weight") type = TensorType::Q5_K;
  };
  expect_error(spec_of(c), ErrorCode::Unsupported,
               "tensor blk.0.ffn_down.weight has type Q5_K, which Tokamak does not support "
               "(supported: F32, F16, Q4_0, Q8_0, Q4_K, Q6_K, BF16)");
}

TEST(ModelWeights, WrongShapeIsNamedWithBothShapes) {
  TinyConfig c;
  c.tweak = [](std::string& name, std::vector<int64_t>& dims, TensorType&) {
    if (name == "blk.1.attn_k.weight") dims = {256, 96};
  };
  expect_error(spec_of(c), ErrorCode::BadFormat,
               "tensor blk.1.attn_k.weight has shape [256, 96], expected [256, 128]");
  c.tweak = [](std::string& name, std::vector<int64_t>& dims, TensorType&) {
    if (name == "output_norm.weight") dims = {128};
  };
  expect_error(spec_of(c), ErrorCode::BadFormat, "output_norm.weight has shape [128]");
}

TEST(ModelWeights, MissingTensorAndNonF32NormAreNamed) {
  TinyConfig c;
  c.tweak = [](std::string& name, std::vector<int64_t>&, TensorType&) {
    if (name == "blk.1.ffn_up.weight") name.clear();
  };
  expect_error(spec_of(c), ErrorCode::BadFormat, "tensor blk.1.ffn_up.weight is missing");
  c.tweak = [](std::string& name, std::vector<int64_t>&, TensorType& type) {
    if (name == "blk.0.attn_norm.weight") type = TensorType::F16;
  };
  expect_error(spec_of(c), ErrorCode::Unsupported, "blk.0.attn_norm.weight has type F16");
}

TEST(ModelWeights, BindsViewsByRole) {
  TinyConfig c;
  c.weight_type = TensorType::Q4_K;
  auto f = testing::open_writer(testing::tiny_writer(c));
  ASSERT_TRUE(f.ok());
  auto spec = ModelSpec::from_gguf(*f->file);
  ASSERT_TRUE(spec.ok());
  auto w = ModelWeights::bind(*f->file, *spec);
  ASSERT_TRUE(w.ok()) << w.error().message;
  ASSERT_EQ(w->layers.size(), 2u);
  const WeightView& down = w->layers[1].w_down;
  EXPECT_STREQ(down.name, "blk.1.ffn_down.weight");
  EXPECT_EQ(down.type, TensorType::Q4_K);
  EXPECT_EQ(down.rows, 256);
  EXPECT_EQ(down.row_length, 512);
  EXPECT_EQ(down.row_bytes(), 2u * 144u);
  EXPECT_EQ(down.data, f->file->find_tensor("blk.1.ffn_down.weight")->data);
  EXPECT_EQ(w->output.name, std::string("output.weight"));
  EXPECT_FALSE(w->layers[0].bq.present());
}

const std::string kAidreams =
    std::string(TOKAMAK_SHARED_DATA) + "/models/aidreams260K/aidreams260K-llamacpp-f32.gguf";

// Numbers from the checkpoint's description (data/README.md): dim 64,
// hidden 172, 4 layers, 4 heads, vocab 512, context 128; llama.cpp's
// converter writes the shared classifier out as output.weight.
TEST(ModelInfo, DescribesTheAidreamsFile) {
  auto file = gguf::File::open(kAidreams);
  ASSERT_TRUE(file.ok()) << file.error().message;
  auto info = ModelInfo::describe(**file);
  ASSERT_TRUE(info.ok()) << info.error().message;
  const int64_t dim = 64, hidden = 172, layers = 4, vocab = 512;
  const int64_t per_layer = 4 * dim * dim + 3 * dim * hidden + 2 * dim;
  const int64_t params = 2 * vocab * dim + dim + layers * per_layer;
  EXPECT_EQ(info->num_params, params);
  EXPECT_EQ(info->weights_bytes, static_cast<uint64_t>(params) * 4);
  EXPECT_EQ(info->type_counts.at("F32"), 3 + 9 * layers);
  EXPECT_EQ(info->type_params.at("F32"), params);
  EXPECT_EQ(info->type_counts.size(), 1u);
  EXPECT_TRUE(info->architecture_supported);
  EXPECT_EQ(info->arch_name, "llama");
  EXPECT_EQ(info->unsupported_types, "");
  EXPECT_EQ(info->tokenizer_model, "llama");
  EXPECT_EQ(info->vocab_size, vocab);
  EXPECT_EQ(info->context_length, 128);
  EXPECT_FALSE(info->has_chat_template);
  EXPECT_EQ(info->gguf_version, 3u);
  EXPECT_EQ(info->kv_cache_bytes(128, 4), 128u * 2 * layers * dim * 4);
  EXPECT_EQ(info->kv_cache_bytes(128, 2), 128u * 2 * layers * dim * 2);
}

TEST(ModelInfo, DescribesFilesItCannotRun) {
  TinyConfig c;
  c.arch = "gemma";
  c.tweak = [](std::string& name, std::vector<int64_t>&, TensorType& type) {
    if (name == "blk.0.ffn_down.weight" || name == "blk.1.ffn_down.weight") type = TensorType::Q5_K;
    if (name == "blk.0.ffn_up.weight") type = TensorType::IQ2_XS;
  };
  auto f = testing::open_writer(testing::tiny_writer(c));
  ASSERT_TRUE(f.ok()) << f.error().message;
  auto info = ModelInfo::describe(*f->file);
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_FALSE(info->architecture_supported);
  EXPECT_EQ(info->arch_name, "gemma");
  EXPECT_EQ(info->unsupported_types, "IQ2_XS, Q5_K");
  EXPECT_EQ(info->type_counts.at("Q5_K"), 2);
  EXPECT_EQ(info->type_params.at("Q5_K"), 2 * 256 * 512);
  EXPECT_EQ(info->vocab_size, 64);
  EXPECT_EQ(info->context_length, 256);
  EXPECT_EQ(info->kv_cache_bytes(100, 4), 0u);
}

TEST(Model, LoadsTheAidreamsFile) {
  auto model = Model::load(kAidreams);
  ASSERT_TRUE(model.ok()) << model.error().message;
  EXPECT_EQ((*model)->spec().vocab_size, 512);
  EXPECT_EQ((*model)->tokenizer().vocab().size(), 512);
  EXPECT_FALSE((*model)->chat_template().has_value());
  EXPECT_EQ((*model)->file().path(), kAidreams);
  EXPECT_EQ((*model)->weights().layers.size(), 4u);
}

TEST(Model, RefusesUnsupportedFilesWithTheirNames) {
  auto missing = Model::load(std::string(TOKAMAK_TEST_TMP) + "/no-such-model.gguf");
  ASSERT_FALSE(missing.ok());
  TinyConfig c;
  c.tweak = [](std::string& name, std::vector<int64_t>&, TensorType& type) {
    if (name == "blk.1.attn_v.weight") type = TensorType::Q5_K;
  };
  auto f = testing::open_writer(testing::tiny_writer(c));
  ASSERT_TRUE(f.ok());
  auto model = Model::from_file(std::move(f->file));
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.error().code, ErrorCode::Unsupported);
  EXPECT_NE(model.error().message.find("blk.1.attn_v.weight"), std::string::npos);
}

TEST(Model, KeepsTheChatTemplate) {
  gguf::Writer w = testing::tiny_writer(TinyConfig{});
  w.set("tokenizer.chat_template", gguf::Value::string("{{ messages }}"));
  auto f = testing::open_writer(w);
  ASSERT_TRUE(f.ok());
  auto bytes = f->bytes;
  auto model = Model::from_file(std::move(f->file));
  ASSERT_TRUE(model.ok()) << model.error().message;
  ASSERT_TRUE((*model)->chat_template().has_value());
  EXPECT_EQ(*(*model)->chat_template(), "{{ messages }}");
}

}  // namespace
}  // namespace tokamak
