// Helpers the conversation store's .cpp files share (not a public header):
// errors that name the database file and what was being done, and a
// one-row UPDATE/DELETE that reports NotFound when it touched nothing.
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>

#include <cstdint>
#include <string>

#include "core/result.h"
#include "store/database.h"

namespace tokamak::store_detail {

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
