// The chat template a conversation is rendered with, chosen the same way by
// the CLI (`tokamak-cli chat/template --template`) and the desktop app (the
// conversation's template setting):
//
//   choice.name == ""        the model's own tokenizer.chat_template, else the
//                            built-in guess_builtin_template() picks from its
//                            vocabulary, name and architecture (with why)
//   choice.name == "custom"  choice.text (a file's text, the app's custom box)
//   else                     the built-in of that name (resources/templates)
//
// and what it is rendered with (the vocabulary's BOS/EOS texts) and the stop
// sequences engine/template derives from the template and the vocabulary.
//
//   TK_ASSIGN(ChatFormat f, choose_chat_format(model_template_info(model), {}));
//   TK_ASSIGN(std::string prompt, render_chat(f, messages, true));
//   request.stop = f.stops;
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "template/builtin_templates.h"
#include "template/chat_template.h"

namespace tokamak {

namespace gguf {
class File;
}
class Model;
class Tokenizer;
struct Vocab;

// What a model file says about its chat template.
struct ModelTemplateInfo {
  std::optional<std::string> chat_template;  // tokenizer.chat_template
  TemplateHints hints;                       // architecture, name (or file name), vocabulary
  std::optional<std::string> bos_token;      // the vocabulary's texts; absent without one
  std::optional<std::string> eos_token;
};

ModelTemplateInfo model_template_info(const gguf::File& file, const Vocab& vocab);
ModelTemplateInfo model_template_info(const Model& model);

struct TemplateChoice {
  std::string name;   // "" (the model's), "custom", or a built-in's name
  std::string text;   // name == "custom": the template's text
  std::string label;  // name == "custom": names it in messages (a file path); "custom" if ""
};

struct ChatFormat {
  std::string name;    // "tokenizer.chat_template", a built-in's name, or the custom label
  std::string origin;  // "gguf", "built-in" (guessed or chosen) or "custom"
  std::string reason;  // why a built-in was guessed; "" otherwise
  ChatTemplate chat_template;
  std::optional<std::string> bos_token;  // from ModelTemplateInfo
  std::optional<std::string> eos_token;
  std::vector<std::string> stops;  // stop_sequences() of the template and vocabulary
};

// NotFound for an unknown built-in (naming the built-ins); BadFormat (located)
// for a template that does not parse.
Result<ChatFormat> choose_chat_format(const ModelTemplateInfo& model, const TemplateChoice& choice);

// The conversation as the model sees it: `messages` [{"role", "content"}, ...]
// rendered with the format's BOS/EOS texts; the template's own errors.
Result<std::string> render_chat(const ChatFormat& format, const nlohmann::ordered_json& messages,
                                bool add_generation_prompt,
                                const nlohmann::ordered_json& tools = nullptr);

// The rendered conversation's tokens (special tokens parsed, no EOS): BOS
// first when the vocabulary asks for one and the template has not written it
// already.
std::vector<int32_t> chat_prompt_tokens(const Tokenizer& tok, const ChatFormat& format,
                                        const std::string& text);

// "chatml, gemma, llama2, ..." for messages.
std::string builtin_template_names();

}  // namespace tokamak
