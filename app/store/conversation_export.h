// Export of a conversation (its current branch or its whole tree) to
// Markdown (to read) and JSONL (to keep or move; import_conversation_jsonl
// reads it back).
//
// JSONL: one JSON object per line.
//   line 1: {"type":"conversation","format":"tokamak.conversation","version":1,
//            "scope":"branch"|"tree","title":..,"created_at":..,"updated_at":..,
//            "current_leaf":<message id>|null,
//            "settings":{"system_prompt":..,"template_name":..,"template_text":..,
//                        "sampling":{..}}}
//   then per message, parents before children:
//           {"type":"message","id":N,"parent":M|null,"role":..,"status":..,
//            "created_at":..,"updated_at":..,"content":..,
//            "generation":{model_path, model_size_bytes, model_header_sha256,
//              template_name, template_sha256, sampling:{..}, seed, engine_version,
//              device, num_prompt_tokens, num_cached_tokens, num_generated_tokens,
//              ttft_ms, prefill_tokens_per_second, decode_tokens_per_second, e2e_ms,
//              finish_reason, error_message}|null}
// Ids are the exporting database's; an import gives new ones.
#pragma once

#include <cstdint>
#include <string>

#include "core/result.h"
#include "store/conversation_store.h"

namespace tokamak {

enum class ExportScope {
  CurrentBranch,  // root -> current leaf
  WholeTree,      // every message, every branch
};

inline constexpr const char* kConversationFormat = "tokamak.conversation";
inline constexpr int kConversationFormatVersion = 1;

Result<std::string> export_conversation_jsonl(ConversationStore& store, int64_t conversation_id,
                                              ExportScope scope);
Result<std::string> export_conversation_markdown(ConversationStore& store, int64_t conversation_id,
                                                 ExportScope scope);

}  // namespace tokamak
