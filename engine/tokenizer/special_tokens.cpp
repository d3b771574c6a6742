#include "tokenizer/special_tokens.h"

#include <algorithm>
#include <list>

namespace tokamak {

SpecialTokens::SpecialTokens(const Vocab& vocab) {
  for (int32_t id = 0; id < vocab.size(); ++id) {
    const TokenType type = vocab.types[id];
    const std::string& text = vocab.tokens[id];
    if (text.empty()) continue;
    if (type == TokenType::UserDefined) {
      entries_.push_back({text, id, false});
      any_user_defined_ = true;
    } else if (type == TokenType::Control || type == TokenType::Unknown) {
      entries_.push_back({text, id, true});
    }
  }
  std::stable_sort(entries_.begin(), entries_.end(),
                   [](const Entry& a, const Entry& b) { return a.text.size() > b.text.size(); });
}

std::vector<Fragment> SpecialTokens::partition(std::string_view text, bool parse_special) const {
  std::list<Fragment> fragments;
  if (!text.empty()) fragments.push_back({-1, text});
  if (parse_special || any_user_defined_) {
    for (const Entry& entry : entries_) {
      if (entry.needs_parse_special && !parse_special) continue;
      for (auto it = fragments.begin(); it != fragments.end(); ++it) {
        if (it->token >= 0) continue;
        // Split this raw stretch at every occurrence of the token text.
        std::string_view raw = it->text;
        size_t pos = raw.find(entry.text);
        if (pos == std::string_view::npos) continue;
        auto insert_at = std::next(it);
        while (pos != std::string_view::npos) {
          if (pos > 0) fragments.insert(insert_at, {-1, raw.substr(0, pos)});
          fragments.insert(insert_at, {entry.id, raw.substr(pos, entry.text.size())});
          raw.remove_prefix(pos + entry.text.size());
          pos = raw.find(entry.text);
        }
        if (!raw.empty()) fragments.insert(insert_at, {-1, raw});
        it = std::prev(fragments.erase(it));
      }
    }
  }
  return {fragments.begin(), fragments.end()};
}

}  // namespace tokamak
