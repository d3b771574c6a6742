// Prompt variables: a library prompt is a Jinja template rendered by the
// engine's renderer (engine/template), with the values the user fills in.
//
//   prompt_variables("Summarise {{ text }} in {{ n | default(3) }} lines")
//     → ["text", "n"]
//   render_prompt(body, "summary", {"text": "...", "n": 2})
//
// The variables are the names the text reads but never sets (jinja2's
// meta.find_undeclared_variables, less the globals: range, namespace, dict,
// raise_exception, strftime_now, ...), in order of first use.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace tokamak {

// BadFormat "NAME:LINE:COLUMN: ..." when the text is not a valid template.
Result<std::vector<std::string>> prompt_variables(std::string_view body,
                                                  const std::string& name = "prompt");

// Renders `body` with `values` (a JSON object: strings, numbers, lists,
// objects). InvalidArgument naming the missing ones when a variable has no
// value (unless `allow_missing`: then it is undefined, and prints as "").
// Errors of the template itself: BadFormat located, or the text of
// raise_exception (InvalidRequest).
Result<std::string> render_prompt(std::string_view body, const std::string& name,
                                  const nlohmann::ordered_json& values, bool allow_missing = false);

}  // namespace tokamak
