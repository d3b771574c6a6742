// The chat template a command uses for a model, and where it came from:
//
//   --template NAME|FILE given ─► that built-in (resources/templates) or file
//   else the GGUF has tokenizer.chat_template ─► the model's own template
//   else ─► the built-in guess_builtin_template() picks from the vocabulary,
//           name and architecture (with its reason)
//
// plus what the template is rendered with (the vocabulary's BOS/EOS texts)
// and the stop sequences engine/template derives from it.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "template/chat_template.h"
#include "tokenizer/vocab.h"

namespace tokamak::cli {

struct ChatFormat {
  std::string name;    // "tokenizer.chat_template", a built-in's name, or the file's path
  std::string origin;  // "gguf", "built-in" (guessed or chosen) or "file"
  std::string reason;  // why a built-in was guessed; "" otherwise
  ChatTemplate chat_template;
  std::optional<std::string> bos_token;  // the vocabulary's texts; absent without one
  std::optional<std::string> eos_token;
  std::vector<std::string> stops;  // stop_sequences() of the template and vocabulary
};

// `choice`: "" (the model's own, else a guessed built-in), a built-in's name,
// or a .jinja file. Fails (CliError) with the file's or template's message.
ChatFormat choose_chat_format(const gguf::File& file, const Vocab& vocab,
                              const std::string& choice);
// Without a model: a built-in's name or a file; no BOS/EOS.
ChatFormat chat_format_from_choice(const std::string& choice);

// Renders the conversation; fails (CliError) with the template's message.
std::string render_chat(const ChatFormat& format, const nlohmann::ordered_json& messages,
                        bool add_generation_prompt, const nlohmann::ordered_json& tools = nullptr);

}  // namespace tokamak::cli
