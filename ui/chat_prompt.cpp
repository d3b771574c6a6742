#include "chat_prompt.h"

#include <fmt/format.h>

#include "chat/chat_format.h"
#include "model/model.h"

namespace tokamak {
namespace {

TemplateChoice choice_of(const ConversationSettings& settings) {
  TemplateChoice c;
  c.name = settings.template_name;
  if (c.name == "custom") c.text = settings.template_text;
  return c;
}

// The name a generation record keeps: "model" for the GGUF's own template.
std::string record_name(const ChatFormat& f) { return f.origin == "gguf" ? "model" : f.name; }

}  // namespace

Result<ChatPrompt> build_chat_prompt(const Model& model, const ConversationSettings& settings,
                                     const std::vector<ChatTurn>& turns) {
  TK_ASSIGN(const ChatFormat f,
            choose_chat_format(model_template_info(model), choice_of(settings)));
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  if (!settings.system_prompt.empty()) {
    messages.push_back({{"role", "system"}, {"content", settings.system_prompt}});
  }
  for (const ChatTurn& turn : turns) {
    messages.push_back({{"role", turn.role}, {"content", turn.content}});
  }
  ChatPrompt p;
  p.template_name = record_name(f);
  p.template_source = f.chat_template.source();
  p.stop = f.stops;
  TK_ASSIGN(p.text, render_chat(f, messages, true));
  p.tokens = chat_prompt_tokens(model.tokenizer(), f, p.text);
  if (p.tokens.empty()) {
    return make_error(ErrorCode::InvalidRequest,
                      fmt::format("template '{}' rendered an empty prompt", p.template_name));
  }
  return p;
}

}  // namespace tokamak
