#include "store/conversation_store.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "store/store_sql.h"
#include "store/utc_time.h"

namespace tokamak {
namespace {

using store_detail::exec_one;
using store_detail::kInsertConversation;
using store_detail::not_found;
using store_detail::store_error;

constexpr const char* kConversationColumns =
    "id, title, created_at, updated_at, coalesce(current_leaf, 0), system_prompt, "
    "template_name, template_text, sampling_json, coalesce(deleted_at, '')";

constexpr const char* kTouch = R"sql(
UPDATE conversations SET updated_at = ?2,
  current_leaf = CASE WHEN ?3 < 0 THEN current_leaf ELSE nullif(?3, 0) END,
  activity_seq = (SELECT max(activity_seq) + 1 FROM conversations)
WHERE id = ?1)sql";

constexpr const char* kSetSettings = R"sql(
UPDATE conversations SET system_prompt = ?2, template_name = ?3, template_text = ?4,
  sampling_json = ?5 WHERE id = ?1)sql";

constexpr const char* kMarkInterrupted = R"sql(
UPDATE messages SET status = 'interrupted' WHERE status = 'partial' RETURNING id)sql";

Conversation read_conversation(SQLite::Statement& q) {
  Conversation c;
  c.id = q.getColumn(0).getInt64();
  c.title = q.getColumn(1).getString();
  c.created_at = q.getColumn(2).getString();
  c.updated_at = q.getColumn(3).getString();
  c.current_leaf = q.getColumn(4).getInt64();
  c.settings.system_prompt = q.getColumn(5).getString();
  c.settings.template_name = q.getColumn(6).getString();
  c.settings.template_text = q.getColumn(7).getString();
  c.settings.sampling_json = q.getColumn(8).getString();
  c.deleted_at = q.getColumn(9).getString();
  return c;
}

}  // namespace

ConversationStore::ConversationStore(std::unique_ptr<Database> db) : db_(std::move(db)) {}
ConversationStore::~ConversationStore() {
  if (lock_fd_ >= 0) close(lock_fd_);  // releases the writer lock
}

Result<std::unique_ptr<ConversationStore>> ConversationStore::open(const DatabaseOptions& options,
                                                                   StoreRole role) {
  TK_ASSIGN(std::unique_ptr<Database> db, Database::open(options));
  std::unique_ptr<ConversationStore> store(new ConversationStore(std::move(db)));
  try {
    // Committed appends survive a killed process with NORMAL; only a power
    // loss may take the last ones (WAL keeps the file consistent either way).
    store->db_->sql().exec("PRAGMA synchronous = NORMAL");
  } catch (const SQLite::Exception& e) {
    return store_error(*store->db_, "setting synchronous = NORMAL", e);
  }
  if (role == StoreRole::Writer) {
    TK_TRY(store->join_writers(options.busy_timeout_ms));
  }
  return store;
}

// Writers hold a shared flock on <path>.lock while they live. An opening
// writer that gets it exclusively is the only live one: every partial answer
// is then a dead writer's and is marked, before the lock is shared. One that
// cannot waits (polling, up to the busy timeout) for its shared lock, so it
// never streams before the recovering writer has finished marking.
Status ConversationStore::join_writers(int32_t timeout_ms) {
  const std::string lock_path = db_->path() + ".lock";
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return make_error(ErrorCode::IoError, fmt::format("{}: cannot open the writer lock file: {}",
                                                      lock_path, std::strerror(errno)));
  }
  auto fail = [&](const char* doing, int err) {
    close(fd);
    return make_error(ErrorCode::IoError,
                      fmt::format("{}: cannot {}: {}", lock_path, doing, std::strerror(err)));
  };
  if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
    const std::string pid = std::to_string(getpid());
    if (ftruncate(fd, 0) != 0 ||
        pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
      return fail("write the writer lock", errno);
    }
    if (Status st = mark_interrupted(); !st.ok()) {
      close(fd);
      return st;
    }
    if (flock(fd, LOCK_SH) != 0) return fail("share the writer lock", errno);
    lock_fd_ = fd;
    return {};
  }
  if (errno != EWOULDBLOCK) return fail("take the writer lock", errno);
  for (int32_t waited_ms = 0; flock(fd, LOCK_SH | LOCK_NB) != 0; waited_ms += 5) {
    if (errno != EWOULDBLOCK) return fail("share the writer lock", errno);
    if (waited_ms >= timeout_ms) {
      close(fd);
      return make_error(ErrorCode::IoError,
                        fmt::format("{}: another process is still recovering the database after "
                                    "{} ms; try again",
                                    db_->path(), waited_ms));
    }
    usleep(5000);
  }
  // The first live writer wrote its pid; it may have gone since.
  char buf[32] = {};
  const ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  const long long pid = n > 0 ? std::atoll(buf) : 0;
  const bool alive = pid > 0 && (kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
  other_writer_pid_ = alive ? pid : -1;
  lock_fd_ = fd;
  return {};
}

Status ConversationStore::mark_interrupted() {
  try {
    SQLite::Transaction tx(db_->sql(), SQLite::TransactionBehavior::IMMEDIATE);
    SQLite::Statement q(db_->sql(), kMarkInterrupted);
    while (q.executeStep()) interrupted_on_open_.push_back(q.getColumn(0).getInt64());
    tx.commit();
    return {};
  } catch (const SQLite::Exception& e) {
    return store_error(*db_, "marking interrupted answers", e);
  }
}

Result<int64_t> ConversationStore::create_conversation(const std::string& title,
                                                       const ConversationSettings& s) {
  try {
    SQLite::Statement q(db_->sql(), kInsertConversation);
    const std::string now = utc_timestamp_ms_now();
    q.bind(1, title);
    q.bind(2, now);
    q.bind(3, now);
    q.bind(4, s.system_prompt);
    q.bind(5, s.template_name);
    q.bind(6, s.template_text);
    q.bind(7, s.sampling_json);
    q.exec();
    return db_->sql().getLastInsertRowid();
  } catch (const SQLite::Exception& e) {
    return store_error(*db_, "creating a conversation", e);
  }
}

Result<Conversation> ConversationStore::conversation(int64_t conversation_id) {
  try {
    SQLite::Statement q(
        db_->sql(), fmt::format("SELECT {} FROM conversations WHERE id = ?", kConversationColumns));
    q.bind(1, conversation_id);
    if (!q.executeStep()) return not_found(*db_, "conversation", conversation_id);
    return read_conversation(q);
  } catch (const SQLite::Exception& e) {
    return store_error(*db_, "reading a conversation", e);
  }
}

Result<std::vector<Conversation>> ConversationStore::list_conversations(int32_t limit,
                                                                        bool deleted) {
  try {
    SQLite::Statement q(
        db_->sql(), fmt::format("SELECT {} FROM conversations WHERE (deleted_at IS NOT NULL) = ? "
                                "ORDER BY activity_seq DESC LIMIT ?",
                                kConversationColumns));
    q.bind(1, deleted ? 1 : 0);
    q.bind(2, limit);
    std::vector<Conversation> out;
    while (q.executeStep()) out.push_back(read_conversation(q));
    return out;
  } catch (const SQLite::Exception& e) {
    return store_error(*db_, "listing conversations", e);
  }
}

Status ConversationStore::rename(int64_t conversation_id, const std::string& title) {
  return exec_one(*db_, "renaming a conversation", "conversation", conversation_id,
                  "UPDATE conversations SET title = ?2 WHERE id = ?1", title);
}

Status ConversationStore::set_settings(int64_t conversation_id, const ConversationSettings& s) {
  try {
    SQLite::Statement q(db_->sql(), kSetSettings);
    q.bind(1, conversation_id);
    q.bind(2, s.system_prompt);
    q.bind(3, s.template_name);
    q.bind(4, s.template_text);
    q.bind(5, s.sampling_json);
    if (q.exec() == 0) return not_found(*db_, "conversation", conversation_id);
    return {};
  } catch (const SQLite::Exception& e) {
    return store_error(*db_, "saving conversation settings", e);
  }
}

Status ConversationStore::remove(int64_t conversation_id) {
  return exec_one(*db_, "deleting a conversation", "live conversation", conversation_id,
                  "UPDATE conversations SET deleted_at = ?2 WHERE id = ?1 AND deleted_at IS NULL",
                  utc_timestamp_ms_now());
}

Status ConversationStore::restore(int64_t conversation_id) {
  return exec_one(*db_, "restoring a conversation", "deleted conversation", conversation_id,
                  "UPDATE conversations SET deleted_at = NULL WHERE id = ?1 AND deleted_at IS NOT "
                  "NULL");
}

Status ConversationStore::purge(int64_t conversation_id) {
  return exec_one(*db_, "purging a conversation", "deleted conversation", conversation_id,
                  "DELETE FROM conversations WHERE id = ?1 AND deleted_at IS NOT NULL");
}

Result<int64_t> ConversationStore::purge_deleted(const std::string& before) {
  try {
    SQLite::Statement q(db_->sql(),
                        "DELETE FROM conversations WHERE deleted_at IS NOT NULL AND "
                        "(?1 = '' OR deleted_at < ?1)");
    q.bind(1, before);
    return static_cast<int64_t>(q.exec());
  } catch (const SQLite::Exception& e) {
    return store_error(*db_, "purging deleted conversations", e);
  }
}

Status ConversationStore::touch(int64_t conversation_id, int64_t leaf) {
  SQLite::Statement q(db_->sql(), kTouch);
  q.bind(1, conversation_id);
  q.bind(2, utc_timestamp_ms_now());
  q.bind(3, leaf);
  if (q.exec() == 0) return not_found(*db_, "conversation", conversation_id);
  return {};
}

}  // namespace tokamak
