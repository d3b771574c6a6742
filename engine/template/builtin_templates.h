// Built-in chat templates (resources/templates/*.jinja, compiled in) for
// models whose GGUF carries no tokenizer.chat_template, the guess of which
// one suits a model, and the stop sequences of a template.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tokamak {

struct BuiltinTemplate {
  std::string_view name;    // "llama2", "llama3", "chatml", "mistral", "gemma", "phi3",
                            // "zephyr", "alpaca", "vicuna", "raw"
  std::string_view source;  // Jinja text; emits bos_token where the family's own template does
};

std::span<const BuiltinTemplate> builtin_templates();
// nullptr when there is no built-in of that name.
const BuiltinTemplate* find_builtin_template(std::string_view name);

// What is known about a model that ships no chat template.
struct TemplateHints {
  std::string architecture;         // general.architecture ("llama", "gemma2", "qwen2", ...)
  std::string model_name;           // general.name, or the file name
  std::vector<std::string> tokens;  // the vocabulary's token texts (special ones suffice)
};

struct TemplateGuess {
  std::string_view name;  // a built-in's name
  std::string reason;     // why, for `template show`: "the vocabulary has <|im_start|>"
};

// The built-in that suits the model; "raw" when nothing points to a chat format.
TemplateGuess guess_builtin_template(const TemplateHints& hints);

// Strings that end an assistant turn for this template and vocabulary: the
// EOS token, and each known end-of-turn marker (<|eot_id|>, <|im_end|>,
// <end_of_turn>, <|end|>, ...) that the template writes and the vocabulary
// has as a token (any the template writes when `vocabulary` is empty), plus
// the next-turn prefix of text-only formats ("### Instruction:", "USER:").
// In order of first appearance, without duplicates.
std::vector<std::string> stop_sequences(std::string_view template_source,
                                        const std::optional<std::string>& eos_token,
                                        const std::vector<std::string>& vocabulary);

}  // namespace tokamak
