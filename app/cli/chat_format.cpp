#include "chat_format.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "cli_common.h"
#include "template/builtin_templates.h"

namespace tokamak::cli {
namespace {

std::optional<std::string> token_text(const Vocab& vocab, int32_t id) {
  if (id < 0 || id >= vocab.size()) return std::nullopt;
  return vocab.tokens[static_cast<size_t>(id)];
}

// A built-in's name or a file: origin, name and source.
ChatFormat format_of_choice(const std::string& choice) {
  ChatFormat f;
  if (const BuiltinTemplate* b = find_builtin_template(choice)) {
    f.name = std::string(b->name);
    f.origin = "built-in";
    f.reason = "chosen with --template";
    f.chat_template = take(ChatTemplate::parse(std::string(b->source), f.name));
    return f;
  }
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_regular_file(choice, ec)) {
    std::string names;
    for (const BuiltinTemplate& b : builtin_templates()) {
      names += (names.empty() ? "" : ", ") + std::string(b.name);
    }
    fail(fmt::format("--template {}: no such file, and not a built-in template (built-ins: {})",
                     choice, names));
  }
  std::ifstream in(choice, std::ios::binary);
  const std::string source{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (!in.good() && !in.eof()) fail(fmt::format("{}: cannot read the template", choice));
  f.name = choice;
  f.origin = "file";
  f.chat_template = take(ChatTemplate::parse(source, choice));
  return f;
}

}  // namespace

ChatFormat chat_format_from_choice(const std::string& choice) {
  ChatFormat f = format_of_choice(choice);
  f.stops = stop_sequences(f.chat_template.source(), std::nullopt, {});
  return f;
}

ChatFormat choose_chat_format(const gguf::File& file, const Vocab& vocab,
                              const std::string& choice) {
  ChatFormat f;
  const gguf::Value* own = file.find("tokenizer.chat_template");
  if (!choice.empty()) {
    f = format_of_choice(choice);
  } else if (own != nullptr) {
    f.name = "tokenizer.chat_template";
    f.origin = "gguf";
    f.chat_template =
        take(ChatTemplate::parse(take(file.get_string("tokenizer.chat_template")), f.name));
  } else {
    TemplateHints hints;
    hints.architecture = take(file.get_string_or("general.architecture", ""));
    hints.model_name = take(file.get_string_or("general.name", ""));
    if (hints.model_name.empty()) {
      hints.model_name = std::filesystem::path(file.path()).filename().string();
    }
    hints.tokens = vocab.tokens;
    const TemplateGuess guess = guess_builtin_template(hints);
    const BuiltinTemplate* b = find_builtin_template(guess.name);
    if (b == nullptr) fail(fmt::format("no built-in template named {}", guess.name));
    f.name = std::string(b->name);
    f.origin = "built-in";
    f.reason = "the GGUF has no tokenizer.chat_template; " + guess.reason;
    f.chat_template = take(ChatTemplate::parse(std::string(b->source), f.name));
  }
  f.bos_token = token_text(vocab, vocab.bos_id);
  f.eos_token = token_text(vocab, vocab.eos_id);
  f.stops = stop_sequences(f.chat_template.source(), f.eos_token, vocab.tokens);
  return f;
}

std::string render_chat(const ChatFormat& format, const nlohmann::ordered_json& messages,
                        bool add_generation_prompt, const nlohmann::ordered_json& tools) {
  ChatInput in;
  in.messages = messages;
  in.add_generation_prompt = add_generation_prompt;
  in.bos_token = format.bos_token;
  in.eos_token = format.eos_token;
  in.tools = tools;
  return take(format.chat_template.render(in));
}

}  // namespace tokamak::cli
