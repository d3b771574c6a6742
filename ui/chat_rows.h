// The store's values as the chat page's list-model rows, and the branch as
// the turns of a prompt (helpers of ChatController).
#pragma once

#include <QString>
#include <QVariantMap>
#include <optional>
#include <string>
#include <vector>

#include "chat_prompt.h"
#include "store/conversation_types.h"

namespace tokamak {

// A message row (keys as ChatController's messages model).
QVariantMap message_row(const Message& m, const std::optional<GenerationRecord>& r);
// Search snippets as StyledText: the text escaped, the hits (between \x01
// and \x02) in bold colour.
QString highlight(const std::string& snippet);
// The turns a prompt is built from (an empty partial answer is left out).
std::vector<ChatTurn> turns_of(const std::vector<Message>& branch);

}  // namespace tokamak
