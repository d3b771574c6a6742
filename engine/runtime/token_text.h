// TokenText: the text a client sees of one sequence's generated ids —
// detokenized incrementally (StreamDecoder: whole UTF-8 characters only) and
// with stop strings held back (StopMatcher), so that a stop string is never
// shown even when it arrives split across several tokens.
//
//   TokenText t(tokenizer, {"\n\n"});
//   t.prime(last prompt ids);     // the first new id decodes as a continuation
//   text = t.push(id);            // per generated id; stopped() after a match
//   text += t.finish();           // end of the stream: the held-back rest
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "sampling/stop_matcher.h"
#include "tokenizer/tokenizer.h"

namespace tokamak {

class TokenText {
 public:
  // How many ids of the history prime() looks at.
  static constexpr size_t kPrimeTokens = 16;

  TokenText(const Tokenizer& tokenizer, std::vector<std::string> stops,
            bool render_special = false);

  // Feeds the last kPrimeTokens of `history` to the decoder, discarding
  // their text, so that a generated id continues it (no SPM word-start space
  // dropped).
  void prime(std::span<const int32_t> history);
  // Text released by one more id ("" while held back, and after a stop).
  std::string push(int32_t id);
  // End of the stream: what is still held back, unless it completes a stop
  // string (then stopped() turns true and only the text before it comes out).
  std::string finish();
  bool stopped() const { return matcher_.stopped(); }

 private:
  StreamDecoder decoder_;
  StopMatcher matcher_;
};

}  // namespace tokamak
