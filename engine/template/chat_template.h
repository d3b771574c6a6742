// ChatTemplate: a model's Jinja chat template (tokenizer.chat_template of a
// GGUF, or a built-in one), parsed once and rendered for a conversation
// exactly as Hugging Face transformers' apply_chat_template renders it
// (jinja2 sandbox, trim_blocks and lstrip_blocks on, raise_exception,
// strftime_now, tojson with ensure_ascii=False).
//
//   TK_ASSIGN(ChatTemplate t, ChatTemplate::parse(model.chat_template().value()));
//   ChatInput in;
//   in.messages = json::parse(R"([{"role":"user","content":"Hi"}])");
//   in.bos_token = "<s>";
//   TK_ASSIGN(std::string prompt, t.render(in));
//
// Errors:
//   - a syntax error (parse) or a failure while rendering (an undefined value
//     used, a type error, a limit reached): ErrorCode::BadFormat, message
//     "NAME:LINE:COLUMN: what went wrong";
//   - the template rejected the conversation with raise_exception(msg):
//     ErrorCode::InvalidRequest, message exactly `msg` (show it to the user).
#pragma once

#include <cstdint>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/result.h"

namespace tokamak {

namespace jinja {
struct Node;
}

struct ChatInput {
  // [{"role": "user", "content": "..."}, ...]; any extra keys (tool_calls,
  // tool_call_id, name, content parts) are passed through as they are.
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  bool add_generation_prompt = true;
  std::optional<std::string> bos_token;  // absent: `bos_token` is undefined in the template
  std::optional<std::string> eos_token;
  nlohmann::ordered_json tools;      // null: `tools` is none; else a list of JSON schemas
  nlohmann::ordered_json documents;  // null: `documents` is none
  // Further variables (date_string, builtin_tools, enable_thinking, ...): an object.
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();
  // The instant strftime_now() formats (local time); absent: now.
  std::optional<std::time_t> now;
};

struct TemplateLimits {
  size_t max_output_bytes = size_t{8} << 20;  // the output and every string built on the way
  int64_t max_loop_iterations = 1'000'000;    // all loop iterations of one render together
  int max_recursion_depth = 100;              // nested macro calls
  int max_nesting = 128;                      // nested blocks and expressions when parsing
};

class ChatTemplate {
 public:
  // `name` prefixes error messages ("chat_template:3:15: ...").
  static Result<ChatTemplate> parse(std::string source, std::string name = "template",
                                    const TemplateLimits& limits = {});

  Result<std::string> render(const ChatInput& input, const TemplateLimits& limits = {}) const;

  const std::string& source() const { return source_; }
  const std::string& name() const { return name_; }

 private:
  std::string source_;
  std::string name_;
  std::shared_ptr<const std::vector<std::unique_ptr<jinja::Node>>> body_;
};

}  // namespace tokamak
