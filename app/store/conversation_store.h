// ConversationStore: conversations, their message trees, generation records
// and full-text search, over its own connection to the app's database.
//
// Threads: a ConversationStore is used by one thread at a time (it may be
// created on one thread and then handed to another, never shared). The app
// keeps one Writer store on a writer thread (every write goes there, the UI
// thread never waits on the disk) and may open Reader stores on other
// threads: WAL lets them read while the writer streams, each read seeing the
// last committed state. Every write is one short IMMEDIATE transaction, so
// another connection's write waits at most the busy timeout.
//
// Streaming an answer:
//   begin_answer(conv, parent)      -> message 'partial', the conversation's current leaf
//   append_answer(msg, delta) ...   -> each call commits (the caller batches the
//                                      deltas of >= ~250 ms); a kill loses only
//                                      what was not yet appended
//   finish_answer(msg, tail, record)-> 'complete' (or 'error'), record saved, indexed
// Writers hold a shared lock on <path>.lock (flock; the kernel releases it
// when the process dies). A Writer open that finds no other live writer (it
// gets the lock exclusively for a moment) marks every message still
// 'partial' as 'interrupted' (its writer died mid-answer);
// interrupted_on_open() lists them. When other live writers exist (a second
// app window, the CLI), the open leaves the partial answers alone, since they
// may be streaming them, and other_writer_pid() says so; all of them read
// and write safely (each write is one short transaction; the busy timeout
// serialises them).
//
// The tree: a message's siblings share its parent (roots share NULL). An edit
// adds a sibling of the edited message; a regenerate adds a sibling answer.
// The conversation remembers its current leaf; current_branch() is the path
// root -> leaf. select_message() moves to another branch.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "store/conversation_types.h"
#include "store/database.h"

namespace tokamak {

enum class StoreRole {
  Writer,  // joins the writers' lock; when alone, marks dead writers' partial answers interrupted
  Reader,  // changes nothing on open (may still write; leaves recovery to the writer)
};

class ConversationStore {
 public:
  // Opens (creating and migrating as Database::open does) a connection.
  static Result<std::unique_ptr<ConversationStore>> open(const DatabaseOptions& options,
                                                         StoreRole role = StoreRole::Writer);
  ~ConversationStore();
  ConversationStore(const ConversationStore&) = delete;
  ConversationStore& operator=(const ConversationStore&) = delete;

  Database& database() { return *db_; }
  // Messages a Writer open found 'partial' and marked 'interrupted'.
  const std::vector<int64_t>& interrupted_on_open() const { return interrupted_on_open_; }
  // Writer: 0 when no other live writer had the file open at this open;
  // else the process id of one (the first of them; -1 when it is unknown).
  // Reader: always 0.
  int64_t other_writer_pid() const { return other_writer_pid_; }

  // --- Conversations --------------------------------------------------------
  Result<int64_t> create_conversation(const std::string& title,
                                      const ConversationSettings& settings = {});
  Result<Conversation> conversation(int64_t conversation_id);
  // Live conversations, most recent activity first (deleted ones with `deleted`).
  Result<std::vector<Conversation>> list_conversations(int32_t limit = 1000, bool deleted = false);
  Status rename(int64_t conversation_id, const std::string& title);
  Status set_settings(int64_t conversation_id, const ConversationSettings& settings);
  // Soft delete (hidden from lists and search) and its undo.
  Status remove(int64_t conversation_id);
  Status restore(int64_t conversation_id);
  // Deletes for good: one soft-deleted conversation / all deleted before
  // `before` (ISO 8601 UTC; "" : all). Returns how many went.
  Status purge(int64_t conversation_id);
  Result<int64_t> purge_deleted(const std::string& before = "");

  // --- Messages ---------------------------------------------------------------
  // A message under `parent_id` (0: a new root); becomes the current leaf.
  Result<int64_t> add_message(int64_t conversation_id, int64_t parent_id, MessageRole role,
                              const std::string& content);
  // Edit-and-resend: a sibling of `message_id` with the new text (current leaf).
  Result<int64_t> edit_message(int64_t message_id, const std::string& content);
  Result<Message> message(int64_t message_id);
  // Root -> current leaf, each with its sibling index and count.
  Result<std::vector<Message>> current_branch(int64_t conversation_id);
  // Every message of the conversation, by id (parents before children).
  Result<std::vector<Message>> all_messages(int64_t conversation_id);
  // Ids of the message's siblings, itself included, oldest first.
  Result<std::vector<int64_t>> siblings(int64_t message_id);
  // Shows the branch through `message_id`: the current leaf becomes the
  // newest descendant reached by taking the newest child at each level.
  // Returns that leaf. (`< 2/3 >`: select_message(siblings[i]).)
  Result<int64_t> select_message(int64_t message_id);
  // Deletes a message and its subtree; the current leaf moves to its parent
  // when it was inside.
  Status delete_subtree(int64_t message_id);

  // --- Streaming answers --------------------------------------------------------
  Result<int64_t> begin_answer(int64_t conversation_id, int64_t parent_id);
  // Appends to a 'partial' message (InvalidArgument once it is not partial).
  Status append_answer(int64_t message_id, const std::string& delta);
  // Appends `tail`, saves the record, marks it 'complete' ('error' when the
  // finish reason is "error" or "context").
  Status finish_answer(int64_t message_id, const std::string& tail, const GenerationRecord& record);
  // Saves (or replaces) a record alone (imports; messages written whole).
  Status save_record(int64_t message_id, const GenerationRecord& record);
  // nullopt when the message has none.
  Result<std::optional<GenerationRecord>> record(int64_t message_id);

  // --- Search -----------------------------------------------------------------
  // Messages of live conversations matching `query`, best first. Partial
  // answers are found once they finish (or are marked interrupted).
  Result<std::vector<SearchHit>> search(const std::string& query,
                                        const SearchOptions& options = {});

 private:
  explicit ConversationStore(std::unique_ptr<Database> db);
  Status mark_interrupted();
  // Takes the shared writer lock on <path>.lock, recovering first when alone;
  // sets other_writer_pid_ when other writers are live.
  Status join_writers(int32_t timeout_ms);
  // Records activity; sets the current leaf (0: none; -1: keeps it).
  Status touch(int64_t conversation_id, int64_t leaf);
  // The newest leaf reached from `message_id` (0: from the newest root) by
  // taking the newest child at each level; 0 when there is none.
  Result<int64_t> newest_leaf_under(int64_t conversation_id, int64_t message_id);
  Result<int64_t> insert_message(int64_t conversation_id, int64_t parent_id, MessageRole role,
                                 const std::string& content, MessageStatus status);

  std::unique_ptr<Database> db_;
  std::vector<int64_t> interrupted_on_open_;
  int64_t other_writer_pid_ = 0;
  int lock_fd_ = -1;  // <path>.lock, shared-flock'ed while this Writer lives
};

// Plain words -> an FTS5 query: every word required (quoted, so operators
// and punctuation are text), the last one as a prefix ("how to" -> "how" "to"*).
std::string fts_query_from_words(const std::string& text);

}  // namespace tokamak
