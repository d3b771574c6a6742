#include "store/conversation_types.h"

#include <fmt/format.h>

#include <array>
#include <utility>

#include "generate/generation_events.h"
#include "runtime/engine.h"

namespace tokamak {
namespace {

constexpr std::array<std::pair<MessageRole, std::string_view>, 3> kRoles = {{
    {MessageRole::System, "system"},
    {MessageRole::User, "user"},
    {MessageRole::Assistant, "assistant"},
}};

constexpr std::array<std::pair<MessageStatus, std::string_view>, 4> kStatuses = {{
    {MessageStatus::Complete, "complete"},
    {MessageStatus::Partial, "partial"},
    {MessageStatus::Interrupted, "interrupted"},
    {MessageStatus::Error, "error"},
}};

}  // namespace

std::string_view role_name(MessageRole role) {
  for (const auto& [r, name] : kRoles) {
    if (r == role) return name;
  }
  return "?";
}

Result<MessageRole> parse_role(std::string_view name) {
  for (const auto& [r, n] : kRoles) {
    if (n == name) return r;
  }
  return make_error(
      ErrorCode::InvalidArgument,
      fmt::format("unknown message role '{}' (known: system, user, assistant)", name));
}

std::string_view status_name(MessageStatus status) {
  for (const auto& [s, name] : kStatuses) {
    if (s == status) return name;
  }
  return "?";
}

Result<MessageStatus> parse_status(std::string_view name) {
  for (const auto& [s, n] : kStatuses) {
    if (n == name) return s;
  }
  return make_error(
      ErrorCode::InvalidArgument,
      fmt::format("unknown message status '{}' (known: complete, partial, interrupted, error)",
                  name));
}

void GenerationRecord::set_timings(const RequestTimings& t, std::string_view reason) {
  num_prompt_tokens = t.num_prompt_tokens;
  num_cached_tokens = t.num_cached_tokens;
  num_generated_tokens = t.num_generated_tokens;
  ttft_ms = t.ttft_ms;
  prefill_tokens_per_second = t.prefill_tokens_per_second;
  decode_tokens_per_second = t.decode_tokens_per_second;
  e2e_ms = t.e2e_ms;
  finish_reason = std::string(reason);
}

void GenerationRecord::set_stats(const GenerationStats& s) {
  num_prompt_tokens = s.num_prompt_tokens;
  num_cached_tokens = s.num_cached_tokens;
  num_generated_tokens = s.num_generated_tokens;
  ttft_ms = s.ttft_ms;
  prefill_tokens_per_second = s.prefill_tokens_per_second;
  decode_tokens_per_second = s.decode_tokens_per_second;
  finish_reason = s.finish_reason;
  error_message = s.message;
}

}  // namespace tokamak
