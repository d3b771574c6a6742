// The llama2.c converter against things nobody here wrote: the trained
// aidreams260K checkpoint must, after conversion, reproduce llama2.c's greedy
// ids (greedy_from_bos.txt), and every tensor must equal the one in the GGUF
// file llama.cpp's own convert-llama2c-to-ggml wrote from the same checkpoint.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "aidreams.h"
#include "convert/convert.h"
#include "core/half.h"
#include "cpu/cpu_backend.h"
#include "gguf/gguf_file.h"
#include "model/model.h"
#include "quant/quant.h"
#include "scratch_dir.h"

namespace tokamak {
namespace {

namespace fs = std::filesystem;
const std::string kDir = std::string(TOKAMAK_SHARED_DATA) + "/models/aidreams260K/";
const std::string kCheckpoint = kDir + "aidreams260K.bin";
const std::string kTokenizer = kDir + "tok512.bin";
const std::string kTmp = ::tokamak::test::scratch_dir("convert_llama2c");
constexpr int32_t kBos = 1;

Result<ConvertReport> convert_to(const std::string& mix, const std::string& out) {
  fs::create_directories(kTmp);
  ConvertOptions o;
  o.input_path = kCheckpoint;
  o.tokenizer_path = kTokenizer;
  o.output_path = out;
  o.type_mix = mix;
  o.num_threads = 2;
  return convert_llama2c(o);
}

// Greedy decoding from BOS, one token per step, `steps` outputs.
std::vector<int32_t> greedy(const std::string& path, int steps) {
  auto model = Model::load(path);
  EXPECT_TRUE(model.ok()) << model.error().message;
  if (!model.ok()) return {};
  auto backend = make_cpu_backend(*model, CpuBackendOptions{});
  EXPECT_TRUE(backend.ok()) << backend.error().message;
  if (!backend.ok()) return {};
  Backend& b = **backend;
  const int32_t vocab = b.vocab_size();
  const int32_t num_blocks = b.kv_config().num_blocks;
  std::vector<int32_t> table(num_blocks);
  for (int32_t i = 0; i < num_blocks; ++i) table[i] = i;
  const StepSequence seq{table};
  std::vector<float> logits(vocab);
  std::vector<int32_t> out;
  int32_t token = kBos;
  const int32_t zero = 0;
  for (int32_t pos = 0; pos < steps; ++pos) {
    StepPlan plan{{&token, 1}, {&pos, 1}, {&zero, 1}, {&seq, 1}, {&zero, 1}};
    Status s = b.forward(plan, logits);
    EXPECT_TRUE(s.ok()) << s.error().message;
    if (!s.ok()) break;
    token = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    out.push_back(token);
  }
  return out;
}

std::vector<float> to_f32(const gguf::TensorInfo& t) {
  std::vector<float> v(static_cast<size_t>(t.num_values()));
  quant::dequantize_row(t.type, t.data, v.data(), t.num_values());
  return v;
}

TEST(ConvertLlama2c, F32GreedyMatchesLlama2c) {
  const std::string out = kTmp + "/aidreams-f32.gguf";
  auto report = convert_to("f32", out);
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->arch_name, "llama");
  EXPECT_EQ(report->num_tensors, 2 + 4 * 9);  // shared classifier: no output.weight
  EXPECT_EQ(report->type_counts.at("F32"), 38);
  // The checkpoint's 233,024 floats less the unused freq_cis tables (2 x 128 x 8).
  EXPECT_EQ(report->num_params, 233024 - 2048);
  const std::vector<int32_t> expected = ::tokamak::test::aidreams_greedy_ids();
  ASSERT_EQ(expected.size(), 127u);
  EXPECT_EQ(greedy(out, 127), expected);
}

// Every tensor equals llama.cpp's conversion of the same checkpoint, and the
// metadata says the same things.
TEST(ConvertLlama2c, TensorsEqualLlamaCppConversion) {
  const std::string out = kTmp + "/aidreams-f32-cmp.gguf";
  auto report = convert_to("f32", out);
  ASSERT_TRUE(report.ok()) << report.error().message;
  auto ours = gguf::File::open(out);
  auto theirs = gguf::File::open(kDir + "aidreams260K-llamacpp-f32.gguf");
  ASSERT_TRUE(ours.ok()) << ours.error().message;
  ASSERT_TRUE(theirs.ok()) << theirs.error().message;
  int compared = 0;
  for (const auto& t : (*theirs)->tensors()) {
    SCOPED_TRACE(t.name);
    // llama.cpp writes the shared classifier as output.weight; we leave it tied.
    const std::string name = t.name == "output.weight" ? "token_embd.weight" : t.name;
    const gguf::TensorInfo* o = (*ours)->find_tensor(name);
    ASSERT_NE(o, nullptr);
    EXPECT_EQ(o->dims, t.dims);
    EXPECT_EQ(o->type, TensorType::F32);
    const std::vector<float> a = to_f32(*o), b = to_f32(t);
    ASSERT_EQ(a.size(), b.size());
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * 4), 0) << "values differ";
    ++compared;
  }
  EXPECT_EQ(compared, 39);
  EXPECT_EQ((*ours)->tensors().size() + 1, (*theirs)->tensors().size());
  for (const char* key :
       {"llama.context_length", "llama.embedding_length", "llama.feed_forward_length",
        "llama.attention.head_count", "llama.attention.head_count_kv", "llama.block_count",
        "llama.rope.dimension_count", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
        "tokenizer.ggml.unknown_token_id"}) {
    SCOPED_TRACE(key);
    auto a = (*ours)->get_int(key);
    auto b = (*theirs)->get_int(key);
    ASSERT_TRUE(a.ok()) << a.error().message;
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(*a, *b);
  }
  EXPECT_FLOAT_EQ(*(*ours)->get_float("llama.attention.layer_norm_rms_epsilon"),
                  *(*theirs)->get_float("llama.attention.layer_norm_rms_epsilon"));
  EXPECT_EQ(*(*ours)->get_string("general.architecture"), "llama");
  EXPECT_EQ(*(*ours)->get_string("tokenizer.ggml.model"), "llama");
  // Same vocabulary, token for token.
  auto ta = (*ours)->get_array("tokenizer.ggml.tokens", gguf::ValueType::String);
  auto tb = (*theirs)->get_array("tokenizer.ggml.tokens", gguf::ValueType::String);
  ASSERT_TRUE(ta.ok() && tb.ok());
  ASSERT_EQ((*ta)->items.size(), (*tb)->items.size());
  for (size_t i = 0; i < (*ta)->items.size(); ++i) {
    EXPECT_EQ(*(*ta)->items[i].as_string(), *(*tb)->items[i].as_string()) << "token " << i;
  }
}

// Half precision and Q8_0 follow the same path up to llama2.c's fp16 tie at
// output 71 (see the data README).
TEST(ConvertLlama2c, F16AndQ8_0GreedyMatchTheFirst71) {
  const std::vector<int32_t> expected = ::tokamak::test::aidreams_greedy_ids();
  for (const char* mix : {"f16", "q8_0"}) {
    SCOPED_TRACE(mix);
    const std::string out = kTmp + "/aidreams-" + mix + ".gguf";
    auto report = convert_to(mix, out);
    ASSERT_TRUE(report.ok()) << report.error().message;
    const std::vector<int32_t> got = greedy(out, 127);
    ASSERT_EQ(got.size(), 127u);
    EXPECT_TRUE(std::equal(expected.begin(), expected.begin() + 71, got.begin()))
        << "first mismatch at "
        << (std::mismatch(expected.begin(), expected.end(), got.begin()).first - expected.begin());
  }
}

// hidden_dim 172 is not a multiple of 32: Q8_0 falls back to F16 for
// ffn_down (whose rows are 172 long) and the report says so.
TEST(ConvertLlama2c, Q8_0FallsBackForRowsOf172) {
  const std::string out = kTmp + "/aidreams-q8_0-types.gguf";
  auto report = convert_to("q8_0", out);
  ASSERT_TRUE(report.ok()) << report.error().message;
  auto file = gguf::File::open(out);
  ASSERT_TRUE(file.ok());
  for (const auto& t : (*file)->tensors()) {
    SCOPED_TRACE(t.name);
    if (t.dims.size() == 1) {
      EXPECT_EQ(t.type, TensorType::F32);
    } else if (t.name.find("ffn_down") != std::string::npos) {
      EXPECT_EQ(t.type, TensorType::F16);
    } else {
      EXPECT_EQ(t.type, TensorType::Q8_0);
    }
  }
  ASSERT_EQ(report->notes.size(), 4u);
  EXPECT_NE(report->notes[0].find("blk.0.ffn_down.weight: row length 172"), std::string::npos)
      << report->notes[0];
  EXPECT_EQ((*file)->get_int("general.file_type").value(), 7);
}

TEST(ConvertLlama2c, TruncatedCheckpointIsRefusedWithBothSizes) {
  fs::create_directories(kTmp);
  const std::string cut = kTmp + "/aidreams-cut.bin";
  {
    std::ifstream in(kCheckpoint, std::ios::binary);
    std::vector<char> bytes(1000);
    in.read(bytes.data(), 1000);
    std::ofstream(cut, std::ios::binary).write(bytes.data(), 1000);
  }
  ConvertOptions o;
  o.input_path = cut;
  o.tokenizer_path = kTokenizer;
  o.output_path = kTmp + "/never.gguf";
  auto r = convert_llama2c(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::BadFormat);
  EXPECT_NE(r.error().message.find("aidreams-cut.bin: expected 932,124 bytes for dim 64"),
            std::string::npos)
      << r.error().message;
  EXPECT_NE(r.error().message.find("but the file has 1,000 bytes"), std::string::npos)
      << r.error().message;
  EXPECT_FALSE(fs::exists(o.output_path));
  EXPECT_FALSE(fs::exists(o.output_path + ".tmp"));
}

TEST(ConvertLlama2c, MissingFilesAreNamed) {
  ConvertOptions o;
  o.input_path = kTmp + "/no-such.bin";
  o.tokenizer_path = kTokenizer;
  o.output_path = kTmp + "/never.gguf";
  auto r = convert_llama2c(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::NotFound);
  EXPECT_NE(r.error().message.find("no-such.bin"), std::string::npos);

  o.input_path = kCheckpoint;
  o.tokenizer_path = kTmp + "/no-such-tokenizer.bin";
  r = convert_llama2c(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("no-such-tokenizer.bin"), std::string::npos)
      << r.error().message;

  o.tokenizer_path = kTokenizer;
  o.type_mix = "q3_k";
  r = convert_llama2c(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(r.error().message.find("q4_k_m"), std::string::npos) << r.error().message;
}

TEST(ConvertLlama2c, UnwritableOutputFailsCleanly) {
  ConvertOptions o;
  o.input_path = kCheckpoint;
  o.tokenizer_path = kTokenizer;
  o.output_path = "/proc/tokamak-cannot-write-here/model.gguf";
  auto r = convert_llama2c(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("/proc/tokamak-cannot-write-here"), std::string::npos)
      << r.error().message;
}

}  // namespace
}  // namespace tokamak
