// Prompt files: the library's import/export formats (docs/prompt-library.md).
//
// JSON (.json): any number of prompts with their whole history.
//
//   {
//     "format": "tokamak-prompts",
//     "format_version": 1,
//     "prompts": [
//       {
//         "name": "summary",
//         "created_at": "2026-11-21T10:00:00Z",
//         "versions": [
//           {"version": 1, "created_at": "2026-11-21T10:00:00Z",
//            "body": "Summarise {{ text }}", "notes": "", "tags": ["writing"],
//            "restored_from": null}
//         ]
//       }
//     ]
//   }
//
// Markdown (.md): one prompt, its latest version. Front matter between two
// "---" lines, one `key: value` per line; values are JSON (a string in
// double quotes, a list, a number) or, when written by hand, bare text
// (tags: a comma-separated list). The body is every byte after the closing
// "---" line, exactly (no newline is added or removed).
//
//   ---
//   name: "summary"
//   tags: ["writing"]
//   notes: "short, for e-mails"
//   version: 3
//   created_at: "2026-11-21T10:00:00Z"
//   prompt_created_at: "2026-11-20T09:00:00Z"
//   restored_from: 1
//   ---
//   Summarise {{ text }}
//
// name is required; tags, notes (default empty), version (default 1),
// created_at and prompt_created_at (default now, by the importer) and
// restored_from (default none) are optional. Both writers are exact inverses
// of their readers (UTF-8 passes through unescaped). Errors are BadFormat and
// name the file and where: "a.json:3:14: syntax error ...", "a.json:
// prompts[1].versions[0]: missing field 'body'", "a.md:4: front matter: ...".
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "store/prompt_library.h"

namespace tokamak {

std::string prompts_to_json(const std::vector<Prompt>& prompts);
// `file_name` only names the file in messages.
Result<std::vector<Prompt>> prompts_from_json(std::string_view text, const std::string& file_name);

// The prompt's latest version.
std::string prompt_to_markdown(const Prompt& prompt);
Result<Prompt> prompt_from_markdown(std::string_view text, const std::string& file_name);

// Reads a .json or .md file (by extension; anything else is refused).
Result<std::vector<Prompt>> read_prompt_file(const std::string& path);
// Writes prompts to a .json file, or one prompt to a .md file.
Status write_prompt_file(const std::string& path, const std::vector<Prompt>& prompts);

}  // namespace tokamak
