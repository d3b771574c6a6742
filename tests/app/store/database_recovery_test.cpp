// What the app does with a database it cannot use: the file is refused
// untouched, a copy is made before any migration, and (when the user agrees)
// the file and its journals are moved aside, byte for byte, so that a fresh
// database can be created at the same path.
#include <gtest/gtest.h>

#include <filesystem>

#include "store/database.h"
#include "store/database_aside.h"
#include "store_test_util.h"

namespace tokamak {
namespace {

namespace fs = std::filesystem;
using test::files_in;
using test::read_bytes;

Result<std::unique_ptr<Database>> open_at(const std::string& path) {
  DatabaseOptions o;
  o.path = path;
  return Database::open(o);
}

// A database at the latest version whose header says `version`.
void make_database_claiming(const std::string& path, int32_t version) {
  test::make_database_at_version(path, latest_schema_version());
  SQLite::Database raw(path, SQLite::OPEN_READWRITE);
  raw.exec("PRAGMA user_version = " + std::to_string(version));
}

// The copy made before a migration holds the rows as they were, at the old
// version, and none of the later tables; the migrated file keeps the rows.
TEST(DatabaseRecovery, TheCopyBeforeAMigrationIsTheOldDatabase) {
  const std::string path = test::fresh_dir("backup_content") + "/db";
  test::make_database_at_version(path, 1);
  {
    SQLite::Database raw(path, SQLite::OPEN_READWRITE);
    raw.exec(
        "INSERT INTO bench_sessions (created_at, kind, model, model_path, device, "
        "engine_version, config_json) VALUES ('2026-01-01', 'serve', 'kept', 'p', 'cpu', '0', "
        "'{}')");
  }
  auto db = open_at(path);
  ASSERT_TRUE(db.ok()) << db.error().message;
  const std::string backup = (*db)->backup_path();
  ASSERT_NE(backup, "");
  EXPECT_EQ(backup, path + ".v1.bak");
  SQLite::Database copy(backup, SQLite::OPEN_READONLY);
  EXPECT_EQ(copy.execAndGet("PRAGMA user_version").getInt(), 1);
  EXPECT_EQ(copy.execAndGet("SELECT model FROM bench_sessions").getString(), "kept");
  EXPECT_EQ(copy.execAndGet("SELECT count(*) FROM sqlite_master WHERE name = 'prompts'").getInt(),
            0);
  EXPECT_EQ(copy.execAndGet("PRAGMA integrity_check").getString(), "ok");
  EXPECT_EQ((*db)->sql().execAndGet("SELECT model FROM bench_sessions").getString(), "kept");
}

// Refused, moved aside with the same bytes, and a fresh database opens at
// the path; the aside name says why and the old file is never rewritten.
void expect_moved_aside_and_fresh(const std::string& dir, const std::string& path,
                                  ErrorCode expected, const char* reason) {
  const std::string bytes = read_bytes(path);
  auto refused = open_at(path);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, expected) << refused.error().message;
  EXPECT_EQ(read_bytes(path), bytes);

  auto aside = move_database_aside(path, reason);
  ASSERT_TRUE(aside.ok()) << aside.error().message;
  EXPECT_EQ(aside->rfind(path + "." + reason + "-", 0), 0u) << *aside;
  EXPECT_FALSE(fs::exists(path));
  EXPECT_EQ(read_bytes(*aside), bytes);

  auto fresh = open_at(path);
  ASSERT_TRUE(fresh.ok()) << fresh.error().message;
  EXPECT_EQ((*fresh)->schema_version(), latest_schema_version());
  EXPECT_EQ((*fresh)->backup_path(), "");
  EXPECT_EQ((*fresh)->sql().execAndGet("SELECT count(*) FROM bench_sessions").getInt(), 0);
  fresh->reset();
  EXPECT_EQ(read_bytes(*aside), bytes);  // the fresh open left it alone
  EXPECT_EQ(files_in(dir).size(), 2u);   // the fresh file and the old one (WAL checkpointed)
}

TEST(DatabaseRecovery, ACorruptFileIsMovedAsideWhole) {
  const std::string dir = test::fresh_dir("aside_corrupt");
  const std::string path = dir + "/tokamak.db";
  test::make_database_at_version(path, latest_schema_version());
  std::string bytes = read_bytes(path);
  for (size_t i = 4096; i < bytes.size(); ++i) bytes[i] = static_cast<char>(0x5A ^ (i & 0xff));
  test::write_bytes(path, bytes);
  expect_moved_aside_and_fresh(dir, path, ErrorCode::BadFormat, "corrupt");
}

TEST(DatabaseRecovery, ANewerFileIsMovedAsideWhole) {
  const std::string dir = test::fresh_dir("aside_newer");
  const std::string path = dir + "/tokamak.db";
  make_database_claiming(path, latest_schema_version() + 7);
  expect_moved_aside_and_fresh(dir, path, ErrorCode::Unsupported, "newer");
}

// The old file's WAL goes with it: left behind, SQLite would replay it into
// the fresh file. Here the WAL holds a committed row the main file lacks.
TEST(DatabaseRecovery, TheJournalFilesGoWithTheFile) {
  const std::string dir = test::fresh_dir("aside_wal");
  const std::string path = dir + "/tokamak.db";
  test::make_database_at_version(path, latest_schema_version());
  std::string wal_bytes;
  {
    SQLite::Database a(path, SQLite::OPEN_READWRITE);
    a.exec("PRAGMA wal_autocheckpoint = 0");
    a.exec(
        "INSERT INTO bench_sessions (created_at, kind, model, model_path, device, "
        "engine_version, config_json) VALUES ('t', 'serve', 'in-the-wal', 'p', 'cpu', '0', '{}')");
    ASSERT_TRUE(fs::exists(path + "-wal"));
    // Copy the three files while the connection is open (a crash leaves them so).
    for (const char* s : {"", "-wal", "-shm"}) fs::copy_file(path + s, dir + "/snap" + s);
  }
  for (const char* s : {"", "-wal", "-shm"}) {
    fs::remove(path + s);
    fs::rename(dir + "/snap" + s, path + s);
  }
  wal_bytes = read_bytes(path + "-wal");
  ASSERT_FALSE(wal_bytes.empty());

  auto aside = move_database_aside(path, "corrupt");
  ASSERT_TRUE(aside.ok()) << aside.error().message;
  EXPECT_FALSE(fs::exists(path + "-wal"));
  EXPECT_FALSE(fs::exists(path + "-shm"));
  EXPECT_EQ(read_bytes(*aside + "-wal"), wal_bytes);
  {
    auto fresh = open_at(path);
    ASSERT_TRUE(fresh.ok()) << fresh.error().message;
    EXPECT_EQ((*fresh)->sql().execAndGet("SELECT count(*) FROM bench_sessions").getInt(), 0);
  }
  // And the moved file still has its row (its WAL was found under the new name).
  SQLite::Database old(*aside, SQLite::OPEN_READONLY);
  EXPECT_EQ(old.execAndGet("SELECT model FROM bench_sessions").getString(), "in-the-wal");
}

TEST(DatabaseRecovery, TwoMovesTheSameSecondGetTwoNames) {
  const std::string dir = test::fresh_dir("aside_twice");
  const std::string path = dir + "/db";
  test::write_bytes(path, "first");
  auto a = move_database_aside(path, "corrupt");
  test::write_bytes(path, "second");
  auto b = move_database_aside(path, "corrupt");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_EQ(read_bytes(*a), "first");
  EXPECT_EQ(read_bytes(*b), "second");
}

TEST(DatabaseRecovery, AMissingFileIsNotFound) {
  const std::string path = test::fresh_dir("aside_missing") + "/db";
  auto r = move_database_aside(path, "corrupt");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::NotFound);
  EXPECT_NE(r.error().message.find(path), std::string::npos);
}

}  // namespace
}  // namespace tokamak
