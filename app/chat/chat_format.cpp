#include "chat/chat_format.h"

#include <fmt/format.h>

#include <filesystem>

#include "gguf/gguf_file.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace tokamak {
namespace {

std::optional<std::string> token_text(const Vocab& vocab, int32_t id) {
  if (id < 0 || id >= vocab.size()) return std::nullopt;
  return vocab.tokens[static_cast<size_t>(id)];
}

std::string string_or(const gguf::File& file, const std::string& key) {
  auto v = file.get_string_or(key, "");
  return v.ok() ? v.value() : std::string();
}

}  // namespace

ModelTemplateInfo model_template_info(const gguf::File& file, const Vocab& vocab) {
  ModelTemplateInfo info;
  if (auto own = file.get_string("tokenizer.chat_template"); own.ok()) {
    info.chat_template = std::move(own).value();
  }
  info.hints.architecture = string_or(file, "general.architecture");
  info.hints.model_name = string_or(file, "general.name");
  if (info.hints.model_name.empty()) {
    info.hints.model_name = std::filesystem::path(file.path()).filename().string();
  }
  info.hints.tokens = vocab.tokens;
  info.bos_token = token_text(vocab, vocab.bos_id);
  info.eos_token = token_text(vocab, vocab.eos_id);
  return info;
}

ModelTemplateInfo model_template_info(const Model& model) {
  ModelTemplateInfo info = model_template_info(model.file(), model.tokenizer().vocab());
  info.chat_template = model.chat_template();
  return info;
}

std::string builtin_template_names() {
  std::string names;
  for (const BuiltinTemplate& b : builtin_templates()) {
    names += (names.empty() ? "" : ", ") + std::string(b.name);
  }
  return names;
}

Result<ChatFormat> choose_chat_format(const ModelTemplateInfo& model,
                                      const TemplateChoice& choice) {
  ChatFormat f;
  std::string source;
  if (choice.name.empty() && model.chat_template) {
    f.name = "tokenizer.chat_template";
    f.origin = "gguf";
    source = *model.chat_template;
  } else if (choice.name == "custom") {
    f.name = choice.label.empty() ? "custom" : choice.label;
    f.origin = "custom";
    source = choice.text;
  } else {
    std::string name = choice.name;
    if (name.empty()) {
      const TemplateGuess guess = guess_builtin_template(model.hints);
      name = std::string(guess.name);
      f.reason = "the GGUF has no tokenizer.chat_template; " + guess.reason;
    }
    const BuiltinTemplate* b = find_builtin_template(name);
    if (b == nullptr) {
      return make_error(ErrorCode::NotFound,
                        fmt::format("no built-in chat template named '{}' (built-ins: {})", name,
                                    builtin_template_names()));
    }
    f.name = std::string(b->name);
    f.origin = "built-in";
    source = std::string(b->source);
  }
  TK_ASSIGN(f.chat_template, ChatTemplate::parse(std::move(source), f.name));
  f.bos_token = model.bos_token;
  f.eos_token = model.eos_token;
  f.stops = stop_sequences(f.chat_template.source(), f.eos_token, model.hints.tokens);
  return f;
}

Result<std::string> render_chat(const ChatFormat& format, const nlohmann::ordered_json& messages,
                                bool add_generation_prompt, const nlohmann::ordered_json& tools) {
  ChatInput in;
  in.messages = messages;
  in.add_generation_prompt = add_generation_prompt;
  in.bos_token = format.bos_token;
  in.eos_token = format.eos_token;
  in.tools = tools;
  return format.chat_template.render(in);
}

std::vector<int32_t> chat_prompt_tokens(const Tokenizer& tok, const ChatFormat& format,
                                        const std::string& text) {
  EncodeOptions eo;
  eo.add_bos =
      !(format.bos_token && !format.bos_token->empty() && text.starts_with(*format.bos_token));
  eo.add_eos = false;
  eo.parse_special = true;
  return tok.encode(text, eo);
}

}  // namespace tokamak
