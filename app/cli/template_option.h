// The --template NAME|FILE option of `chat` and `template`: a built-in's name
// or a .jinja file, turned into the shared choice (app/chat/chat_format.h).
//
//   --template given ─► that built-in (resources/templates) or file
//   else the GGUF has tokenizer.chat_template ─► the model's own template
//   else ─► the built-in guess_builtin_template() picks (with its reason)
#pragma once

#include <string>

#include "chat/chat_format.h"

namespace tokamak::cli {

// `option`: "" (the model's own, else a guessed built-in), a built-in's
// name, or a file (read here). Fails (CliError) naming the file, or the
// built-ins when it is neither.
TemplateChoice template_choice(const std::string& option);

// The format for `model` (ModelTemplateInfo{} without one: no BOS/EOS, no
// vocabulary); origin "file" for a file. Fails with the template's message.
ChatFormat cli_chat_format(const ModelTemplateInfo& model, const std::string& option);

// Renders the conversation; fails (CliError) with the template's message.
std::string render_chat_or_fail(const ChatFormat& format, const nlohmann::ordered_json& messages,
                                bool add_generation_prompt,
                                const nlohmann::ordered_json& tools = nullptr);

}  // namespace tokamak::cli
