#include "cuda/device_weights.h"

#include <unordered_map>

#include "cuda/cuda_check.h"

namespace tokamak::cuda {
namespace {

// Every present view of the model, in a fixed order.
template <class F>
void for_each_view(const ModelWeights& w, F&& f) {
  f(w.token_embd);
  f(w.output_norm);
  f(w.output);
  for (const LayerWeights& l : w.layers) {
    for (const WeightView* v : {&l.attn_norm, &l.wq, &l.wk, &l.wv, &l.wo, &l.bq, &l.bk, &l.bv,
                                &l.ffn_norm, &l.w_gate, &l.w_up, &l.w_down})
      f(*v);
  }
}

size_t view_bytes(const WeightView& v) { return static_cast<size_t>(v.rows) * v.row_bytes(); }

struct Placed {
  size_t offset = 0;
  size_t bytes = 0;
};

// Where each distinct tensor (by host address) goes in the allocation.
std::unordered_map<const void*, Placed> plan_offsets(const ModelWeights& weights, Layout& layout) {
  std::unordered_map<const void*, Placed> offsets;
  for_each_view(weights, [&](const WeightView& v) {
    if (v.present() && !offsets.count(v.data))
      offsets[v.data] = Placed{layout.add(view_bytes(v)), view_bytes(v)};
  });
  return offsets;
}

}  // namespace

int64_t device_weight_bytes(const ModelWeights& weights) {
  Layout layout;
  plan_offsets(weights, layout);
  return static_cast<int64_t>(layout.bytes());
}

Result<DeviceWeights> upload_weights(const ModelWeights& weights) {
  Layout layout;
  const auto offsets = plan_offsets(weights, layout);
  DeviceWeights out;
  TK_TRY(out.memory.allocate(layout.bytes(), "the weights"));
  for (const auto& [host, placed] : offsets)
    TK_CUDA_TRY(
        cudaMemcpy(out.memory.as<char>(placed.offset), host, placed.bytes, cudaMemcpyHostToDevice));
  auto matrix = [&](const WeightView& v) {
    MatmulWeight m;
    m.data = out.memory.as<char>(offsets.at(v.data).offset);
    m.type = v.type;
    m.rows = v.rows;
    m.row_length = v.row_length;
    m.row_bytes = v.row_bytes();
    return m;
  };
  auto vec = [&](const WeightView& v) -> const float* {
    return v.present() ? out.memory.as<float>(offsets.at(v.data).offset) : nullptr;
  };
  out.token_embd = matrix(weights.token_embd);
  out.output = matrix(weights.output);
  out.output_norm = vec(weights.output_norm);
  for (const LayerWeights& l : weights.layers) {
    DeviceLayer d;
    d.attn_norm = vec(l.attn_norm);
    d.wq = matrix(l.wq), d.wk = matrix(l.wk), d.wv = matrix(l.wv), d.wo = matrix(l.wo);
    d.bq = vec(l.bq), d.bk = vec(l.bk), d.bv = vec(l.bv);
    d.ffn_norm = vec(l.ffn_norm);
    d.w_gate = matrix(l.w_gate), d.w_up = matrix(l.w_up), d.w_down = matrix(l.w_down);
    out.layers.push_back(d);
  }
  return out;
}

}  // namespace tokamak::cuda
