// Helpers of the GGUF tests: build files with the Writer, find and patch
// fields in their bytes.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"

namespace tokamak::gguf::test {

inline std::vector<uint8_t> bytes_of(const Writer& w) {
  auto r = w.write_to_memory();
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? std::move(r).value() : std::vector<uint8_t>{};
}

// Offset just past the first occurrence of the GGUF string `s` (u64 length + bytes).
inline size_t after_string(const std::vector<uint8_t>& b, std::string_view s) {
  const uint64_t n = s.size();
  std::vector<uint8_t> pattern(reinterpret_cast<const uint8_t*>(&n),
                               reinterpret_cast<const uint8_t*>(&n) + 8);
  pattern.insert(pattern.end(), s.begin(), s.end());
  for (size_t i = 0; i + pattern.size() <= b.size(); ++i) {
    if (std::memcmp(b.data() + i, pattern.data(), pattern.size()) == 0) return i + pattern.size();
  }
  ADD_FAILURE() << "string " << s << " not found";
  return 0;
}

template <class T>
void poke(std::vector<uint8_t>& b, size_t offset, T v) {
  ASSERT_LE(offset + sizeof(T), b.size());
  std::memcpy(b.data() + offset, &v, sizeof(T));
}

template <class T>
T peek(const std::vector<uint8_t>& b, size_t offset) {
  T v{};
  std::memcpy(&v, b.data() + offset, sizeof(T));
  return v;
}

// Opens `b` under the name "model.gguf" and returns the error message (or
// "OK" when it opened).
inline std::string open_error(const std::vector<uint8_t>& b) {
  auto r = File::from_memory(b, "model.gguf");
  return r.ok() ? "OK" : r.error().message;
}

inline std::vector<uint8_t> f32_bytes(const std::vector<float>& v) {
  std::vector<uint8_t> out(v.size() * 4);
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

// A small valid model-like file: a few keys and two F32 tensors.
//   blk.0.attn_q.weight (4, 8) F32, values 0..31; output_norm.weight (8) F32.
inline Writer small_writer(uint32_t version = 3, uint64_t alignment = 32) {
  Writer w(version, alignment);
  w.set("general.architecture", Value::string("llama"));
  w.set("llama.block_count", Value::u32(1));
  w.set("tokenizer.ggml.tokens", Value::string_array({"<unk>", "<s>", "</s>", "a"}));
  std::vector<float> q(32), norm(8, 1.0f);
  for (int i = 0; i < 32; ++i) q[i] = static_cast<float>(i);
  w.add_tensor("blk.0.attn_q.weight", {8, 4}, TensorType::F32, f32_bytes(q));
  w.add_tensor("output_norm.weight", {8}, TensorType::F32, f32_bytes(norm));
  return w;
}

inline Value nested(std::vector<Value> items, ValueType elem) {
  return Value::array(Array{elem, std::move(items)});
}

// Every one of the 13 value types, at their extremes, plus arrays of each.
inline std::vector<std::pair<std::string, Value>> all_values() {
  using L8 = std::numeric_limits<int8_t>;
  using L16 = std::numeric_limits<int16_t>;
  using L32 = std::numeric_limits<int32_t>;
  using L64 = std::numeric_limits<int64_t>;
  std::vector<std::pair<std::string, Value>> kv = {
      {"t.u8", Value::u8(255)},
      {"t.i8", Value::i8(L8::min())},
      {"t.u16", Value::u16(65535)},
      {"t.i16", Value::i16(L16::min())},
      {"t.u32", Value::u32(4294967295u)},
      {"t.i32", Value::i32(L32::min())},
      {"t.f32", Value::f32(-1.5e-7f)},
      {"t.bool.true", Value::boolean(true)},
      {"t.bool.false", Value::boolean(false)},
      {"t.string", Value::string("h\xc3\xa9llo \"w\"\n\0x")},
      {"t.string.empty", Value::string("")},
      {"t.u64", Value::u64(std::numeric_limits<uint64_t>::max())},
      {"t.i64", Value::i64(L64::min())},
      {"t.f64", Value::f64(3.141592653589793)},
      {"t.f32.inf", Value::f32(std::numeric_limits<float>::infinity())},
  };
  kv.emplace_back("t.arr.u8", nested({Value::u8(0), Value::u8(200)}, ValueType::UInt8));
  kv.emplace_back("t.arr.i8", nested({Value::i8(-1), Value::i8(127)}, ValueType::Int8));
  kv.emplace_back("t.arr.u16", nested({Value::u16(1), Value::u16(65000)}, ValueType::UInt16));
  kv.emplace_back("t.arr.i16", nested({Value::i16(-300)}, ValueType::Int16));
  kv.emplace_back("t.arr.u32", nested({Value::u32(7)}, ValueType::UInt32));
  kv.emplace_back("t.arr.i32", Value::i32_array({-5, 0, L32::max()}));
  kv.emplace_back("t.arr.f32", Value::f32_array({0.25f, -0.0f, 1e30f}));
  kv.emplace_back("t.arr.bool",
                  nested({Value::boolean(true), Value::boolean(false)}, ValueType::Bool));
  kv.emplace_back("t.arr.string", Value::string_array({"a", "", "long string value here"}));
  kv.emplace_back("t.arr.u64", nested({Value::u64(1ull << 63)}, ValueType::UInt64));
  kv.emplace_back("t.arr.i64", nested({Value::i64(L64::max())}, ValueType::Int64));
  kv.emplace_back("t.arr.f64", nested({Value::f64(1e-300)}, ValueType::Float64));
  kv.emplace_back("t.arr.empty", nested({}, ValueType::Float32));
  // Arrays of arrays: inner arrays of different element types and lengths.
  kv.emplace_back(
      "t.arr.arr",
      nested({Value::i32_array({1, 2, 3}), Value::string_array({"x", "yz"}),
              nested({}, ValueType::UInt8),
              nested({nested({Value::f64(2.5)}, ValueType::Float64)}, ValueType::Array)},
             ValueType::Array));
  return kv;
}

}  // namespace tokamak::gguf::test
