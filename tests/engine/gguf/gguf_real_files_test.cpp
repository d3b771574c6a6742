// Real GGUF files written by llama.cpp, and a cross-check of our reader (and
// of files our Writer makes) against llama.cpp's gguf-py (dump_gguf.py).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "gguf_test_util.h"
#include "scratch_dir.h"

namespace tokamak::gguf {
namespace {

using nlohmann::json;

const std::string kData = TOKAMAK_SHARED_DATA;
const std::string kAidreams = kData + "/models/aidreams260K/aidreams260K-llamacpp-f32.gguf";
const std::string kSpm = kData + "/tokenizers/gguf/vocab-llama2-spm.gguf";
const std::string kBpe = kData + "/tokenizers/gguf/vocab-llama3-bpe.gguf";

std::unique_ptr<File> open_or_die(const std::string& path) {
  auto r = File::open(path);
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? std::move(r).value() : nullptr;
}

void expect_tensors_in_bounds(const File& f) {
  for (const auto& t : f.tensors()) {
    EXPECT_GE(t.data, f.bytes().data() + f.data_offset()) << t.name;
    EXPECT_LE(t.data + t.size_bytes, f.bytes().data() + f.file_size()) << t.name;
    EXPECT_EQ(t.offset % f.alignment(), 0u) << t.name;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data) % f.alignment(), 0u) << "mmap keeps alignment";
    EXPECT_EQ(t.size_bytes, row_size_bytes(t.type, t.row_length()) * t.num_rows()) << t.name;
  }
}

TEST(GgufRealFiles, AidreamsFromLlamaCpp) {
  auto f = open_or_die(kAidreams);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->alignment(), 32u);
  EXPECT_EQ(*f->get_string("general.architecture"), "llama");
  EXPECT_EQ(*f->get_int("llama.block_count"), 4);
  EXPECT_EQ(*f->get_int("llama.embedding_length"), 64);
  EXPECT_EQ(*f->get_int("tokenizer.ggml.padding_token_id"), 4294967295);
  EXPECT_FLOAT_EQ(static_cast<float>(*f->get_float("llama.attention.layer_norm_rms_epsilon")),
                  1e-5f);
  EXPECT_EQ(f->tensors().size(), 39u);  // 3 + 4 layers x 9
  auto tokens = f->get_array("tokenizer.ggml.tokens", ValueType::String);
  ASSERT_TRUE(tokens.ok()) << tokens.error().message;
  ASSERT_EQ((*tokens)->items.size(), 512u);
  EXPECT_EQ(*(*tokens)->items[1].as_string(), "<s>");
  EXPECT_EQ(*(*tokens)->items[3].as_string(), "<0x00>");
  expect_tensors_in_bounds(*f);

  // The embedding must be the llama2.c checkpoint's, float for float: the
  // .bin starts with 7 int32 (dim 64, ..., vocab 512), then (512, 64) floats.
  const TensorInfo* embd = f->find_tensor("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  EXPECT_EQ(embd->dims, (std::vector<int64_t>{64, 512}));
  std::ifstream bin(kData + "/models/aidreams260K/aidreams260K.bin", std::ios::binary);
  ASSERT_TRUE(bin.good());
  std::vector<char> expected(512 * 64 * 4);
  bin.seekg(7 * 4);
  bin.read(expected.data(), static_cast<std::streamsize>(expected.size()));
  ASSERT_EQ(embd->size_bytes, expected.size());
  EXPECT_EQ(std::memcmp(embd->data, expected.data(), expected.size()), 0);
}

TEST(GgufRealFiles, Llama2SpmVocab) {
  auto f = open_or_die(kSpm);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(*f->get_string("tokenizer.ggml.model"), "llama");
  auto tokens = f->get_array("tokenizer.ggml.tokens", ValueType::String);
  ASSERT_TRUE(tokens.ok());
  ASSERT_EQ((*tokens)->items.size(), 32000u);
  EXPECT_EQ(*(*tokens)->items[0].as_string(), "<unk>");
  EXPECT_EQ(*(*tokens)->items[2].as_string(), "</s>");
  auto scores = f->get_array("tokenizer.ggml.scores", ValueType::Float32);
  ASSERT_TRUE(scores.ok());
  EXPECT_EQ((*scores)->items.size(), 32000u);
  EXPECT_EQ(*f->get_bool_or("tokenizer.ggml.add_bos_token", false), true);
  EXPECT_EQ(f->tensors().size(), 11u);
  EXPECT_EQ(f->find_tensor("token_embd.weight")->type, TensorType::F16);
  expect_tensors_in_bounds(*f);
}

TEST(GgufRealFiles, Llama3BpeVocab) {
  // Opened 5 times; the median time is printed for information only (speed
  // belongs in benchmarks, never in a test assertion).
  ASSERT_NE(open_or_die(kBpe), nullptr);
  std::vector<double> ms;
  std::unique_ptr<File> f;
  for (int i = 0; i < 5; ++i) {
    const auto start = std::chrono::steady_clock::now();
    f = open_or_die(kBpe);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                     .count());
  }
  std::sort(ms.begin(), ms.end());
  std::printf("open %s: median %.1f ms (min %.1f, max %.1f)\n", kBpe.c_str(), ms[2], ms[0], ms[4]);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(*f->get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(*f->get_string("tokenizer.ggml.pre"), "llama-bpe");
  auto tokens = f->get_array("tokenizer.ggml.tokens", ValueType::String);
  ASSERT_TRUE(tokens.ok());
  ASSERT_EQ((*tokens)->items.size(), 128256u);
  EXPECT_EQ(*(*tokens)->items[128000].as_string(), "<|begin_of_text|>");
  EXPECT_EQ(*(*tokens)->items[128009].as_string(), "<|eot_id|>");
  EXPECT_EQ((*f->get_array("tokenizer.ggml.merges", ValueType::String))->items.size(), 280146u);
  EXPECT_EQ(*f->get_int("tokenizer.ggml.bos_token_id"), 128000);
  EXPECT_EQ(*f->get_int("tokenizer.ggml.eos_token_id"), 128009);
  expect_tensors_in_bounds(*f);
}

// Our Writer, given what our reader read, reproduces the files llama.cpp and
// gguf-py wrote byte for byte (same layout rules: header, padding to the
// alignment, tensors in order each padded to the alignment).
TEST(GgufRealFiles, WriterReproducesRealFilesByteForByte) {
  for (const std::string& path : {kAidreams, kSpm, kBpe}) {
    SCOPED_TRACE(path);
    auto f = open_or_die(path);
    ASSERT_NE(f, nullptr);
    Writer w(f->version(), f->alignment());
    for (const auto& [key, value] : f->metadata()) w.set(key, value);
    for (const TensorInfo& t : f->tensors()) {
      w.add_tensor(t.name, t.dims, t.type, [&t](std::span<uint8_t> out) -> Status {
        std::memcpy(out.data(), t.data, out.size());
        return {};
      });
    }
    const auto start = std::chrono::steady_clock::now();
    auto bytes = w.write_to_memory();
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::printf("rewrite %s: %.1f ms\n", path.c_str(), ms);
    ASSERT_TRUE(bytes.ok()) << bytes.error().message;
    ASSERT_EQ(bytes->size(), f->file_size());
    EXPECT_TRUE(std::equal(bytes->begin(), bytes->end(), f->bytes().begin()));
  }
}

// ---- Cross-check against gguf-py ------------------------------------------

bool have_gguf_py() { return std::system("python3 -c 'import gguf' > /dev/null 2>&1") == 0; }

// Runs dump_gguf.py on `path`; fails the test on any problem.
json dump_with_gguf_py(const std::string& path, const std::string& tag) {
  const std::string out = ::tokamak::test::scratch_dir("gguf_real") + "/gguf_py_" + tag + ".json";
  const std::string err = out + ".err";
  const std::string cmd = "python3 '" + std::string(TOKAMAK_SOURCE_DIR) +
                          "/tests/engine/gguf/dump_gguf.py' '" + path + "' > '" + out + "' 2> '" +
                          err + "'";
  const int rc = std::system(cmd.c_str());
  std::ifstream in(out);
  std::stringstream text;
  text << in.rdbuf();
  if (rc != 0) {
    std::ifstream e(err);
    std::stringstream etext;
    etext << e.rdbuf();
    ADD_FAILURE() << cmd << " failed (" << rc << "): " << etext.str();
    return json();
  }
  return json::parse(text.str());
}

void expect_same(const Value& v, const json& j, const std::string& where);

// An array item given as a plain JSON value (or a VALUE for arrays of arrays).
void expect_same_item(const Value& v, ValueType elem, const json& j, const std::string& where) {
  ASSERT_EQ(v.type(), elem) << where;
  switch (elem) {
    case ValueType::Array:
      expect_same(v, j, where);
      return;
    case ValueType::String:
      if (j.is_object()) {
        std::string hex;
        for (unsigned char c : *v.as_string()) {
          char buf[3];
          std::snprintf(buf, sizeof(buf), "%02x", c);
          hex += buf;
        }
        EXPECT_EQ(hex, j.at("hex").get<std::string>()) << where;
      } else {
        EXPECT_EQ(*v.as_string(), j.get<std::string>()) << where;
      }
      return;
    case ValueType::Bool:
      EXPECT_EQ(*v.as_bool(), j.get<bool>()) << where;
      return;
    case ValueType::Float32:
    case ValueType::Float64:
      if (j.is_string()) {
        const double d = *v.as_float();
        const std::string s = std::isnan(d) ? "nan" : (d > 0 ? "inf" : "-inf");
        EXPECT_EQ(s, j.get<std::string>()) << where;
      } else {
        EXPECT_EQ(*v.as_float(), j.get<double>()) << where;
      }
      return;
    default:
      if (j.is_number_unsigned()) {
        EXPECT_EQ(v.as_uint(), j.get<uint64_t>()) << where;
      } else {
        EXPECT_EQ(v.as_int(), j.get<int64_t>()) << where;
      }
  }
}

void expect_same(const Value& v, const json& j, const std::string& where) {
  ASSERT_EQ(std::string(value_type_name(v.type())), j.at("type").get<std::string>()) << where;
  if (v.type() != ValueType::Array) {
    expect_same_item(v, v.type(), j.at("value"), where);
    return;
  }
  const Array& a = *v.as_array();
  ASSERT_EQ(std::string(value_type_name(a.elem_type)), j.at("elem_type").get<std::string>())
      << where;
  const json& items = j.at("items");
  ASSERT_EQ(a.items.size(), items.size()) << where;
  for (size_t i = 0; i < a.items.size(); ++i) {
    expect_same_item(a.items[i], a.elem_type, items[i], where + "[" + std::to_string(i) + "]");
    if (::testing::Test::HasFailure()) return;  // one mismatch is enough
  }
}

void expect_matches_gguf_py(const File& f, const std::string& tag) {
  const json j = dump_with_gguf_py(f.path(), tag);
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(f.version(), j.at("version").get<uint32_t>());
  EXPECT_EQ(f.alignment(), j.at("alignment").get<uint64_t>());
  EXPECT_EQ(f.data_offset(), j.at("data_offset").get<uint64_t>());
  const json& md = j.at("metadata");
  ASSERT_EQ(f.metadata().size(), md.size());
  for (size_t i = 0; i < md.size(); ++i) {
    const auto& [key, value] = f.metadata()[i];
    ASSERT_EQ(key, md[i].at("key").get<std::string>()) << "entry " << i;
    expect_same(value, md[i].at("value"), key);
  }
  const json& ts = j.at("tensors");
  ASSERT_EQ(f.tensors().size(), ts.size());
  for (size_t i = 0; i < ts.size(); ++i) {
    const TensorInfo& t = f.tensors()[i];
    EXPECT_EQ(t.name, ts[i].at("name").get<std::string>());
    EXPECT_EQ(static_cast<uint32_t>(t.type), ts[i].at("type").get<uint32_t>()) << t.name;
    EXPECT_EQ(t.dims, ts[i].at("dims").get<std::vector<int64_t>>()) << t.name;
    EXPECT_EQ(t.offset, ts[i].at("offset").get<uint64_t>()) << t.name;
    EXPECT_EQ(t.size_bytes, ts[i].at("size_bytes").get<uint64_t>()) << t.name;
  }
}

class GgufPyCrossCheck : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_gguf_py()) GTEST_SKIP() << "python3 with the gguf module is not installed";
  }
};

TEST_F(GgufPyCrossCheck, Aidreams) {
  auto f = open_or_die(kAidreams);
  ASSERT_NE(f, nullptr);
  expect_matches_gguf_py(*f, "aidreams");
}

TEST_F(GgufPyCrossCheck, Llama2SpmVocab) {
  auto f = open_or_die(kSpm);
  ASSERT_NE(f, nullptr);
  expect_matches_gguf_py(*f, "spm");
}

TEST_F(GgufPyCrossCheck, Llama3BpeVocab) {
  auto f = open_or_die(kBpe);
  ASSERT_NE(f, nullptr);
  expect_matches_gguf_py(*f, "bpe");
}

// Our reader on a file gguf-py's GGUFWriter wrote: every value type and
// arrays of arrays, which the real model files do not use.
TEST_F(GgufPyCrossCheck, ReadsFileWrittenByGgufPy) {
  const std::string path = ::tokamak::test::scratch_dir("gguf_real") + "/written_by_gguf_py.gguf";
  const std::string cmd = "python3 '" + std::string(TOKAMAK_SOURCE_DIR) +
                          "/tests/engine/gguf/make_gguf_py_file.py' '" + path + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  auto f = open_or_die(path);
  ASSERT_NE(f, nullptr);
  expect_matches_gguf_py(*f, "gguf_py_written");
  // And against the values the script wrote.
  const auto expect = [&](std::string_view key, const Value& v) {
    const Value* got = f->find(key);
    ASSERT_NE(got, nullptr) << key;
    EXPECT_EQ(*got, v) << key << ": " << got->to_display_string();
  };
  expect("general.architecture", Value::string("testarch"));
  expect("t.u8", Value::u8(250));
  expect("t.i8", Value::i8(-7));
  expect("t.u16", Value::u16(65535));
  expect("t.i16", Value::i16(-32768));
  expect("t.u32", Value::u32(4294967295u));
  expect("t.i32", Value::i32(std::numeric_limits<int32_t>::min()));
  expect("t.f32", Value::f32(0.1f));
  expect("t.u64", Value::u64(std::numeric_limits<uint64_t>::max()));
  expect("t.i64", Value::i64(std::numeric_limits<int64_t>::min()));
  expect("t.f64", Value::f64(1e308));
  expect("t.bool", Value::boolean(true));
  expect("t.string", Value::string("h\xc3\xa9llo"));
  expect("t.arr.i32", Value::i32_array({1, 2, -3}));
  expect("t.arr.f32", Value::f32_array({0.5f, 1.5f}));
  expect("t.arr.string", Value::string_array({"a", "bc"}));
  expect("t.arr.bool",
         test::nested({Value::boolean(true), Value::boolean(false)}, ValueType::Bool));
  expect("t.nested.i32",
         test::nested({Value::i32_array({1, 2}), Value::i32_array({3})}, ValueType::Array));
  expect("t.nested.string",
         test::nested({Value::string_array({"x"}), Value::string_array({"y", "z"})},
                      ValueType::Array));
  expect("t.nested3.f32",
         test::nested({test::nested({Value::f32_array({1.0f})}, ValueType::Array),
                       test::nested({Value::f32_array({2.0f, 3.0f})}, ValueType::Array)},
                      ValueType::Array));
  ASSERT_EQ(f->tensors().size(), 3u);
  const TensorInfo* t = f->find_tensor("f32");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->dims, (std::vector<int64_t>{4, 3}));  // numpy (3, 4): rows of 4
  EXPECT_EQ(reinterpret_cast<const float*>(t->data)[11], 11.0f);
  const TensorInfo* q8 = f->find_tensor("q8");
  ASSERT_NE(q8, nullptr);
  EXPECT_EQ(q8->type, TensorType::Q8_0);
  EXPECT_EQ(q8->dims, (std::vector<int64_t>{32, 2}));
  EXPECT_EQ(q8->size_bytes, 68u);
  EXPECT_EQ(q8->data[67], 67);
}

// gguf-py reads what our Writer wrote, and sees what our reader sees:
// every value type, nested arrays, odd strings, tensors of many types.
TEST_F(GgufPyCrossCheck, WriterOutputReadByGgufPy) {
  for (auto [version, alignment] : {std::pair{3u, 32u}, std::pair{2u, 64u}, std::pair{3u, 8u}}) {
    Writer w(version, alignment);
    for (auto& [k, v] : test::all_values()) w.set(k, v);
    w.set("t.string.not_utf8", Value::string("\xff\xfe ok"));
    w.set("t.f64.nan", Value::f64(std::nan("")));
    w.set("t.f32.neginf", Value::f32(-INFINITY));
    const std::vector<std::pair<TensorType, std::vector<int64_t>>> tensors = {
        {TensorType::F32, {3, 5}},   {TensorType::F16, {7}},           {TensorType::Q4_0, {64, 2}},
        {TensorType::Q8_0, {32, 3}}, {TensorType::Q4_K, {256, 2}},     {TensorType::Q6_K, {256}},
        {TensorType::Q5_K, {512}},   {TensorType::BF16, {2, 3, 4, 5}}, {TensorType::I32, {9}},
    };
    for (size_t i = 0; i < tensors.size(); ++i) {
      const auto& [type, dims] = tensors[i];
      const auto& tr = traits(type);
      int64_t n = 1;
      for (int64_t d : dims) n *= d;
      w.add_tensor("blk." + std::to_string(i) + ".w", dims, type,
                   std::vector<uint8_t>(static_cast<size_t>(n / tr.block_size) * tr.type_size,
                                        static_cast<uint8_t>(i)));
    }
    const std::string path = ::tokamak::test::scratch_dir("gguf_real") + "/writer_v" +
                             std::to_string(version) + "_a" + std::to_string(alignment) + ".gguf";
    ASSERT_TRUE(w.write(path).ok());
    auto f = open_or_die(path);
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->metadata().size(), test::all_values().size() + 3 + (alignment != 32 ? 1 : 0));
    expect_matches_gguf_py(*f, "writer");
  }
}

}  // namespace
}  // namespace tokamak::gguf
