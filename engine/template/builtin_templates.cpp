#include "template/builtin_templates.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace tokamak {
namespace {

// Generated at configure time from resources/templates/*.jinja (engine/CMakeLists.txt).
constexpr BuiltinTemplate kBuiltins[] = {
#include "builtin_templates.inc"
};

bool has_token(const std::vector<std::string>& tokens, std::string_view t) {
  return std::find(tokens.begin(), tokens.end(), t) != tokens.end();
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool mentions(const std::string& haystack, std::initializer_list<std::string_view> needles) {
  return std::any_of(needles.begin(), needles.end(),
                     [&](std::string_view n) { return haystack.find(n) != std::string::npos; });
}

}  // namespace

std::span<const BuiltinTemplate> builtin_templates() { return kBuiltins; }

const BuiltinTemplate* find_builtin_template(std::string_view name) {
  for (const BuiltinTemplate& t : kBuiltins) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

TemplateGuess guess_builtin_template(const TemplateHints& hints) {
  const auto& tok = hints.tokens;
  const std::string name = lower(hints.model_name);
  const std::string arch = lower(hints.architecture);
  // The vocabulary's control tokens are the surest sign of the chat format.
  if (has_token(tok, "<|start_header_id|>") && has_token(tok, "<|eot_id|>")) {
    return {"llama3", "the vocabulary has <|start_header_id|> and <|eot_id|>"};
  }
  if (has_token(tok, "<|im_start|>")) return {"chatml", "the vocabulary has <|im_start|>"};
  if (has_token(tok, "<start_of_turn>")) return {"gemma", "the vocabulary has <start_of_turn>"};
  if (has_token(tok, "<|user|>") && has_token(tok, "<|end|>")) {
    return {"phi3", "the vocabulary has <|user|> and <|end|>"};
  }
  if (has_token(tok, "[INST]")) return {"mistral", "the vocabulary has [INST]"};
  // Then the model's name, then its architecture.
  if (mentions(name, {"zephyr", "tinyllama"}))
    return {"zephyr", "the model name says Zephyr/TinyLlama"};
  if (mentions(name, {"vicuna"})) return {"vicuna", "the model name says Vicuna"};
  if (mentions(name, {"alpaca"})) return {"alpaca", "the model name says Alpaca"};
  if (mentions(name, {"mistral", "mixtral"})) return {"mistral", "the model name says Mistral"};
  if (mentions(name, {"llama-3", "llama3", "llama 3"}))
    return {"llama3", "the model name says Llama 3"};
  if (mentions(name, {"llama-2", "llama2", "llama 2"}))
    return {"llama2", "the model name says Llama 2"};
  if (mentions(name, {"qwen", "hermes", "smollm"}))
    return {"chatml", "the model name says a ChatML family"};
  if (arch.rfind("gemma", 0) == 0) return {"gemma", "the architecture is " + hints.architecture};
  if (arch == "phi3") return {"phi3", "the architecture is phi3"};
  if (arch.rfind("qwen", 0) == 0) return {"chatml", "the architecture is " + hints.architecture};
  return {"raw", "nothing in the model points to a chat format"};
}

std::vector<std::string> stop_sequences(std::string_view template_source,
                                        const std::optional<std::string>& eos_token,
                                        const std::vector<std::string>& vocabulary) {
  static constexpr std::array<std::string_view, 14> kEndOfTurn = {"<|eot_id|>",
                                                                  "<|eom_id|>",
                                                                  "<|im_end|>",
                                                                  "<end_of_turn>",
                                                                  "<|end|>",
                                                                  "<|endoftext|>",
                                                                  "<|END_OF_TURN_TOKEN|>",
                                                                  "<|end_of_turn|>",
                                                                  "<|EOT|>",
                                                                  "<｜end▁of▁sentence｜>",
                                                                  "<|end_of_text|>",
                                                                  "</s>",
                                                                  "<eos>",
                                                                  "<|return|>"};
  // Text-only formats: the prefix of the user's next turn.
  static constexpr std::array<std::string_view, 2> kNextTurn = {"### Instruction:", "USER:"};
  std::vector<std::string> stops;
  auto add = [&](std::string_view s) {
    if (!s.empty() && std::find(stops.begin(), stops.end(), s) == stops.end())
      stops.emplace_back(s);
  };
  if (eos_token) add(*eos_token);
  for (std::string_view marker : kEndOfTurn) {
    const bool written = template_source.find(marker) != std::string_view::npos;
    if (written && (vocabulary.empty() || has_token(vocabulary, marker))) add(marker);
  }
  for (std::string_view marker : kNextTurn) {
    if (template_source.find(marker) != std::string_view::npos) add(marker);
  }
  return stops;
}

}  // namespace tokamak
