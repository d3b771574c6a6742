// Helpers the conversation store's .cpp files share (not a public header):
// errors that name the database file and what was being done, and a
// one-row UPDATE/DELETE that reports NotFound when it touched nothing, and
// the INSERTs the store and the importer share.
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>

#include <cstdint>
#include <string>

#include "core/result.h"
#include "store/database.h"

namespace tokamak::store_detail {

// A new conversation, the most recently active: ?1 title, ?2 created_at,
// ?3 updated_at, ?4 system_prompt, ?5 template_name, ?6 template_text,
// ?7 sampling_json (conversation_store.cpp and conversation_import.cpp).
constexpr const char* kInsertConversation = R"sql(
INSERT INTO conversations (title, created_at, updated_at, activity_seq, system_prompt,
                           template_name, template_text, sampling_json)
VALUES (?1, ?2, ?3, (SELECT coalesce(max(activity_seq), 0) + 1 FROM conversations), ?4, ?5, ?6,
        ?7))sql";

// A new message: ?1 conversation_id, ?2 parent_id (0: a root), ?3 role,
// ?4 content, ?5 status, ?6 created_at, ?7 updated_at.
constexpr const char* kInsertMessage = R"sql(
INSERT INTO messages (conversation_id, parent_id, role, content, status, created_at, updated_at)
VALUES (?1, nullif(?2, 0), ?3, ?4, ?5, ?6, ?7))sql";

inline Error store_error(const Database& db, const char* doing, const SQLite::Exception& e) {
  return make_error(ErrorCode::IoError, fmt::format("{}: {} failed: {} (SQLite code {})", db.path(),
                                                    doing, e.what(), e.getErrorCode()));
}

inline Error not_found(const Database& db, const char* what, int64_t id) {
  return make_error(ErrorCode::NotFound, fmt::format("{}: no {} with id {}", db.path(), what, id));
}

// Runs `sql` with ?1 = id and ?2, ?3, ... = args; NotFound ("no <what> with
// id N") when no row changed.
template <class... Args>
Status exec_one(Database& db, const char* doing, const char* what, int64_t id, const char* sql,
                const Args&... args) {
  try {
    SQLite::Statement q(db.sql(), sql);
    q.bind(1, id);
    int i = 2;
    (q.bind(i++, args), ...);
    if (q.exec() == 0) return not_found(db, what, id);
    return {};
  } catch (const SQLite::Exception& e) {
    return store_error(db, doing, e);
  }
}

}  // namespace tokamak::store_detail
