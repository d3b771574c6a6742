// Token text -> id look-up over a Vocab's token strings (the views point into
// the Vocab, which must outlive the index and stay unchanged).
#pragma once

#include <cstdint>
#include <string_view>
#include <unordered_map>

#include "tokenizer/vocab.h"

namespace tokamak {

class TokenIndex {
 public:
  explicit TokenIndex(const Vocab& vocab) {
    map_.reserve(vocab.tokens.size());
    // The first of duplicate texts wins.
    for (int32_t id = 0; id < vocab.size(); ++id) map_.emplace(vocab.tokens[id], id);
  }
  int32_t find(std::string_view text) const {
    auto it = map_.find(text);
    return it == map_.end() ? -1 : it->second;
  }

 private:
  std::unordered_map<std::string_view, int32_t> map_;
};

}  // namespace tokamak
