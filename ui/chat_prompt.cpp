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

Result<ChatPrompt> choose_chat_template(const Model& model, const ConversationSettings& settings) {
  TK_ASSIGN(const ChatFormat f,
            choose_chat_format(model_template_info(model), choice_of(settings)));
  ChatPrompt p;
  p.template_name = record_name(f);
  p.template_source = f.chat_template.source();
  p.stop = f.stops;
  return p;
}

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
  const Tokenizer& tok = model.tokenizer();
  EncodeOptions eo;
  eo.add_bos = false;
  eo.add_eos = false;
  eo.parse_special = true;
  p.tokens = tok.encode(p.text, eo);
  // Templates that write bos_token themselves get it once; others get the
  // tokenizer's BOS when the vocabulary asks for one.
  if (tok.vocab().add_bos && tok.bos_id() >= 0 &&
      (p.tokens.empty() || p.tokens[0] != tok.bos_id())) {
    p.tokens.insert(p.tokens.begin(), tok.bos_id());
  }
  if (p.tokens.empty()) {
    return make_error(ErrorCode::InvalidRequest,
                      fmt::format("template '{}' rendered an empty prompt", p.template_name));
  }
  return p;
}

}  // namespace tokamak
