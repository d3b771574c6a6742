#include "runtime/token_text.h"

namespace tokamak {

TokenText::TokenText(const Tokenizer& tokenizer, std::vector<std::string> stops,
                     bool render_special)
    : decoder_(tokenizer, render_special), matcher_(std::move(stops)) {}

void TokenText::prime(std::span<const int32_t> history) {
  const size_t n = std::min(history.size(), kPrimeTokens);
  for (int32_t id : history.subspan(history.size() - n)) (void)decoder_.push(id);
}

std::string TokenText::push(int32_t id) {
  if (matcher_.stopped()) return {};
  return matcher_.push(decoder_.push(id));
}

std::string TokenText::finish() {
  if (matcher_.stopped()) return {};
  std::string text = matcher_.push(decoder_.flush());
  if (!matcher_.stopped()) text += matcher_.flush();
  return text;
}

}  // namespace tokamak
