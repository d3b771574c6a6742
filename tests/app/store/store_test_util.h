// Helpers for the store tests: databases at any earlier schema version, made
// by the real migrations 1..v (so "from every earlier version" tests the
// same code the app runs), and byte-exact snapshots of files.
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "scratch_dir.h"
#include "store/database.h"

namespace tokamak::test {

// A database file at `path` with the app's schema at `version` (0: an empty
// SQLite file; the file must not exist yet).
inline void make_database_at_version(const std::string& path, int32_t version) {
  if (version == 0) {
    SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec("PRAGMA user_version = 0");
    return;
  }
  DatabaseOptions o;
  o.path = path;
  auto db = Database::open(o, schema_migrations().first(version));
  ASSERT_TRUE(db.ok()) << db.error().message;
  ASSERT_EQ((*db)->schema_version(), version);
}

// scratch_dir(name), emptied (so that --gtest_repeat starts each time afresh).
inline std::string fresh_dir(const std::string& name) {
  const std::string dir = scratch_dir(name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Names of the files in `dir` (to see that no backup or journal appeared).
inline std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

inline int32_t user_version(const std::string& path) {
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  return db.execAndGet("PRAGMA user_version").getInt();
}

}  // namespace tokamak::test
