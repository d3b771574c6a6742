// llama.cpp's `llama-batched-bench` measurement on our Backend, so that
// figures compare with its tables column for column. For one point (PP, TG,
// B): B sequences of PP prompt tokens are prefilled in steps of up to
// max_step_tokens() tokens (the last token of each prompt sampled), then TG
// decode steps of B tokens run, one per sequence, each sampling the next id
// greedily on the backend. Every sequence has its own blocks (no prompt
// sharing: llama-batched-bench without -pps).
//
//   T_PP = prefill seconds   S_PP = B * PP / T_PP
//   T_TG = decode seconds    S_TG = B * TG / T_TG     (generated tokens/s)
//   T = T_PP + T_TG          S = B * (PP + TG) / T    N_KV = B * (PP + TG)
//
// Each step ends with its ids on the host (forward_sampled), so wall-clock
// times need no further synchronisation. Untimed warm-up rounds of the same
// point run first (graph capture, library start-up); the reported times are
// the medians of the timed rounds, with their range.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "bench/spread.h"
#include "core/result.h"

namespace tokamak {

struct BatchedBenchOptions {
  uint64_t seed = 1;            // random prompt ids, a different prompt per sequence
  std::vector<int32_t> prompt;  // non-empty: every sequence's prompt (its size is PP)
  int32_t warmup = 1;           // untimed rounds of each point
  int32_t repetitions = 3;      // timed rounds; medians reported
};

struct BatchedBenchPoint {
  int32_t prompt_tokens = 0;               // PP
  int32_t generated_tokens = 0;            // TG
  int32_t batch_size = 0;                  // B
  int64_t kv_tokens = 0;                   // N_KV
  Spread prefill_s;                        // T_PP of each timed round
  Spread decode_s;                         // T_TG of each timed round
  double prefill_tokens_per_second = 0.0;  // S_PP from the median T_PP
  double decode_tokens_per_second = 0.0;   // S_TG from the median T_TG
  double total_s = 0.0;                    // T: median T_PP + median T_TG
  double total_tokens_per_second = 0.0;    // S
  int32_t num_steps = 0;                   // backend steps of one round
  // The ids each sequence generated in the last round: the one sampled from
  // its prompt, then one per decode step (TG + 1 ids; the last one is not
  // fed back).
  std::vector<std::vector<int32_t>> generated;
};

// Blocks of block_size positions a point needs in the backend's KV pool.
int32_t batched_bench_blocks(int32_t prompt_tokens, int32_t generated_tokens, int32_t batch_size,
                             int32_t block_size);

// Whether `backend` can run the point: InvalidArgument for sizes below 1, a
// pool or context too small (with the numbers).
Status check_batched_point(const Backend& backend, int32_t context, int32_t prompt_tokens,
                           int32_t generated_tokens, int32_t batch_size,
                           const BatchedBenchOptions& options);

// Runs one point on `backend` (its KV pool must hold batched_bench_blocks;
// PP + TG must fit `context` positions): check_batched_point's errors, the
// backend's.
Result<BatchedBenchPoint> run_batched_point(Backend& backend, int32_t context,
                                            int32_t prompt_tokens, int32_t generated_tokens,
                                            int32_t batch_size, const BatchedBenchOptions& options);

// llama-batched-bench's table: PP, TG, B, N_KV, T_PP s, S_PP t/s, T_TG s,
// S_TG t/s, T s, S t/s; one line per point.
std::string batched_report_table(const std::vector<BatchedBenchPoint>& points);

// {prompt_tokens, generated_tokens, batch_size, kv_tokens, prefill_s: {median,
// min, max, samples}, decode_s: ..., prefill_tokens_per_second,
// decode_tokens_per_second, total_s, total_tokens_per_second, num_steps}
nlohmann::json to_json(const BatchedBenchPoint& point);

}  // namespace tokamak
