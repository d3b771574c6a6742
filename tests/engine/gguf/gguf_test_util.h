// Helpers of the GGUF tests: build files with the Writer, find and patch
// fields in their bytes.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
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

}  // namespace tokamak::gguf::test
