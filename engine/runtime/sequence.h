// Sequence: one request inside the engine — its tokens, how many of them are
// in the KV cache, its block table, and its sampling and text state.
//
//   tokens:  [ prompt ........ | generated ...... ]
//            [ computed (in KV) ......... | to feed ]
//                       num_computed_tokens ^
//   block_table[i] holds positions [i * block_size, (i + 1) * block_size).
//
// Each step feeds some of tokens[num_computed_tokens..]; when it feeds the
// last one, that row's logits give the next id. Preemption drops the blocks
// and sets num_computed_tokens to 0: the tokens (generated ones included) are
// fed again later, and generation continues where it stopped.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "runtime/block_pool.h"
#include "runtime/engine.h"
#include "runtime/token_text.h"
#include "sampling/sampler.h"

namespace tokamak {

using Clock = std::chrono::steady_clock;

struct Sequence {
  Sequence(RequestId id_, Request request_, EventCallback on_event_, const Tokenizer& tokenizer,
           Clock::time_point submitted_)
      : id(id_),
        on_event(std::move(on_event_)),
        sampler(request_.sampling),
        text(tokenizer, request_.stop),
        submitted(submitted_) {
    tokens = std::move(request_.prompt);
    num_prompt_tokens = static_cast<int32_t>(tokens.size());
    max_tokens = request_.max_tokens;
    ignore_eos = request_.ignore_eos;
  }

  int32_t num_tokens() const { return static_cast<int32_t>(tokens.size()); }
  int32_t num_generated() const { return num_tokens() - num_prompt_tokens; }
  // Tokens still to feed before the next id can be sampled.
  int32_t num_pending() const { return num_tokens() - num_computed_tokens; }

  RequestId id = 0;
  EventCallback on_event;
  std::vector<int32_t> tokens;  // prompt, then generated ids
  int32_t num_prompt_tokens = 0;
  int32_t max_tokens = 0;
  bool ignore_eos = false;
  int32_t num_computed_tokens = 0;

  // KV blocks (scheduler and BlockPool only).
  std::vector<int32_t> block_table;
  std::vector<BlockHash> block_hashes;  // hashes of full blocks 0, 1, ... (filled lazily)
  int32_t num_published_blocks = 0;     // block_table[0, n) are published or cache hits

  Sampler sampler;
  TokenText text;

  // Step scratch (scheduler).
  int32_t num_scheduled = 0;  // tokens fed in the step being planned

  // Accounting.
  Clock::time_point submitted;
  Clock::time_point first_scheduled{};
  Clock::time_point first_token{};
  Clock::time_point last_token{};
  bool started = false;
  int32_t num_cached_tokens = 0;  // prompt tokens served from the prefix cache (first admission)
  int32_t num_preemptions = 0;
};

}  // namespace tokamak
