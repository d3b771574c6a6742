// How the next token is chosen from a row of logits. Defaults follow
// llama.cpp's (temperature 0.8, top-k 40, top-p 0.95, min-p 0.05, no
// repetition penalties).
#pragma once

#include <cstdint>
#include <string>

namespace tokamak {

struct SamplingParams {
  float temperature = 0.8f;        // <= 0: greedy (argmax, ties -> lowest id)
  int32_t top_k = 40;              // <= 0 or >= vocab: off
  float top_p = 0.95f;             // >= 1: off
  float min_p = 0.05f;             // <= 0: off
  float repeat_penalty = 1.0f;     // 1: off (llama.cpp: logit > 0 ? l / r : l * r)
  int32_t repeat_last_n = 64;      // window of the history the penalties see; 0: off, -1: all
  float frequency_penalty = 0.0f;  // logit -= count * frequency_penalty
  float presence_penalty = 0.0f;   // logit -= (count > 0) * presence_penalty
  uint64_t seed = 0;               // same seed + same logits -> same draws

  bool greedy() const { return temperature <= 0.0f; }
  bool has_penalties() const {
    return repeat_last_n != 0 &&
           (repeat_penalty != 1.0f || frequency_penalty != 0.0f || presence_penalty != 0.0f);
  }
  // "" when valid, else a message naming the bad field and its value.
  std::string validate() const;
};

}  // namespace tokamak
