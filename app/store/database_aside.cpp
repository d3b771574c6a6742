#include "store/database_aside.h"

#include <fmt/format.h>

#include <array>
#include <filesystem>
#include <vector>

#include "store/utc_time.h"

namespace tokamak {
namespace {

namespace fs = std::filesystem;

// SQLite's side files of a database, by suffix.
constexpr std::array<std::string_view, 3> kJournalSuffixes = {"-wal", "-shm", "-journal"};

// A name nothing uses yet, neither as a main file nor as a journal.
std::string free_aside_name(const std::string& path, std::string_view reason) {
  const std::string base = fmt::format("{}.{}-{}", path, reason, utc_stamp_now());
  // A name that cannot be checked (permissions) counts as taken.
  auto exists = [](const std::string& name) {
    std::error_code ec;
    return fs::exists(name, ec) || ec;
  };
  auto taken = [&](const std::string& name) {
    if (exists(name)) return true;
    for (std::string_view s : kJournalSuffixes)
      if (exists(name + std::string(s))) return true;
    return false;
  };
  std::string candidate = base;
  for (int k = 2; taken(candidate); ++k) candidate = fmt::format("{}.{}", base, k);
  return candidate;
}

}  // namespace

Result<std::string> move_database_aside(const std::string& path, std::string_view reason) {
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    return make_error(ErrorCode::NotFound, fmt::format("{}: no such database to move aside", path));
  }
  const std::string aside = free_aside_name(path, reason);
  // (from, to) of each rename done so far, to undo them on a failure.
  std::vector<std::pair<std::string, std::string>> done;
  auto rename = [&](const std::string& from, const std::string& to) {
    fs::rename(from, to, ec);
    if (ec) return false;
    done.emplace_back(from, to);
    return true;
  };
  bool ok = rename(path, aside);
  for (std::string_view s : kJournalSuffixes) {
    const std::string from = path + std::string(s);
    if (ok && fs::exists(from)) ok = rename(from, aside + std::string(s));
  }
  if (!ok) {
    const std::string why = ec.message();
    for (auto it = done.rbegin(); it != done.rend(); ++it) {
      std::error_code undo;
      fs::rename(it->second, it->first, undo);
    }
    return make_error(ErrorCode::IoError,
                      fmt::format("{}: cannot move the database aside to {}: {}; it was left "
                                  "where it was",
                                  path, aside, why));
  }
  return aside;
}

}  // namespace tokamak
