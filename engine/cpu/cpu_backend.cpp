#include "cpu/cpu_backend.h"

#include <algorithm>
#include <new>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "cpu/attention.h"
#include "cpu/elementwise.h"
#include "cpu/embedding.h"
#include "cpu/kv_cache.h"
#include "cpu/matmul.h"
#include "cpu/rms_norm.h"
#include "cpu/rope.h"
#include "cpu/step_check.h"

namespace tokamak {
namespace {

using cpu::ActivationBuffer;

// Per-step buffers, sized for max_step_tokens tokens (T) at construction.
struct Workspace {
  std::vector<float> x;        // (T, dim) residual stream
  std::vector<float> xb;       // (T, max(dim, q_dim)) normed input / projection output
  std::vector<float> q;        // (T, q_dim)
  std::vector<float> k;        // (T, kv_dim)
  std::vector<float> v;        // (T, kv_dim)
  std::vector<float> att;      // (T, q_dim) attention output
  std::vector<float> gate;     // (T, hidden_dim)
  std::vector<float> up;       // (T, hidden_dim)
  std::vector<float> cos_sin;  // (T, rope_dim / 2, 2)
  std::vector<float> picked;   // (T, dim) residual rows that need logits
  std::vector<float> scores;   // (num_threads, max_positions)
  ActivationBuffer act;        // (T, max(dim, q_dim, hidden_dim)) converted rows
};

class CpuBackend final : public Backend {
 public:
  CpuBackend(std::shared_ptr<const Model> model, const CpuBackendOptions& options, KvCacheConfig kv)
      : model_(std::move(model)),
        spec_(model_->spec()),
        weights_(model_->weights()),
        pool_(options.num_threads),
        kv_(spec_.num_layers, spec_.kv_dim(), kv),
        max_step_tokens_(options.max_step_tokens) {
    const int64_t T = max_step_tokens_;
    const int64_t wide = std::max({spec_.dim, spec_.q_dim(), spec_.hidden_dim});
    ws_.x.resize(T * spec_.dim);
    ws_.xb.resize(T * std::max(spec_.dim, spec_.q_dim()));
    ws_.q.resize(T * spec_.q_dim());
    ws_.k.resize(T * spec_.kv_dim());
    ws_.v.resize(T * spec_.kv_dim());
    ws_.att.resize(T * spec_.q_dim());
    ws_.gate.resize(T * spec_.hidden_dim);
    ws_.up.resize(T * spec_.hidden_dim);
    ws_.cos_sin.resize(T * spec_.rope.dim);
    ws_.picked.resize(T * spec_.dim);
    max_positions_ = static_cast<int64_t>(kv.num_blocks) * kv.block_size;
    ws_.scores.resize(pool_.num_threads() * max_positions_);
    ws_.act.reserve(T, wide);
    inv_freq_.resize(spec_.rope.dim / 2);
    for (int32_t i = 0; i < spec_.rope.dim / 2; ++i) inv_freq_[i] = spec_.rope.inv_freq(i);
  }

  std::string name() const override { return "cpu"; }
  const KvCacheConfig& kv_config() const override { return kv_.config(); }
  int32_t vocab_size() const override { return spec_.vocab_size; }
  int32_t max_step_tokens() const override { return max_step_tokens_; }

  Status forward(const StepPlan& plan, std::span<float> logits) override {
    const cpu::StepLimits limits{spec_.vocab_size, max_step_tokens_, kv_.config().block_size,
                                 kv_.config().num_blocks};
    TK_TRY(cpu::check_step(plan, limits, logits.size()));
    const int64_t n = static_cast<int64_t>(plan.tokens.size());
    cpu::embed_tokens(weights_.token_embd, plan.tokens, ws_.x.data());
    cpu::rope_angles(inv_freq_, plan.positions, ws_.cos_sin.data());
    for (int32_t l = 0; l < spec_.num_layers; ++l) {
      attention_block(plan, l, n);
      ffn_block(l, n);
    }
    classify(plan, logits);
    return {};
  }

 private:
  // Converts x (n, len) for w unless the buffer already holds it for w's
  // activation type (fresh = false reuses the previous conversion of x).
  void project(const WeightView& w, const float* x, int64_t n, bool fresh, float* y) {
    if (fresh || !ws_.act.holds_for(w.type)) ws_.act.convert(pool_, w.type, x, n, w.row_length);
    cpu::matmul(pool_, w, ws_.act, y);
  }

  // Products of one input x (n, len) with two or three weights (c may be
  // absent): one conversion and one parallel region when their activation
  // formats agree (the usual case), else one after the other.
  void project3(const WeightView& a, float* ya, const WeightView& b, float* yb, const WeightView& c,
                float* yc, const float* x, int64_t n) {
    ws_.act.convert(pool_, a.type, x, n, a.row_length);
    const bool same = ws_.act.holds_for(b.type) && (!c.present() || ws_.act.holds_for(c.type));
    if (same) {
      const cpu::MatmulJob jobs[3] = {{&a, ya}, {&b, yb}, {&c, yc}};
      cpu::matmul_group(pool_, std::span<const cpu::MatmulJob>(jobs, c.present() ? 3 : 2), ws_.act);
      return;
    }
    cpu::matmul(pool_, a, ws_.act, ya);
    project(b, x, n, false, yb);
    if (c.present()) project(c, x, n, false, yc);
  }

  // x += wo · attention(rope(wq xn), rope(wk xn), wv xn), xn = rms_norm(x)
  void attention_block(const StepPlan& plan, int32_t l, int64_t n) {
    const LayerWeights& w = weights_.layers[l];
    const int32_t dim = spec_.dim, kv_dim = spec_.kv_dim();
    cpu::rms_norm(pool_, ws_.x.data(), f32(w.attn_norm), ws_.xb.data(), n, dim, spec_.rms_eps);
    project3(w.wq, ws_.q.data(), w.wk, ws_.k.data(), w.wv, ws_.v.data(), ws_.xb.data(), n);
    if (spec_.attn_bias) {
      cpu::add_bias(ws_.q.data(), f32(w.bq), n, spec_.q_dim());
      cpu::add_bias(ws_.k.data(), f32(w.bk), n, kv_dim);
      cpu::add_bias(ws_.v.data(), f32(w.bv), n, kv_dim);
    }
    cpu::apply_rope(spec_.rope_style, ws_.cos_sin.data(), spec_.rope.dim, spec_.head_dim,
                    spec_.num_heads, n, ws_.q.data());
    cpu::apply_rope(spec_.rope_style, ws_.cos_sin.data(), spec_.rope.dim, spec_.head_dim,
                    spec_.num_kv_heads, n, ws_.k.data());
    // Store k, v of every token first: tokens of one sequence in this step
    // attend to each other.
    const int32_t bs = kv_.config().block_size;
    for (int64_t t = 0; t < n; ++t) {
      const int32_t pos = plan.positions[t];
      const int32_t block = plan.sequences[plan.token_seq[t]].block_table[pos / bs];
      const int64_t off = kv_.offset(block, pos % bs);
      std::copy_n(ws_.k.data() + t * kv_dim, kv_dim, kv_.k(l) + off);
      std::copy_n(ws_.v.data() + t * kv_dim, kv_dim, kv_.v(l) + off);
    }
    const cpu::AttentionShape shape{spec_.num_heads, spec_.num_kv_heads, spec_.head_dim, bs};
    const cpu::AttentionInputs in{ws_.q.data(),   kv_.k(l),       kv_.v(l),
                                  plan.positions, plan.token_seq, plan.sequences};
    cpu::attention(pool_, shape, in, ws_.att.data(), ws_.scores.data(), max_positions_);
    project(w.wo, ws_.att.data(), n, true, ws_.xb.data());
    cpu::add_rows(ws_.x.data(), ws_.xb.data(), n, dim);
  }

  // x += w_down · (silu(w_gate xn) * (w_up xn)), xn = rms_norm(x)
  void ffn_block(int32_t l, int64_t n) {
    const LayerWeights& w = weights_.layers[l];
    cpu::rms_norm(pool_, ws_.x.data(), f32(w.ffn_norm), ws_.xb.data(), n, spec_.dim, spec_.rms_eps);
    project3(w.w_gate, ws_.gate.data(), w.w_up, ws_.up.data(), WeightView{}, nullptr, ws_.xb.data(),
             n);
    cpu::swiglu(pool_, ws_.gate.data(), ws_.up.data(), n * spec_.hidden_dim);
    project(w.w_down, ws_.gate.data(), n, true, ws_.xb.data());
    cpu::add_rows(ws_.x.data(), ws_.xb.data(), n, spec_.dim);
  }

  // logits (num_logits, vocab) = output · rms_norm(x[logits_rows])
  void classify(const StepPlan& plan, std::span<float> logits) {
    const int64_t num_logits = static_cast<int64_t>(plan.logits_rows.size());
    if (num_logits == 0) return;
    const int32_t dim = spec_.dim;
    for (int64_t i = 0; i < num_logits; ++i)
      std::copy_n(ws_.x.data() + plan.logits_rows[i] * static_cast<int64_t>(dim), dim,
                  ws_.picked.data() + i * dim);
    cpu::rms_norm(pool_, ws_.picked.data(), f32(weights_.output_norm), ws_.xb.data(), num_logits,
                  dim, spec_.rms_eps);
    project(weights_.output, ws_.xb.data(), num_logits, true, logits.data());
  }

  static const float* f32(const WeightView& w) { return static_cast<const float*>(w.data); }

  std::shared_ptr<const Model> model_;
  const ModelSpec& spec_;
  const ModelWeights& weights_;
  ThreadPool pool_;
  cpu::KvCache kv_;
  int32_t max_step_tokens_;
  int64_t max_positions_ = 0;
  std::vector<float> inv_freq_;  // (rope_dim / 2) with all scaling applied
  Workspace ws_;
};

}  // namespace

KvCacheConfig resolve_kv_config(const ModelSpec& spec, KvCacheConfig kv) {
  if (kv.num_blocks == 0 && kv.block_size > 0) {
    const int64_t tokens = std::min<int64_t>(spec.context_length, 4096);
    kv.num_blocks = static_cast<int32_t>((tokens + kv.block_size - 1) / kv.block_size);
  }
  return kv;
}

Result<std::unique_ptr<Backend>> make_cpu_backend(std::shared_ptr<const Model> model,
                                                  const CpuBackendOptions& options) {
  if (!model) return make_error(ErrorCode::InvalidArgument, "make_cpu_backend: no model");
  const KvCacheConfig kv = resolve_kv_config(model->spec(), options.kv);
  if (kv.block_size <= 0 || kv.num_blocks <= 0)
    return make_error(ErrorCode::InvalidArgument,
                      "make_cpu_backend: KV block_size " + std::to_string(kv.block_size) +
                          " and num_blocks " + std::to_string(kv.num_blocks) + " must be positive");
  if (options.max_step_tokens <= 0)
    return make_error(ErrorCode::InvalidArgument, "make_cpu_backend: max_step_tokens " +
                                                      std::to_string(options.max_step_tokens) +
                                                      " must be positive");
  const int64_t kv_bytes =
      static_cast<int64_t>(kv.num_blocks) * kv.block_size * model->spec().kv_bytes_per_token(4);
  try {
    return std::unique_ptr<Backend>(new CpuBackend(std::move(model), options, kv));
  } catch (const std::bad_alloc&) {
    return make_error(ErrorCode::OutOfMemory, "make_cpu_backend: cannot allocate the KV pool (" +
                                                  std::to_string(kv_bytes >> 20) + " MiB for " +
                                                  std::to_string(kv.num_blocks) + " blocks of " +
                                                  std::to_string(kv.block_size) +
                                                  " tokens) and workspaces");
  }
}

}  // namespace tokamak
