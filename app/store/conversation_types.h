// Value types of the conversation store (conversation_store.h): what a
// conversation, a message and a generation record hold, as the UI and the
// exporters see them. Plain values: copy them across threads freely.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace tokamak {

struct RequestTimings;
struct GenerationStats;

// Per-conversation settings (what the next answer is made with).
struct ConversationSettings {
  std::string system_prompt;
  std::string template_name;         // "" : the model's own; else a built-in's name or "custom"
  std::string template_text;         // the custom template's text
  std::string sampling_json = "{}";  // SamplingParams + max_tokens (sampling_params_json)
};

struct Conversation {
  int64_t id = 0;
  std::string title;
  std::string created_at;    // ISO 8601 UTC, milliseconds
  std::string updated_at;    // last activity
  int64_t current_leaf = 0;  // 0: no messages yet
  ConversationSettings settings;
  std::string deleted_at;  // "" : live
};

enum class MessageRole { System, User, Assistant };
std::string_view role_name(MessageRole role);  // "system" | "user" | "assistant"
Result<MessageRole> parse_role(std::string_view name);

// Stored as text; never renumber.
enum class MessageStatus {
  Complete,     // written whole, or a finished answer
  Partial,      // an answer being streamed now
  Interrupted,  // was partial when its writer died: the text is what was saved
  Error,        // the generation failed (finish reason "error"/"context")
};
std::string_view status_name(MessageStatus status);
Result<MessageStatus> parse_status(std::string_view name);

struct Message {
  int64_t id = 0;
  int64_t conversation_id = 0;
  int64_t parent_id = 0;  // 0: a root
  MessageRole role = MessageRole::User;
  std::string content;
  MessageStatus status = MessageStatus::Complete;
  std::string created_at;
  std::string updated_at;
  // For `< sibling_index+1 / num_siblings >`: position among the messages
  // with the same parent, oldest first (filled by current_branch / message).
  int32_t sibling_index = 0;
  int32_t num_siblings = 1;
};

// What made an assistant message, and how fast.
struct GenerationRecord {
  std::string model_path;
  int64_t model_size_bytes = 0;
  std::string model_header_sha256;  // fingerprint_model()
  std::string template_name;
  std::string template_sha256;  // sha256_hex of the template text
  std::string sampling_json;    // sampling_params_json()
  uint64_t seed = 0;
  std::string engine_version;
  std::string device;  // "cpu", "cuda:0 NVIDIA H100", ...
  int32_t num_prompt_tokens = 0;
  int32_t num_cached_tokens = 0;
  int32_t num_generated_tokens = 0;
  double ttft_ms = 0.0;
  double prefill_tokens_per_second = 0.0;
  double decode_tokens_per_second = 0.0;
  double e2e_ms = 0.0;
  std::string finish_reason;  // "eos" | "stop" | "length" | "cancelled" | "error" | "context"
  std::string error_message;

  // Copies the figures an Engine (Finished) or a Generator (GenerationStats) reports.
  void set_timings(const RequestTimings& timings, std::string_view reason);
  void set_stats(const GenerationStats& stats);
};

struct SearchHit {
  int64_t conversation_id = 0;
  std::string conversation_title;
  int64_t message_id = 0;
  MessageRole role = MessageRole::User;
  std::string snippet;  // a window of the text around the hits (or all of it), hits marked
  double rank = 0.0;    // FTS5 bm25: lower is better
};

struct SearchOptions {
  std::string open_mark = "<mark>";
  std::string close_mark = "</mark>";
  std::string ellipsis = "…";
  int32_t snippet_tokens = 16;  // 1..64 tokens around the hits
  bool whole_text = false;      // true: the whole text with every hit marked, no snippet
  int32_t limit = 50;
  bool raw_fts_query = false;  // false: the text is words (all must match, the last as a prefix)
};

}  // namespace tokamak
