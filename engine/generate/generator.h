// Generator: one sequence, one Backend, run step by step on the calling
// thread (until the batching runtime exists).
//
//   history_:  [ t0 t1 ... t(c-1) | t(c) ... t(n-1) ]
//               \___ in the KV ___/ \_ not yet fed _/
//                   (num_computed_)
//
// generate() appends the request's tokens to the history, prefills what is
// not in the KV cache yet in chunks of backend.max_step_tokens(), then
// decodes one token per step. Tokens of earlier calls stay in the KV cache,
// so a chat turn only prefills its new tokens. The sequence uses blocks
// 0, 1, 2, ... of the backend's KV pool (block_table[i] = i); when the next
// position would not fit, the generation finishes with reason "context".
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "core/result.h"
#include "generate/generation_events.h"
#include "sampling/sampling_params.h"
#include "tokenizer/tokenizer.h"

namespace tokamak {

class TokenText;

struct GenerationRequest {
  std::vector<int32_t> tokens;  // appended to the history (BOS is the caller's business)
  SamplingParams sampling;
  std::vector<std::string> stop;              // stop strings (never shown)
  int32_t max_tokens = 256;                   // <= 0: until EOS, a stop string or the context
  const std::atomic<bool>* cancel = nullptr;  // checked before every step
};

struct GeneratorOptions {
  // Largest number of positions the sequence may use; 0: the whole KV pool
  // (kv_config().num_blocks * block_size). The smaller of the two applies.
  int32_t context_length = 0;
  bool render_special = false;  // show control tokens' text
};

class Generator {
 public:
  // backend and tokenizer must outlive the generator; nothing else may use
  // the backend's KV blocks meanwhile.
  Generator(Backend& backend, const Tokenizer& tokenizer, GeneratorOptions options = {});

  // Runs one generation. Events go to `on_event` (may be empty); the final
  // stats are also returned. Fails (without touching the history) only on an
  // invalid request: bad sampling parameters, an out-of-vocabulary id, nothing
  // to run. Backend failures finish the generation with reason "error".
  Result<GenerationStats> generate(const GenerationRequest& request,
                                   const GenerationCallback& on_event);

  // Keeps the longest common prefix of the history and `tokens` and drops
  // the rest (KV entries beyond it are overwritten later); returns its length.
  // The caller then generates with the remaining tokens of `tokens`.
  int32_t keep_common_prefix(std::span<const int32_t> tokens);
  // Forgets the history (the next generation starts at position 0).
  void reset();

  const std::vector<int32_t>& history() const { return history_; }
  int32_t num_computed_tokens() const { return num_computed_; }
  // Positions this sequence may use.
  int32_t capacity() const { return capacity_; }

 private:
  Status check_request(const GenerationRequest& request) const;
  // Feeds history_[num_computed_..]; false (reason set in stats) on cancel or failure.
  bool prefill(const GenerationRequest& request, GenerationStats& stats);
  void decode(const GenerationRequest& request, GenerationStats& stats,
              const GenerationCallback& on_event, TokenText& out,
              std::chrono::steady_clock::time_point t_start);
  Status forward(std::span<const int32_t> tokens, int32_t first_pos, std::span<float> logits);

  Backend& backend_;
  const Tokenizer& tokenizer_;
  GeneratorOptions options_;
  int32_t capacity_ = 0;
  std::vector<int32_t> history_;
  int32_t num_computed_ = 0;  // history_[0, num_computed_) is in the KV cache
  std::vector<int32_t> block_table_;
  std::vector<float> logits_;  // (vocab_size)
};

}  // namespace tokamak
