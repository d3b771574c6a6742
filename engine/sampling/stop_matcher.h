// StopMatcher: holds streamed text back while it may still turn into a stop
// string, so that a stop string is never shown, even when it arrives split
// across several tokens.
//
//   stops {"\nUser:"}      push("Hi")   -> "Hi"
//                          push("!\nUs") -> "!"   ("\nUs" held: may become "\nUser:")
//                          push("er: x") -> ""    stopped (text before the stop: "")
//
// After a match, stopped() is true and later pushes return "".
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tokamak {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops = {});

  // Appends text; returns the part that can be shown now. On a match the
  // returned text ends right before the (earliest) stop string.
  std::string push(std::string_view text);
  // End of the stream: returns whatever is held back (no match happened).
  std::string flush();

  bool stopped() const { return stopped_; }
  // The stop string that matched ("" when none).
  const std::string& matched() const { return matched_; }
  // Bytes currently held back.
  size_t num_held_bytes() const { return held_.size(); }

 private:
  std::vector<std::string> stops_;  // non-empty strings only
  std::string held_;
  std::string matched_;
  bool stopped_ = false;
};

}  // namespace tokamak
