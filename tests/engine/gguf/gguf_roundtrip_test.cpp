// Writer -> File round trips: every value type, nested arrays, tensors of
// many types, versions 2 and 3, several alignments, typed look-ups.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "gguf_test_util.h"

namespace tokamak::gguf {
namespace {

using test::all_values;
using test::bytes_of;
using test::nested;

TEST(GgufRoundTrip, EveryValueTypeAndNestedArrays) {
  for (uint32_t version : {2u, 3u}) {
    Writer w(version);
    const auto kv = all_values();
    for (const auto& [k, v] : kv) w.set(k, v);
    const auto bytes = bytes_of(w);
    auto file = File::from_memory(bytes, "rt.gguf");
    ASSERT_TRUE(file.ok()) << file.error().message;
    EXPECT_EQ((*file)->version(), version);
    ASSERT_EQ((*file)->metadata().size(), kv.size());
    for (size_t i = 0; i < kv.size(); ++i) {
      const auto& [key, value] = (*file)->metadata()[i];
      EXPECT_EQ(key, kv[i].first) << "insertion order is kept";
      EXPECT_EQ(value, kv[i].second) << key << ": " << value.to_display_string();
      EXPECT_EQ(value.type(), kv[i].second.type()) << key;
    }
    EXPECT_TRUE((*file)->tensors().empty());
    EXPECT_EQ((*file)->data_offset() % 32, 0u);
  }
}

TEST(GgufRoundTrip, StringWithEmbeddedNulSurvives) {
  Writer w;
  const std::string s("a\0b\xff", 4);
  w.set("k", Value::string(s));
  const auto bytes = bytes_of(w);
  auto kept = File::from_memory(bytes);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(*(*kept)->find("k")->as_string(), s);
}

TEST(GgufRoundTrip, SetReplacesInPlaceAndRemoveDrops) {
  Writer w;
  w.set("a", Value::u32(1));
  w.set("b", Value::u32(2));
  w.set("a", Value::string("again"));
  w.set("c", Value::u32(3));
  w.remove("b");
  ASSERT_NE(w.find("a"), nullptr);
  EXPECT_EQ(w.find("b"), nullptr);
  const auto bytes = bytes_of(w);
  auto file = File::from_memory(bytes);
  ASSERT_TRUE(file.ok());
  const auto& md = (*file)->metadata();
  ASSERT_EQ(md.size(), 2u);
  EXPECT_EQ(md[0].first, "a");
  EXPECT_EQ(*md[0].second.as_string(), "again");
  EXPECT_EQ(md[1].first, "c");
}

struct TypeCase {
  TensorType type;
  std::vector<int64_t> dims;
};

// Tensors of supported and merely-known types load with the right sizes,
// offsets on the alignment and their bytes intact.
TEST(GgufRoundTrip, TensorsOfManyTypesAndAlignments) {
  const std::vector<TypeCase> cases = {
      {TensorType::F32, {3, 5}},
      {TensorType::F16, {7}},
      {TensorType::BF16, {2, 2, 2, 2}},
      {TensorType::Q4_0, {64, 3}},
      {TensorType::Q8_0, {32}},
      {TensorType::Q4_K, {256, 2}},
      {TensorType::Q5_K, {512}},
      {TensorType::Q6_K, {256, 1, 3}},
      {TensorType::IQ2_XS, {256}},
      {TensorType::I8, {5}},
      {TensorType::I64, {3}},
      {TensorType::F64, {1, 1}},
      {TensorType::MXFP4, {32, 2}},
      {TensorType::TQ2_0, {256}},
      {TensorType::F32, {}},  // a scalar: 0 dimensions, 1 value
  };
  for (uint64_t alignment : {1u, 8u, 32u, 64u, 4096u}) {
    Writer w(3, alignment);
    w.set("general.architecture", Value::string("test"));
    std::vector<std::vector<uint8_t>> expected;
    for (size_t i = 0; i < cases.size(); ++i) {
      const auto& tr = traits(cases[i].type);
      int64_t n = 1;
      for (int64_t d : cases[i].dims) n *= d;
      std::vector<uint8_t> data(static_cast<size_t>(n / tr.block_size) * tr.type_size);
      for (size_t j = 0; j < data.size(); ++j) data[j] = static_cast<uint8_t>(j * 7 + i);
      expected.push_back(data);
      w.add_tensor("t" + std::to_string(i), cases[i].dims, cases[i].type, data);
    }
    const auto bytes = bytes_of(w);
    auto file = File::from_memory(bytes, "types.gguf");
    ASSERT_TRUE(file.ok()) << file.error().message;
    const File& f = **file;
    EXPECT_EQ(f.alignment(), alignment);
    EXPECT_EQ(f.data_offset() % alignment, 0u);
    ASSERT_EQ(f.tensors().size(), cases.size());
    for (size_t i = 0; i < cases.size(); ++i) {
      const TensorInfo& t = f.tensors()[i];
      SCOPED_TRACE(t.name);
      EXPECT_EQ(t.name, "t" + std::to_string(i));
      EXPECT_EQ(t.type, cases[i].type);
      EXPECT_EQ(t.dims, cases[i].dims);
      EXPECT_EQ(t.size_bytes, expected[i].size());
      EXPECT_EQ(t.offset % alignment, 0u);
      ASSERT_EQ(t.data, bytes.data() + f.data_offset() + t.offset);
      EXPECT_EQ(std::vector<uint8_t>(t.data, t.data + t.size_bytes), expected[i]);
      EXPECT_EQ(f.find_tensor(t.name), &t);
    }
    EXPECT_EQ(f.find_tensor("nope"), nullptr);
    if (alignment != 32) {
      EXPECT_EQ(*f.get_int("general.alignment"), static_cast<int64_t>(alignment));
    } else {
      EXPECT_EQ(f.find("general.alignment"), nullptr);
    }
  }
}

TEST(GgufRoundTrip, TensorShapeHelpers) {
  const auto bytes = bytes_of(test::small_writer());
  auto file = File::from_memory(bytes);
  ASSERT_TRUE(file.ok()) << file.error().message;
  const TensorInfo* q = (*file)->find_tensor("blk.0.attn_q.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->row_length(), 8);
  EXPECT_EQ(q->num_rows(), 4);
  EXPECT_EQ(q->num_values(), 32);
  const auto* values = reinterpret_cast<const float*>(q->data);
  EXPECT_EQ(values[0], 0.0f);
  EXPECT_EQ(values[31], 31.0f);
}

TEST(GgufLookups, TypedGettersAndMessages) {
  Writer w;
  w.set("llama.block_count", Value::string("four"));
  w.set("n", Value::u16(12));
  w.set("big", Value::u64(std::numeric_limits<uint64_t>::max()));
  w.set("neg", Value::i8(-3));
  w.set("f", Value::f32(0.5f));
  w.set("b", Value::boolean(true));
  w.set("s", Value::string("text"));
  w.set("toks", Value::string_array({"a", "b"}));
  const auto bytes = bytes_of(w);
  auto file = File::from_memory(bytes, "model.gguf");
  ASSERT_TRUE(file.ok());
  const File& f = **file;

  EXPECT_EQ(*f.get_int("n"), 12);
  EXPECT_EQ(*f.get_int("neg"), -3);
  EXPECT_EQ(*f.get_float("f"), 0.5);
  EXPECT_EQ(*f.get_float("n"), 12.0) << "integers are numbers too";
  EXPECT_EQ(*f.get_string("s"), "text");
  EXPECT_EQ(*f.get_bool_or("b", false), true);
  EXPECT_EQ(*f.get_bool_or("missing", true), true);
  EXPECT_EQ(*f.get_int_or("missing", 7), 7);
  EXPECT_EQ(*f.get_float_or("missing", 1.5), 1.5);
  EXPECT_EQ(*f.get_string_or("missing", "dflt"), "dflt");
  EXPECT_EQ(*f.get_string_or("s", "dflt"), "text");
  auto toks = f.get_array("toks", ValueType::String);
  ASSERT_TRUE(toks.ok());
  EXPECT_EQ((*toks)->items.size(), 2u);

  auto e1 = f.get_int("llama.block_count");
  ASSERT_FALSE(e1.ok());
  EXPECT_EQ(e1.error().code, ErrorCode::BadFormat);
  EXPECT_EQ(e1.error().message,
            "model.gguf: key llama.block_count has type string, expected an integer");
  EXPECT_EQ(f.get_int_or("llama.block_count", 3).error().message,
            "model.gguf: key llama.block_count has type string, expected an integer");
  auto e2 = f.get_int("nothere");
  EXPECT_EQ(e2.error().code, ErrorCode::NotFound);
  EXPECT_EQ(e2.error().message, "model.gguf: key nothere not found");
  EXPECT_EQ(f.get_int("big").error().message,
            "model.gguf: key big has value 18446744073709551615, which does not fit in a "
            "signed 64-bit integer");
  EXPECT_EQ(f.get_string("n").error().message, "model.gguf: key n has type u16, expected a string");
  EXPECT_EQ(f.get_float("s").error().message,
            "model.gguf: key s has type string, expected a number");
  EXPECT_EQ(f.get_bool_or("n", false).error().message,
            "model.gguf: key n has type u16, expected a bool");
  EXPECT_EQ(f.get_array("toks", ValueType::Int32).error().message,
            "model.gguf: key toks has type array of string, expected an array of i32");
  EXPECT_EQ(f.get_array("s", ValueType::String).error().message,
            "model.gguf: key s has type string, expected an array of string");
}

TEST(GgufValue, AccessorsAndDisplay) {
  EXPECT_EQ(Value::u64(std::numeric_limits<uint64_t>::max()).as_int(), std::nullopt);
  EXPECT_EQ(Value::i32(-1).as_uint(), std::nullopt);
  EXPECT_EQ(Value::i32(-1).as_int(), -1);
  EXPECT_EQ(Value::u8(3).as_float(), 3.0);
  EXPECT_EQ(Value::string("x").as_int(), std::nullopt);
  EXPECT_TRUE(Value::i16(1).is_integer());
  EXPECT_FALSE(Value::f32(1).is_integer());
  EXPECT_TRUE(Value::f64(1).is_float());
  EXPECT_EQ(Value::boolean(true).as_int(), std::nullopt);
  EXPECT_EQ(Value::string("x").as_array(), nullptr);
  EXPECT_EQ(Value::u32(5).to_display_string(), "5");
  EXPECT_EQ(Value::i8(-5).to_display_string(), "-5");
  EXPECT_EQ(Value::f32(0.5f).to_display_string(), "0.5");
  EXPECT_EQ(Value::f32(1e-5f).to_display_string(), "1e-05");
  EXPECT_EQ(Value::f64(0.1).to_display_string(), "0.1");
  EXPECT_EQ(Value::boolean(false).to_display_string(), "false");
  EXPECT_EQ(Value::string("a\"b\n").to_display_string(), "\"a\\\"b\\n\"");
  EXPECT_EQ(Value::i32_array({1, 2}).to_display_string(), "[1, 2]");
  std::vector<std::string> many(32000, "t");
  EXPECT_EQ(Value::string_array(many).to_display_string(), "[32000 strings]");
  EXPECT_EQ(Value::f32_array(std::vector<float>(9)).to_display_string(), "[9 x f32]");
  EXPECT_EQ(value_type_name(ValueType::Float64), "f64");
  EXPECT_NE(Value::u32(1), Value::i32(1)) << "type is part of the value";
  EXPECT_EQ(Value::string_array({"a"}), Value::string_array({"a"}));
}

}  // namespace
}  // namespace tokamak::gguf
