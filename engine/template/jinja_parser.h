// Jinja parser: tokens → syntax tree, with jinja2's operator precedence
// (filters and tests bind tighter than arithmetic; `~` between + and *).
// Statements: if/elif/else, for (with `if` filter and `else`), set (names,
// namespace attributes, blocks), macro, break/continue, generation.
#pragma once

#include <string_view>

#include "template/jinja_ast.h"

namespace tokamak::jinja {

struct ParseLimits {
  int max_nesting = 128;  // expressions and blocks nested deeper than this are refused
};

// Throws TemplateError (with location): "expected '%}' after 'endif'",
// "unknown filter 'foo'", "unclosed 'for' block ...".
Body parse_template(std::string_view source, const ParseLimits& limits = {});

}  // namespace tokamak::jinja
