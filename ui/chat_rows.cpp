#include "chat_rows.h"

#include <QFileInfo>

namespace tokamak {
namespace {

QString q(const std::string& s) { return QString::fromStdString(s); }

}  // namespace

QVariantMap message_row(const Message& m, const std::optional<GenerationRecord>& r) {
  QVariantMap row{{"messageId", static_cast<qlonglong>(m.id)},
                  {"role", q(std::string(role_name(m.role)))},
                  {"content", q(m.content)},
                  {"status", q(std::string(status_name(m.status)))},
                  {"siblingIndex", m.sibling_index},
                  {"numSiblings", m.num_siblings},
                  {"hasRecord", r.has_value()}};
  if (r) {
    row["ttftMs"] = r->ttft_ms;
    row["prefillTps"] = r->prefill_tokens_per_second;
    row["decodeTps"] = r->decode_tokens_per_second;
    row["numTokens"] = r->num_generated_tokens;
    row["numPromptTokens"] = r->num_prompt_tokens;
    row["numCachedTokens"] = r->num_cached_tokens;  // reused from an earlier answer's prompt
    row["finishReason"] = q(r->finish_reason);
    row["errorMessage"] = q(r->error_message);
    row["modelFile"] = QFileInfo(q(r->model_path)).fileName();
    row["templateName"] = q(r->template_name);
    row["seed"] = QString::number(r->seed);
    row["device"] = q(r->device);
  }
  return row;
}

QString highlight(const std::string& snippet) {
  QString s = q(snippet).toHtmlEscaped();
  s.replace(QChar(0x1), "<b><font color=\"#e0a000\">");
  s.replace(QChar(0x2), "</font></b>");
  return s;
}

std::vector<ChatTurn> turns_of(const std::vector<Message>& branch) {
  std::vector<ChatTurn> turns;
  for (const Message& m : branch) {
    if (m.status == MessageStatus::Partial && m.content.empty()) continue;
    turns.push_back({std::string(role_name(m.role)), m.content});
  }
  return turns;
}

}  // namespace tokamak
