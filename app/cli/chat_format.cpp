#include "chat_format.h"

#include <algorithm>

namespace tokamak::cli {
namespace {

bool has_token(const Vocab& vocab, const std::string& text) {
  return std::find(vocab.tokens.begin(), vocab.tokens.end(), text) != vocab.tokens.end();
}

}  // namespace

ChatStyle detect_chat_style(const Vocab& vocab) {
  if (has_token(vocab, "<|start_header_id|>")) return ChatStyle::Llama3;
  if (has_token(vocab, "<|im_start|>")) return ChatStyle::ChatMl;
  return ChatStyle::Plain;
}

const char* chat_style_name(ChatStyle style) {
  switch (style) {
    case ChatStyle::Llama3:
      return "llama3";
    case ChatStyle::ChatMl:
      return "chatml";
    case ChatStyle::Plain:
      return "plain";
  }
  return "plain";
}

std::string user_turn_text(ChatStyle style, const std::string& message, bool first) {
  switch (style) {
    case ChatStyle::Llama3:
      // After an assistant turn, its <|eot_id|> is already in the history.
      return "<|start_header_id|>user<|end_header_id|>\n\n" + message +
             "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
    case ChatStyle::ChatMl:
      return std::string(first ? "" : "\n") + "<|im_start|>user\n" + message +
             "<|im_end|>\n<|im_start|>assistant\n";
    case ChatStyle::Plain:
      return std::string(first ? "" : "\n") + "User: " + message + "\nAssistant:";
  }
  return message;
}

std::vector<std::string> chat_stop_strings(ChatStyle style) {
  switch (style) {
    case ChatStyle::Plain:
      return {"\nUser:"};
    case ChatStyle::Llama3:
      return {"<|eot_id|>"};
    case ChatStyle::ChatMl:
      return {"<|im_end|>"};
  }
  return {};
}

}  // namespace tokamak::cli
