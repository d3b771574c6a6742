// The sampler chain. For one row of logits:
//
//   penalties over the recent history (repeat, frequency, presence; llama.cpp
//   formulas) -> temperature -> top-k -> top-p -> min-p -> softmax -> draw
//
// Temperature <= 0 short-cuts to greedy: argmax after the penalties, ties
// broken towards the lowest id. The draw uses Pcg64 seeded from
// SamplingParams::seed, so a run is reproducible bit for bit given the logits.
//
// The stages are free functions over a candidate list so that each can be
// tested on its own; Sampler strings them together and keeps the history.
#pragma once

#include <cstdint>
#include <deque>
#include <span>
#include <vector>

#include "sampling/rng.h"
#include "sampling/sampling_params.h"

namespace tokamak {

struct Candidate {
  int32_t id = 0;
  float logit = 0.0f;
  float p = 0.0f;  // filled by softmax_candidates
};

// Penalises, in place, the logits of the tokens that occur in `recent`
// (llama.cpp's llama_sampler_penalties_apply):
//   l = l <= 0 ? l * repeat_penalty : l / repeat_penalty
//   l -= count * frequency_penalty + (count > 0 ? presence_penalty : 0)
// `recent` is the window the caller chose (the last repeat_last_n ids).
void apply_penalties(std::span<float> logits, std::span<const int32_t> recent,
                     const SamplingParams& params);

// Index of the largest value; ties -> lowest index. Precondition: non-empty.
int32_t argmax(std::span<const float> logits);

// All ids with their logits, in id order.
std::vector<Candidate> make_candidates(std::span<const float> logits);
// logit /= temperature (temperature > 0).
void apply_temperature(std::vector<Candidate>& c, float temperature);
// Sorts by logit descending (ties: lower id first) and keeps the first k
// (k <= 0 or k >= size: keeps all, still sorted).
void keep_top_k(std::vector<Candidate>& c, int32_t k);
// The k candidates with the largest logits, sorted (ties: lower id first),
// without materialising the whole vocabulary. Precondition: 0 < k <= size.
std::vector<Candidate> top_k_candidates(std::span<const float> logits, int32_t k);
// Keeps the smallest prefix (by descending probability) whose probability mass
// is >= p; at least one. p >= 1: no-op. Leaves c sorted with p filled.
void keep_top_p(std::vector<Candidate>& c, float p);
// Keeps candidates with probability >= min_p * max probability, i.e. logit >=
// max_logit + log(min_p); at least one. min_p <= 0: no-op.
void keep_min_p(std::vector<Candidate>& c, float min_p);
// p = softmax(logit) over the list (in double, then rounded).
void softmax_candidates(std::vector<Candidate>& c);
// Inverse-CDF draw over c's probabilities with u in [0, 1); returns an id.
int32_t draw_candidate(const std::vector<Candidate>& c, double u);

// Everything one logits row needs to be sampled away from the Sampler (on
// the device, or by a backend that batches rows): the chain after the
// penalties, and the uniform number the draw uses. Penalties need the
// history, so a row whose request has penalties is sampled on the host.
struct RowSampling {
  float temperature = 0.0f;  // <= 0: greedy (u unused)
  int32_t top_k = 0;         // <= 0 or >= vocab: off
  float top_p = 1.0f;        // >= 1: off
  float min_p = 0.0f;        // <= 0: off
  double u = 0.0;            // uniform in [0, 1) for the inverse-CDF draw
};

// The id the chain chooses for one row (no penalties): exactly what
// Sampler::sample returns for the same logits when `row` comes from
// Sampler::next_row(). The reference for device samplers.
int32_t sample_row(std::span<const float> logits, const RowSampling& row);

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);

  const SamplingParams& params() const { return params_; }

  // Chooses the next id from one row of logits (vocab_size values). Does not
  // record it: call accept() with the id that is actually fed back.
  int32_t sample(std::span<const float> logits);

  // True when this request's rows need the host (penalties use the history).
  bool needs_host() const { return params_.has_penalties(); }
  // The row description for the next draw, advancing the generator exactly
  // as sample() would (greedy rows consume nothing). Precondition: !needs_host().
  RowSampling next_row();

  // The candidates that survive the chain, with their final probabilities
  // (what sample() draws from). Greedy: the single argmax with p = 1.
  std::vector<Candidate> distribution(std::span<const float> logits) const;

  // Appends an id to the history the penalties look at (prompt tokens too,
  // as llama.cpp's CLI does).
  void accept(int32_t id);
  // Clears the history and re-seeds the generator.
  void reset();

 private:
  std::vector<float> penalised(std::span<const float> logits) const;

  SamplingParams params_;
  Pcg64 rng_;
  std::deque<int32_t> recent_;  // last repeat_last_n accepted ids (all of them when -1)
};

}  // namespace tokamak
