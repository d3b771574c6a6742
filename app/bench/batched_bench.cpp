#include "bench/batched_bench.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <random>

namespace tokamak {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// The B sequences of a point: prompts, disjoint block tables from block 0.
class BatchedSequences {
 public:
  BatchedSequences(int32_t pp, int32_t tg, int32_t b, int32_t block_size, int32_t vocab_size,
                   const BatchedBenchOptions& o)
      : pp_(pp), b_(b), blocks_per_seq_((pp + tg + block_size - 1) / block_size) {
    std::mt19937_64 rng(o.seed);
    std::uniform_int_distribution<int32_t> id(0, vocab_size - 1);
    prompts_.resize(b);
    for (auto& p : prompts_) {
      if (!o.prompt.empty()) {
        p = o.prompt;
      } else {
        p.resize(pp);
        for (int32_t& t : p) t = id(rng);
      }
    }
    tables_.resize(b);
    sequences_.resize(b);
    for (int32_t s = 0; s < b; ++s) {
      for (int32_t i = 0; i < blocks_per_seq_; ++i) tables_[s].push_back(s * blocks_per_seq_ + i);
      sequences_[s].block_table = tables_[s];
    }
  }

  struct Round {
    double prefill_s = 0.0, decode_s = 0.0;
  };

  // One round: the prefill steps, then tg decode steps; generated() and
  // steps() describe it afterwards.
  Result<Round> run(Backend& backend, int32_t tg) {
    generated_.assign(b_, {});
    steps_ = 0;
    Round r;
    const auto t0 = Clock::now();
    TK_TRY(prefill(backend));
    r.prefill_s = seconds_since(t0);
    const auto t1 = Clock::now();
    clear();
    for (int32_t s = 0; s < b_; ++s) add(generated_[s].back(), pp_, s, true);
    for (int32_t i = 0; i < tg; ++i) {
      TK_TRY(step(backend));
      for (int32_t s = 0; s < b_; ++s) {
        tokens_[s] = generated_[s].back();
        ++positions_[s];
      }
    }
    r.decode_s = seconds_since(t1);
    return r;
  }
  const std::vector<std::vector<int32_t>>& generated() const { return generated_; }
  int32_t steps() const { return steps_; }

 private:
  void clear() {
    tokens_.clear();
    positions_.clear();
    token_seq_.clear();
    rows_.clear();
  }
  void add(int32_t token, int32_t pos, int32_t seq, bool logits) {
    if (logits) rows_.push_back(static_cast<int32_t>(tokens_.size()));
    tokens_.push_back(token);
    positions_.push_back(pos);
    token_seq_.push_back(seq);
  }

  // The prompts in order, cut into steps of at most max_step_tokens tokens.
  Status prefill(Backend& backend) {
    const int32_t budget = std::max(1, backend.max_step_tokens());
    clear();
    for (int32_t s = 0; s < b_; ++s) {
      for (int32_t p = 0; p < pp_; ++p) {
        add(prompts_[s][p], p, s, p == pp_ - 1);
        if (static_cast<int32_t>(tokens_.size()) == budget) {
          TK_TRY(step(backend));
          clear();
        }
      }
    }
    if (!tokens_.empty()) TK_TRY(step(backend));
    return {};
  }

  // Runs the step in tokens_..rows_; appends each sampled id to its sequence.
  Status step(Backend& backend) {
    StepPlan plan;
    plan.tokens = tokens_;
    plan.positions = positions_;
    plan.token_seq = token_seq_;
    plan.sequences = sequences_;
    plan.logits_rows = rows_;
    greedy_.assign(rows_.size(), RowSampling{});
    ids_.assign(rows_.size(), 0);
    TK_TRY(backend.forward_sampled(plan, greedy_, ids_));
    for (size_t i = 0; i < rows_.size(); ++i) generated_[token_seq_[rows_[i]]].push_back(ids_[i]);
    ++steps_;
    return {};
  }

  int32_t pp_, b_, blocks_per_seq_;
  std::vector<std::vector<int32_t>> prompts_;
  std::vector<std::vector<int32_t>> tables_;
  std::vector<StepSequence> sequences_;
  std::vector<int32_t> tokens_, positions_, token_seq_, rows_, ids_;
  std::vector<RowSampling> greedy_;
  std::vector<std::vector<int32_t>> generated_;  // per sequence, this round
  int32_t steps_ = 0;                            // backend steps this round
};

}  // namespace

int32_t batched_bench_blocks(int32_t prompt_tokens, int32_t generated_tokens, int32_t batch_size,
                             int32_t block_size) {
  const int64_t per_seq = (prompt_tokens + generated_tokens + block_size - 1) / block_size;
  return static_cast<int32_t>(std::min<int64_t>(per_seq * batch_size, INT32_MAX));
}

Status check_batched_point(const Backend& backend, int32_t context, int32_t pp, int32_t tg,
                           int32_t b, const BatchedBenchOptions& o) {
  if (!o.prompt.empty()) pp = static_cast<int32_t>(o.prompt.size());
  if (pp < 1 || tg < 1 || b < 1 || o.repetitions < 1 || o.warmup < 0)
    return make_error(ErrorCode::InvalidArgument,
                      fmt::format("batched bench: PP {}, TG {}, B {}, {} repetitions, {} warm-up "
                                  "rounds: expected PP, TG, B and repetitions >= 1, warm-up >= 0",
                                  pp, tg, b, o.repetitions, o.warmup));
  if (pp + tg > context)
    return make_error(ErrorCode::InvalidArgument,
                      fmt::format("batched bench: PP {} + TG {} = {} positions exceed the context "
                                  "of {}",
                                  pp, tg, pp + tg, context));
  const KvCacheConfig& kv = backend.kv_config();
  const int32_t blocks = batched_bench_blocks(pp, tg, b, kv.block_size);
  if (blocks > kv.num_blocks)
    return make_error(ErrorCode::InvalidArgument,
                      fmt::format("batched bench: B {} sequences of {} positions need {} KV blocks "
                                  "of {}; the pool has {}",
                                  b, pp + tg, blocks, kv.block_size, kv.num_blocks));
  return {};
}

Result<BatchedBenchPoint> run_batched_point(Backend& backend, int32_t context,
                                            int32_t prompt_tokens, int32_t generated_tokens,
                                            int32_t batch_size, const BatchedBenchOptions& o) {
  TK_TRY(check_batched_point(backend, context, prompt_tokens, generated_tokens, batch_size, o));
  const int32_t pp = o.prompt.empty() ? prompt_tokens : static_cast<int32_t>(o.prompt.size());
  const int32_t tg = generated_tokens, b = batch_size;
  const KvCacheConfig& kv = backend.kv_config();
  BatchedSequences seqs(pp, tg, b, kv.block_size, backend.vocab_size(), o);
  BatchedBenchPoint point;
  point.prompt_tokens = pp;
  point.generated_tokens = tg;
  point.batch_size = b;
  point.kv_tokens = static_cast<int64_t>(b) * (pp + tg);
  std::vector<double> prefill, decode;
  for (int32_t round = 0; round < o.warmup + o.repetitions; ++round) {
    TK_ASSIGN(const auto times, seqs.run(backend, tg));
    if (round < o.warmup) continue;
    prefill.push_back(times.prefill_s);
    decode.push_back(times.decode_s);
  }
  point.num_steps = seqs.steps();
  point.generated = seqs.generated();
  point.prefill_s = summarize(prefill);
  point.decode_s = summarize(decode);
  point.total_s = point.prefill_s.median + point.decode_s.median;
  const double bd = b;
  point.prefill_tokens_per_second = bd * pp / point.prefill_s.median;
  point.decode_tokens_per_second = bd * tg / point.decode_s.median;
  point.total_tokens_per_second = bd * (pp + tg) / point.total_s;
  return point;
}

std::string batched_report_table(const std::vector<BatchedBenchPoint>& points) {
  std::string s = fmt::format(
      "|{:>7} |{:>7} |{:>5} |{:>8} |{:>9} |{:>10} |{:>9} |{:>10} |{:>9} |{:>10} |\n", "PP", "TG",
      "B", "N_KV", "T_PP s", "S_PP t/s", "T_TG s", "S_TG t/s", "T s", "S t/s");
  s += "|" + std::string(8, '-');
  for (int w : {8, 6, 9, 10, 11, 10, 11, 10, 11}) s += "|" + std::string(w, '-');
  s += "|\n";
  for (const BatchedBenchPoint& p : points)
    s += fmt::format(
        "|{:>7} |{:>7} |{:>5} |{:>8} |{:>9.3f} |{:>10.2f} |{:>9.3f} |{:>10.2f} |{:>9.3f} "
        "|{:>10.2f} |\n",
        p.prompt_tokens, p.generated_tokens, p.batch_size, p.kv_tokens, p.prefill_s.median,
        p.prefill_tokens_per_second, p.decode_s.median, p.decode_tokens_per_second, p.total_s,
        p.total_tokens_per_second);
  return s;
}

nlohmann::json to_json(const BatchedBenchPoint& p) {
  return {{"prompt_tokens", p.prompt_tokens},
          {"generated_tokens", p.generated_tokens},
          {"batch_size", p.batch_size},
          {"kv_tokens", p.kv_tokens},
          {"prefill_s", to_json(p.prefill_s)},
          {"decode_s", to_json(p.decode_s)},
          {"prefill_tokens_per_second", p.prefill_tokens_per_second},
          {"decode_tokens_per_second", p.decode_tokens_per_second},
          {"total_s", p.total_s},
          {"total_tokens_per_second", p.total_tokens_per_second},
          {"num_steps", p.num_steps}};
}

}  // namespace tokamak
