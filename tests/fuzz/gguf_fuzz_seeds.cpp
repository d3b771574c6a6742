// Writes the seed corpus of the GGUF fuzzer: small valid files made with the
// Writer (every value type, nested arrays, several tensor types, versions 2
// and 3, odd alignments) and, when the real aidreams GGUF is given, its
// metadata with tiny tensors.
//
//   gguf_fuzz_seeds OUT_DIR [aidreams260K-llamacpp-f32.gguf]
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"

namespace tokamak::gguf {
namespace {

std::vector<uint8_t> pattern(const TensorType type, const std::vector<int64_t>& dims) {
  const auto& t = traits(type);
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  std::vector<uint8_t> data(static_cast<size_t>(n / t.block_size) * t.type_size);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 31 + 7);
  return data;
}

Writer small_model() {
  Writer w;
  w.set("general.architecture", Value::string("llama"));
  w.set("llama.block_count", Value::u32(1));
  w.set("llama.embedding_length", Value::u32(8));
  w.set("llama.attention.layer_norm_rms_epsilon", Value::f32(1e-5f));
  w.set("tokenizer.ggml.tokens", Value::string_array({"<unk>", "<s>", "</s>", "a", "b"}));
  w.set("tokenizer.ggml.scores", Value::f32_array({0, 0, 0, -1, -2}));
  w.set("tokenizer.ggml.token_type", Value::i32_array({2, 3, 3, 1, 1}));
  w.add_tensor("token_embd.weight", {8, 5}, TensorType::F32, pattern(TensorType::F32, {8, 5}));
  w.add_tensor("output_norm.weight", {8}, TensorType::F32, pattern(TensorType::F32, {8}));
  return w;
}

Writer every_value_type() {
  Writer w(2, 16);
  w.set("u8", Value::u8(200));
  w.set("i8", Value::i8(-100));
  w.set("u16", Value::u16(60000));
  w.set("i16", Value::i16(-30000));
  w.set("u32", Value::u32(4000000000u));
  w.set("i32", Value::i32(-2000000000));
  w.set("f32", Value::f32(0.25f));
  w.set("bool", Value::boolean(true));
  w.set("string", Value::string("text"));
  w.set("u64", Value::u64(~uint64_t{0}));
  w.set("i64", Value::i64(-1));
  w.set("f64", Value::f64(-2.5));
  w.set("arr.u8", Value::array(Array{ValueType::UInt8, {Value::u8(1), Value::u8(2)}}));
  w.set("arr.bool", Value::array(Array{ValueType::Bool, {Value::boolean(false)}}));
  w.set("arr.u64", Value::array(Array{ValueType::UInt64, {Value::u64(5)}}));
  w.set("arr.arr", Value::array(Array{ValueType::Array,
                                      {Value::i32_array({1, 2}), Value::string_array({"x"}),
                                       Value::array(Array{ValueType::Float64, {}})}}));
  w.add_tensor("scalar", {}, TensorType::F32, pattern(TensorType::F32, {}));
  return w;
}

Writer quantized(uint32_t version, uint64_t alignment) {
  Writer w(version, alignment);
  w.set("general.architecture", Value::string("llama"));
  const std::vector<std::pair<TensorType, std::vector<int64_t>>> tensors = {
      {TensorType::Q4_0, {32, 2}}, {TensorType::Q8_0, {64}},       {TensorType::Q4_K, {256}},
      {TensorType::Q6_K, {256}},   {TensorType::Q5_K, {256}},      {TensorType::F16, {3, 1, 2}},
      {TensorType::BF16, {4}},     {TensorType::I8, {1, 1, 1, 5}}, {TensorType::IQ4_NL, {32}},
  };
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& [type, dims] = tensors[i];
    w.add_tensor("blk." + std::to_string(i) + ".weight", dims, type, pattern(type, dims));
  }
  return w;
}

// The real file's metadata (vocabulary of 512 tokens, hyperparameters) with
// each tensor cut to one row, so that the seed stays small.
bool aidreams_metadata(const std::string& path, Writer* w) {
  auto f = File::open(path);
  if (!f.ok()) {
    std::fprintf(stderr, "%s\n", f.error().message.c_str());
    return false;
  }
  for (const auto& [key, value] : (*f)->metadata()) w->set(key, value);
  int kept = 0;
  for (const TensorInfo& t : (*f)->tensors()) {
    if (++kept > 4) break;
    const std::vector<int64_t> row = {t.dims.empty() ? 1 : t.dims[0]};
    w->add_tensor(t.name, row, t.type, pattern(t.type, row));
  }
  return true;
}

}  // namespace
}  // namespace tokamak::gguf

int main(int argc, char** argv) {
  using namespace tokamak::gguf;
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: %s OUT_DIR [aidreams.gguf]\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  std::filesystem::create_directories(dir);
  std::vector<std::pair<std::string, Writer>> seeds;
  seeds.emplace_back("empty.gguf", Writer());
  seeds.emplace_back("small_model.gguf", small_model());
  seeds.emplace_back("every_value_type.gguf", every_value_type());
  seeds.emplace_back("quantized_v3.gguf", quantized(3, 32));
  seeds.emplace_back("quantized_v2_align1.gguf", quantized(2, 1));
  if (argc == 3) {
    Writer w;
    if (!aidreams_metadata(argv[2], &w)) return 1;
    seeds.emplace_back("aidreams_metadata.gguf", std::move(w));
  }
  for (const auto& [name, writer] : seeds) {
    const auto status = writer.write(dir + "/" + name);
    if (!status.ok()) {
      std::fprintf(stderr, "%s\n", status.error().message.c_str());
      return 1;
    }
  }
  std::printf("wrote %zu seeds to %s\n", seeds.size(), dir.c_str());
  return 0;
}
