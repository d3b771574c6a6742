#include "store/database.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

namespace tokamak {
namespace {

namespace fs = std::filesystem;

constexpr const char* kReadVersion = "PRAGMA user_version";
constexpr const char* kQuickCheck = "PRAGMA quick_check";
constexpr const char* kCountObjects = "SELECT count(*) FROM sqlite_master";
constexpr const char* kForeignKeysOn = "PRAGMA foreign_keys = ON";
constexpr const char* kWal = "PRAGMA journal_mode = WAL";

// `PRAGMA journal_mode = WAL` on a file that another connection is opening
// at the same moment can answer SQLITE_BUSY at once: SQLite skips the busy
// handler for that lock to avoid a deadlock. Retried until the busy timeout.
std::string switch_to_wal(SQLite::Database& db, int busy_timeout_ms) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(busy_timeout_ms);
  for (;;) {
    try {
      return db.execAndGet(kWal).getString();
    } catch (const SQLite::Exception& e) {
      const int code = e.getErrorCode() & 0xff;
      if ((code != SQLITE_BUSY && code != SQLITE_LOCKED) ||
          std::chrono::steady_clock::now() >= deadline) {
        throw;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
}

// SQLite's answer for a file that is not (or no longer) a database.
bool is_corruption(int code) {
  const int primary = code & 0xff;
  return primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT;
}

Error sqlite_error(const std::string& path, const char* doing, const SQLite::Exception& e) {
  if (is_corruption(e.getErrorCode())) {
    return make_error(ErrorCode::BadFormat,
                      fmt::format("{}: not a readable SQLite database ({}) while {}; the file was "
                                  "left untouched (move it away to start a fresh database)",
                                  path, e.what(), doing));
  }
  return make_error(ErrorCode::IoError, fmt::format("{}: {} failed: {}", path, doing, e.what()));
}

Status check_migrations(std::span<const Migration> migrations) {
  for (size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version != static_cast<int32_t>(i + 1)) {
      return make_error(ErrorCode::Internal,
                        fmt::format("migration '{}' has version {}, expected {} (versions are "
                                    "1, 2, ... in order)",
                                    migrations[i].name, migrations[i].version, i + 1));
    }
  }
  return {};
}

// Reads the version and checks the file without writing anything.
Result<int32_t> inspect(SQLite::Database& db, const std::string& path, bool existed,
                        int32_t latest) {
  int32_t version = 0;
  try {
    // One read transaction: the version and the objects from the same
    // snapshot (another connection may commit its migration in between).
    SQLite::Transaction snapshot(db, SQLite::TransactionBehavior::DEFERRED);
    version = db.execAndGet(kReadVersion).getInt();
    if (existed) {
      const std::string check = db.execAndGet(kQuickCheck).getString();
      if (check != "ok") {
        return make_error(ErrorCode::BadFormat,
                          fmt::format("{}: the database is corrupt (quick_check: {}); the file was "
                                      "left untouched (move it away to start a fresh database)",
                                      path, check));
      }
      if (version == 0 && db.execAndGet(kCountObjects).getInt() > 0) {
        return make_error(ErrorCode::BadFormat,
                          fmt::format("{}: a SQLite database of something else (tables but no "
                                      "Tokamak schema version); the file was left untouched",
                                      path));
      }
    }
    snapshot.commit();
  } catch (const SQLite::Exception& e) {
    return sqlite_error(path, "reading the schema version", e);
  }
  if (version > latest) {
    return make_error(ErrorCode::Unsupported,
                      fmt::format("{}: schema version {} is newer than this build's {} (written by "
                                  "a newer Tokamak); the file was left untouched",
                                  path, version, latest));
  }
  return version;
}

// A path for the copy that does not exist yet: <path>.v<N>.bak, then .v<N>.2.bak, ...
std::string free_backup_path(const std::string& path, int32_t version) {
  std::string candidate = fmt::format("{}.v{}.bak", path, version);
  for (int k = 2; fs::exists(candidate); ++k)
    candidate = fmt::format("{}.v{}.{}.bak", path, version, k);
  return candidate;
}

Result<std::string> make_backup(SQLite::Database& db, const std::string& path, int32_t version) {
  const std::string backup = free_backup_path(path, version);
  try {
    SQLite::Statement vacuum(db, "VACUUM INTO ?");
    vacuum.bind(1, backup);
    vacuum.exec();
  } catch (const SQLite::Exception& e) {
    return make_error(ErrorCode::IoError,
                      fmt::format("{}: cannot copy the database to {} before migrating from "
                                  "version {}: {}; nothing was migrated",
                                  path, backup, version, e.what()));
  }
  return backup;
}

// Applies every migration above the current version in one transaction.
Result<int32_t> migrate(SQLite::Database& db, const std::string& path,
                        std::span<const Migration> migrations) {
  const int32_t latest = static_cast<int32_t>(migrations.size());
  const char* doing = "starting the migration";
  try {
    db.exec("BEGIN IMMEDIATE");
    try {
      // Another process may have migrated between our check and the lock.
      const int32_t from = db.execAndGet(kReadVersion).getInt();
      for (int32_t v = from + 1; v <= latest; ++v) {
        doing = migrations[v - 1].name.data();
        db.exec(std::string(migrations[v - 1].sql));
      }
      if (from < latest) db.exec(fmt::format("PRAGMA user_version = {}", latest));
      db.exec("COMMIT");
    } catch (...) {
      db.exec("ROLLBACK");
      throw;
    }
  } catch (const SQLite::Exception& e) {
    return make_error(ErrorCode::IoError,
                      fmt::format("{}: migration '{}' failed: {}; the database was rolled back "
                                  "to its previous version",
                                  path, doing, e.what()));
  }
  return latest;
}

}  // namespace

std::string default_database_path() {
  if (const char* p = std::getenv("TOKAMAK_DB"); p && *p) return p;
  if (const char* d = std::getenv("XDG_DATA_HOME"); d && *d) {
    return std::string(d) + "/tokamak/tokamak.db";
  }
  if (const char* h = std::getenv("HOME"); h && *h) {
    return std::string(h) + "/.local/share/tokamak/tokamak.db";
  }
  return "tokamak.db";
}

int32_t latest_schema_version() { return static_cast<int32_t>(schema_migrations().size()); }

Database::~Database() = default;

Result<std::unique_ptr<Database>> Database::open(const DatabaseOptions& options) {
  return open(options, schema_migrations());
}

Result<std::unique_ptr<Database>> Database::open(const DatabaseOptions& options,
                                                 std::span<const Migration> migrations) {
  TK_TRY(check_migrations(migrations));
  const std::string path = options.path.empty() ? default_database_path() : options.path;
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  const bool existed = fs::exists(st);
  if (existed && !fs::is_regular_file(st)) {
    return make_error(ErrorCode::IoError, fmt::format("{}: not a regular file", path));
  }
  if (!existed) {
    const fs::path parent = fs::path(path).parent_path();
    ec.clear();  // fs::status above reported the missing file
    if (!parent.empty()) fs::create_directories(parent, ec);
    if (ec) {
      return make_error(ErrorCode::IoError, fmt::format("{}: cannot create the folder {}: {}", path,
                                                        parent.string(), ec.message()));
    }
  }
  std::unique_ptr<Database> out(new Database());
  out->path_ = path;
  try {
    const int flags = SQLite::OPEN_READWRITE | (existed ? 0 : SQLite::OPEN_CREATE);
    out->db_ = std::make_unique<SQLite::Database>(path, flags, options.busy_timeout_ms);
  } catch (const SQLite::Exception& e) {
    return sqlite_error(path, "opening", e);
  }
  SQLite::Database& db = *out->db_;
  const int32_t latest = static_cast<int32_t>(migrations.size());
  TK_ASSIGN(const int32_t version, inspect(db, path, existed, latest));
  try {
    db.exec(kForeignKeysOn);
    const std::string mode = switch_to_wal(db, options.busy_timeout_ms);
    if (mode != "wal") {
      return make_error(
          ErrorCode::IoError,
          fmt::format("{}: cannot switch to WAL mode (journal mode stays '{}')", path, mode));
    }
  } catch (const SQLite::Exception& e) {
    return sqlite_error(path, "setting WAL mode and foreign keys", e);
  }
  out->schema_version_ = version;
  if (version < latest) {
    if (version > 0) {
      TK_ASSIGN(out->backup_path_, make_backup(db, path, version));
    }
    TK_ASSIGN(out->schema_version_, migrate(db, path, migrations));
  }
  return out;
}

}  // namespace tokamak
