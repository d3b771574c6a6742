#include "cuda/cuda_backend.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "cpu/cpu_backend.h"  // resolve_kv_config
#include "cpu/step_check.h"
#include "cuda/attention.cuh"
#include "cuda/cuda_check.h"
#include "cuda/decode_graphs.h"
#include "cuda/device_memory.h"
#include "cuda/device_weights.h"
#include "cuda/embedding.cuh"
#include "cuda/fault_injection.cuh"
#include "cuda/matmul.cuh"
#include "cuda/op_timer.h"
#include "cuda/prefill_gemm.h"
#include "cuda/residual_add.cuh"
#include "cuda/rms_norm.cuh"
#include "cuda/rope.cuh"
#include "cuda/rope_kv_store.cuh"
#include "cuda/sampling.cuh"
#include "cuda/step_upload.h"
#include "cuda/swiglu.cuh"

namespace tokamak {
namespace {

using cuda::DeviceMemory;
using cuda::Layout;

// Offsets of the step workspace inside one allocation, T = max_step_tokens.
struct WorkspaceLayout {
  size_t x, xb, q, k, v, att, delta, gate, up, logits;  // floats
  size_t inv_freq;                                      // (rope_dim / 2) floats
  size_t rope_cs;      // (T, rope_dim / 2) float2: the step's (cos, sin), launch_rope_table
  size_t att_scratch;  // split-K attention partials (attention_scratch_bytes)
  size_t ids;          // (T) sampled ids
  size_t bytes;
};

WorkspaceLayout workspace_layout(const ModelSpec& s, int64_t T) {
  Layout l;
  WorkspaceLayout w{};
  const size_t f = sizeof(float);
  w.x = l.add(T * s.dim * f);
  w.xb = l.add(T * std::max(s.dim, s.q_dim()) * f);
  w.q = l.add(T * s.q_dim() * f);
  w.k = l.add(T * s.kv_dim() * f);
  w.v = l.add(T * s.kv_dim() * f);
  w.att = l.add(T * s.q_dim() * f);
  w.delta = l.add(T * s.dim * f);
  w.gate = l.add(T * s.hidden_dim * f);
  w.up = l.add(T * s.hidden_dim * f);
  w.logits = l.add(T * s.vocab_size * f);
  w.inv_freq = l.add(std::max(1, s.rope.dim / 2) * f);
  w.rope_cs = l.add(T * std::max(1, s.rope.dim / 2) * sizeof(float2));
  w.att_scratch = l.add(cuda::attention_scratch_bytes(s.num_heads, s.head_dim));
  w.ids = l.add(T * sizeof(int32_t));
  w.bytes = l.bytes();
  return w;
}

// Step metadata: 4 ints and a sampling row per token, block tables.
int64_t step_metadata_bytes(const KvCacheConfig& kv, int64_t T) {
  return T * (4 * 4 + 32) + (kv.num_blocks + T + 64) * 4;
}

// The pool holds one block more than the caller's: the scratch block that
// the padding tokens of a decode graph write to.
int64_t kv_pool_bytes(const ModelSpec& s, const KvCacheConfig& kv) {
  return static_cast<int64_t>(kv.num_blocks + 1) * kv.block_size *
         s.kv_bytes_per_token(sizeof(__half));
}

// The longest input row of a matrix product (the GEMM's activation buffer).
int64_t max_row_length(const ModelSpec& s) {
  return std::max<int64_t>({s.dim, s.q_dim(), s.hidden_dim});
}

std::string mib(int64_t bytes) { return std::to_string((bytes + (1 << 20) - 1) >> 20) + " MiB"; }

class CudaBackend final : public Backend {
 public:
  CudaBackend(std::shared_ptr<const Model> model, const CudaBackendOptions& options,
              KvCacheConfig kv)
      : model_(std::move(model)),
        spec_(model_->spec()),
        kv_config_(kv),
        device_(options.device),
        max_step_tokens_(options.max_step_tokens),
        use_graphs_(options.use_graphs),
        gemm_min_tokens_(options.gemm_min_tokens),
        layout_(workspace_layout(spec_, options.max_step_tokens)),
        graphs_(options.max_step_tokens) {}

  ~CudaBackend() override {
    graphs_.clear();
    gemm_.release();
    if (stream_) cudaStreamDestroy(stream_);
  }

  // Uploads weights, allocates the KV pool and workspaces.
  Status init() {
    TK_CUDA_TRY(cudaSetDevice(device_));
    // TOKAMAK_CUDA_SPLIT_DECODES=0: every step runs all its rows through
    // one attention kernel chosen by token count (for comparisons).
    const char* split = std::getenv("TOKAMAK_CUDA_SPLIT_DECODES");
    split_decodes_ = split == nullptr || std::string(split) != "0";
    TK_CUDA_TRY(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    TK_ASSIGN(weights_, cuda::upload_weights(model_->weights()));
    const int64_t kv_bytes = kv_pool_bytes(spec_, kv_config_);
    TK_TRY(kv_.allocate(kv_bytes, "the KV pool"));
    TK_CUDA_TRY(cudaMemset(kv_.get(), 0, kv_bytes));
    TK_TRY(ws_.allocate(layout_.bytes, "the step workspace"));
    TK_TRY(gemm_.init(stream_, max_step_tokens_, max_row_length(spec_)));
    gemm_.set_min_tokens(gemm_min_tokens_);
    std::vector<float> inv_freq(spec_.rope.dim / 2);
    for (int32_t i = 0; i < spec_.rope.dim / 2; ++i) inv_freq[i] = spec_.rope.inv_freq(i);
    TK_CUDA_TRY(cudaMemcpy(ws_.as<float>(layout_.inv_freq), inv_freq.data(),
                           inv_freq.size() * sizeof(float), cudaMemcpyHostToDevice));
    layer_pool_floats_ =
        static_cast<int64_t>(kv_config_.num_blocks + 1) * kv_config_.block_size * spec_.kv_dim();
    TK_TRY(upload_.init(max_step_tokens_, kv_config_.num_blocks + max_step_tokens_ + 64));
    TK_TRY(host_ids_.allocate(max_step_tokens_ * sizeof(int32_t), "the sampled ids"));
    // The memset and copies above ran on the legacy stream; steps use stream_.
    TK_CUDA_TRY(cudaDeviceSynchronize());
    return {};
  }

  std::string name() const override { return "cuda"; }
  const KvCacheConfig& kv_config() const override { return kv_config_; }
  int32_t vocab_size() const override { return spec_.vocab_size; }
  int32_t max_step_tokens() const override { return max_step_tokens_; }

  Status forward(const StepPlan& plan, std::span<float> logits) override {
    TK_TRY(check(plan, logits.size()));
    return guarded(step(plan, {}, logits, {}));
  }

  Status forward_sampled(const StepPlan& plan, std::span<const RowSampling> rows,
                         std::span<int32_t> ids) override {
    const size_t num_logits = plan.logits_rows.size();
    if (rows.size() != num_logits || ids.size() != num_logits)
      return make_error(ErrorCode::InvalidRequest,
                        "forward_sampled: " + std::to_string(num_logits) + " logits rows, " +
                            std::to_string(rows.size()) + " sampling rows and room for " +
                            std::to_string(ids.size()) + " ids; the three must be equal");
    TK_TRY(check(plan, num_logits * static_cast<size_t>(spec_.vocab_size)));
    return guarded(step(plan, rows, {}, ids));
  }

  void fail_next_step() { fail_next_step_ = true; }
  void set_use_graphs(bool on) { use_graphs_ = on; }
  Status set_op_timing(bool on) { return timer_.enable(on); }
  std::vector<std::pair<std::string, double>> op_times_ms() const { return timer_.totals_ms(); }
  void set_gemm_min_tokens(int32_t n) {
    graphs_.clear();  // graphs captured the old choice
    gemm_.set_min_tokens(n);
  }
  int32_t num_graphs() const { return graphs_.num_captured(); }

 private:
  float* f(size_t offset) const { return ws_.as<float>(offset); }
  float2* rope_cs() const { return ws_.as<float2>(layout_.rope_cs); }
  // The format of a GEMM's converted x for w (PrefillGemm::converted_x).
  static bool bf16_x(const cuda::MatmulWeight& w) {
    return cuda::PrefillGemm::converts_to_bf16(w.type);
  }

  Status check(const StepPlan& plan, size_t logits_size) const {
    if (fault_)
      return make_error(ErrorCode::DeviceFault,
                        "the cuda backend is faulted after an earlier error: " + fault_->message);
    const cpu::StepLimits limits{spec_.vocab_size, max_step_tokens_, kv_config_.block_size,
                                 kv_config_.num_blocks};
    TK_TRY(cpu::check_step(plan, limits, logits_size));
    if (plan.logits_rows.size() > static_cast<size_t>(max_step_tokens_))
      return make_error(
          ErrorCode::InvalidRequest,
          std::to_string(plan.logits_rows.size()) +
              " logits rows, more than max_step_tokens = " + std::to_string(max_step_tokens_));
    return {};
  }

  // A device error moves the backend to its faulted state.
  Status guarded(Status s) {
    if (!s.ok() && s.error().code == ErrorCode::DeviceFault && !fault_) fault_ = s.error();
    return s;
  }

  // Uploads the step, runs it (replaying a graph for decode steps) and
  // copies back the logits or the sampled ids.
  Status step(const StepPlan& plan, std::span<const RowSampling> rows, std::span<float> logits,
              std::span<int32_t> ids) {
    TK_CUDA_TRY(cudaSetDevice(device_));
    // A decode step (every token a different sequence's single token, at
    // most the largest bucket) gets its bucket, any other step 0.
    const int64_t num_tokens = static_cast<int64_t>(plan.tokens.size());
    const int64_t leading = leading_decodes(plan);
    const int32_t decode = leading == num_tokens ? graphs_.bucket_for(num_tokens) : 0;
    num_leading_decodes_ = decode > 0 ? 0 : leading;
    const int32_t bucket = use_graphs_ ? decode : 0;  // 0: no graph
    const bool sample = !ids.empty();
    // A decode step picks GEMM or matmul for its bucket, graph or not.
    gemm_.set_decision_tokens(decode);
    TK_ASSIGN(
        const cuda::StepBuffers buffers,
        upload_.upload(plan, rows, bucket, kv_config_.block_size, kv_config_.num_blocks, stream_));
    if (buffers.moved) graphs_.clear();
    if (fail_next_step_) {
      fail_next_step_ = false;
      TK_CUDA_TRY(cuda::launch_invalid_configuration(stream_));
    }
    timing_ = timer_.enabled() && bucket == 0;  // events stay out of graphs
    if (timing_) TK_TRY(timer_.start(stream_));
    if (bucket > 0) {
      TK_TRY(graphs_.launch(bucket, stream_, [&] { return run_body(buffers, true); }));
    } else {
      TK_TRY(run_body(buffers, sample));
    }
    const size_t num_logits = plan.logits_rows.size();
    if (sample) {
      TK_CUDA_TRY(cudaMemcpyAsync(host_ids_.get(), ws_.as<int32_t>(layout_.ids),
                                  num_logits * sizeof(int32_t), cudaMemcpyDeviceToHost, stream_));
      TK_CUDA_TRY(cudaStreamSynchronize(stream_));
      std::copy(host_ids_.as<int32_t>(), host_ids_.as<int32_t>() + num_logits, ids.begin());
      if (timing_) TK_TRY(timer_.collect());
      return {};
    }
    if (num_logits > 0)
      TK_CUDA_TRY(cudaMemcpyAsync(logits.data(), f(layout_.logits),
                                  num_logits * spec_.vocab_size * sizeof(float),
                                  cudaMemcpyDeviceToHost, stream_));
    TK_CUDA_TRY(cudaStreamSynchronize(stream_));
    if (timing_) TK_TRY(timer_.collect());
    return {};
  }

  // Leading tokens of the plan that are their sequence's only token (the
  // runtime's scheduler lists decodes first).
  int64_t leading_decodes(const StepPlan& plan) {
    seq_tokens_.assign(plan.sequences.size(), 0);
    for (const int32_t s : plan.token_seq) ++seq_tokens_[s];
    const int64_t n = static_cast<int64_t>(plan.tokens.size());
    int64_t d = 0;
    while (d < n && seq_tokens_[plan.token_seq[d]] == 1) ++d;
    return d;
  }

  // att (n, q_dim) = attention of q. A step with decode rows in front of
  // prompt chunks runs the decodes through flash-decoding (in pieces of
  // kMaxSplitTokens) and only the chunks through the prefill kernel: there a
  // decode row (one query, its own keys) would take a whole tile, and in
  // flash-decoding each chunk token would read its keys alone.
  Status attention(const float* q, const __half* k_pool, const __half* v_pool, int64_t n) {
    const int64_t d = split_decodes_ ? num_leading_decodes_ : 0;
    const int64_t q_dim = spec_.q_dim();
    auto launch = [&](int64_t first, int64_t count, float* scratch) {
      cuda::PagedKv view = kv_view_;
      view.positions += first;
      view.token_seq += first;
      return cuda::launch_attention(view, q + first * q_dim, k_pool, v_pool, spec_.num_heads,
                                    spec_.num_kv_heads, spec_.head_dim, count, scratch,
                                    f(layout_.att) + first * q_dim, stream_);
    };
    if (d == 0) {  // the kernel by token count alone (graphs; steps of prompt chunks)
      TK_CUDA_TRY(launch(0, n, f(layout_.att_scratch)));
      return {};
    }
    for (int64_t t = 0; t < d; t += cuda::kMaxSplitTokens)
      TK_CUDA_TRY(launch(t, std::min(cuda::kMaxSplitTokens, d - t), f(layout_.att_scratch)));
    if (d < n) TK_CUDA_TRY(launch(d, n - d, nullptr));  // null scratch: the prefill kernel
    return {};
  }

  // Ends the interval of `op` when op timing is on (benchmarks).
  Status mark(cuda::OpTimer::Op op) { return timing_ ? timer_.mark(stream_, op) : Status{}; }

  // Everything between the uploaded metadata and the logits (and ids when
  // `sample`), enqueued on stream_; launch shapes depend only on the
  // numbers of tokens and rows, so that a graph can record it.
  Status run_body(const cuda::StepBuffers& b, bool sample) {
    kv_view_.positions = b.positions;
    kv_view_.token_seq = b.token_seq;
    kv_view_.table_start = b.table_start;
    kv_view_.tables = b.tables;
    kv_view_.block_size = kv_config_.block_size;
    kv_view_.kv_dim = spec_.kv_dim();
    const int64_t n = b.num_tokens;
    const cuda::MatmulWeight& embd = weights_.token_embd;
    TK_CUDA_TRY(cuda::launch_embedding(embd.type, embd.data, embd.row_bytes, spec_.dim, b.tokens, n,
                                       f(layout_.x), stream_));
    TK_TRY(mark(cuda::OpTimer::kEmbedding));
    TK_CUDA_TRY(cuda::launch_rope_table(b.positions, f(layout_.inv_freq), spec_.rope.dim / 2, n,
                                        rope_cs(), stream_));
    TK_TRY(mark(cuda::OpTimer::kRopeKv));
    const float* pending = nullptr;  // residual delta not yet added to x
    for (int32_t l = 0; l < spec_.num_layers; ++l) {
      TK_TRY(attention_block(l, n, pending));
      TK_TRY(ffn_block(l, n));
      pending = f(layout_.delta);
    }
    if (pending)
      TK_CUDA_TRY(cuda::launch_residual_add(f(layout_.x), pending, n * spec_.dim, stream_));
    TK_TRY(mark(cuda::OpTimer::kElementwise));
    if (b.num_rows == 0) return {};
    // logits (num_rows, vocab) = output · rms_norm(x[logits_rows])
    const cuda::MatmulWeight& out = weights_.output;
    void* xb16 = gemm_.converted_x(out.type, b.num_rows, out.row_length);
    TK_CUDA_TRY(cuda::launch_rms_norm(f(layout_.x), nullptr, b.logits_rows, weights_.output_norm,
                                      f(layout_.xb), b.num_rows, spec_.dim, spec_.rms_eps, stream_,
                                      xb16, bf16_x(out)));
    TK_TRY(gemm_.run(out, f(layout_.xb), b.num_rows, f(layout_.logits), xb16 != nullptr));
    TK_TRY(mark(cuda::OpTimer::kClassifier));
    if (sample)
      TK_CUDA_TRY(cuda::launch_sample_rows(f(layout_.logits), b.num_rows, spec_.vocab_size,
                                           b.sampling, ws_.as<int32_t>(layout_.ids), stream_));
    return mark(cuda::OpTimer::kSampling);
  }

  // The fused bias + rope + KV store of one layer (rope_kv_store.cuh).
  cuda::RopeKvArgs rope_kv_args(const cuda::DeviceLayer& w, float* q, const float* k,
                                const float* v, __half* k_pool, __half* v_pool) const {
    cuda::RopeKvArgs a;
    a.neox = spec_.rope_style == RopeStyle::Neox;
    a.cos_sin = rope_cs();
    a.rope_dim = spec_.rope.dim;
    a.head_dim = spec_.head_dim;
    a.num_heads = spec_.num_heads;
    a.num_kv_heads = spec_.num_kv_heads;
    a.q = q;
    a.k = k;
    a.v = v;
    a.bq = w.bq;  // nullptr without biases
    a.bk = w.bk;
    a.bv = w.bv;
    a.k_pool = k_pool;
    a.v_pool = v_pool;
    return a;
  }

  // x += wo · attention(rope(wq xn), rope(wk xn), wv xn), xn = rms_norm(x + pending)
  // (biases, when the model has them, added before the rope)
  Status attention_block(int32_t l, int64_t n, const float* pending) {
    const cuda::DeviceLayer& w = weights_.layers[l];
    float *x = f(layout_.x), *xb = f(layout_.xb), *q = f(layout_.q), *k = f(layout_.k),
          *v = f(layout_.v);
    // The norm also writes xb as the q/k/v GEMM's input when they take one.
    void* xb16 = gemm_.converted_x(w.wq.type, n, w.wq.row_length);
    TK_CUDA_TRY(cuda::launch_rms_norm(x, pending, nullptr, w.attn_norm, xb, n, spec_.dim,
                                      spec_.rms_eps, stream_, xb16, bf16_x(w.wq)));
    TK_TRY(mark(cuda::OpTimer::kNorm));
    const cuda::MatmulWeight qkv[3] = {w.wq, w.wk, w.wv};
    float* const qkv_out[3] = {q, k, v};
    TK_TRY(gemm_.run_group(qkv, qkv_out, 3, xb, n, xb16 != nullptr));
    TK_TRY(mark(cuda::OpTimer::kGemm));
    __half* k_pool = kv_.as<__half>() + (2 * l) * layer_pool_floats_;
    __half* v_pool = k_pool + layer_pool_floats_;
    TK_CUDA_TRY(
        cuda::launch_rope_kv_store(kv_view_, rope_kv_args(w, q, k, v, k_pool, v_pool), n, stream_));
    TK_TRY(mark(cuda::OpTimer::kRopeKv));
    TK_TRY(attention(q, k_pool, v_pool, n));
    TK_TRY(mark(cuda::OpTimer::kAttention));
    TK_TRY(gemm_.run(w.wo, f(layout_.att), n, f(layout_.delta)));
    return mark(cuda::OpTimer::kGemm);
  }

  // delta = w_down · (silu(w_gate xn) * (w_up xn)), xn = rms_norm(x += delta)
  Status ffn_block(int32_t l, int64_t n) {
    const cuda::DeviceLayer& w = weights_.layers[l];
    float *xb = f(layout_.xb), *gate = f(layout_.gate), *up = f(layout_.up);
    void* xb16 = gemm_.converted_x(w.w_gate.type, n, w.w_gate.row_length);
    TK_CUDA_TRY(cuda::launch_rms_norm(f(layout_.x), f(layout_.delta), nullptr, w.ffn_norm, xb, n,
                                      spec_.dim, spec_.rms_eps, stream_, xb16, bf16_x(w.w_gate)));
    TK_TRY(mark(cuda::OpTimer::kNorm));
    const cuda::MatmulWeight gate_up[2] = {w.w_gate, w.w_up};
    float* const gate_up_out[2] = {gate, up};
    TK_TRY(gemm_.run_group(gate_up, gate_up_out, 2, xb, n, xb16 != nullptr));
    TK_TRY(mark(cuda::OpTimer::kGemm));
    void* h16 = gemm_.converted_x(w.w_down.type, n, w.w_down.row_length);
    TK_CUDA_TRY(
        cuda::launch_swiglu(gate, up, n * spec_.hidden_dim, stream_, h16, bf16_x(w.w_down)));
    TK_TRY(mark(cuda::OpTimer::kElementwise));
    TK_TRY(gemm_.run(w.w_down, gate, n, f(layout_.delta), h16 != nullptr));
    return mark(cuda::OpTimer::kGemm);
  }

  std::shared_ptr<const Model> model_;
  const ModelSpec& spec_;
  KvCacheConfig kv_config_;
  int device_;
  int32_t max_step_tokens_;
  bool use_graphs_;
  int32_t gemm_min_tokens_;
  WorkspaceLayout layout_;
  cudaStream_t stream_ = nullptr;
  cuda::DeviceWeights weights_;
  cuda::PrefillGemm gemm_;  // released before stream_ is destroyed
  DeviceMemory kv_;         // fp16; per layer l: K at 2l, V at 2l + 1 (layer_pool_floats_ each)
  int64_t layer_pool_floats_ = 0;
  DeviceMemory ws_;
  cuda::StepUpload upload_;
  cuda::PinnedMemory host_ids_;
  cuda::DecodeGraphs graphs_;
  cuda::PagedKv kv_view_;
  cuda::OpTimer timer_;
  bool timing_ = false;  // this step records op events
  bool fail_next_step_ = false;
  bool split_decodes_ = true;        // see attention()
  int64_t num_leading_decodes_ = 0;  // of the step being run (0 for graphs)
  std::vector<int32_t> seq_tokens_;  // tokens per sequence, leading_decodes()
  std::optional<Error> fault_;
};

Status check_supported(const ModelSpec& spec, const ModelWeights& w) {
  if (spec.head_dim > cuda::kMaxAttentionHeadDim)
    return make_error(ErrorCode::Unsupported, "make_cuda_backend: head_dim " +
                                                  std::to_string(spec.head_dim) +
                                                  " exceeds the attention kernel's " +
                                                  std::to_string(cuda::kMaxAttentionHeadDim));
  Status status;
  auto check = [&](const WeightView& v) {
    if (!status.ok() || !v.present()) return;
    if (is_supported_weight_type(v.type)) return;
    status = make_error(ErrorCode::Unsupported, std::string("make_cuda_backend: tensor ") +
                                                    (v.name ? v.name : "?") + " has type " +
                                                    std::string(tensor_type_name(v.type)) +
                                                    ", which the CUDA kernels do not handle");
  };
  check(w.token_embd);
  check(w.output);
  for (const LayerWeights& l : w.layers)
    for (const WeightView* v : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down})
      check(*v);
  return status;
}

}  // namespace

int cuda_device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" error
    return 0;
  }
  return count;
}

CudaMemoryPlan plan_cuda_memory(const Model& model, const CudaBackendOptions& options) {
  const KvCacheConfig kv = resolve_kv_config(model.spec(), options.kv);
  CudaMemoryPlan plan;
  plan.weight_bytes = cuda::device_weight_bytes(model.weights());
  plan.kv_bytes = kv_pool_bytes(model.spec(), kv);
  plan.workspace_bytes =
      static_cast<int64_t>(
          workspace_layout(model.spec(), std::max(1, options.max_step_tokens)).bytes) +
      step_metadata_bytes(kv, options.max_step_tokens) +
      static_cast<int64_t>(
          cuda::PrefillGemm::scratch_bytes(options.max_step_tokens, max_row_length(model.spec())));
  return plan;
}

Result<std::unique_ptr<Backend>> make_cuda_backend(std::shared_ptr<const Model> model,
                                                   const CudaBackendOptions& options) {
  if (!model) return make_error(ErrorCode::InvalidArgument, "make_cuda_backend: no model");
  const KvCacheConfig kv = resolve_kv_config(model->spec(), options.kv);
  if (kv.block_size <= 0 || kv.num_blocks <= 0 || options.max_step_tokens <= 0)
    return make_error(ErrorCode::InvalidArgument,
                      "make_cuda_backend: KV block_size " + std::to_string(kv.block_size) +
                          ", num_blocks " + std::to_string(kv.num_blocks) +
                          " and max_step_tokens " + std::to_string(options.max_step_tokens) +
                          " must be positive");
  TK_TRY(check_supported(model->spec(), model->weights()));
  const int num_devices = cuda_device_count();
  if (options.device < 0 || options.device >= num_devices)
    return make_error(ErrorCode::DeviceFault, "make_cuda_backend: CUDA device " +
                                                  std::to_string(options.device) + " requested, " +
                                                  std::to_string(num_devices) + " present");
  TK_CUDA_TRY(cudaSetDevice(options.device));
  size_t free_bytes = 0, total_bytes = 0;
  TK_CUDA_TRY(cudaMemGetInfo(&free_bytes, &total_bytes));
  const CudaMemoryPlan plan = plan_cuda_memory(*model, options);
  constexpr int64_t kReserve = 256LL << 20;  // context, kernels, fragmentation
  if (plan.total_bytes() + kReserve > static_cast<int64_t>(free_bytes))
    return make_error(
        ErrorCode::OutOfMemory,
        "make_cuda_backend: the model needs " + mib(plan.total_bytes()) + " of device memory (" +
            "weights " + mib(plan.weight_bytes) + ", KV pool " + mib(plan.kv_bytes) + " for " +
            std::to_string(kv.num_blocks) + " blocks of " + std::to_string(kv.block_size) +
            " tokens, workspace " + mib(plan.workspace_bytes) + " for " +
            std::to_string(options.max_step_tokens) + " tokens per step) plus " + mib(kReserve) +
            " reserve, but device " + std::to_string(options.device) + " has " +
            mib(static_cast<int64_t>(free_bytes)) + " free of " +
            mib(static_cast<int64_t>(total_bytes)) +
            "; use a smaller context (fewer KV blocks) or a smaller model");
  auto backend = std::make_unique<CudaBackend>(std::move(model), options, kv);
  TK_TRY(backend->init());
  return std::unique_ptr<Backend>(std::move(backend));
}

namespace cuda::testing {

bool fail_next_step(Backend& backend) {
  auto* cuda = dynamic_cast<CudaBackend*>(&backend);
  if (cuda) cuda->fail_next_step();
  return cuda != nullptr;
}

int32_t num_decode_graphs(const Backend& backend) {
  const auto* cuda = dynamic_cast<const CudaBackend*>(&backend);
  return cuda ? cuda->num_graphs() : 0;
}

}  // namespace cuda::testing

namespace cuda::tuning {

bool set_use_graphs(Backend& backend, bool on) {
  auto* cuda = dynamic_cast<CudaBackend*>(&backend);
  if (cuda) cuda->set_use_graphs(on);
  return cuda != nullptr;
}

bool set_gemm_min_tokens(Backend& backend, int32_t n) {
  auto* cuda = dynamic_cast<CudaBackend*>(&backend);
  if (cuda) cuda->set_gemm_min_tokens(n);
  return cuda != nullptr;
}

Status set_op_timing(Backend& backend, bool on) {
  auto* cuda = dynamic_cast<CudaBackend*>(&backend);
  if (!cuda) return make_error(ErrorCode::Unsupported, "op timing: not a CUDA backend");
  return cuda->set_op_timing(on);
}

std::vector<std::pair<std::string, double>> op_times_ms(const Backend& backend) {
  const auto* cuda = dynamic_cast<const CudaBackend*>(&backend);
  return cuda ? cuda->op_times_ms() : std::vector<std::pair<std::string, double>>{};
}

}  // namespace cuda::tuning

}  // namespace tokamak
