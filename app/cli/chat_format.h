// A built-in turn format for `chat` until chat templates exist: Llama-3
// headers when the vocabulary has <|start_header_id|>, ChatML when it has
// <|im_start|>, else plain "User: ...\nAssistant:".
#pragma once

#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace tokamak::cli {

enum class ChatStyle { Llama3, ChatMl, Plain };

ChatStyle detect_chat_style(const Vocab& vocab);
const char* chat_style_name(ChatStyle style);

// The text of one user turn followed by the assistant's header. `first`:
// the first turn of a conversation (BOS is added by the tokenizer).
std::string user_turn_text(ChatStyle style, const std::string& message, bool first);
// Stop strings that end the assistant's turn (the end-of-turn tokens of
// Llama-3 and ChatML are end-of-generation ids already).
std::vector<std::string> chat_stop_strings(ChatStyle style);

}  // namespace tokamak::cli
