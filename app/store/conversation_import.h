// Import of a conversation from the JSONL that export_conversation_jsonl
// writes (format in conversation_export.h). The whole file is read and
// checked first; a bad line fails the import with BadFormat naming the line
// and what is wrong ("line 4: \"parent\" is 17, which is not an earlier
// message's id"), and nothing is written. A valid file is written in one
// transaction as a new conversation (new ids, timestamps and settings as in
// the file; a 'partial' answer comes in as 'interrupted').
#pragma once

#include <cstdint>
#include <string_view>

#include "core/result.h"
#include "store/conversation_store.h"

namespace tokamak {

// Returns the new conversation's id.
Result<int64_t> import_conversation_jsonl(ConversationStore& store, std::string_view jsonl);

}  // namespace tokamak
