#include "store/conversation_export.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_map>
#include <vector>

namespace tokamak {
namespace {

using nlohmann::ordered_json;

// The stored sampling text as JSON (a string when it is not valid JSON).
ordered_json sampling_value(const std::string& text) {
  ordered_json j = ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  return j.is_discarded() ? ordered_json(text) : j;
}

ordered_json record_json(const GenerationRecord& r) {
  return {{"model_path", r.model_path},
          {"model_size_bytes", r.model_size_bytes},
          {"model_header_sha256", r.model_header_sha256},
          {"template_name", r.template_name},
          {"template_sha256", r.template_sha256},
          {"sampling", sampling_value(r.sampling_json)},
          {"seed", r.seed},
          {"engine_version", r.engine_version},
          {"device", r.device},
          {"num_prompt_tokens", r.num_prompt_tokens},
          {"num_cached_tokens", r.num_cached_tokens},
          {"num_generated_tokens", r.num_generated_tokens},
          {"ttft_ms", r.ttft_ms},
          {"prefill_tokens_per_second", r.prefill_tokens_per_second},
          {"decode_tokens_per_second", r.decode_tokens_per_second},
          {"e2e_ms", r.e2e_ms},
          {"finish_reason", r.finish_reason},
          {"error_message", r.error_message}};
}

struct Exported {
  Conversation conversation;
  std::vector<Message> messages;
  std::vector<std::optional<GenerationRecord>> records;  // per message
};

Result<Exported> gather(ConversationStore& store, int64_t conversation_id, ExportScope scope) {
  Exported out;
  TK_ASSIGN(out.conversation, store.conversation(conversation_id));
  if (scope == ExportScope::CurrentBranch) {
    TK_ASSIGN(out.messages, store.current_branch(conversation_id));
  } else {
    TK_ASSIGN(out.messages, store.all_messages(conversation_id));
  }
  for (const Message& m : out.messages) {
    TK_ASSIGN(std::optional<GenerationRecord> r, store.record(m.id));
    out.records.push_back(std::move(r));
  }
  return out;
}

std::string speeds_line(const GenerationRecord& r) {
  std::string model = r.model_path.substr(r.model_path.find_last_of('/') + 1);
  std::string line = fmt::format(
      "{} · template {} · seed {} · {} prompt + {} generated tokens · TTFT {:.1f} ms · "
      "prefill {:.1f} tok/s · decode {:.1f} tok/s · finish {}",
      model.empty() ? "(no model)" : model, r.template_name.empty() ? "(model's)" : r.template_name,
      r.seed, r.num_prompt_tokens, r.num_generated_tokens, r.ttft_ms, r.prefill_tokens_per_second,
      r.decode_tokens_per_second, r.finish_reason);
  if (!r.sampling_json.empty()) line += fmt::format(" · sampling `{}`", r.sampling_json);
  if (!r.device.empty()) line += fmt::format(" · {}", r.device);
  if (!r.error_message.empty()) line += fmt::format(" · error: {}", r.error_message);
  return line;
}

std::string role_title(MessageRole role) {
  switch (role) {
    case MessageRole::System:
      return "System";
    case MessageRole::User:
      return "User";
    case MessageRole::Assistant:
      return "Assistant";
  }
  return "?";
}

}  // namespace

Result<std::string> export_conversation_jsonl(ConversationStore& store, int64_t conversation_id,
                                              ExportScope scope) {
  TK_ASSIGN(const Exported e, gather(store, conversation_id, scope));
  const Conversation& c = e.conversation;
  ordered_json head = {
      {"type", "conversation"},
      {"format", kConversationFormat},
      {"version", kConversationFormatVersion},
      {"scope", scope == ExportScope::CurrentBranch ? "branch" : "tree"},
      {"title", c.title},
      {"created_at", c.created_at},
      {"updated_at", c.updated_at},
      {"current_leaf", c.current_leaf > 0 ? ordered_json(c.current_leaf) : ordered_json()},
      {"settings",
       {{"system_prompt", c.settings.system_prompt},
        {"template_name", c.settings.template_name},
        {"template_text", c.settings.template_text},
        {"sampling", sampling_value(c.settings.sampling_json)}}}};
  std::string out = head.dump() + "\n";
  for (size_t i = 0; i < e.messages.size(); ++i) {
    const Message& m = e.messages[i];
    ordered_json line = {
        {"type", "message"},
        {"id", m.id},
        {"parent", m.parent_id > 0 ? ordered_json(m.parent_id) : ordered_json()},
        {"role", role_name(m.role)},
        {"status", status_name(m.status)},
        {"created_at", m.created_at},
        {"updated_at", m.updated_at},
        {"content", m.content},
        {"generation", e.records[i] ? record_json(*e.records[i]) : ordered_json()}};
    out += line.dump() + "\n";
  }
  return out;
}

Result<std::string> export_conversation_markdown(ConversationStore& store, int64_t conversation_id,
                                                 ExportScope scope) {
  TK_ASSIGN(const Exported e, gather(store, conversation_id, scope));
  const Conversation& c = e.conversation;
  std::string out =
      fmt::format("# {}\n\n*{} · created {} · last active {} · {} messages*\n\n", c.title,
                  scope == ExportScope::CurrentBranch ? "Current branch" : "Every branch",
                  c.created_at, c.updated_at, e.messages.size());
  if (!c.settings.system_prompt.empty()) {
    out += fmt::format("**System prompt:**\n\n{}\n\n", c.settings.system_prompt);
  }
  out += fmt::format("Template: {} · sampling `{}`\n\n",
                     c.settings.template_name.empty() ? "the model's" : c.settings.template_name,
                     c.settings.sampling_json);
  for (size_t i = 0; i < e.messages.size(); ++i) {
    const Message& m = e.messages[i];
    out += fmt::format("## {}", role_title(m.role));
    if (scope == ExportScope::WholeTree) {
      out += fmt::format(" (#{}", m.id);
      if (m.parent_id > 0) out += fmt::format(", reply to #{}", m.parent_id);
      out += fmt::format(", branch {}/{})", m.sibling_index + 1, m.num_siblings);
    } else if (m.num_siblings > 1) {
      out += fmt::format(" (branch {}/{})", m.sibling_index + 1, m.num_siblings);
    }
    if (m.status != MessageStatus::Complete) out += fmt::format(" [{}]", status_name(m.status));
    out += fmt::format("\n\n{}\n\n", m.content);
    if (e.records[i]) out += fmt::format("> {}\n\n", speeds_line(*e.records[i]));
  }
  return out;
}

}  // namespace tokamak
