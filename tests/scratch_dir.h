// Scratch folders for tests. ctest runs every test case as its own process,
// several at a time, so a fixed path under TOKAMAK_TEST_TMP would be shared by
// concurrent processes. scratch_dir() gives each process its own folder
// (TOKAMAK_TEST_TMP/p<pid>/<name>), removed when the process exits.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>

namespace tokamak::test {

inline std::string scratch_dir(const std::string& name) {
  struct Root {
    std::filesystem::path path =
        std::filesystem::path(TOKAMAK_TEST_TMP) / ("p" + std::to_string(::getpid()));
    ~Root() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  };
  static Root root;
  const std::filesystem::path dir = root.path / name;
  std::filesystem::create_directories(dir);
  return dir.string();
}

}  // namespace tokamak::test
