// PromptLibrary: reusable prompts in the app's database (tables of migration
// 2, schema_migrations.cpp). A prompt has a unique name and a history of
// versions; each holds the Jinja text (with {{ variables }}, see
// prompt_render.h), notes and tags as saved.
//
//   save("summary", v1 content)   → version 1
//   save("summary", v2 content)   → version 2
//   restore("summary", 1)         → version 3, a copy of 1 (restored_from = 1)
//
// Version numbers only grow (a restore never rewrites history); every write
// is one transaction. Names are 1..200 bytes of UTF-8 without control
// characters or leading/trailing spaces; tags are stored trimmed, sorted and
// without duplicates. Errors: NotFound (unknown prompt or version),
// InvalidArgument (bad name or tag, a name already taken), IoError (SQLite).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "store/database.h"

namespace tokamak {

// What the user edits: one save.
struct PromptContent {
  std::string body;  // Jinja text
  std::string notes;
  std::vector<std::string> tags;

  bool operator==(const PromptContent&) const = default;
};

struct PromptVersion {
  int32_t version = 0;     // 1, 2, ... within its prompt
  std::string created_at;  // ISO 8601 UTC
  PromptContent content;
  int32_t restored_from = 0;  // the version a restore copied; 0: an ordinary save

  bool operator==(const PromptVersion&) const = default;
};

struct Prompt {
  int64_t id = 0;  // 0 for prompts read from files
  std::string name;
  std::string created_at;               // when version 1 was saved
  std::vector<PromptVersion> versions;  // oldest first; list() gives only the latest

  const PromptVersion& latest() const { return versions.back(); }
};

struct PromptQuery {
  std::string name_contains;  // case-insensitive (ASCII) substring; "" matches all
  std::string tag;            // exact tag; "" matches all
};

// What import does with a prompt whose name the library already has.
enum class DuplicatePolicy {
  Fail,         // refuse the whole file (default)
  Skip,         // keep the library's prompt, import the others
  AddVersions,  // append the file's versions after the library's (renumbered, dated now)
};

struct ImportReport {
  std::vector<std::string> created;  // new prompts
  std::vector<std::string> updated;  // AddVersions
  std::vector<std::string> skipped;  // Skip
};

class PromptLibrary {
 public:
  // `clock` gives the timestamps of new versions (tests pin it).
  explicit PromptLibrary(Database& db, std::function<std::string()> clock = {});

  // A new prompt (version 1) or a new version of an existing one. Returns
  // the prompt with its new version as the only entry of `versions`.
  Result<Prompt> save(std::string_view name, const PromptContent& content);
  // The prompt with its whole history.
  Result<Prompt> load(std::string_view name);
  Result<PromptVersion> load_version(std::string_view name, int32_t version);
  // A new version with the content of `version`.
  Result<PromptVersion> restore(std::string_view name, int32_t version);
  Status rename(std::string_view from, std::string_view to);
  Status remove(std::string_view name);
  // Matching prompts by name, each with its latest version only.
  Result<std::vector<Prompt>> list(const PromptQuery& query = {});

  // All prompts (or those named), each with its whole history, by name.
  Result<std::vector<Prompt>> export_prompts(const std::vector<std::string>& names = {});
  // Adds prompts read from a file (prompt_files.h) in one transaction: on any
  // error nothing is written. New prompts keep their version numbers and
  // timestamps, so export → import → export gives the same file.
  Result<ImportReport> import_prompts(const std::vector<Prompt>& prompts,
                                      DuplicatePolicy policy = DuplicatePolicy::Fail);

 private:
  Database& db_;
  std::function<std::string()> clock_;
};

// Checks a prompt name ("prompt name '' is empty", ...): InvalidArgument.
Status check_prompt_name(std::string_view name);
// Trimmed, sorted, unique tags; InvalidArgument for an empty one or one with
// a comma or a control character.
Result<std::vector<std::string>> normalize_tags(const std::vector<std::string>& tags);

}  // namespace tokamak
