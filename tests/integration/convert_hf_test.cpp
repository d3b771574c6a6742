// The Hugging Face converter against an independent oracle:
// tests/reference/make_hf_fixture.py builds tiny random HF folders (llama
// with BF16 shards + llama3 rope scaling, mistral in F32, qwen2 in F16 with
// biases and tied embeddings) and computes their logits with its own numpy
// forward pass in HF's conventions (rotate-half RoPE). Converted to GGUF and
// run by our CPU backend, the logits must agree: this proves the Q/K
// permutation, the qwen2 handling (no permutation, biases, tied output) and
// rope_freqs for llama3 scaling.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "convert/convert.h"
#include "cpu/cpu_backend.h"
#include "cpu/sequence_logits.h"
#include "gguf/gguf_file.h"
#include "model/model.h"
#include "scratch_dir.h"

namespace tokamak {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// ctest runs every test in its own process, several at once: the fixture is
// generated into a temporary folder and renamed into place, keyed by the
// script's text so an edited script regenerates it.
const std::string kScript = std::string(TOKAMAK_SOURCE_DIR) + "/tests/reference/make_hf_fixture.py";
const std::string kOut = ::tokamak::test::scratch_dir("convert_hf");

std::string fixture_dir() {
  static const std::string dir = [] {
    std::ifstream in(kScript);
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    return std::string(TOKAMAK_TEST_TMP) + "/hf_fixture-" +
           std::to_string(std::hash<std::string>{}(text) % 1000000007u);
  }();
  return dir;
}

// Runs the generator once per process unless the fixture exists. 77: a
// Python module is missing.
int fixture_status() {
  static const int status = [] {
    const std::string dir = fixture_dir();
    if (fs::exists(dir + "/manifest.json")) return 0;
    const std::string tmp = dir + ".tmp" + std::to_string(::getpid());
    fs::remove_all(tmp);
    const std::string cmd = "python3 " + kScript + " " + tmp;
    const int raw = std::system(cmd.c_str());
    if (raw == -1 || !WIFEXITED(raw)) return -1;
    if (WEXITSTATUS(raw) != 0) return WEXITSTATUS(raw);
    std::error_code ec;
    fs::rename(tmp, dir, ec);  // another process may have won: use its folder
    if (ec) fs::remove_all(tmp);
    return fs::exists(dir + "/manifest.json") ? 0 : -1;
  }();
  return status;
}

// Output names unique to the running test (tests run in parallel processes).
std::string test_tag() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string tag = std::string(info->test_suite_name()) + "." + info->name();
  for (char& c : tag)
    if (c == '/') c = '_';
  return tag;
}

#define REQUIRE_FIXTURE()                                    \
  do {                                                       \
    const int st = fixture_status();                         \
    if (st == 77 || st == 127)                               \
      GTEST_SKIP() << "python3 with numpy, safetensors and " \
                      "tokenizers is needed";                \
    ASSERT_EQ(st, 0) << "make_hf_fixture.py failed";         \
  } while (0)

json manifest_entry(const std::string& name) {
  std::ifstream in(fixture_dir() + "/manifest.json");
  json m = json::parse(in);
  for (const auto& e : m["models"])
    if (e["name"] == name) return e;
  ADD_FAILURE() << "no " << name << " in the manifest";
  return {};
}

std::vector<float> read_floats(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  const auto bytes = static_cast<size_t>(in.tellg());
  std::vector<float> v(bytes / 4);
  in.seekg(0);
  in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(bytes));
  return v;
}

Result<ConvertReport> convert(const std::string& name, const std::string& mix) {
  fs::create_directories(kOut);
  ConvertOptions o;
  o.input_path = fixture_dir() + "/" + name;
  o.output_path = kOut + "/" + name + "-" + mix + "-" + test_tag() + ".gguf";
  o.type_mix = mix;
  o.num_threads = 2;
  return convert_model(o);
}

struct LogitError {
  double max_rel = 1e9;           // max |ours - expected| / max(1, max |expected|)
  double rms_rel = 1e9;           // rms(ours - expected) / rms(expected)
  double argmax_agreement = 0.0;  // fraction of positions with the same argmax
};

// Logits of the manifest's tokens from the converted model against the
// numpy reference.
LogitError logit_error(const std::string& name, const std::string& gguf_path) {
  const json e = manifest_entry(name);
  const std::vector<int32_t> tokens = e["tokens"].get<std::vector<int32_t>>();
  const std::vector<float> expected =
      read_floats(fixture_dir() + "/" + e["logits_file"].get<std::string>());
  auto model = Model::load(gguf_path);
  EXPECT_TRUE(model.ok()) << model.error().message;
  if (!model.ok()) return {};
  auto backend = make_cpu_backend(*model, CpuBackendOptions{});
  EXPECT_TRUE(backend.ok()) << backend.error().message;
  if (!backend.ok()) return {};
  auto logits = sequence_logits(**backend, tokens);
  EXPECT_TRUE(logits.ok()) << logits.error().message;
  if (!logits.ok()) return {};
  EXPECT_EQ(logits->size(), expected.size());
  if (logits->size() != expected.size()) return {};
  double scale = 1.0, max_diff = 0.0, sq_diff = 0.0, sq = 0.0;
  for (size_t i = 0; i < expected.size(); ++i) {
    const double d = double((*logits)[i]) - expected[i];
    scale = std::max(scale, std::abs(double(expected[i])));
    max_diff = std::max(max_diff, std::abs(d));
    sq_diff += d * d;
    sq += double(expected[i]) * expected[i];
  }
  const size_t vocab = expected.size() / tokens.size();
  int same = 0;
  for (size_t t = 0; t < tokens.size(); ++t) {
    const float* a = logits->data() + t * vocab;
    const float* b = expected.data() + t * vocab;
    same += (std::max_element(a, a + vocab) - a) == (std::max_element(b, b + vocab) - b);
  }
  LogitError err;
  err.max_rel = max_diff / scale;
  err.rms_rel = std::sqrt(sq_diff / sq);
  err.argmax_agreement = double(same) / tokens.size();
  return err;
}

class ConvertHf : public ::testing::TestWithParam<std::string> {};

TEST_P(ConvertHf, F32LogitsMatchTheNumpyHfForward) {
  REQUIRE_FIXTURE();
  const std::string name = GetParam();
  auto report = convert(name, "f32");
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->source_format, "hf");
  const LogitError err = logit_error(name, report->output_path);
  EXPECT_LT(err.max_rel, 1e-4) << name;
  EXPECT_EQ(err.argmax_agreement, 1.0) << name;
}

TEST_P(ConvertHf, Q8_0LogitsStayClose) {
  REQUIRE_FIXTURE();
  const std::string name = GetParam();
  auto report = convert(name, "q8_0");
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_GT(report->type_counts["Q8_0"], 0);
  const LogitError err = logit_error(name, report->output_path);
  // These random models are sensitive: Q8_0 weights alone move the numpy
  // logits by ~3% RMS; Q8_0 activations (as ggml computes) add ~1%. A wrong
  // permutation or a missing bias gives errors of order 100%.
  EXPECT_LT(err.rms_rel, 0.07) << name;
  EXPECT_GE(err.argmax_agreement, 0.85) << name;
}

INSTANTIATE_TEST_SUITE_P(Models, ConvertHf, ::testing::Values("llama", "mistral", "qwen2"));

TEST(ConvertHfFile, LlamaMetadataTensorsAndTokenizer) {
  REQUIRE_FIXTURE();
  auto report = convert("llama", "f32");
  ASSERT_TRUE(report.ok()) << report.error().message;
  auto file = gguf::File::open(report->output_path);
  ASSERT_TRUE(file.ok()) << file.error().message;
  const gguf::File& f = **file;
  EXPECT_EQ(f.get_string("general.architecture").value(), "llama");
  EXPECT_EQ(f.get_int("llama.attention.head_count_kv").value(), 2);
  EXPECT_EQ(f.get_int("llama.vocab_size").value(), 320);
  EXPECT_NE(f.find_tensor("output.weight"), nullptr);
  // llama3 rope scaling: head_dim/2 divisors, 1 (high frequencies) to 8 (low).
  const gguf::TensorInfo* rf = f.find_tensor("rope_freqs.weight");
  ASSERT_NE(rf, nullptr);
  ASSERT_EQ(rf->num_values(), 8);
  const float* factors = reinterpret_cast<const float*>(rf->data);
  EXPECT_FLOAT_EQ(factors[0], 1.0f);
  EXPECT_FLOAT_EQ(factors[7], 8.0f);
  EXPECT_EQ(f.get_string("tokenizer.chat_template").value(),
            manifest_entry("llama")["chat_template"].get<std::string>());
  // The tokenizer (300 tokens) is padded to the 320 embedding rows.
  auto tokens = f.get_array("tokenizer.ggml.tokens", gguf::ValueType::String);
  ASSERT_TRUE(tokens.ok());
  ASSERT_EQ((*tokens)->items.size(), 320u);
  EXPECT_EQ(*(*tokens)->items[300].as_string(), "[PAD300]");

  auto model = Model::load(report->output_path);
  ASSERT_TRUE(model.ok()) << model.error().message;
  EXPECT_EQ((*model)->tokenizer().bos_id(), 1);  // "<s>" from tokenizer_config.json
  EXPECT_EQ((*model)->tokenizer().eos_id(), 2);
  // Our tokenizer on the converted vocab agrees with Hugging Face tokenizers.
  const json e = manifest_entry("llama");
  EncodeOptions no_specials;
  no_specials.add_bos = false;
  no_specials.add_eos = false;
  EXPECT_EQ((*model)->tokenizer().encode(e["text"].get<std::string>(), no_specials),
            e["text_ids"].get<std::vector<int32_t>>());
}

TEST(ConvertHfFile, Qwen2IsTiedWithBiasesAndNotPermuted) {
  REQUIRE_FIXTURE();
  auto report = convert("qwen2", "f16");
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->arch_name, "qwen2");
  auto file = gguf::File::open(report->output_path);
  ASSERT_TRUE(file.ok());
  const gguf::File& f = **file;
  EXPECT_EQ(f.get_string("general.architecture").value(), "qwen2");
  EXPECT_EQ(f.find_tensor("output.weight"), nullptr);
  for (const char* b : {"blk.0.attn_q.bias", "blk.1.attn_k.bias", "blk.1.attn_v.bias"}) {
    const gguf::TensorInfo* t = f.find_tensor(b);
    ASSERT_NE(t, nullptr) << b;
    EXPECT_EQ(t->type, TensorType::F32) << b;
  }
  EXPECT_EQ(f.find_tensor("blk.0.attn_q.weight")->type, TensorType::F16);
  EXPECT_EQ(f.get_int("tokenizer.ggml.eos_token_id").value(), 2);  // <|im_end|>
  auto model = Model::load(report->output_path);
  ASSERT_TRUE(model.ok()) << model.error().message;
  EXPECT_TRUE((*model)->spec().tied_embeddings);
  EXPECT_TRUE((*model)->spec().attn_bias);
  EXPECT_TRUE((*model)->chat_template().has_value());
}

// Rows of 64 are no multiple of 256: q4_k_m falls back to Q8_0 everywhere
// and the report lists every fallback.
TEST(ConvertHfFile, Q4KMFallsBackToQ8_0ForShortRows) {
  REQUIRE_FIXTURE();
  auto report = convert("mistral", "q4_k_m");
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->type_counts.count("Q4_K"), 0u);
  EXPECT_EQ(report->type_counts.count("Q6_K"), 0u);
  EXPECT_EQ(report->type_counts["Q8_0"], 2 + 2 * 7);  // token_embd, output, 7 per layer
  EXPECT_EQ(report->notes.size(), 16u);
  auto file = gguf::File::open(report->output_path);
  ASSERT_TRUE(file.ok());
  EXPECT_EQ((*file)->get_int("general.file_type").value(), 15);
  EXPECT_LT(logit_error("mistral", report->output_path).rms_rel, 0.07);
}

// A copy of the llama folder with one thing broken.
std::string broken_copy(const std::string& tag) {
  const std::string dir = kOut + "/broken-" + tag;
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy(fixture_dir() + "/llama", dir, fs::copy_options::recursive);
  return dir;
}

void edit_config(const std::string& dir, const std::function<void(json&)>& edit) {
  json c = json::parse(std::ifstream(dir + "/config.json"));
  edit(c);
  std::ofstream(dir + "/config.json") << c.dump();
}

Result<ConvertReport> convert_dir(const std::string& dir) {
  ConvertOptions o;
  o.input_path = dir;
  o.output_path = dir + ".gguf";
  o.type_mix = "f16";
  return convert_hf(o);
}

TEST(ConvertHfErrors, UnsupportedArchitectureIsNamed) {
  REQUIRE_FIXTURE();
  const std::string dir = broken_copy("arch");
  edit_config(dir, [](json& c) { c["architectures"] = {"GPTNeoXForCausalLM"}; });
  auto r = convert_dir(dir);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::Unsupported);
  EXPECT_NE(r.error().message.find("GPTNeoXForCausalLM"), std::string::npos) << r.error().message;
  EXPECT_FALSE(fs::exists(dir + ".gguf"));
}

TEST(ConvertHfErrors, ShapeMismatchNamesTheTensor) {
  REQUIRE_FIXTURE();
  const std::string dir = broken_copy("shape");
  edit_config(dir, [](json& c) { c["intermediate_size"] = 128; });
  auto r = convert_dir(dir);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::BadFormat);
  EXPECT_NE(r.error().message.find("model.layers.0.mlp.gate_proj.weight has shape [160, 64]"),
            std::string::npos)
      << r.error().message;
}

TEST(ConvertHfErrors, MissingShardAndTokenizerAreNamed) {
  REQUIRE_FIXTURE();
  std::string dir = broken_copy("shard");
  fs::remove(dir + "/model-00002-of-00002.safetensors");
  auto r = convert_dir(dir);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::NotFound);
  EXPECT_NE(r.error().message.find("model-00002-of-00002.safetensors"), std::string::npos)
      << r.error().message;

  dir = broken_copy("tokenizer");
  fs::remove(dir + "/tokenizer.json");
  r = convert_dir(dir);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("tokenizer"), std::string::npos) << r.error().message;

  r = convert_dir(kOut + "/no-such-folder");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::NotFound);
}

// tokenizer.model (SentencePiece) is read through import_vocab; Llama 2's
// 32000 pieces do not fit this model's 320 embedding rows.
TEST(ConvertHfErrors, TokenizerLargerThanTheEmbeddingsIsRefused) {
  REQUIRE_FIXTURE();
  const std::string dir = broken_copy("spm");
  fs::remove(dir + "/tokenizer.json");
  fs::copy_file(std::string(TOKAMAK_SHARED_DATA) + "/tokenizers/llama2-spm/tokenizer.model",
                dir + "/tokenizer.model");
  auto r = convert_dir(dir);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::BadFormat);
  EXPECT_NE(r.error().message.find("tokenizer.model has 32000 tokens but config.json says "
                                   "vocab_size 320"),
            std::string::npos)
      << r.error().message;
}

// A chat_template.jinja beside the weights (newer transformers) is used when
// tokenizer_config.json has none.
TEST(ConvertHfFile, ChatTemplateFromJinjaFile) {
  REQUIRE_FIXTURE();
  const std::string dir = broken_copy("jinja");
  json tc = json::parse(std::ifstream(dir + "/tokenizer_config.json"));
  tc.erase("chat_template");
  std::ofstream(dir + "/tokenizer_config.json") << tc.dump();
  std::ofstream(dir + "/chat_template.jinja") << "{{ messages[0]['content'] }}";
  auto r = convert_dir(dir);
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto file = gguf::File::open(r->output_path);
  ASSERT_TRUE(file.ok());
  EXPECT_EQ((*file)->get_string("tokenizer.chat_template").value(), "{{ messages[0]['content'] }}");
}

TEST(ConvertHfErrors, UnsupportedRopeScalingIsNamed) {
  REQUIRE_FIXTURE();
  const std::string dir = broken_copy("rope");
  edit_config(dir, [](json& c) { c["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}}; });
  auto r = convert_dir(dir);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::Unsupported);
  EXPECT_NE(r.error().message.find("yarn"), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace tokamak
