#include "chat_prompt.h"

#include <fmt/format.h>

#include "model/model.h"
#include "model/model_info.h"
#include "template/builtin_templates.h"
#include "template/chat_template.h"

namespace tokamak {
namespace {

std::optional<std::string> token_text(const Tokenizer& tok, int32_t id) {
  if (id < 0 || id >= tok.vocab().size()) return std::nullopt;
  return tok.vocab().tokens[id];
}

}  // namespace

Result<ChatPrompt> choose_chat_template(const Model& model, const ConversationSettings& settings) {
  ChatPrompt p;
  const std::string& name = settings.template_name;
  if (name.empty() && model.chat_template()) {
    p.template_name = "model";
    p.template_source = *model.chat_template();
  } else if (name.empty()) {
    TemplateHints hints;
    hints.architecture = model.spec().arch_name;
    hints.model_name = model.spec().name;
    hints.tokens = model.tokenizer().vocab().tokens;
    const TemplateGuess guess = guess_builtin_template(hints);
    p.template_name = std::string(guess.name);
    p.template_source = std::string(find_builtin_template(guess.name)->source);
  } else if (name == "custom") {
    p.template_name = "custom";
    p.template_source = settings.template_text;
  } else {
    const BuiltinTemplate* b = find_builtin_template(name);
    if (!b) {
      return make_error(ErrorCode::NotFound,
                        fmt::format("no built-in chat template named '{}'", name));
    }
    p.template_name = name;
    p.template_source = std::string(b->source);
  }
  return p;
}

Result<ChatPrompt> build_chat_prompt(const Model& model, const ConversationSettings& settings,
                                     const std::vector<ChatTurn>& turns) {
  TK_ASSIGN(ChatPrompt p, choose_chat_template(model, settings));
  TK_ASSIGN(const ChatTemplate t, ChatTemplate::parse(p.template_source, p.template_name));
  const Tokenizer& tok = model.tokenizer();
  ChatInput in;
  if (!settings.system_prompt.empty()) {
    in.messages.push_back({{"role", "system"}, {"content", settings.system_prompt}});
  }
  for (const ChatTurn& turn : turns) {
    in.messages.push_back({{"role", turn.role}, {"content", turn.content}});
  }
  in.bos_token = token_text(tok, tok.bos_id());
  in.eos_token = token_text(tok, tok.eos_id());
  TK_ASSIGN(p.text, t.render(in));
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
  p.stop = stop_sequences(p.template_source, in.eos_token, tok.vocab().tokens);
  return p;
}

}  // namespace tokamak
