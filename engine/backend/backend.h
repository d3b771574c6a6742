// The Backend interface: one forward pass of the model over one step.
//
// A step is any mix of sequences, each contributing one or more consecutive
// tokens (a prefill chunk, or one decode token). The backend
//   1. writes K and V of every token of the step into the KV pool, at
//      block_table[pos / block_size], slot pos % block_size of its sequence;
//   2. lets each token attend causally to positions [0, pos] of its own
//      sequence, reading K/V through the same block table;
//   3. returns logits for the tokens listed in logits_rows, in that order.
//
//   KV pool, per layer:   K[num_blocks][block_size][num_kv_heads][head_dim]
//                         V[num_blocks][block_size][num_kv_heads][head_dim]
//
//   sequence s, block_size 4, 10 tokens in cache:
//     block_table = [7, 2, 9]   positions 0-3 -> block 7, 4-7 -> block 2,
//                               8-9 -> block 9 (slots 0, 1)
//
// Contract: the caller (the runtime) owns block allocation; the backend never
// allocates blocks, it only reads and writes the ones it is given. Positions
// of a sequence's tokens in a step are consecutive and every earlier position
// of that sequence is already in its blocks.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/result.h"
#include "sampling/sampler.h"  // RowSampling

namespace tokamak {

struct StepSequence {
  std::span<const int32_t> block_table;  // (num_blocks of this sequence)
};

struct StepPlan {
  std::span<const int32_t> tokens;       // (num_tokens) token ids
  std::span<const int32_t> positions;    // (num_tokens) position in its sequence
  std::span<const int32_t> token_seq;    // (num_tokens) index into sequences
  std::span<const StepSequence> sequences;
  std::span<const int32_t> logits_rows;  // (num_logits) indices into tokens
};

struct KvCacheConfig {
  int32_t block_size = 16;  // tokens per block
  int32_t num_blocks = 0;   // 0: enough for one sequence of the context length
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::string name() const = 0;  // "cpu", "cuda"
  virtual const KvCacheConfig& kv_config() const = 0;
  virtual int32_t vocab_size() const = 0;
  // Largest number of tokens one step may carry.
  virtual int32_t max_step_tokens() const = 0;

  // Runs one step. logits must hold logits_rows.size() * vocab_size() floats,
  // row-major in the order of logits_rows.
  virtual Status forward(const StepPlan& plan, std::span<float> logits) = 0;

  // Runs one step and picks one id per logits row: ids[i] for
  // plan.logits_rows[i], chosen as sample_row(logits of that row, rows[i])
  // would. The default runs forward() and samples on the host; a backend that
  // samples on the device copies back only the ids. rows.size() and
  // ids.size() must equal plan.logits_rows.size().
  virtual Status forward_sampled(const StepPlan& plan, std::span<const RowSampling> rows,
                                 std::span<int32_t> ids);
};

}  // namespace tokamak
