// Value events a generation emits: one TokenEvent per generated token, then
// one GenerationStats when it finishes.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <variant>

namespace tokamak {

struct TokenEvent {
  int32_t id = 0;
  // Text released with this token: whole UTF-8 characters only, with text
  // that may still become a stop string held back (it comes out with a later
  // token, or is dropped when it does turn into the stop string). May be "".
  std::string text;
};

struct GenerationStats {
  int32_t num_prompt_tokens = 0;     // tokens prefilled by this call
  int32_t num_cached_tokens = 0;     // tokens reused from the KV cache (earlier turns)
  int32_t num_generated_tokens = 0;  // tokens sampled (an end-of-generation token included)
  double ttft_ms = 0.0;              // start of the call -> first token sampled
  double prefill_tokens_per_second = 0.0;
  double decode_tokens_per_second = 0.0;  // (num_generated - 1) / (last - first token time)
  // "eos" | "stop" | "length" | "cancelled" | "error" | "context"
  std::string finish_reason;
  std::string message;  // for "error" and "context": what happened, with the numbers
};

using GenerationEvent = std::variant<TokenEvent, GenerationStats>;
// Called on the generating thread; copy what you need and return.
using GenerationCallback = std::function<void(const GenerationEvent&)>;

}  // namespace tokamak
