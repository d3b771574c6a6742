#include "model/model_weights.h"

#include <string>

#include "gguf/gguf_file.h"

namespace tokamak {
namespace {

std::string supported_type_list() {
  std::string out;
  for (uint32_t id = 0; id < 64; ++id) {
    auto t = tensor_type_traits(id);
    if (!t || !t->supported) continue;
    if (!out.empty()) out += ", ";
    out += t->name;
  }
  return out;
}

std::string dims_string(const std::vector<int64_t>& dims) {
  std::string out = "[";
  for (size_t i = 0; i < dims.size(); ++i) out += (i ? ", " : "") + std::to_string(dims[i]);
  return out + "]";
}

enum class Need { Matrix, F32Vector };

// Binds one tensor by name, checking its shape ([row_length] for vectors,
// [row_length, rows] for matrices, as GGUF lists dims) and type.
class Binder {
 public:
  explicit Binder(const gguf::File& file) : file_(file) {}

  Result<WeightView> get(const std::string& name, Need need, int64_t row_length, int64_t rows) {
    const gguf::TensorInfo* t = file_.find_tensor(name);
    if (t == nullptr)
      return make_error(ErrorCode::BadFormat, file_.path() + ": tensor " + name + " is missing");
    return check(*t, need, row_length, rows);
  }

  // nullptr-data view when absent.
  Result<WeightView> optional(const std::string& name, Need need, int64_t row_length,
                              int64_t rows) {
    const gguf::TensorInfo* t = file_.find_tensor(name);
    if (t == nullptr) return WeightView{};
    return check(*t, need, row_length, rows);
  }

 private:
  Result<WeightView> check(const gguf::TensorInfo& t, Need need, int64_t row_length, int64_t rows) {
    const std::vector<int64_t> expected = need == Need::F32Vector
                                              ? std::vector<int64_t>{row_length}
                                              : std::vector<int64_t>{row_length, rows};
    if (t.dims != expected)
      return make_error(ErrorCode::BadFormat, file_.path() + ": tensor " + t.name + " has shape " +
                                                  dims_string(t.dims) + ", expected " +
                                                  dims_string(expected) +
                                                  " from the model's hyperparameters");
    if (need == Need::F32Vector && t.type != TensorType::F32)
      return make_error(ErrorCode::Unsupported,
                        file_.path() + ": tensor " + t.name + " has type " +
                            std::string(tensor_type_name(t.type)) +
                            "; Tokamak needs norms, biases and rope factors in F32");
    if (!is_supported_weight_type(t.type))
      return make_error(
          ErrorCode::Unsupported,
          file_.path() + ": tensor " + t.name + " has type " +
              std::string(tensor_type_name(t.type)) +
              ", which Tokamak does not support (supported: " + supported_type_list() + ")");
    WeightView v;
    v.data = t.data;
    v.type = t.type;
    v.rows = need == Need::F32Vector ? 1 : rows;
    v.row_length = row_length;
    v.name = t.name.c_str();
    return v;
  }

  const gguf::File& file_;
};

Result<LayerWeights> bind_layer(Binder& b, const ModelSpec& s, int32_t i) {
  const std::string p = "blk." + std::to_string(i) + ".";
  LayerWeights l;
  TK_ASSIGN(l.attn_norm, b.get(p + "attn_norm.weight", Need::F32Vector, s.dim, 1));
  TK_ASSIGN(l.wq, b.get(p + "attn_q.weight", Need::Matrix, s.dim, s.q_dim()));
  TK_ASSIGN(l.wk, b.get(p + "attn_k.weight", Need::Matrix, s.dim, s.kv_dim()));
  TK_ASSIGN(l.wv, b.get(p + "attn_v.weight", Need::Matrix, s.dim, s.kv_dim()));
  TK_ASSIGN(l.wo, b.get(p + "attn_output.weight", Need::Matrix, s.q_dim(), s.dim));
  TK_ASSIGN(l.bq, b.optional(p + "attn_q.bias", Need::F32Vector, s.q_dim(), 1));
  TK_ASSIGN(l.bk, b.optional(p + "attn_k.bias", Need::F32Vector, s.kv_dim(), 1));
  TK_ASSIGN(l.bv, b.optional(p + "attn_v.bias", Need::F32Vector, s.kv_dim(), 1));
  TK_ASSIGN(l.ffn_norm, b.get(p + "ffn_norm.weight", Need::F32Vector, s.dim, 1));
  TK_ASSIGN(l.w_gate, b.get(p + "ffn_gate.weight", Need::Matrix, s.dim, s.hidden_dim));
  TK_ASSIGN(l.w_up, b.get(p + "ffn_up.weight", Need::Matrix, s.dim, s.hidden_dim));
  TK_ASSIGN(l.w_down, b.get(p + "ffn_down.weight", Need::Matrix, s.hidden_dim, s.dim));
  return l;
}

}  // namespace

Result<ModelWeights> ModelWeights::bind(const gguf::File& file, ModelSpec& spec) {
  Binder b(file);
  ModelWeights w;
  TK_ASSIGN(w.token_embd, b.get("token_embd.weight", Need::Matrix, spec.dim, spec.vocab_size));
  TK_ASSIGN(w.output_norm, b.get("output_norm.weight", Need::F32Vector, spec.dim, 1));
  TK_ASSIGN(w.output, b.optional("output.weight", Need::Matrix, spec.dim, spec.vocab_size));
  spec.tied_embeddings = !w.output.present();
  if (spec.tied_embeddings) w.output = w.token_embd;

  w.layers.reserve(spec.num_layers);
  for (int32_t i = 0; i < spec.num_layers; ++i) {
    TK_ASSIGN(LayerWeights l, bind_layer(b, spec, i));
    w.layers.push_back(l);
  }
  // q/k/v biases: all layers or none (qwen2 has them; llama has none).
  const bool first_bias = w.layers[0].bq.present();
  for (int32_t i = 0; i < spec.num_layers; ++i) {
    const LayerWeights& l = w.layers[i];
    if (l.bq.present() != first_bias || l.bk.present() != first_bias ||
        l.bv.present() != first_bias)
      return make_error(ErrorCode::BadFormat,
                        file.path() + ": blk." + std::to_string(i) +
                            " has a different set of attn_q/k/v.bias tensors than blk.0; "
                            "expected all three in every layer or none");
  }
  if (spec.arch == Architecture::Qwen2 && !first_bias)
    return make_error(ErrorCode::BadFormat,
                      file.path() +
                          ": qwen2 model without blk.0.attn_q.bias; qwen2 needs "
                          "q/k/v biases");
  spec.attn_bias = first_bias;

  // llama.cpp's converter stores Llama 3.1 rope scaling as per-frequency
  // divisors in rope_freqs.weight; they take precedence over metadata.
  TK_ASSIGN(WeightView freqs,
            b.optional("rope_freqs.weight", Need::F32Vector, spec.rope.dim / 2, 1));
  if (freqs.present()) {
    const float* f = static_cast<const float*>(freqs.data);
    spec.rope.freq_factors.assign(f, f + spec.rope.dim / 2);
    for (size_t i = 0; i < spec.rope.freq_factors.size(); ++i)
      if (!(spec.rope.freq_factors[i] > 0.0f))
        return make_error(ErrorCode::BadFormat, file.path() + ": rope_freqs.weight[" +
                                                    std::to_string(i) + "] is " +
                                                    std::to_string(spec.rope.freq_factors[i]) +
                                                    "; expected a positive divisor");
    if (spec.rope.scaling == RopeScaling::None) spec.rope.scaling = RopeScaling::Llama3;
  }
  return w;
}

}  // namespace tokamak
