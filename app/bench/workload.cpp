#include "bench/workload.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <random>

#include "tokenizer/tokenizer.h"

namespace tokamak {
namespace {

constexpr const char* kForms =
    "expected fixed:IN:OUT, random:IN_MIN-IN_MAX:OUT_MIN-OUT_MAX, lmi or lmi:SCALE (token counts "
    ">= "
    "1, 0 < SCALE <= 1)";

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

bool parse_count(std::string_view s, int32_t& out) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size() && out >= 1;
}

// "A-B" with 1 <= A <= B, or a single "A".
bool parse_range(std::string_view s, int32_t& lo, int32_t& hi) {
  const auto parts = split(s, '-');
  if (parts.size() == 1) return parse_count(parts[0], lo) && parse_count(parts[0], hi);
  return parts.size() == 2 && parse_count(parts[0], lo) && parse_count(parts[1], hi) && lo <= hi;
}

Error bad(std::string_view text) {
  return make_error(ErrorCode::InvalidArgument, fmt::format("workload '{}': {}", text, kForms));
}

int32_t scaled(int32_t n, double scale) {
  return std::max<int32_t>(1, static_cast<int32_t>(std::lround(n * scale)));
}

// Uniform in [lo, hi] from one draw (the modulo bias is below 2^-40 for any
// range a workload uses).
int32_t uniform(std::mt19937_64& rng, int32_t lo, int32_t hi) {
  const uint64_t span = static_cast<uint64_t>(hi - lo) + 1;
  return lo + static_cast<int32_t>(rng() % span);
}

std::vector<int32_t> random_prompt(std::mt19937_64& rng, const PromptVocab& vocab, int32_t length) {
  std::vector<int32_t> ids;
  ids.reserve(length);
  if (vocab.bos_id >= 0) ids.push_back(vocab.bos_id);
  const int32_t last = static_cast<int32_t>(vocab.ids.size()) - 1;
  while (static_cast<int32_t>(ids.size()) < length) ids.push_back(vocab.ids[uniform(rng, 0, last)]);
  return ids;
}

}  // namespace

std::string WorkloadSpec::name() const {
  switch (kind) {
    case Kind::Fixed:
      return fmt::format("fixed:{}:{}", min_prompt_tokens, min_output_tokens);
    case Kind::Random:
      return fmt::format("random:{}-{}:{}-{}", min_prompt_tokens, max_prompt_tokens,
                         min_output_tokens, max_output_tokens);
    case Kind::Lmi:
      return scale == 1.0 ? "lmi" : fmt::format("lmi:{:g}", scale);
  }
  return "?";
}

Result<WorkloadSpec> parse_workload(std::string_view text) {
  WorkloadSpec w;
  const auto parts = split(text, ':');
  if ((parts.size() == 1 || parts.size() == 2) && parts[0] == "lmi") {
    w.kind = WorkloadSpec::Kind::Lmi;
    if (parts.size() == 2) {
      const std::string scale(parts[1]);
      char* end = nullptr;
      w.scale = std::strtod(scale.c_str(), &end);
      if (scale.empty() || *end != '\0' || !(w.scale > 0.0 && w.scale <= 1.0)) return bad(text);
    }
    w.min_prompt_tokens = kLmi.prompt_tokens[0];
    w.max_prompt_tokens = kLmi.prompt_tokens[2];
    w.min_output_tokens = kLmi.output_tokens[0];
    w.max_output_tokens = kLmi.output_tokens[2];
    return w;
  }
  if (parts.size() != 3) return bad(text);
  if (parts[0] == "fixed") {
    w.kind = WorkloadSpec::Kind::Fixed;
    if (!parse_count(parts[1], w.min_prompt_tokens) ||
        !parse_count(parts[2], w.min_output_tokens)) {
      return bad(text);
    }
    w.max_prompt_tokens = w.min_prompt_tokens;
    w.max_output_tokens = w.min_output_tokens;
    return w;
  }
  if (parts[0] == "random") {
    w.kind = WorkloadSpec::Kind::Random;
    if (!parse_range(parts[1], w.min_prompt_tokens, w.max_prompt_tokens) ||
        !parse_range(parts[2], w.min_output_tokens, w.max_output_tokens)) {
      return bad(text);
    }
    return w;
  }
  return bad(text);
}

PromptVocab prompt_vocab(const Tokenizer& tokenizer) {
  const Vocab& v = tokenizer.vocab();
  PromptVocab out;
  out.bos_id = v.add_bos ? v.bos_id : -1;
  for (int32_t id = 0; id < v.size(); ++id) {
    const TokenType t = v.types.empty() ? TokenType::Normal : v.types[id];
    if (t == TokenType::Control || t == TokenType::Unknown || t == TokenType::Unused) continue;
    if (id == v.bos_id || id == v.eos_id || tokenizer.is_end_of_generation(id)) continue;
    out.ids.push_back(id);
  }
  return out;
}

Result<std::vector<WorkloadRequest>> make_workload(const WorkloadSpec& spec, int32_t num_requests,
                                                   const PromptVocab& vocab, uint64_t seed,
                                                   int32_t max_context) {
  if (vocab.ids.empty()) {
    return make_error(ErrorCode::InvalidArgument,
                      "the vocabulary has no normal tokens to make prompts of");
  }
  std::mt19937_64 rng(seed);
  std::vector<WorkloadRequest> out;
  out.reserve(num_requests);
  if (spec.kind == WorkloadSpec::Kind::Lmi) {
    // Request k: prompt k % 3 with output length (k / 3) % 3, so every
    // prompt meets every output length equally often.
    std::vector<int32_t> prompts[3];
    for (int p = 0; p < 3; ++p) {
      prompts[p] = random_prompt(rng, vocab, scaled(kLmi.prompt_tokens[p], spec.scale));
    }
    for (int32_t k = 0; k < num_requests; ++k) {
      out.push_back({prompts[k % 3], scaled(kLmi.output_tokens[(k / 3) % 3], spec.scale)});
    }
  } else {
    for (int32_t k = 0; k < num_requests; ++k) {
      const int32_t in = uniform(rng, spec.min_prompt_tokens, spec.max_prompt_tokens);
      const int32_t n_out = uniform(rng, spec.min_output_tokens, spec.max_output_tokens);
      out.push_back({random_prompt(rng, vocab, in), n_out});
    }
  }
  if (max_context > 0) {
    for (const WorkloadRequest& r : out) {
      const int64_t need = static_cast<int64_t>(r.prompt.size()) + r.max_tokens;
      if (need > max_context) {
        return make_error(ErrorCode::InvalidArgument,
                          fmt::format("workload {}: a request of {} prompt + {} generated tokens "
                                      "does not fit the context of {} positions (use shorter "
                                      "lengths{} or a larger --ctx-size)",
                                      spec.name(), r.prompt.size(), r.max_tokens, max_context,
                                      spec.kind == WorkloadSpec::Kind::Lmi ? ", --scale" : ""));
      }
    }
  }
  return out;
}

int32_t longest_request_tokens(const WorkloadSpec& spec) {
  if (spec.kind == WorkloadSpec::Kind::Lmi) {
    return scaled(kLmi.prompt_tokens[2], spec.scale) + scaled(kLmi.output_tokens[2], spec.scale);
  }
  return spec.max_prompt_tokens + spec.max_output_tokens;
}

std::vector<double> poisson_arrival_times(int32_t num_requests, double rate, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<double> times;
  times.reserve(num_requests);
  double t = 0.0;
  for (int32_t k = 0; k < num_requests; ++k) {
    // u in (0, 1]: 53 random bits, never 0, so the log is finite.
    const double u = (static_cast<double>(rng() >> 11) + 1.0) * 0x1.0p-53;
    t += -std::log(u) / rate;
    times.push_back(t);
  }
  return times;
}

}  // namespace tokamak
