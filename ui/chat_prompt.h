// The prompt a conversation's next answer is made from: the template the
// conversation asks for (the model's own, a built-in, or its custom text;
// chosen by choose_chat_format, app/chat/chat_format.h, as the CLI does),
// rendered over the system prompt and the branch's messages, then tokenized.
// Qt-free; the settings drawer's live preview and ChatController use it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/result.h"
#include "store/conversation_types.h"

namespace tokamak {

class Model;

struct ChatTurn {
  std::string role;  // "system" | "user" | "assistant"
  std::string content;
};

struct ChatPrompt {
  std::string template_name;    // "model", a built-in's name, or "custom"
  std::string template_source;  // the Jinja text used
  std::string text;             // the rendered prompt, exactly as tokenized
  std::vector<int32_t> tokens;  // BOS included once
  std::vector<std::string> stop;
};

// Renders and tokenizes `turns` (the system prompt of `settings` first, when
// set) with the template `settings` selects for `model` (its own when
// template_name is "" and the file has one, named "model", else the built-in
// guessed for it; a built-in by name; or "custom") and the generation prompt
// added. NotFound names an unknown built-in.
Result<ChatPrompt> build_chat_prompt(const Model& model, const ConversationSettings& settings,
                                     const std::vector<ChatTurn>& turns);

}  // namespace tokamak
