// ConversationStore: the message tree and streamed answers (see
// conversation_store.h).
#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>

#include "store/conversation_store.h"
#include "store/store_sql.h"
#include "store/utc_time.h"

namespace tokamak {
namespace {

using store_detail::kInsertMessage;
using store_detail::not_found;
using store_detail::store_error;

// Message columns with the sibling position and count (`m` is the message).
constexpr const char* kMessageColumns = R"sql(
m.id, m.conversation_id, coalesce(m.parent_id, 0), m.role, m.content, m.status, m.created_at,
m.updated_at,
(SELECT count(*) FROM messages s WHERE s.conversation_id = m.conversation_id
   AND s.parent_id IS m.parent_id AND s.id < m.id),
(SELECT count(*) FROM messages s WHERE s.conversation_id = m.conversation_id
   AND s.parent_id IS m.parent_id))sql";

// Root -> leaf: walk up from the current leaf, then reverse by depth.
constexpr const char* kBranchFromLeaf = R"sql(
WITH RECURSIVE branch(id, depth) AS (
  SELECT current_leaf, 0 FROM conversations WHERE id = ?1 AND current_leaf IS NOT NULL
  UNION ALL
  SELECT p.parent_id, b.depth + 1 FROM branch b JOIN messages p ON p.id = b.id
  WHERE p.parent_id IS NOT NULL)
SELECT {} FROM branch JOIN messages m ON m.id = branch.id ORDER BY branch.depth DESC)sql";

constexpr const char* kSubtree = R"sql(
WITH RECURSIVE sub(id) AS (
  SELECT ?1 UNION ALL SELECT m.id FROM messages m JOIN sub ON m.parent_id = sub.id)
SELECT id FROM sub)sql";

constexpr const char* kAppend = R"sql(
UPDATE messages SET content = content || ?2, updated_at = ?3
WHERE id = ?1 AND status = 'partial')sql";

constexpr const char* kFinish = R"sql(
UPDATE messages SET content = content || ?2, updated_at = ?3, status = ?4
WHERE id = ?1 AND status = 'partial' RETURNING conversation_id)sql";

Result<Message> read_message(SQLite::Statement& q) {
  Message m;
  m.id = q.getColumn(0).getInt64();
  m.conversation_id = q.getColumn(1).getInt64();
  m.parent_id = q.getColumn(2).getInt64();
  TK_ASSIGN(m.role, parse_role(q.getColumn(3).getString()));
  m.content = q.getColumn(4).getString();
  TK_ASSIGN(m.status, parse_status(q.getColumn(5).getString()));
  m.created_at = q.getColumn(6).getString();
  m.updated_at = q.getColumn(7).getString();
  m.sibling_index = q.getColumn(8).getInt();
  m.num_siblings = q.getColumn(9).getInt();
  return m;
}

Result<std::vector<Message>> read_messages(SQLite::Statement& q) {
  std::vector<Message> out;
  while (q.executeStep()) {
    TK_ASSIGN(Message m, read_message(q));
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace

Result<int64_t> ConversationStore::insert_message(int64_t conversation_id, int64_t parent_id,
                                                  MessageRole role, const std::string& content,
                                                  MessageStatus status) {
  if (parent_id > 0) {
    SQLite::Statement p(db_->sql(), "SELECT conversation_id FROM messages WHERE id = ?");
    p.bind(1, parent_id);
    if (!p.executeStep()) return not_found(*db_, "parent message", parent_id);
    if (p.getColumn(0).getInt64() != conversation_id) {
      return make_error(
          ErrorCode::InvalidArgument,
          fmt::format("{}: message {} belongs to conversation {}, not {}", db_->path(), parent_id,
                      p.getColumn(0).getInt64(), conversation_id));
    }
  }
  SQLite::Statement q(db_->sql(), kInsertMessage);
  q.bind(1, conversation_id);
  q.bind(2, parent_id);
  q.bind(3, std::string(role_name(role)));
  q.bind(4, content);
  q.bind(5, std::string(status_name(status)));
  const std::string now = utc_timestamp_ms_now();
  q.bind(6, now);
  q.bind(7, now);
  q.exec();
  const int64_t id = db_->sql().getLastInsertRowid();
  TK_TRY(touch(conversation_id, id));
  return id;
}

Result<int64_t> ConversationStore::add_message(int64_t conversation_id, int64_t parent_id,
                                               MessageRole role, const std::string& content) {
  try {
    SQLite::Transaction tx(db_->sql(), SQLite::TransactionBehavior::IMMEDIATE);
    TK_ASSIGN(const int64_t id,
              insert_message(conversation_id, parent_id, role, content, MessageStatus::Complete));
    tx.commit();
    return id;
  } catch (const SQLite::Exception& e) {
    return store_error(*db_, "adding a message", e);
  }
}

Result<int64_t> ConversationStore::edit_message(int64_t message_id, const std::string& content) {
  try {
    SQLite::Transaction tx(db_->sql(), SQLite::TransactionBehavior::IMMEDIATE);
    TK_ASSIGN(const Message old, message(message_id));
    TK_ASSIGN(const int64_t id, insert_message(old.conversation_id, old.parent_id, old.role,
                                               content, MessageStatus::Complete));
    tx.commit();
    return id;
  } catch (const SQLite::Exception& e) {
    return store_error(*db_, "editing a message", e);
  }
}

Result<Message> ConversationStore::message(int64_t message_id) {
  try {
    SQLite::Statement q(db_->sql(),
                        fmt::format("SELECT {} FROM messages m WHERE m.id = ?", kMessageColumns));
    q.bind(1, message_id);
    if (!q.executeStep()) return not_found(*db_, "message", message_id);
    return read_message(q);
  } catch (const SQLite::Exception& e) {
    return store_error(*db_, "reading a message", e);
  }
}

Result<std::vector<Message>> ConversationStore::current_branch(int64_t conversation_id) {
  try {
    SQLite::Statement q(db_->sql(), fmt::format(kBranchFromLeaf, kMessageColumns));
    q.bind(1, conversation_id);
    return read_messages(q);
  } catch (const SQLite::Exception& e) {
    return store_error(*db_, "reading the current branch", e);
  }
}

Result<std::vector<Message>> ConversationStore::all_messages(int64_t conversation_id) {
  try {
    SQLite::Statement q(db_->sql(), fmt::format("SELECT {} FROM messages m WHERE "
                                                "m.conversation_id = ? ORDER BY m.id",
                                                kMessageColumns));
    q.bind(1, conversation_id);
    return read_messages(q);
  } catch (const SQLite::Exception& e) {
    return store_error(*db_, "reading a conversation's messages", e);
  }
}

Result<std::vector<int64_t>> ConversationStore::siblings(int64_t message_id) {
  try {
    SQLite::Statement q(db_->sql(), R"sql(
SELECT s.id FROM messages m JOIN messages s ON s.conversation_id = m.conversation_id
  AND s.parent_id IS m.parent_id WHERE m.id = ? ORDER BY s.id)sql");
    q.bind(1, message_id);
    std::vector<int64_t> out;
    while (q.executeStep()) out.push_back(q.getColumn(0).getInt64());
    if (out.empty()) return not_found(*db_, "message", message_id);
    return out;
  } catch (const SQLite::Exception& e) {
    return store_error(*db_, "reading a message's siblings", e);
  }
}

Result<int64_t> ConversationStore::newest_leaf_under(int64_t conversation_id, int64_t message_id) {
  SQLite::Statement child(db_->sql(),
                          "SELECT max(id) FROM messages WHERE conversation_id = ?1 AND "
                          "parent_id IS nullif(?2, 0)");
  int64_t leaf = message_id;
  for (;;) {
    child.reset();
    child.bind(1, conversation_id);
    child.bind(2, leaf);
    child.executeStep();
    if (child.getColumn(0).isNull()) return leaf;
    leaf = child.getColumn(0).getInt64();
  }
}

Result<int64_t> ConversationStore::select_message(int64_t message_id) {
  try {
    SQLite::Transaction tx(db_->sql(), SQLite::TransactionBehavior::IMMEDIATE);
    TK_ASSIGN(const Message m, message(message_id));
    TK_ASSIGN(const int64_t leaf, newest_leaf_under(m.conversation_id, message_id));
    SQLite::Statement q(db_->sql(), "UPDATE conversations SET current_leaf = ? WHERE id = ?");
    q.bind(1, leaf);
    q.bind(2, m.conversation_id);
    q.exec();
    tx.commit();
    return leaf;
  } catch (const SQLite::Exception& e) {
    return store_error(*db_, "switching branch", e);
  }
}

Status ConversationStore::delete_subtree(int64_t message_id) {
  try {
    SQLite::Transaction tx(db_->sql(), SQLite::TransactionBehavior::IMMEDIATE);
    TK_ASSIGN(const Message m, message(message_id));
    TK_ASSIGN(const Conversation c, conversation(m.conversation_id));
    SQLite::Statement sub(db_->sql(), kSubtree);
    sub.bind(1, message_id);
    bool leaf_inside = false;
    while (sub.executeStep()) leaf_inside |= sub.getColumn(0).getInt64() == c.current_leaf;
    SQLite::Statement del(db_->sql(), fmt::format("DELETE FROM messages WHERE id IN ({})",
                                                  std::string_view(kSubtree).substr(1)));
    del.bind(1, message_id);
    del.exec();
    if (leaf_inside) {
      // The branch through the nearest remaining relative: a sibling's
      // subtree if any, else the parent.
      TK_ASSIGN(const int64_t leaf, newest_leaf_under(c.id, m.parent_id));
      TK_TRY(touch(c.id, leaf));
    }
    tx.commit();
    return {};
  } catch (const SQLite::Exception& e) {
    return store_error(*db_, "deleting messages", e);
  }
}

Result<int64_t> ConversationStore::begin_answer(int64_t conversation_id, int64_t parent_id) {
  try {
    SQLite::Transaction tx(db_->sql(), SQLite::TransactionBehavior::IMMEDIATE);
    TK_ASSIGN(const int64_t id, insert_message(conversation_id, parent_id, MessageRole::Assistant,
                                               "", MessageStatus::Partial));
    tx.commit();
    return id;
  } catch (const SQLite::Exception& e) {
    return store_error(*db_, "starting an answer", e);
  }
}

Status ConversationStore::append_answer(int64_t message_id, const std::string& delta) {
  try {
    SQLite::Statement q(db_->sql(), kAppend);
    q.bind(1, message_id);
    q.bind(2, delta);
    q.bind(3, utc_timestamp_ms_now());
    if (q.exec() == 1) return {};
  } catch (const SQLite::Exception& e) {
    return store_error(*db_, "saving a streamed answer", e);
  }
  TK_ASSIGN(const Message m, message(message_id));
  return make_error(ErrorCode::InvalidArgument,
                    fmt::format("{}: message {} is {}, not partial: nothing appended", db_->path(),
                                message_id, status_name(m.status)));
}

Status ConversationStore::finish_answer(int64_t message_id, const std::string& tail,
                                        const GenerationRecord& record) {
  const bool failed = record.finish_reason == "error" || record.finish_reason == "context";
  try {
    SQLite::Transaction tx(db_->sql(), SQLite::TransactionBehavior::IMMEDIATE);
    SQLite::Statement q(db_->sql(), kFinish);
    q.bind(1, message_id);
    q.bind(2, tail);
    q.bind(3, utc_timestamp_ms_now());
    q.bind(4, std::string(status_name(failed ? MessageStatus::Error : MessageStatus::Complete)));
    if (!q.executeStep()) {
      TK_ASSIGN(const Message m, message(message_id));
      return make_error(ErrorCode::InvalidArgument,
                        fmt::format("{}: message {} is {}, not partial: cannot finish it",
                                    db_->path(), message_id, status_name(m.status)));
    }
    const int64_t conversation_id = q.getColumn(0).getInt64();
    q.reset();  // RETURNING: the update is complete once stepped to the end
    TK_TRY(save_record(message_id, record));
    TK_TRY(touch(conversation_id, -1));
    tx.commit();
    return {};
  } catch (const SQLite::Exception& e) {
    return store_error(*db_, "finishing an answer", e);
  }
}

}  // namespace tokamak
