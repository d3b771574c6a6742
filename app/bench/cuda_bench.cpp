#include "bench/cuda_bench.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <numeric>
#include <vector>

#include "backend/backend.h"
#include "bench/cpu_bench.h"  // weight_bytes_per_token
#include "model/model.h"
#include "sampling/rng.h"
#ifdef TOKAMAK_HAVE_CUDA
#include "cuda/cuda_backend.h"
#include "cuda/device_bench.h"
#endif

namespace tokamak {

#ifdef TOKAMAK_HAVE_CUDA
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// One sequence over blocks 0, 1, 2, ...: steps of consecutive tokens, the
// id of the last one sampled greedily on the device.
class SequenceRunner {
 public:
  SequenceRunner(Backend& backend, int32_t num_blocks) : backend_(backend), table_(num_blocks) {
    std::iota(table_.begin(), table_.end(), 0);
  }

  // tokens at positions first.., one id back (the last token's greedy pick).
  Result<int32_t> step(std::span<const int32_t> tokens, int32_t first) {
    const size_t n = tokens.size();
    positions_.resize(n);
    std::iota(positions_.begin(), positions_.end(), first);
    token_seq_.assign(n, 0);
    const StepSequence seq{table_};
    const int32_t last = static_cast<int32_t>(n) - 1;
    const StepPlan plan{tokens, positions_, token_seq_, {&seq, 1}, {&last, 1}};
    const RowSampling greedy;
    int32_t id = 0;
    TK_TRY(backend_.forward_sampled(plan, {&greedy, 1}, {&id, 1}));
    return id;
  }

  // A prompt in steps of at most max_step_tokens.
  Status prefill(const std::vector<int32_t>& prompt) {
    const int32_t chunk = backend_.max_step_tokens();
    for (size_t at = 0; at < prompt.size(); at += chunk) {
      const size_t n = std::min<size_t>(chunk, prompt.size() - at);
      TK_TRY(step(std::span<const int32_t>(prompt.data() + at, n), static_cast<int32_t>(at)));
    }
    return {};
  }

  // Seconds per token of num_tokens greedy decode steps from position first.
  Result<double> decode(int32_t first, int32_t token, int32_t num_tokens) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int32_t i = 0; i < num_tokens; ++i) {
      TK_ASSIGN(token, step(std::span<const int32_t>(&token, 1), first + i));
    }
    return seconds_since(t0) / num_tokens;
  }

 private:
  Backend& backend_;
  std::vector<int32_t> table_, positions_, token_seq_;
};

// warmup + repetitions runs of f (returning a sample), the timed ones summarized.
template <class F>
Result<Spread> repeat(int warmup, int repetitions, F&& f) {
  std::vector<double> samples;
  for (int i = 0; i < warmup + repetitions; ++i) {
    TK_ASSIGN(const double v, f());
    if (i >= warmup) samples.push_back(v);
  }
  return summarize(samples);
}

std::vector<GemmShape> layer_shapes(const ModelSpec& s) {
  return {{s.q_dim(), s.dim},    {s.kv_dim(), s.dim},   {s.kv_dim(), s.dim},  {s.dim, s.q_dim()},
          {s.hidden_dim, s.dim}, {s.hidden_dim, s.dim}, {s.dim, s.hidden_dim}};
}

// ms by op of what f runs, divided by `per`.
template <class F>
Result<OpBreakdown> breakdown(Backend& backend, double per, F&& f) {
  TK_TRY(cuda::tuning::set_op_timing(backend, true));
  Status s = f();
  OpBreakdown out = cuda::tuning::op_times_ms(backend);
  TK_TRY(cuda::tuning::set_op_timing(backend, false));
  TK_TRY(s);
  for (auto& [name, ms] : out) ms /= per;
  return out;
}

double prefill_flops(const ModelSpec& s, int64_t n) {
  double matrix_params = 0.0;
  for (const GemmShape& g : layer_shapes(s)) matrix_params += static_cast<double>(g.rows) * g.n;
  const double layers = s.num_layers;
  const double attention =
      4.0 * layers * s.num_heads * s.head_dim * static_cast<double>(n) * (n + 1) / 2.0;
  return 2.0 * layers * matrix_params * n + attention + 2.0 * s.vocab_size * s.dim;
}

Status bench_decode(CudaBenchResult& r, Backend& backend, SequenceRunner& run,
                    const std::vector<int32_t>& prompt, const CudaBenchOptions& o) {
  TK_TRY(run.prefill(prompt));
  const double avg_positions = o.num_prompt_tokens + (o.num_decode_tokens - 1) / 2.0 + 1.0;
  const double bytes = r.weight_bytes_per_token + avg_positions * r.kv_bytes_per_position;
  for (bool graphs : {true, false}) {
    cuda::tuning::set_use_graphs(backend, graphs);
    if (o.on_progress) o.on_progress(graphs ? "decode, graphs on" : "decode, graphs off");
    TK_ASSIGN(Spread s, repeat(o.warmup, o.repetitions, [&]() -> Result<double> {
                TK_ASSIGN(const double sec,
                          run.decode(o.num_prompt_tokens, prompt.back(), o.num_decode_tokens));
                return sec * 1e3;
              }));
    CudaDecodeFigures d;
    d.graphs = graphs;
    d.ms_per_token = s;
    d.tokens_per_second = 1e3 / s.median;
    d.gb_per_s = bytes / (s.median * 1e-3) / 1e9;
    d.fraction_of_copy = d.gb_per_s / r.copy_gb_per_s;
    if (!graphs) {
      TK_ASSIGN(d.ms_by_op, breakdown(backend, o.num_decode_tokens, [&]() -> Status {
                  TK_TRY(run.decode(o.num_prompt_tokens, prompt.back(), o.num_decode_tokens));
                  return {};
                }));
    }
    r.decode.push_back(d);
  }
  cuda::tuning::set_use_graphs(backend, true);
  return {};
}

Status bench_prefill(CudaBenchResult& r, Backend& backend, const ModelSpec& spec,
                     SequenceRunner& run, const std::vector<int32_t>& tokens,
                     const CudaBenchOptions& o) {
  const std::vector<GemmShape> shapes = layer_shapes(spec);
  for (int32_t n : o.prefill_lengths) {
    if (o.on_progress) o.on_progress(fmt::format("prefill {}", n));
    const std::span<const int32_t> prompt(tokens.data(), n);
    TK_ASSIGN(Spread s, repeat(o.warmup, o.repetitions, [&]() -> Result<double> {
                const auto t0 = std::chrono::steady_clock::now();
                TK_TRY(run.step(prompt, 0));
                return n / seconds_since(t0);
              }));
    TK_ASSIGN(const double gemm_s, measure_gemm_seconds(o.device, shapes, n, 5));
    CudaPrefillFigures p;
    p.num_tokens = n;
    p.tokens_per_second = s;
    p.flops = prefill_flops(spec, n);
    p.tflops = p.flops * s.median / n / 1e12;
    double layer_flops = 0.0;
    for (const GemmShape& g : shapes) layer_flops += 2.0 * g.rows * g.n * n;
    p.cublas_tflops = layer_flops / gemm_s / 1e12;
    p.fraction_of_cublas = p.tflops / p.cublas_tflops;
    TK_ASSIGN(p.ms_by_op, breakdown(backend, 1.0, [&]() -> Status {
                TK_TRY(run.step(prompt, 0));
                return {};
              }));
    r.prefill.push_back(p);
  }
  return {};
}

Status bench_latency(CudaBenchResult& r, SequenceRunner& run, const std::vector<int32_t>& tokens,
                     const CudaBenchOptions& o) {
  for (int32_t n : o.latency_prompts) {
    if (o.on_progress) o.on_progress(fmt::format("latency after {} tokens", n));
    TK_TRY(run.prefill(std::vector<int32_t>(tokens.begin(), tokens.begin() + n)));
    TK_ASSIGN(Spread s, repeat(o.warmup, o.repetitions, [&]() -> Result<double> {
                TK_ASSIGN(const double sec, run.decode(n, tokens[n - 1], o.latency_decode_tokens));
                return sec * 1e3;
              }));
    r.latency.push_back({n, s});
  }
  return {};
}

Status bench_gemm_sweep(CudaBenchResult& r, Backend& backend, SequenceRunner& run,
                        const std::vector<int32_t>& tokens, const CudaBenchOptions& o) {
  for (int32_t n : o.sweep_tokens) {
    if (n > backend.max_step_tokens()) continue;
    if (o.on_progress) o.on_progress(fmt::format("gemm sweep {}", n));
    GemmSweepPoint pt;
    pt.num_tokens = n;
    for (bool gemm : {false, true}) {
      cuda::tuning::set_gemm_min_tokens(backend, gemm ? 1 : (1 << 30));
      TK_ASSIGN(Spread s, repeat(1, 5, [&]() -> Result<double> {
                  const auto t0 = std::chrono::steady_clock::now();
                  TK_TRY(run.step(std::span<const int32_t>(tokens.data(), n), 0));
                  return seconds_since(t0) * 1e3;
                }));
      (gemm ? pt.gemm_ms : pt.matmul_ms) = s.median;
    }
    r.gemm_sweep.push_back(pt);
  }
  cuda::tuning::set_gemm_min_tokens(backend, CudaBackendOptions{}.gemm_min_tokens);
  return {};
}

}  // namespace

Result<CudaBenchResult> run_cuda_bench(const CudaBenchOptions& o) {
  if (o.num_prompt_tokens < 1 || o.num_decode_tokens < 1 || o.repetitions < 1 || o.warmup < 0)
    return make_error(ErrorCode::InvalidArgument,
                      fmt::format("bench needs -p >= 1, -n >= 1, -r >= 1 (got {}, {}, {})",
                                  o.num_prompt_tokens, o.num_decode_tokens, o.repetitions));
  CudaBenchResult r;
  TK_ASSIGN(r.device, cuda_device_description(o.device));
  if (o.on_progress) o.on_progress("copy bandwidth");
  TK_ASSIGN(const CopyBandwidth bw, measure_copy_bandwidth(o.device, size_t{1} << 30, 10));
  r.copy_gb_per_s = bw.best_gb_per_s;

  TK_ASSIGN(std::shared_ptr<const Model> model, Model::load(o.model_path));
  const ModelSpec& spec = model->spec();
  // Prompts longer than the context allows (llama2: 4096 positions) are
  // shortened so that the decoded tokens still fit; the figures name the
  // length used.
  const int32_t context = spec.context_length > 0 ? spec.context_length : (1 << 30);
  CudaBenchOptions opt = o;
  for (int32_t& n : opt.latency_prompts) n = std::min(n, context - opt.latency_decode_tokens);
  int32_t max_prompt = opt.num_prompt_tokens, max_step = 1;
  for (int32_t n : opt.prefill_lengths)
    max_prompt = std::max(max_prompt, n), max_step = std::max(max_step, n);
  for (int32_t n : opt.latency_prompts) max_prompt = std::max(max_prompt, n);
  const int32_t positions = std::max({opt.num_prompt_tokens + opt.num_decode_tokens,
                                      max_prompt + opt.latency_decode_tokens, max_step});
  if (positions > context)
    return make_error(ErrorCode::InvalidArgument,
                      fmt::format("{}: {} positions exceed the model's context length of {}",
                                  o.model_path, positions, context));
  CudaBackendOptions bo;
  bo.device = o.device;
  bo.kv.block_size = 16;
  bo.kv.num_blocks = (positions + 15) / 16;
  bo.max_step_tokens = max_step;
  const CudaMemoryPlan plan = plan_cuda_memory(*model, bo);
  if (o.on_progress) o.on_progress("uploading the model");
  TK_ASSIGN(std::unique_ptr<Backend> backend, make_cuda_backend(model, bo));

  r.model_path = o.model_path;
  r.arch_name = spec.arch_name;
  for (const auto& t : model->file().tensors()) r.num_params += t.num_values();
  r.weight_bytes_per_token = weight_bytes_per_token(*model);
  r.kv_bytes_per_position =
      static_cast<double>(plan.kv_bytes) / ((bo.kv.num_blocks + 1) * bo.kv.block_size);
  r.num_prompt_tokens = o.num_prompt_tokens;
  r.num_decode_tokens = o.num_decode_tokens;

  Pcg64 rng(o.seed);
  std::vector<int32_t> tokens(max_prompt);
  for (auto& id : tokens) id = static_cast<int32_t>(rng.next_u64() % spec.vocab_size);
  SequenceRunner run(*backend, bo.kv.num_blocks);
  const std::vector<int32_t> prompt(tokens.begin(), tokens.begin() + o.num_prompt_tokens);
  TK_TRY(bench_decode(r, *backend, run, prompt, opt));
  TK_TRY(bench_prefill(r, *backend, spec, run, tokens, opt));
  TK_TRY(bench_latency(r, run, tokens, opt));
  TK_TRY(bench_gemm_sweep(r, *backend, run, tokens, opt));
  return r;
}

#else

Result<CudaBenchResult> run_cuda_bench(const CudaBenchOptions&) {
  return make_error(ErrorCode::Unsupported,
                    "this build has no CUDA backend (configure with TOKAMAK_CUDA=ON)");
}

#endif

nlohmann::json to_json(const CudaBenchResult& r) {
  nlohmann::json decode = nlohmann::json::array(), prefill = nlohmann::json::array(),
                 latency = nlohmann::json::array(), sweep = nlohmann::json::array();
  auto ops = [](const OpBreakdown& b) {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& [name, ms] : b) j[name] = ms;
    return j;
  };
  for (const auto& d : r.decode)
    decode.push_back({{"graphs", d.graphs},
                      {"ms_by_op", ops(d.ms_by_op)},
                      {"ms_per_token", to_json(d.ms_per_token)},
                      {"tokens_per_second", d.tokens_per_second},
                      {"gb_per_s", d.gb_per_s},
                      {"fraction_of_copy_bandwidth", d.fraction_of_copy}});
  for (const auto& p : r.prefill)
    prefill.push_back({{"num_tokens", p.num_tokens},
                       {"tokens_per_second", to_json(p.tokens_per_second)},
                       {"flops_per_step", p.flops},
                       {"tflops", p.tflops},
                       {"cublas_fp16_tflops", p.cublas_tflops},
                       {"fraction_of_cublas", p.fraction_of_cublas},
                       {"ms_by_op", ops(p.ms_by_op)}});
  for (const auto& l : r.latency)
    latency.push_back(
        {{"prompt_tokens", l.prompt_tokens}, {"ms_per_token", to_json(l.ms_per_token)}});
  for (const auto& g : r.gemm_sweep)
    sweep.push_back(
        {{"num_tokens", g.num_tokens}, {"matmul_ms", g.matmul_ms}, {"gemm_ms", g.gemm_ms}});
  return {
      {"backend", "cuda"},
      {"device", r.device},
      {"model",
       {{"path", r.model_path},
        {"architecture", r.arch_name},
        {"num_params", r.num_params},
        {"weight_bytes_per_token", r.weight_bytes_per_token},
        {"kv_bytes_per_position", r.kv_bytes_per_position}}},
      {"copy_bandwidth_gb_per_s", r.copy_gb_per_s},
      {"num_prompt_tokens", r.num_prompt_tokens},
      {"num_decode_tokens", r.num_decode_tokens},
      {"decode", decode},
      {"prefill", prefill},
      {"latency", latency},
      {"gemm_sweep", sweep},
  };
}

}  // namespace tokamak
