// Workloads of the serving benchmark: what each request asks for (prompt
// token ids and the number of tokens to generate) and, for open loop, when
// it arrives.
//
//   fixed:IN:OUT                          every request IN prompt tokens, OUT generated
//   random:IN_MIN-IN_MAX:OUT_MIN-OUT_MAX  lengths uniform in the ranges (inclusive), seeded
//   lmi, lmi:SCALE                        the published comparison of batching strategies on
//                                         Llama 2 7B: three prompts of different lengths, each
//                                         with 64, 128 and 256 generated tokens; 50 clients,
//                                         5000 requests (kLmi); SCALE (0 < SCALE <= 1) scales
//                                         the request count and every token length
//
// Prompts are random ids of the model's vocabulary (normal tokens only, BOS
// first), not tokenized text: the length of each prompt is then exactly what
// the workload says on every model, the same seed gives the same ids, and
// the cost of a forward pass does not depend on which ids it sees. Every
// request of `fixed`/`random` gets its own prompt (no shared prefixes beyond
// BOS); `lmi` repeats its three prompts as the publication did, so prefix
// caching can reuse them (the runs report the prefix-hit tokens).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace tokamak {

class Tokenizer;

struct WorkloadSpec {
  enum class Kind { Fixed, Random, Lmi };
  Kind kind = Kind::Fixed;
  int32_t min_prompt_tokens = 0;  // BOS included
  int32_t max_prompt_tokens = 0;
  int32_t min_output_tokens = 0;
  int32_t max_output_tokens = 0;
  // lmi: multiplies the default request count and every token length
  // (prompts and outputs; each at least 1). 1: as published.
  double scale = 1.0;

  // "fixed:128:128", "random:16-512:1-256", "lmi"; the canonical name.
  std::string name() const;
};

// Parses a workload name (see the header comment); InvalidArgument with the
// expected forms otherwise. name() of the result parses back to it.
Result<WorkloadSpec> parse_workload(std::string_view text);

// The lmi preset: prompt lengths (BOS included), output lengths, clients and
// requests of the publication.
struct LmiDefaults {
  int32_t prompt_tokens[3] = {32, 128, 512};  // short, medium, long prompt
  int32_t output_tokens[3] = {64, 128, 256};
  int32_t concurrency = 50;
  int32_t num_requests = 5000;
};
inline constexpr LmiDefaults kLmi{};

// Prompt + output tokens of the workload's longest request (lmi: the long
// prompt and the long output, scaled).
int32_t longest_request_tokens(const WorkloadSpec& spec);

// The ids prompts are drawn from.
struct PromptVocab {
  int32_t bos_id = -1;       // < 0: no BOS
  std::vector<int32_t> ids;  // normal tokens
};
// The normal (not control, byte or unused) tokens of a tokenizer's vocabulary.
PromptVocab prompt_vocab(const Tokenizer& tokenizer);

struct WorkloadRequest {
  std::vector<int32_t> prompt;  // BOS first when the vocabulary has one
  int32_t max_tokens = 0;
};

// num_requests requests in submission order. Same spec, vocab and seed ->
// same requests. InvalidArgument when a length does not fit max_context
// (prompt + output > max_context; 0: no limit) or the vocabulary is empty.
Result<std::vector<WorkloadRequest>> make_workload(const WorkloadSpec& spec, int32_t num_requests,
                                                   const PromptVocab& vocab, uint64_t seed,
                                                   int32_t max_context = 0);

// Arrival times (seconds from the start) of a Poisson process of `rate`
// requests per second: exponential gaps with mean 1/rate, by inversion of a
// seeded std::mt19937_64 (the same sequence on every platform).
std::vector<double> poisson_arrival_times(int32_t num_requests, double rate, uint64_t seed);

}  // namespace tokamak
