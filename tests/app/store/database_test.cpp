#include "store/database.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <array>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "scratch_dir.h"
#include "store_test_util.h"

namespace tokamak {
namespace {

namespace fs = std::filesystem;
using test::files_in;
using test::make_database_at_version;
using test::read_bytes;
using test::user_version;

std::unique_ptr<Database> open_ok(const std::string& path, int32_t busy_timeout_ms = 5000) {
  DatabaseOptions o;
  o.path = path;
  o.busy_timeout_ms = busy_timeout_ms;
  auto db = Database::open(o);
  EXPECT_TRUE(db.ok()) << db.error().message;
  return db.ok() ? std::move(db).value() : nullptr;
}

bool has_table(SQLite::Database& db, const std::string& name) {
  SQLite::Statement q(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?");
  q.bind(1, name);
  q.executeStep();
  return q.getColumn(0).getInt() == 1;
}

TEST(Database, MigrationVersionsAreOneToN) {
  const auto m = schema_migrations();
  ASSERT_FALSE(m.empty());
  for (size_t i = 0; i < m.size(); ++i) EXPECT_EQ(m[i].version, static_cast<int32_t>(i + 1));
  EXPECT_EQ(latest_schema_version(), static_cast<int32_t>(m.size()));
}

TEST(Database, CreatesAFreshFileWithWalForeignKeysAndTheLatestSchema) {
  const std::string path = test::fresh_dir("fresh") + "/sub/dir/tokamak.db";
  auto db = open_ok(path);
  ASSERT_TRUE(db);
  EXPECT_EQ(db->schema_version(), latest_schema_version());
  EXPECT_EQ(db->backup_path(), "");  // nothing to copy for a new file
  EXPECT_EQ(db->sql().execAndGet("PRAGMA journal_mode").getString(), "wal");
  EXPECT_EQ(db->sql().execAndGet("PRAGMA foreign_keys").getInt(), 1);
  EXPECT_EQ(db->sql().execAndGet("PRAGMA user_version").getInt(), latest_schema_version());
  EXPECT_TRUE(has_table(db->sql(), "bench_sessions"));
  EXPECT_TRUE(has_table(db->sql(), "bench_runs"));
  db.reset();
  // Opening again migrates nothing and copies nothing.
  auto again = open_ok(path);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->backup_path(), "");
  EXPECT_EQ(again->schema_version(), latest_schema_version());
}

// A bare file name (no folder part) is created in the working directory.
TEST(Database, CreatesAFileGivenByABareRelativeName) {
  const fs::path dir = test::fresh_dir("relative");
  const fs::path cwd = fs::current_path();
  fs::current_path(dir);
  auto db = open_ok("t.db");
  fs::current_path(cwd);
  ASSERT_TRUE(db);
  EXPECT_EQ(db->schema_version(), latest_schema_version());
  EXPECT_TRUE(fs::is_regular_file(dir / "t.db"));
}

TEST(Database, DefaultPathFollowsXdgDataHome) {
  const char* old_db = std::getenv("TOKAMAK_DB");
  const std::string saved_db = old_db ? old_db : "";
  const char* old_xdg = std::getenv("XDG_DATA_HOME");
  const std::string saved_xdg = old_xdg ? old_xdg : "";
  unsetenv("TOKAMAK_DB");
  setenv("XDG_DATA_HOME", "/x/data", 1);
  EXPECT_EQ(default_database_path(), "/x/data/tokamak/tokamak.db");
  setenv("TOKAMAK_DB", "/y/other.db", 1);
  EXPECT_EQ(default_database_path(), "/y/other.db");
  if (old_db)
    setenv("TOKAMAK_DB", saved_db.c_str(), 1);
  else
    unsetenv("TOKAMAK_DB");
  if (old_xdg)
    setenv("XDG_DATA_HOME", saved_xdg.c_str(), 1);
  else
    unsetenv("XDG_DATA_HOME");
}

// Every earlier version of the real schema (0 = an empty SQLite file) opens
// at the latest one; a file that held a schema is copied first, and the copy
// is the file as it was.
TEST(Database, MigratesFromEveryEarlierVersion) {
  const std::string dir = test::fresh_dir("every_version");
  for (int32_t v = 0; v < latest_schema_version(); ++v) {
    SCOPED_TRACE(v);
    const std::string path = dir + "/v" + std::to_string(v) + ".db";
    make_database_at_version(path, v);
    auto db = open_ok(path);
    ASSERT_TRUE(db);
    EXPECT_EQ(db->schema_version(), latest_schema_version());
    EXPECT_TRUE(has_table(db->sql(), "bench_runs"));
    if (v == 0) {
      EXPECT_EQ(db->backup_path(), "");
    } else {
      ASSERT_NE(db->backup_path(), "");
      EXPECT_EQ(user_version(db->backup_path()), v);
    }
  }
}

// Three test migrations, so that multi-step paths are covered while the real
// schema has few versions: each step must run once, in order, from any start.
constexpr std::array kSteps = {
    Migration{1, "t", "CREATE TABLE t (a INTEGER); INSERT INTO t (a) VALUES (1);"},
    Migration{2, "t.b", "ALTER TABLE t ADD COLUMN b INTEGER NOT NULL DEFAULT 2;"},
    Migration{3, "u", "CREATE TABLE u AS SELECT a + b AS c FROM t;"},
};

TEST(Database, AppliesEachMissingStepOnceInOrder) {
  const std::string dir = test::fresh_dir("steps");
  for (int32_t from = 0; from <= 3; ++from) {
    SCOPED_TRACE(from);
    const std::string path = dir + "/from" + std::to_string(from) + ".db";
    DatabaseOptions o;
    o.path = path;
    if (from > 0) {
      ASSERT_TRUE(Database::open(o, std::span(kSteps).first(from)).ok());
    }
    auto db = Database::open(o, kSteps);
    ASSERT_TRUE(db.ok()) << db.error().message;
    SQLite::Database& s = (*db)->sql();
    EXPECT_EQ((*db)->schema_version(), 3);
    EXPECT_EQ(s.execAndGet("SELECT count(*) FROM t").getInt(), 1);  // step 1 ran once
    EXPECT_EQ(s.execAndGet("SELECT c FROM u").getInt(), 3);         // 2 before 3
    EXPECT_EQ((*db)->backup_path().empty(), from == 0 || from == 3);
    if (from == 1 || from == 2) {
      EXPECT_EQ(user_version((*db)->backup_path()), from);
    }
  }
}

TEST(Database, AFailedMigrationRollsBackToThePreviousVersion) {
  const std::string path = test::fresh_dir("failed") + "/db";
  DatabaseOptions o;
  o.path = path;
  ASSERT_TRUE(Database::open(o, std::span(kSteps).first(1)).ok());
  const std::array bad = {
      kSteps[0], Migration{2, "half done", "CREATE TABLE half (x); SELECT * FROM missing;"}};
  auto db = Database::open(o, bad);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.error().code, ErrorCode::IoError);
  EXPECT_NE(db.error().message.find("half done"), std::string::npos) << db.error().message;
  EXPECT_EQ(user_version(path), 1);
  SQLite::Database raw(path, SQLite::OPEN_READONLY);
  EXPECT_TRUE(has_table(raw, "t"));
  EXPECT_FALSE(has_table(raw, "half"));  // the partial step is gone
}

TEST(Database, RefusesANewerVersionAndLeavesTheFileUntouched) {
  const std::string dir = test::fresh_dir("newer");
  const std::string path = dir + "/db";
  make_database_at_version(path, latest_schema_version());
  {
    SQLite::Database raw(path, SQLite::OPEN_READWRITE);
    raw.exec("PRAGMA user_version = " + std::to_string(latest_schema_version() + 1));
  }
  const std::string before = read_bytes(path);
  const auto names_before = files_in(dir);
  DatabaseOptions o;
  o.path = path;
  auto db = Database::open(o);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.error().code, ErrorCode::Unsupported);
  EXPECT_NE(db.error().message.find("newer"), std::string::npos) << db.error().message;
  EXPECT_NE(db.error().message.find(path), std::string::npos);
  EXPECT_EQ(read_bytes(path), before);
  EXPECT_EQ(files_in(dir), names_before);  // no backup, no leftover journal
}

void expect_refused_untouched(const std::string& dir, const std::string& path) {
  const std::string before = read_bytes(path);
  const auto names_before = files_in(dir);
  DatabaseOptions o;
  o.path = path;
  auto db = Database::open(o);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.error().code, ErrorCode::BadFormat) << db.error().message;
  EXPECT_NE(db.error().message.find("untouched"), std::string::npos) << db.error().message;
  EXPECT_EQ(read_bytes(path), before);
  EXPECT_EQ(files_in(dir), names_before);
}

TEST(Database, RefusesAFileThatIsNotADatabase) {
  const std::string dir = test::fresh_dir("garbage");
  const std::string path = dir + "/db";
  std::string junk(8192, '\0');
  for (size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<char>((i * 131 + 7) % 251);
  test::write_bytes(path, junk);
  expect_refused_untouched(dir, path);
}

TEST(Database, RefusesADatabaseWithDamagedPages) {
  const std::string dir = test::fresh_dir("damaged");
  const std::string path = dir + "/db";
  make_database_at_version(path, latest_schema_version());
  std::string bytes = read_bytes(path);
  // The SQLite header (first 100 bytes) stays valid; the b-tree pages after
  // the first are overwritten, as a torn write or a bad disk would.
  const size_t page = 4096;
  ASSERT_GT(bytes.size(), 2 * page);
  for (size_t i = page; i < bytes.size(); ++i) bytes[i] = static_cast<char>(0xA5 ^ (i & 0xff));
  test::write_bytes(path, bytes);
  expect_refused_untouched(dir, path);
}

TEST(Database, RefusesAnotherProgramsDatabase) {
  const std::string dir = test::fresh_dir("foreign");
  const std::string path = dir + "/db";
  {
    SQLite::Database raw(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    raw.exec("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)");
  }
  expect_refused_untouched(dir, path);
}

TEST(Database, TwoConnectionsShareTheFile) {
  const std::string path = test::fresh_dir("two") + "/db";
  auto a = open_ok(path);
  auto b = open_ok(path);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(b->backup_path(), "");
  a->sql().exec(
      "INSERT INTO bench_sessions (created_at, kind, model, model_path, device, "
      "engine_version, config_json) VALUES ('t', 'serve', 'm', 'p', 'cpu', '0', '{}')");
  EXPECT_EQ(b->sql().execAndGet("SELECT count(*) FROM bench_sessions").getInt(), 1);
}

// A writer holding the lock: without a busy timeout the second writer fails
// at once with SQLITE_BUSY; with one it waits until the lock is released.
TEST(Database, BusyTimeoutWaitsForAnotherWriter) {
  const std::string path = test::fresh_dir("busy") + "/db";
  auto holder = open_ok(path);
  auto impatient = open_ok(path, 0);
  auto patient = open_ok(path, 60000);
  ASSERT_TRUE(holder && impatient && patient);
  const char* insert =
      "INSERT INTO bench_sessions (created_at, kind, model, model_path, device, engine_version, "
      "config_json) VALUES ('t', 'serve', 'm', 'p', 'cpu', '0', '{}')";
  const int before = holder->sql().execAndGet("SELECT count(*) FROM bench_sessions").getInt();
  holder->sql().exec("BEGIN IMMEDIATE");
  try {
    impatient->sql().exec(insert);
    ADD_FAILURE() << "a write while another connection holds the lock succeeded";
  } catch (const SQLite::Exception& e) {
    EXPECT_EQ(e.getErrorCode() & 0xff, SQLITE_BUSY) << e.what();
  }
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    holder->sql().exec("COMMIT");
  });
  EXPECT_NO_THROW(patient->sql().exec(insert));
  release.join();
  EXPECT_EQ(holder->sql().execAndGet("SELECT count(*) FROM bench_sessions").getInt(), before + 1);
}

// Several connections opening a new file at once: one migrates, the others
// find the schema in place (BEGIN IMMEDIATE + re-reading the version).
TEST(Database, ConcurrentFirstOpensMigrateOnce) {
  const std::string path = test::fresh_dir("race") + "/db";
  constexpr int kThreads = 4;
  std::vector<std::unique_ptr<Database>> dbs(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      DatabaseOptions o;
      o.path = path;
      o.busy_timeout_ms = 60000;
      auto db = Database::open(o);
      if (db.ok())
        dbs[i] = std::move(db).value();
      else
        errors[i] = db.error().message;
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kThreads; ++i) {
    EXPECT_EQ(errors[i], "");
    if (dbs[i]) {
      EXPECT_EQ(dbs[i]->schema_version(), latest_schema_version());
    }
  }
  EXPECT_EQ(user_version(path), latest_schema_version());
}

}  // namespace
}  // namespace tokamak
