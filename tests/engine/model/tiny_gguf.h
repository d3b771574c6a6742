// Test helper: small random llama/qwen2 models built in memory with
// gguf::Writer (llama.cpp tensor and key names), for the model and cpu tests.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/tensor_type.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "model/model.h"
#include "quant/quant.h"
#include "tokenizer/vocab.h"

namespace tokamak::testing {

struct TinyConfig {
  std::string arch = "llama";
  int32_t dim = 256;
  int32_t hidden_dim = 512;
  int32_t num_layers = 2;
  int32_t num_heads = 4;
  int32_t num_kv_heads = 2;
  int32_t vocab_size = 64;
  int32_t context_length = 256;
  float rope_theta = 10000.0f;
  TensorType weight_type = TensorType::F32;  // every matrix
  TensorType embd_type = TensorType::F32;    // token_embd
  bool tied = false;                         // no output.weight
  bool biases = false;                       // attn_q/k/v.bias (qwen2)
  std::vector<float> rope_freqs;             // rope_freqs.weight when not empty
  uint32_t seed = 1;
  // Called for every tensor before it is added: tests change names, dims
  // or types to provoke errors (an empty name drops the tensor).
  std::function<void(std::string& name, std::vector<int64_t>& dims, TensorType& type)> tweak;
};

// A vocabulary of `size` tokens: <unk>, <s>, </s>, then plain pieces.
inline Vocab tiny_vocab(int32_t size) {
  Vocab v;
  v.kind = VocabKind::Spm;
  for (int32_t i = 0; i < size; ++i) {
    v.tokens.push_back(i == 0   ? "<unk>"
                       : i == 1 ? "<s>"
                       : i == 2 ? "</s>"
                                : "\xe2\x96\x81t" + std::to_string(i));
    v.scores.push_back(-static_cast<float>(i));
    v.types.push_back(i < 3 ? (i == 0 ? TokenType::Unknown : TokenType::Control)
                            : TokenType::Normal);
  }
  v.unk_id = 0;
  v.bos_id = 1;
  v.eos_id = 2;
  v.eog_ids = {2};
  return v;
}

// Values of tensor `name`: norms near 1, everything else uniform, scaled so
// activations stay O(1) through the layers.
inline std::vector<float> tiny_values(const std::string& name, int64_t count, int64_t row_length,
                                      std::mt19937& rng) {
  std::vector<float> out(count);
  const bool norm = name.find("norm") != std::string::npos;
  const bool bias = name.find(".bias") != std::string::npos;
  const bool embd = name == "token_embd.weight";
  const float scale = embd ? 1.0f : bias ? 0.2f : 1.7f / std::sqrt(static_cast<float>(row_length));
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (auto& x : out) x = norm ? 1.0f + 0.2f * u(rng) : scale * u(rng);
  return out;
}

// Encodes f32 values as `type` (row by row); types quant cannot produce
// (unsupported ones, for error tests) become zero bytes of the right size.
inline std::vector<uint8_t> encode_tensor(const std::vector<float>& values, int64_t row_length,
                                          TensorType type) {
  const int64_t rows = static_cast<int64_t>(values.size()) / row_length;
  const size_t row_bytes = row_size_bytes(type, row_length);
  std::vector<uint8_t> out(rows * row_bytes);
  for (int64_t r = 0; r < rows; ++r) {
    const float* src = values.data() + r * row_length;
    uint8_t* dst = out.data() + r * row_bytes;
    if (type == TensorType::F32) {
      std::memcpy(dst, src, row_bytes);
    } else {
      Status s = quant::quantize_row(type, src, dst, row_length);
      if (!s.ok()) std::memset(dst, 0, row_bytes);
    }
  }
  return out;
}

inline gguf::Writer tiny_writer(const TinyConfig& c) {
  gguf::Writer w;
  const std::string& a = c.arch;
  w.set("general.architecture", gguf::Value::string(a));
  w.set("general.name", gguf::Value::string("tiny-" + a));
  w.set(a + ".block_count", gguf::Value::u32(c.num_layers));
  w.set(a + ".context_length", gguf::Value::u32(c.context_length));
  w.set(a + ".embedding_length", gguf::Value::u32(c.dim));
  w.set(a + ".feed_forward_length", gguf::Value::u32(c.hidden_dim));
  w.set(a + ".attention.head_count", gguf::Value::u32(c.num_heads));
  w.set(a + ".attention.head_count_kv", gguf::Value::u32(c.num_kv_heads));
  w.set(a + ".attention.layer_norm_rms_epsilon", gguf::Value::f32(1e-5f));
  w.set(a + ".rope.freq_base", gguf::Value::f32(c.rope_theta));
  w.set(a + ".rope.dimension_count", gguf::Value::u32(c.dim / c.num_heads));
  tiny_vocab(c.vocab_size).to_gguf(w);

  std::mt19937 rng(c.seed);
  const int64_t head_dim = c.dim / c.num_heads;
  const int64_t q_dim = c.num_heads * head_dim, kv_dim = c.num_kv_heads * head_dim;
  auto add = [&](std::string name, std::vector<int64_t> dims, TensorType type) {
    const int64_t count = dims.size() == 1 ? dims[0] : dims[0] * dims[1];
    std::vector<float> values = tiny_values(name, count, dims[0], rng);
    if (c.tweak) c.tweak(name, dims, type);
    if (name.empty()) return;
    const int64_t new_count = dims.size() == 1 ? dims[0] : dims[0] * dims[1];
    values.resize(new_count, 0.5f);
    w.add_tensor(name, dims, type, encode_tensor(values, dims[0], type));
  };
  add("token_embd.weight", {c.dim, c.vocab_size}, c.embd_type);
  add("output_norm.weight", {c.dim}, TensorType::F32);
  if (!c.tied) add("output.weight", {c.dim, c.vocab_size}, c.weight_type);
  if (!c.rope_freqs.empty()) {
    w.add_tensor("rope_freqs.weight", {static_cast<int64_t>(c.rope_freqs.size())}, TensorType::F32,
                 encode_tensor(c.rope_freqs, c.rope_freqs.size(), TensorType::F32));
  }
  for (int32_t l = 0; l < c.num_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    add(p + "attn_norm.weight", {c.dim}, TensorType::F32);
    add(p + "attn_q.weight", {c.dim, q_dim}, c.weight_type);
    add(p + "attn_k.weight", {c.dim, kv_dim}, c.weight_type);
    add(p + "attn_v.weight", {c.dim, kv_dim}, c.weight_type);
    if (c.biases) {
      add(p + "attn_q.bias", {q_dim}, TensorType::F32);
      add(p + "attn_k.bias", {kv_dim}, TensorType::F32);
      add(p + "attn_v.bias", {kv_dim}, TensorType::F32);
    }
    add(p + "attn_output.weight", {q_dim, c.dim}, c.weight_type);
    add(p + "ffn_norm.weight", {c.dim}, TensorType::F32);
    add(p + "ffn_gate.weight", {c.dim, c.hidden_dim}, c.weight_type);
    add(p + "ffn_up.weight", {c.dim, c.hidden_dim}, c.weight_type);
    add(p + "ffn_down.weight", {c.hidden_dim, c.dim}, c.weight_type);
  }
  return w;
}

// A file image kept alive next to what was opened from it.
struct TinyFile {
  std::shared_ptr<std::vector<uint8_t>> bytes;
  std::unique_ptr<gguf::File> file;
};

inline Result<TinyFile> open_writer(const gguf::Writer& w, const std::string& name = "tiny.gguf") {
  TK_ASSIGN(std::vector<uint8_t> bytes, w.write_to_memory());
  TinyFile out;
  out.bytes = std::make_shared<std::vector<uint8_t>>(std::move(bytes));
  TK_ASSIGN(out.file, gguf::File::from_memory(*out.bytes, name));
  return out;
}

// A loaded tiny Model that keeps its file image alive for as long as any
// shared_ptr to it (a backend's included) exists.
inline Result<std::shared_ptr<const Model>> make_tiny_model(const TinyConfig& c) {
  struct Holder {
    std::shared_ptr<std::vector<uint8_t>> bytes;
    std::shared_ptr<const Model> model;  // destroyed before bytes
  };
  TK_ASSIGN(TinyFile f, open_writer(tiny_writer(c)));
  auto holder = std::make_shared<Holder>();
  holder->bytes = f.bytes;
  TK_ASSIGN(holder->model, Model::from_file(std::move(f.file)));
  const Model* raw = holder->model.get();
  return std::shared_ptr<const Model>(holder, raw);
}

}  // namespace tokamak::testing
