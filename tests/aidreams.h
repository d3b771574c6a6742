// The real trained tiny llama of ../shared/data/models/aidreams260K and the
// ids greedy decoding from BOS must give (see that folder's README).
#pragma once

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace tokamak::test {

inline const std::string kAidreamsDir = std::string(TOKAMAK_SHARED_DATA) + "/models/aidreams260K/";
inline const std::string kAidreamsGguf = kAidreamsDir + "aidreams260K-llamacpp-f32.gguf";
inline constexpr int32_t kAidreamsBos = 1;
inline constexpr size_t kAidreamsNumGreedyIds = 127;

// The 127 ids of greedy_from_bos.txt (empty when the file cannot be read;
// callers assert the count).
inline std::vector<int32_t> aidreams_greedy_ids() {
  std::ifstream in(kAidreamsDir + "greedy_from_bos.txt");
  std::vector<int32_t> ids;
  for (int32_t id; in >> id;) ids.push_back(id);
  return ids;
}

}  // namespace tokamak::test
