#include "template_option.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "cli_common.h"

namespace tokamak::cli {

TemplateChoice template_choice(const std::string& option) {
  TemplateChoice c;
  if (option.empty() || find_builtin_template(option) != nullptr) {
    c.name = option;
    return c;
  }
  std::error_code ec;
  if (!std::filesystem::is_regular_file(option, ec)) {
    fail(fmt::format("--template {}: no such file, and not a built-in template (built-ins: {})",
                     option, builtin_template_names()));
  }
  std::ifstream in(option, std::ios::binary);
  c.text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) fail(fmt::format("{}: cannot read the template", option));
  c.name = "custom";
  c.label = option;
  return c;
}

ChatFormat cli_chat_format(const ModelTemplateInfo& model, const std::string& option) {
  const TemplateChoice choice = template_choice(option);
  ChatFormat f = take(choose_chat_format(model, choice));
  if (choice.name == "custom") f.origin = "file";
  if (!option.empty() && f.origin == "built-in") f.reason = "chosen with --template";
  return f;
}

std::string render_chat_or_fail(const ChatFormat& format, const nlohmann::ordered_json& messages,
                                bool add_generation_prompt, const nlohmann::ordered_json& tools) {
  return take(render_chat(format, messages, add_generation_prompt, tools));
}

}  // namespace tokamak::cli
