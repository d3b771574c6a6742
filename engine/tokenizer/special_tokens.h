// Finds the text of control, user-defined and unknown tokens inside the text
// to encode, as llama.cpp's tokenizer_st_partition does: longest token text
// first, every occurrence in every still-unsplit stretch of text.
// User-defined tokens are always recognised (they are part of the ordinary
// vocabulary, as in llama.cpp and Hugging Face tokenizers); control and
// unknown tokens only when parse_special is set.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/vocab.h"

namespace tokamak {

struct Fragment {
  int32_t token = -1;     // >= 0: a recognised special token
  std::string_view text;  // token < 0: raw text still to be tokenized
};

class SpecialTokens {
 public:
  explicit SpecialTokens(const Vocab& vocab);

  // Splits text into raw stretches and special tokens, in order. The views
  // point into text.
  std::vector<Fragment> partition(std::string_view text, bool parse_special) const;

 private:
  struct Entry {
    std::string_view text;  // into the vocab's token strings
    int32_t id;
    bool needs_parse_special;  // control / unknown
  };
  std::vector<Entry> entries_;  // longest text first
  bool any_user_defined_ = false;
};

}  // namespace tokamak
