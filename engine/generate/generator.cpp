#include "generate/generator.h"

#include <algorithm>
#include <chrono>
#include <numeric>
#include <sstream>

#include "runtime/token_text.h"
#include "sampling/sampler.h"

namespace tokamak {
namespace {

using Clock = std::chrono::steady_clock;

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

}  // namespace

Generator::Generator(Backend& backend, const Tokenizer& tokenizer, GeneratorOptions options)
    : backend_(backend), tokenizer_(tokenizer), options_(options) {
  const KvCacheConfig& kv = backend_.kv_config();
  const int32_t pool = kv.num_blocks * kv.block_size;
  capacity_ = pool;
  if (options_.context_length > 0) {
    capacity_ = pool > 0 ? std::min(pool, options_.context_length) : options_.context_length;
  }
  logits_.resize(static_cast<size_t>(std::max(backend_.vocab_size(), 0)));
}

void Generator::reset() {
  history_.clear();
  num_computed_ = 0;
}

int32_t Generator::keep_common_prefix(std::span<const int32_t> tokens) {
  size_t n = 0;
  while (n < history_.size() && n < tokens.size() && history_[n] == tokens[n]) ++n;
  history_.resize(n);
  num_computed_ = std::min(num_computed_, static_cast<int32_t>(n));
  return static_cast<int32_t>(n);
}

Status Generator::forward(std::span<const int32_t> tokens, int32_t first_pos,
                          std::span<float> logits) {
  const int32_t num_tokens = static_cast<int32_t>(tokens.size());
  const int32_t block_size = backend_.kv_config().block_size;
  const int32_t num_blocks_needed = (first_pos + num_tokens + block_size - 1) / block_size;
  while (static_cast<int32_t>(block_table_.size()) < num_blocks_needed) {
    block_table_.push_back(static_cast<int32_t>(block_table_.size()));
  }
  std::vector<int32_t> positions(num_tokens);
  std::iota(positions.begin(), positions.end(), first_pos);
  const std::vector<int32_t> token_seq(num_tokens, 0);
  const StepSequence seq{std::span<const int32_t>(block_table_.data(), num_blocks_needed)};
  const int32_t last_row = num_tokens - 1;
  StepPlan plan;
  plan.tokens = tokens;
  plan.positions = positions;
  plan.token_seq = token_seq;
  plan.sequences = std::span<const StepSequence>(&seq, 1);
  if (!logits.empty()) plan.logits_rows = std::span<const int32_t>(&last_row, 1);
  return backend_.forward(plan, logits);
}

Status Generator::check_request(const GenerationRequest& request) const {
  if (std::string bad = request.sampling.validate(); !bad.empty()) {
    return make_error(ErrorCode::InvalidArgument, "sampling: " + bad);
  }
  const int32_t vocab = backend_.vocab_size();
  for (int32_t id : request.tokens) {
    if (id < 0 || id >= vocab) {
      std::ostringstream s;
      s << "token id " << id << " is outside the vocabulary (" << vocab << " tokens)";
      return make_error(ErrorCode::InvalidRequest, s.str());
    }
  }
  if (request.tokens.empty() && history_.empty()) {
    return make_error(ErrorCode::InvalidRequest,
                      "nothing to generate from: no prompt tokens and no history "
                      "(start with at least the BOS token)");
  }
  return {};
}

bool Generator::prefill(const GenerationRequest& request, GenerationStats& stats) {
  const int32_t max_step = std::max(1, backend_.max_step_tokens());
  const int32_t num_tokens = static_cast<int32_t>(history_.size());
  stats.num_prompt_tokens = num_tokens - num_computed_;
  while (num_computed_ < num_tokens) {
    if (request.cancel && request.cancel->load()) {
      stats.finish_reason = "cancelled";
      return false;
    }
    const int32_t n = std::min(max_step, num_tokens - num_computed_);
    const bool last = num_computed_ + n == num_tokens;
    const std::span<const int32_t> chunk(history_.data() + num_computed_, n);
    Status st =
        forward(chunk, num_computed_, last ? std::span<float>(logits_) : std::span<float>());
    if (!st.ok()) {
      stats.finish_reason = "error";
      stats.message = "prefill failed: " + st.error().message;
      return false;
    }
    num_computed_ += n;
  }
  return true;
}

// Samples, emits and feeds back one token per step until a finish reason.
void Generator::decode(const GenerationRequest& request, GenerationStats& stats,
                       const GenerationCallback& on_event, TokenText& out,
                       std::chrono::steady_clock::time_point t_start) {
  Sampler sampler(request.sampling);
  for (int32_t id : history_) sampler.accept(id);
  auto cancelled = [&] { return request.cancel && request.cancel->load(); };
  Clock::time_point t_first{}, t_last{};
  while (true) {
    const int32_t id = sampler.sample(logits_);
    sampler.accept(id);
    history_.push_back(id);
    t_last = Clock::now();
    if (++stats.num_generated_tokens == 1) t_first = t_last;

    std::string text, reason;
    if (tokenizer_.is_end_of_generation(id)) {
      reason = "eos";
    } else {
      text = out.push(id);
      if (out.stopped()) {
        reason = "stop";
      } else if (request.max_tokens > 0 && stats.num_generated_tokens >= request.max_tokens) {
        reason = "length";
      } else if (static_cast<int32_t>(history_.size()) > capacity_) {
        reason = "context";
        stats.message =
            "the context is full: all " + std::to_string(capacity_) + " positions are used";
      } else if (cancelled()) {
        reason = "cancelled";
      }
    }
    if (!reason.empty() && reason != "stop") {  // release what is held back
      text += out.finish();
      if (out.stopped()) reason = "stop";
    }
    if (on_event) on_event(GenerationEvent{TokenEvent{id, std::move(text)}});
    if (reason.empty() && cancelled()) reason = "cancelled";  // set while the event was handled
    if (!reason.empty()) {
      stats.finish_reason = reason;
      break;
    }
    Status st = forward(std::span<const int32_t>(&history_.back(), 1), num_computed_, logits_);
    if (!st.ok()) {
      stats.finish_reason = "error";
      stats.message = "decode step failed: " + st.error().message;
      break;
    }
    ++num_computed_;
  }
  stats.ttft_ms = ms_between(t_start, t_first);
  const double decode_ms = ms_between(t_first, t_last);
  if (stats.num_generated_tokens > 1 && decode_ms > 0) {
    stats.decode_tokens_per_second = (stats.num_generated_tokens - 1) * 1000.0 / decode_ms;
  }
}

Result<GenerationStats> Generator::generate(const GenerationRequest& request,
                                            const GenerationCallback& on_event) {
  const auto t_start = Clock::now();
  TK_TRY(check_request(request));
  GenerationStats stats;
  auto finish = [&]() -> GenerationStats {
    if (on_event) on_event(GenerationEvent{stats});
    return stats;
  };

  // The prompt must fit, up to the position it ends at.
  const int64_t total = static_cast<int64_t>(history_.size()) + request.tokens.size();
  if (total > capacity_) {
    std::ostringstream s;
    s << "the context is full: " << history_.size() << " tokens of history plus "
      << request.tokens.size() << " new tokens exceed the " << capacity_
      << " positions of this sequence's KV cache (" << backend_.kv_config().num_blocks
      << " blocks of " << backend_.kv_config().block_size << "); reset or shorten the prompt";
    stats.finish_reason = "context";
    stats.message = s.str();
    return finish();
  }
  history_.insert(history_.end(), request.tokens.begin(), request.tokens.end());
  // All tokens already in the KV cache: run the last one again for its logits.
  if (num_computed_ >= static_cast<int32_t>(history_.size())) {
    num_computed_ = static_cast<int32_t>(history_.size()) - 1;
  }
  stats.num_cached_tokens = num_computed_;

  // Prime the text so the first new token decodes as a continuation.
  TokenText out(tokenizer_, request.stop, options_.render_special);
  out.prime(history_);

  if (!prefill(request, stats)) return finish();
  const double prefill_ms = ms_between(t_start, Clock::now());
  if (prefill_ms > 0)
    stats.prefill_tokens_per_second = stats.num_prompt_tokens * 1000.0 / prefill_ms;
  decode(request, stats, on_event, out, t_start);
  return finish();
}

}  // namespace tokamak
