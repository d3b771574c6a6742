// Database: the app's one SQLite file (benchmark runs now; conversations,
// prompts and generation records in later migrations).
//
//   open(path) ─► exists? ─► read PRAGMA user_version and run quick_check
//                 │            (nothing written yet: a corrupt file or one
//                 │             from a newer Tokamak is refused untouched)
//                 ▼
//            WAL, foreign keys, busy timeout
//                 ▼
//            version < latest? ─► copy the file (VACUUM INTO <path>.v<N>.bak)
//                 ▼                 when it already holds a schema
//            BEGIN IMMEDIATE; apply migrations N+1..latest in order;
//            PRAGMA user_version = latest; COMMIT
//
// Migrations are append-only: a released one is never edited or renumbered;
// a change of schema is a new migration at the end of the list.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "core/result.h"

namespace SQLite {
class Database;
}

namespace tokamak {

// One forward step of the schema: `sql` (any number of statements) takes a
// database at version - 1 to `version`.
struct Migration {
  int32_t version = 0;
  std::string_view name;
  std::string_view sql;
};

// The app's schema, versions 1, 2, ... in order.
std::span<const Migration> schema_migrations();
int32_t latest_schema_version();

// $TOKAMAK_DB, else $XDG_DATA_HOME/tokamak/tokamak.db, else
// ~/.local/share/tokamak/tokamak.db.
std::string default_database_path();

struct DatabaseOptions {
  std::string path;                // "" : default_database_path()
  int32_t busy_timeout_ms = 5000;  // how long a write waits for another connection's lock
};

class Database {
 public:
  // Opens or creates the file and migrates it to the latest version.
  // BadFormat: not a SQLite file, corrupt, or a SQLite file of something else;
  // Unsupported: written by a newer version; IoError: cannot create or copy.
  // In each of these cases the file is left as it was.
  static Result<std::unique_ptr<Database>> open(const DatabaseOptions& options);
  // The same with another list of migrations (tests; versions 1..n in order).
  static Result<std::unique_ptr<Database>> open(const DatabaseOptions& options,
                                                std::span<const Migration> migrations);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  SQLite::Database& sql() { return *db_; }
  const std::string& path() const { return path_; }
  int32_t schema_version() const { return schema_version_; }
  // The copy made before migrating ("" when none was needed).
  const std::string& backup_path() const { return backup_path_; }

 private:
  Database() = default;
  std::unique_ptr<SQLite::Database> db_;
  std::string path_;
  std::string backup_path_;
  int32_t schema_version_ = 0;
};

}  // namespace tokamak
