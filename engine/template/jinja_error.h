// The one exception type of the Jinja renderer. It never leaves
// engine/template: ChatTemplate::parse and ::render catch it and return a
// Result whose message is "NAME:LINE:COLUMN: what went wrong".
#pragma once

#include <string>
#include <utility>

namespace tokamak::jinja {

struct TemplateError {
  std::string message;
  int line = 0;  // 0: where the interpreter currently is
  int column = 0;
  bool raised = false;  // raise_exception() in the template: `message` is its text
};

[[noreturn]] inline void fail(std::string message, int line = 0, int column = 0) {
  throw TemplateError{std::move(message), line, column, false};
}

}  // namespace tokamak::jinja
