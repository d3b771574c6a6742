#include "cuda/cuda_backend.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "cpu/cpu_backend.h"  // resolve_kv_config
#include "cpu/step_check.h"
#include "cuda/add_bias.cuh"
#include "cuda/attention.cuh"
#include "cuda/cuda_check.h"
#include "cuda/device_memory.h"
#include "cuda/device_weights.h"
#include "cuda/embedding.cuh"
#include "cuda/kv_store.cuh"
#include "cuda/matmul.cuh"
#include "cuda/prefill_gemm.h"
#include "cuda/residual_add.cuh"
#include "cuda/rms_norm.cuh"
#include "cuda/rope.cuh"
#include "cuda/swiglu.cuh"

namespace tokamak {
namespace {

using cuda::DeviceMemory;
using cuda::Layout;

// Offsets of the step workspace inside one allocation, T = max_step_tokens.
struct WorkspaceLayout {
  size_t x, xb, q, k, v, att, delta, gate, up, logits;  // floats
  size_t inv_freq;                                      // (rope_dim / 2) floats
  size_t att_scratch;  // split-K attention partials (attention_scratch_bytes)
  size_t meta;         // ints: tokens (T), positions (T), token_seq (T), logits_rows (T)
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
  w.att_scratch = l.add(cuda::attention_scratch_bytes(s.num_heads, s.head_dim));
  w.meta = l.add(4 * T * sizeof(int32_t));
  w.bytes = l.bytes();
  return w;
}

int64_t kv_pool_bytes(const ModelSpec& s, const KvCacheConfig& kv) {
  return static_cast<int64_t>(kv.num_blocks) * kv.block_size * s.kv_bytes_per_token(sizeof(__half));
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
        layout_(workspace_layout(spec_, options.max_step_tokens)) {}

  ~CudaBackend() override {
    gemm_.release();
    if (stream_) cudaStreamDestroy(stream_);
  }

  // Uploads weights, allocates the KV pool and workspaces.
  Status init() {
    TK_CUDA_TRY(cudaSetDevice(device_));
    TK_CUDA_TRY(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    TK_ASSIGN(weights_, cuda::upload_weights(model_->weights()));
    const int64_t kv_bytes = kv_pool_bytes(spec_, kv_config_);
    TK_TRY(kv_.allocate(kv_bytes, "the KV pool"));
    TK_CUDA_TRY(cudaMemset(kv_.get(), 0, kv_bytes));
    TK_TRY(ws_.allocate(layout_.bytes, "the step workspace"));
    TK_TRY(gemm_.init(stream_));
    std::vector<float> inv_freq(spec_.rope.dim / 2);
    for (int32_t i = 0; i < spec_.rope.dim / 2; ++i) inv_freq[i] = spec_.rope.inv_freq(i);
    TK_CUDA_TRY(cudaMemcpy(ws_.as<float>(layout_.inv_freq), inv_freq.data(),
                           inv_freq.size() * sizeof(float), cudaMemcpyHostToDevice));
    layer_pool_floats_ =
        static_cast<int64_t>(kv_config_.num_blocks) * kv_config_.block_size * spec_.kv_dim();
    TK_TRY(ensure_table_capacity(kv_config_.num_blocks + max_step_tokens_ + 64));
    // The memset and copies above ran on the legacy stream; steps use stream_.
    TK_CUDA_TRY(cudaDeviceSynchronize());
    return {};
  }

  std::string name() const override { return "cuda"; }
  const KvCacheConfig& kv_config() const override { return kv_config_; }
  int32_t vocab_size() const override { return spec_.vocab_size; }
  int32_t max_step_tokens() const override { return max_step_tokens_; }

  Status forward(const StepPlan& plan, std::span<float> logits) override {
    if (fault_)
      return make_error(ErrorCode::DeviceFault,
                        "the cuda backend is faulted after an earlier error: " + fault_->message);
    const cpu::StepLimits limits{spec_.vocab_size, max_step_tokens_, kv_config_.block_size,
                                 kv_config_.num_blocks};
    TK_TRY(cpu::check_step(plan, limits, logits.size()));
    if (plan.logits_rows.size() > static_cast<size_t>(max_step_tokens_))
      return make_error(
          ErrorCode::InvalidRequest,
          std::to_string(plan.logits_rows.size()) +
              " logits rows, more than max_step_tokens = " + std::to_string(max_step_tokens_));
    Status s = run_step(plan, logits);
    if (!s.ok() && s.error().code == ErrorCode::DeviceFault) fault_ = s.error();
    return s;
  }

 private:
  float* f(size_t offset) const { return ws_.as<float>(offset); }
  int32_t* meta() const { return ws_.as<int32_t>(layout_.meta); }

  Status ensure_table_capacity(size_t num_ints) {
    if (num_ints <= table_capacity_) return {};
    const size_t capacity = std::max(num_ints, 2 * table_capacity_);
    TK_TRY(tables_.allocate(capacity * sizeof(int32_t), "the block tables"));
    table_capacity_ = capacity;
    return {};
  }

  // Copies the step's ids, positions, sequences and the used part of each
  // block table to the device; fills kv_view_.
  Status upload_plan(const StepPlan& plan) {
    const size_t n = plan.tokens.size(), T = max_step_tokens_;
    host_meta_.assign(4 * T, 0);
    std::copy(plan.tokens.begin(), plan.tokens.end(), host_meta_.begin());
    std::copy(plan.positions.begin(), plan.positions.end(), host_meta_.begin() + T);
    std::copy(plan.token_seq.begin(), plan.token_seq.end(), host_meta_.begin() + 2 * T);
    std::copy(plan.logits_rows.begin(), plan.logits_rows.end(), host_meta_.begin() + 3 * T);
    // [table_start (num_sequences)][used entries of each table]
    const size_t num_seqs = plan.sequences.size();
    std::vector<int32_t> max_pos(num_seqs, -1);
    for (size_t t = 0; t < n; ++t)
      max_pos[plan.token_seq[t]] = std::max(max_pos[plan.token_seq[t]], plan.positions[t]);
    host_tables_.assign(num_seqs, 0);
    for (size_t s = 0; s < num_seqs; ++s) {
      host_tables_[s] = static_cast<int32_t>(host_tables_.size() - num_seqs);
      const int32_t used = max_pos[s] < 0 ? 0 : max_pos[s] / kv_config_.block_size + 1;
      const auto& table = plan.sequences[s].block_table;
      host_tables_.insert(host_tables_.end(), table.begin(), table.begin() + used);
    }
    TK_TRY(ensure_table_capacity(host_tables_.size()));
    TK_CUDA_TRY(cudaMemcpyAsync(meta(), host_meta_.data(), host_meta_.size() * sizeof(int32_t),
                                cudaMemcpyHostToDevice, stream_));
    TK_CUDA_TRY(cudaMemcpyAsync(tables_.get(), host_tables_.data(),
                                host_tables_.size() * sizeof(int32_t), cudaMemcpyHostToDevice,
                                stream_));
    kv_view_.positions = meta() + T;
    kv_view_.token_seq = meta() + 2 * T;
    kv_view_.table_start = tables_.as<int32_t>();
    kv_view_.tables = tables_.as<int32_t>() + num_seqs;
    kv_view_.block_size = kv_config_.block_size;
    kv_view_.kv_dim = spec_.kv_dim();
    return {};
  }

  Status run_step(const StepPlan& plan, std::span<float> logits) {
    TK_CUDA_TRY(cudaSetDevice(device_));
    TK_TRY(upload_plan(plan));
    const int64_t n = static_cast<int64_t>(plan.tokens.size());
    const cuda::MatmulWeight& embd = weights_.token_embd;
    TK_CUDA_TRY(cuda::launch_embedding(embd.type, embd.data, embd.row_bytes, spec_.dim, meta(), n,
                                       f(layout_.x), stream_));
    const float* pending = nullptr;  // residual delta not yet added to x
    for (int32_t l = 0; l < spec_.num_layers; ++l) {
      TK_TRY(attention_block(l, n, pending));
      TK_TRY(ffn_block(l, n));
      pending = f(layout_.delta);
    }
    if (pending)
      TK_CUDA_TRY(cuda::launch_residual_add(f(layout_.x), pending, n * spec_.dim, stream_));
    TK_TRY(classify(plan, logits));
    TK_CUDA_TRY(cudaStreamSynchronize(stream_));
    return {};
  }

  // x += wo · attention(rope(wq xn), rope(wk xn), wv xn), xn = rms_norm(x + pending)
  Status attention_block(int32_t l, int64_t n, const float* pending) {
    const cuda::DeviceLayer& w = weights_.layers[l];
    float *x = f(layout_.x), *xb = f(layout_.xb), *q = f(layout_.q), *k = f(layout_.k),
          *v = f(layout_.v);
    TK_CUDA_TRY(cuda::launch_rms_norm(x, pending, nullptr, w.attn_norm, xb, n, spec_.dim,
                                      spec_.rms_eps, stream_));
    const cuda::MatmulWeight qkv[3] = {w.wq, w.wk, w.wv};
    float* const qkv_out[3] = {q, k, v};
    TK_TRY(gemm_.run_group(qkv, qkv_out, 3, xb, n));
    if (w.bq) {
      TK_CUDA_TRY(cuda::launch_add_bias(q, w.bq, n, spec_.q_dim(), stream_));
      TK_CUDA_TRY(cuda::launch_add_bias(k, w.bk, n, spec_.kv_dim(), stream_));
      TK_CUDA_TRY(cuda::launch_add_bias(v, w.bv, n, spec_.kv_dim(), stream_));
    }
    const bool neox = spec_.rope_style == RopeStyle::Neox;
    const float* inv_freq = f(layout_.inv_freq);
    TK_CUDA_TRY(cuda::launch_rope(neox, kv_view_.positions, inv_freq, spec_.rope.dim,
                                  spec_.head_dim, spec_.num_heads, n, q, stream_));
    TK_CUDA_TRY(cuda::launch_rope(neox, kv_view_.positions, inv_freq, spec_.rope.dim,
                                  spec_.head_dim, spec_.num_kv_heads, n, k, stream_));
    __half* k_pool = kv_.as<__half>() + (2 * l) * layer_pool_floats_;
    __half* v_pool = k_pool + layer_pool_floats_;
    TK_CUDA_TRY(cuda::launch_kv_store(kv_view_, k, v, n, k_pool, v_pool, stream_));
    TK_CUDA_TRY(cuda::launch_attention(kv_view_, q, k_pool, v_pool, spec_.num_heads,
                                       spec_.num_kv_heads, spec_.head_dim, n,
                                       f(layout_.att_scratch), f(layout_.att), stream_));
    TK_TRY(gemm_.run(w.wo, f(layout_.att), n, f(layout_.delta)));
    return {};
  }

  // delta = w_down · (silu(w_gate xn) * (w_up xn)), xn = rms_norm(x += delta)
  Status ffn_block(int32_t l, int64_t n) {
    const cuda::DeviceLayer& w = weights_.layers[l];
    float *xb = f(layout_.xb), *gate = f(layout_.gate), *up = f(layout_.up);
    TK_CUDA_TRY(cuda::launch_rms_norm(f(layout_.x), f(layout_.delta), nullptr, w.ffn_norm, xb, n,
                                      spec_.dim, spec_.rms_eps, stream_));
    const cuda::MatmulWeight gate_up[2] = {w.w_gate, w.w_up};
    float* const gate_up_out[2] = {gate, up};
    TK_TRY(gemm_.run_group(gate_up, gate_up_out, 2, xb, n));
    TK_CUDA_TRY(cuda::launch_swiglu(gate, up, n * spec_.hidden_dim, stream_));
    TK_TRY(gemm_.run(w.w_down, gate, n, f(layout_.delta)));
    return {};
  }

  // logits (num_logits, vocab) = output · rms_norm(x[logits_rows])
  Status classify(const StepPlan& plan, std::span<float> logits) {
    const int64_t num_logits = static_cast<int64_t>(plan.logits_rows.size());
    if (num_logits == 0) return {};
    const int32_t* rows = meta() + 3 * max_step_tokens_;
    TK_CUDA_TRY(cuda::launch_rms_norm(f(layout_.x), nullptr, rows, weights_.output_norm,
                                      f(layout_.xb), num_logits, spec_.dim, spec_.rms_eps,
                                      stream_));
    TK_TRY(gemm_.run(weights_.output, f(layout_.xb), num_logits, f(layout_.logits)));
    TK_CUDA_TRY(cudaMemcpyAsync(logits.data(), f(layout_.logits),
                                num_logits * spec_.vocab_size * sizeof(float),
                                cudaMemcpyDeviceToHost, stream_));
    return {};
  }

  std::shared_ptr<const Model> model_;
  const ModelSpec& spec_;
  KvCacheConfig kv_config_;
  int device_;
  int32_t max_step_tokens_;
  WorkspaceLayout layout_;
  cudaStream_t stream_ = nullptr;
  cuda::DeviceWeights weights_;
  cuda::PrefillGemm gemm_;  // released before stream_ is destroyed
  DeviceMemory kv_;         // fp16; per layer l: K at 2l, V at 2l + 1 (layer_pool_floats_ each)
  int64_t layer_pool_floats_ = 0;
  DeviceMemory ws_;
  DeviceMemory tables_;
  size_t table_capacity_ = 0;
  cuda::PagedKv kv_view_;
  std::vector<int32_t> host_meta_, host_tables_;
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
      static_cast<int64_t>(kv.num_blocks + options.max_step_tokens + 64) * 4 +
      static_cast<int64_t>(cuda::PrefillGemm::kScratchBytes);
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

}  // namespace tokamak
