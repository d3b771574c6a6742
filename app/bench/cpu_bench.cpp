#include "bench/cpu_bench.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <numeric>
#include <thread>
#include <vector>

#include "backend/backend.h"
#include "cpu/cpu_backend.h"
#include "model/model_info.h"
#include "sampling/rng.h"

namespace tokamak {
namespace {

uint64_t view_bytes(const WeightView& w) {
  return w.present() ? static_cast<uint64_t>(w.rows) * w.row_bytes() : 0;
}

// Runs `tokens` as one step at positions first_pos.. of sequence 0 (blocks
// 0, 1, ...), asking for the logits of the last token.
Status run_step(Backend& backend, std::span<const int32_t> tokens, int32_t first_pos,
                std::vector<float>& logits) {
  const int32_t n = static_cast<int32_t>(tokens.size());
  const int32_t block_size = backend.kv_config().block_size;
  std::vector<int32_t> table((first_pos + n + block_size - 1) / block_size);
  std::iota(table.begin(), table.end(), 0);
  std::vector<int32_t> positions(n);
  std::iota(positions.begin(), positions.end(), first_pos);
  const std::vector<int32_t> token_seq(n, 0);
  const StepSequence seq{table};
  const int32_t last = n - 1;
  StepPlan plan;
  plan.tokens = tokens;
  plan.positions = positions;
  plan.token_seq = token_seq;
  plan.sequences = std::span<const StepSequence>(&seq, 1);
  plan.logits_rows = std::span<const int32_t>(&last, 1);
  return backend.forward(plan, logits);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

Result<double> time_prefill(Backend& backend, const std::vector<int32_t>& prompt,
                            std::vector<float>& logits) {
  const auto t0 = std::chrono::steady_clock::now();
  TK_TRY(run_step(backend, prompt, 0, logits));
  return prompt.size() / seconds_since(t0);
}

Result<double> time_decode(Backend& backend, const std::vector<int32_t>& tokens,
                           std::vector<float>& logits) {
  const auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < tokens.size(); ++i) {
    TK_TRY(run_step(backend, std::span<const int32_t>(&tokens[i], 1), static_cast<int32_t>(i),
                    logits));
  }
  return tokens.size() / seconds_since(t0);
}

}  // namespace

uint64_t weight_bytes_per_token(const Model& model) {
  const ModelWeights& w = model.weights();
  uint64_t bytes = w.token_embd.row_bytes() + view_bytes(w.output_norm);
  // Tied embeddings: output is token_embd, read whole by the classifier.
  bytes += view_bytes(w.output);
  for (const LayerWeights& l : w.layers) {
    for (const WeightView* v : {&l.attn_norm, &l.wq, &l.wk, &l.wv, &l.wo, &l.bq, &l.bk, &l.bv,
                                &l.ffn_norm, &l.w_gate, &l.w_up, &l.w_down}) {
      bytes += view_bytes(*v);
    }
  }
  return bytes;
}

Result<CpuBenchResult> run_cpu_bench(const CpuBenchOptions& o) {
  auto progress = [&](const std::string& s) {
    if (o.on_progress) o.on_progress(s);
  };
  if (o.num_prompt_tokens < 1 || o.num_decode_tokens < 1 || o.repetitions < 1 || o.warmup < 0) {
    return make_error(ErrorCode::InvalidArgument,
                      fmt::format("bench needs -p >= 1, -n >= 1, -r >= 1 (got {}, {}, {})",
                                  o.num_prompt_tokens, o.num_decode_tokens, o.repetitions));
  }
  TK_ASSIGN(std::shared_ptr<const Model> model, Model::load(o.model_path));
  const ModelSpec& spec = model->spec();
  const int32_t positions = std::max(o.num_prompt_tokens, o.num_decode_tokens);
  if (spec.context_length > 0 && positions > spec.context_length) {
    return make_error(ErrorCode::InvalidArgument,
                      fmt::format("{}: {} positions exceed the model's context length of {}",
                                  o.model_path, positions, spec.context_length));
  }
  CpuBackendOptions bo;
  bo.num_threads = o.num_threads;
  bo.kv.num_blocks = (positions + bo.kv.block_size - 1) / bo.kv.block_size;
  bo.max_step_tokens = o.num_prompt_tokens;
  TK_ASSIGN(std::unique_ptr<Backend> backend, make_cpu_backend(model, bo));

  CpuBenchResult r;
  r.model_path = o.model_path;
  r.arch_name = spec.arch_name;
  r.model_name = spec.name;
  r.file_size_bytes = model->file().file_size();
  for (const auto& t : model->file().tensors()) r.num_params += t.num_values();
  r.bytes_per_token = weight_bytes_per_token(*model);
  r.num_threads = o.num_threads > 0
                      ? o.num_threads
                      : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  r.num_prompt_tokens = o.num_prompt_tokens;
  r.num_decode_tokens = o.num_decode_tokens;

  Pcg64 rng(o.seed);
  std::vector<int32_t> prompt(o.num_prompt_tokens), decode(o.num_decode_tokens);
  for (auto* v : {&prompt, &decode}) {
    for (auto& id : *v) id = static_cast<int32_t>(rng.next_u64() % spec.vocab_size);
  }
  std::vector<float> logits(backend->vocab_size());

  std::vector<double> prefill, dec;
  for (int i = 0; i < o.warmup + o.repetitions; ++i) {
    const bool warm = i < o.warmup;
    progress(fmt::format("prefill {} {}/{}", warm ? "warm-up" : "run",
                         warm ? i + 1 : i - o.warmup + 1, warm ? o.warmup : o.repetitions));
    TK_ASSIGN(double tps, time_prefill(*backend, prompt, logits));
    if (!warm) prefill.push_back(tps);
  }
  for (int i = 0; i < o.warmup + o.repetitions; ++i) {
    const bool warm = i < o.warmup;
    progress(fmt::format("decode {} {}/{}", warm ? "warm-up" : "run",
                         warm ? i + 1 : i - o.warmup + 1, warm ? o.warmup : o.repetitions));
    TK_ASSIGN(double tps, time_decode(*backend, decode, logits));
    if (!warm) dec.push_back(tps);
  }
  r.prefill_tokens_per_second = summarize(prefill);
  r.decode_tokens_per_second = summarize(dec);
  backend.reset();  // free the KV pool and workspaces before the bandwidth buffer

  progress("memory bandwidth");
  BandwidthOptions bw = o.bandwidth;
  bw.num_threads = o.num_threads;
  TK_ASSIGN(r.bandwidth, measure_read_bandwidth(bw));
  r.decode_ceiling_tokens_per_second = r.bandwidth.best_gb_per_s * 1e9 / r.bytes_per_token;
  r.achieved_gb_per_s = r.decode_tokens_per_second.median * r.bytes_per_token / 1e9;
  r.percent_of_bound = 100.0 * r.achieved_gb_per_s / r.bandwidth.best_gb_per_s;
  return r;
}

nlohmann::json to_json(const CpuBenchResult& r) {
  return {
      {"model",
       {{"path", r.model_path},
        {"architecture", r.arch_name},
        {"name", r.model_name},
        {"num_params", r.num_params},
        {"file_size_bytes", r.file_size_bytes},
        {"weight_bytes_per_token", r.bytes_per_token}}},
      {"backend", "cpu"},
      {"num_threads", r.num_threads},
      {"num_prompt_tokens", r.num_prompt_tokens},
      {"num_decode_tokens", r.num_decode_tokens},
      {"prefill_tokens_per_second", to_json(r.prefill_tokens_per_second)},
      {"decode_tokens_per_second", to_json(r.decode_tokens_per_second)},
      {"memory_bandwidth",
       {{"best_gb_per_s", r.bandwidth.best_gb_per_s},
        {"median_gb_per_s", r.bandwidth.median_gb_per_s},
        {"samples_gb_per_s", r.bandwidth.gb_per_s},
        {"buffer_bytes", r.bandwidth.buffer_bytes},
        {"num_threads", r.bandwidth.num_threads}}},
      {"decode_ceiling_tokens_per_second", r.decode_ceiling_tokens_per_second},
      {"achieved_gb_per_s", r.achieved_gb_per_s},
      {"percent_of_bound", r.percent_of_bound},
  };
}

}  // namespace tokamak
