#include "store/prompt_library.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "store/benchmark_store.h"
#include "store/utc_time.h"

namespace tokamak {
namespace {

using json = nlohmann::json;

constexpr size_t kMaxNameBytes = 200;

constexpr const char* kVersionColumns =
    "version, created_at, body, notes, tags_json, restored_from";

Error store_error(const Database& db, const std::string& doing, const SQLite::Exception& e) {
  return make_error(ErrorCode::IoError,
                    fmt::format("{}: {} failed: {}", db.path(), doing, e.what()));
}

Error no_prompt(std::string_view name) {
  return make_error(ErrorCode::NotFound, fmt::format("no prompt named '{}'", name));
}

std::string tags_to_json(const std::vector<std::string>& tags) { return json(tags).dump(); }

std::vector<std::string> tags_from_json(const std::string& text) {
  const json j = json::parse(text, nullptr, false);
  std::vector<std::string> tags;
  if (!j.is_array()) return tags;
  for (const json& t : j) {
    if (t.is_string()) tags.push_back(t.get<std::string>());
  }
  return tags;
}

PromptVersion read_version(SQLite::Statement& q, int first_column = 0) {
  PromptVersion v;
  int i = first_column;
  v.version = q.getColumn(i++).getInt();
  v.created_at = q.getColumn(i++).getString();
  v.content.body = q.getColumn(i++).getString();
  v.content.notes = q.getColumn(i++).getString();
  v.content.tags = tags_from_json(q.getColumn(i++).getString());
  v.restored_from = q.getColumn(i).isNull() ? 0 : q.getColumn(i).getInt();
  return v;
}

// The prompt's id, or 0 when there is none of that name.
int64_t find_id(SQLite::Database& db, std::string_view name) {
  SQLite::Statement q(db, "SELECT id FROM prompts WHERE name = ?");
  q.bind(1, std::string(name));
  return q.executeStep() ? q.getColumn(0).getInt64() : 0;
}

int32_t max_version(SQLite::Database& db, int64_t prompt_id) {
  SQLite::Statement q(db,
                      "SELECT coalesce(max(version), 0) FROM prompt_versions WHERE prompt_id = ?");
  q.bind(1, prompt_id);
  q.executeStep();
  return q.getColumn(0).getInt();
}

int64_t insert_prompt(SQLite::Database& db, std::string_view name, const std::string& created_at) {
  SQLite::Statement q(db, "INSERT INTO prompts (name, created_at) VALUES (?, ?)");
  q.bind(1, std::string(name));
  q.bind(2, created_at);
  q.exec();
  return db.getLastInsertRowid();
}

// Inserts a version and makes prompt_tags mirror the latest version's tags.
void insert_version(SQLite::Database& db, int64_t prompt_id, const PromptVersion& v) {
  SQLite::Statement q(db,
                      "INSERT INTO prompt_versions (prompt_id, version, created_at, body, notes, "
                      "tags_json, restored_from) VALUES (?, ?, ?, ?, ?, ?, ?)");
  q.bind(1, prompt_id);
  q.bind(2, v.version);
  q.bind(3, v.created_at);
  q.bind(4, v.content.body);
  q.bind(5, v.content.notes);
  q.bind(6, tags_to_json(v.content.tags));
  if (v.restored_from > 0) {
    q.bind(7, v.restored_from);
  } else {
    q.bind(7);
  }
  q.exec();
  if (v.version < max_version(db, prompt_id)) return;
  SQLite::Statement del(db, "DELETE FROM prompt_tags WHERE prompt_id = ?");
  del.bind(1, prompt_id);
  del.exec();
  SQLite::Statement add(db, "INSERT INTO prompt_tags (prompt_id, tag) VALUES (?, ?)");
  for (const std::string& tag : v.content.tags) {
    add.reset();
    add.bind(1, prompt_id);
    add.bind(2, tag);
    add.exec();
  }
}

std::vector<PromptVersion> load_versions(SQLite::Database& db, int64_t prompt_id) {
  SQLite::Statement q(db, fmt::format("SELECT {} FROM prompt_versions WHERE prompt_id = ? "
                                      "ORDER BY version",
                                      kVersionColumns));
  q.bind(1, prompt_id);
  std::vector<PromptVersion> out;
  while (q.executeStep()) out.push_back(read_version(q));
  return out;
}

std::string ascii_lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

// A prompt read from a file, checked before anything is written.
Status check_imported(const Prompt& p) {
  TK_TRY(check_prompt_name(p.name));
  if (p.versions.empty()) {
    return make_error(ErrorCode::InvalidArgument,
                      fmt::format("prompt '{}' has no versions", p.name));
  }
  int32_t last = 0;
  for (const PromptVersion& v : p.versions) {
    if (v.version <= last) {
      return make_error(ErrorCode::InvalidArgument,
                        fmt::format("prompt '{}': version {} follows version {} (versions must "
                                    "increase)",
                                    p.name, v.version, last));
    }
    if (v.restored_from < 0 || v.restored_from >= v.version) {
      return make_error(ErrorCode::InvalidArgument,
                        fmt::format("prompt '{}' version {}: restored_from {} is not an "
                                    "earlier version",
                                    p.name, v.version, v.restored_from));
    }
    last = v.version;
    TK_ASSIGN(std::vector<std::string> tags, normalize_tags(v.content.tags));
    if (tags != v.content.tags) {
      return make_error(ErrorCode::InvalidArgument,
                        fmt::format("prompt '{}' version {}: tags must be trimmed, sorted and "
                                    "unique",
                                    p.name, v.version));
    }
  }
  return {};
}

}  // namespace

Status check_prompt_name(std::string_view name) {
  if (name.empty()) return make_error(ErrorCode::InvalidArgument, "a prompt name is empty");
  if (name.size() > kMaxNameBytes) {
    return make_error(ErrorCode::InvalidArgument,
                      fmt::format("prompt name '{}...' is {} bytes long, at most {} are allowed",
                                  name.substr(0, 40), name.size(), kMaxNameBytes));
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) {
      return make_error(ErrorCode::InvalidArgument,
                        fmt::format("prompt name '{}' contains a control character", name));
    }
  }
  if (name.front() == ' ' || name.back() == ' ') {
    return make_error(ErrorCode::InvalidArgument,
                      fmt::format("prompt name '{}' starts or ends with a space", name));
  }
  return {};
}

Result<std::vector<std::string>> normalize_tags(const std::vector<std::string>& tags) {
  std::set<std::string> out;
  for (const std::string& raw : tags) {
    const size_t b = raw.find_first_not_of(" \t");
    const size_t e = raw.find_last_not_of(" \t");
    const std::string tag = b == std::string::npos ? "" : raw.substr(b, e - b + 1);
    if (tag.empty()) return make_error(ErrorCode::InvalidArgument, "a tag is empty");
    for (unsigned char c : tag) {
      if (c < 0x20 || c == 0x7f || c == ',') {
        return make_error(ErrorCode::InvalidArgument,
                          fmt::format("tag '{}' contains a comma or a control character", tag));
      }
    }
    out.insert(tag);
  }
  return std::vector<std::string>(out.begin(), out.end());
}

PromptLibrary::PromptLibrary(Database& db, std::function<std::string()> clock)
    : db_(db), clock_(clock ? std::move(clock) : std::function<std::string()>(utc_timestamp_now)) {}

Result<Prompt> PromptLibrary::save(std::string_view name, const PromptContent& content) {
  TK_TRY(check_prompt_name(name));
  TK_ASSIGN(std::vector<std::string> tags, normalize_tags(content.tags));
  SQLite::Database& db = db_.sql();
  try {
    SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
    Prompt p;
    p.name = std::string(name);
    PromptVersion v;
    v.created_at = clock_();
    v.content = content;
    v.content.tags = std::move(tags);
    p.id = find_id(db, name);
    if (p.id == 0) {
      p.id = insert_prompt(db, name, v.created_at);
      p.created_at = v.created_at;
      v.version = 1;
    } else {
      SQLite::Statement q(db, "SELECT created_at FROM prompts WHERE id = ?");
      q.bind(1, p.id);
      q.executeStep();
      p.created_at = q.getColumn(0).getString();
      v.version = max_version(db, p.id) + 1;
    }
    insert_version(db, p.id, v);
    tx.commit();
    p.versions.push_back(std::move(v));
    return p;
  } catch (const SQLite::Exception& e) {
    return store_error(db_, fmt::format("saving prompt '{}'", name), e);
  }
}

Result<Prompt> PromptLibrary::load(std::string_view name) {
  SQLite::Database& db = db_.sql();
  try {
    SQLite::Transaction tx(db);  // one consistent read
    SQLite::Statement q(db, "SELECT id, created_at FROM prompts WHERE name = ?");
    q.bind(1, std::string(name));
    if (!q.executeStep()) return no_prompt(name);
    Prompt p;
    p.id = q.getColumn(0).getInt64();
    p.name = std::string(name);
    p.created_at = q.getColumn(1).getString();
    p.versions = load_versions(db, p.id);
    tx.commit();
    return p;
  } catch (const SQLite::Exception& e) {
    return store_error(db_, fmt::format("reading prompt '{}'", name), e);
  }
}

Result<PromptVersion> PromptLibrary::load_version(std::string_view name, int32_t version) {
  SQLite::Database& db = db_.sql();
  try {
    const int64_t id = find_id(db, name);
    if (id == 0) return no_prompt(name);
    SQLite::Statement q(db, fmt::format("SELECT {} FROM prompt_versions WHERE prompt_id = ? AND "
                                        "version = ?",
                                        kVersionColumns));
    q.bind(1, id);
    q.bind(2, version);
    if (!q.executeStep()) {
      return make_error(ErrorCode::NotFound,
                        fmt::format("prompt '{}' has no version {} (it has versions 1 to {})", name,
                                    version, max_version(db, id)));
    }
    return read_version(q);
  } catch (const SQLite::Exception& e) {
    return store_error(db_, fmt::format("reading prompt '{}'", name), e);
  }
}

Result<PromptVersion> PromptLibrary::restore(std::string_view name, int32_t version) {
  SQLite::Database& db = db_.sql();
  try {
    SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
    TK_ASSIGN(PromptVersion v, load_version(name, version));
    const int64_t id = find_id(db, name);
    v.restored_from = v.version;
    v.version = max_version(db, id) + 1;
    v.created_at = clock_();
    insert_version(db, id, v);
    tx.commit();
    return v;
  } catch (const SQLite::Exception& e) {
    return store_error(db_, fmt::format("restoring prompt '{}'", name), e);
  }
}

Status PromptLibrary::rename(std::string_view from, std::string_view to) {
  TK_TRY(check_prompt_name(to));
  SQLite::Database& db = db_.sql();
  try {
    SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
    const int64_t id = find_id(db, from);
    if (id == 0) return no_prompt(from);
    if (from == to) return {};
    if (find_id(db, to) != 0) {
      return make_error(
          ErrorCode::InvalidArgument,
          fmt::format("cannot rename '{}' to '{}': a prompt of that name exists", from, to));
    }
    SQLite::Statement q(db, "UPDATE prompts SET name = ? WHERE id = ?");
    q.bind(1, std::string(to));
    q.bind(2, id);
    q.exec();
    tx.commit();
    return {};
  } catch (const SQLite::Exception& e) {
    return store_error(db_, fmt::format("renaming prompt '{}'", from), e);
  }
}

Status PromptLibrary::remove(std::string_view name) {
  SQLite::Database& db = db_.sql();
  try {
    SQLite::Statement q(db, "DELETE FROM prompts WHERE name = ?");
    q.bind(1, std::string(name));
    if (q.exec() == 0) return no_prompt(name);
    return {};
  } catch (const SQLite::Exception& e) {
    return store_error(db_, fmt::format("deleting prompt '{}'", name), e);
  }
}

Result<std::vector<Prompt>> PromptLibrary::list(const PromptQuery& query) {
  SQLite::Database& db = db_.sql();
  try {
    SQLite::Transaction tx(db);
    SQLite::Statement q(
        db, std::string("SELECT p.id, p.name, p.created_at, v.version, v.created_at, "
                        "v.body, v.notes, v.tags_json, v.restored_from FROM prompts p "
                        "JOIN prompt_versions v ON v.prompt_id = p.id AND v.version = "
                        "(SELECT max(version) FROM prompt_versions WHERE prompt_id = p.id) "
                        "WHERE (?1 = '' OR EXISTS (SELECT 1 FROM prompt_tags t WHERE "
                        "t.prompt_id = p.id AND t.tag = ?1)) ORDER BY p.name"));
    q.bind(1, query.tag);
    const std::string needle = ascii_lower(query.name_contains);
    std::vector<Prompt> out;
    while (q.executeStep()) {
      Prompt p;
      p.id = q.getColumn(0).getInt64();
      p.name = q.getColumn(1).getString();
      if (ascii_lower(p.name).find(needle) == std::string::npos) continue;
      p.created_at = q.getColumn(2).getString();
      p.versions.push_back(read_version(q, 3));
      out.push_back(std::move(p));
    }
    tx.commit();
    return out;
  } catch (const SQLite::Exception& e) {
    return store_error(db_, "listing prompts", e);
  }
}

Result<std::vector<Prompt>> PromptLibrary::export_prompts(const std::vector<std::string>& names) {
  std::vector<std::string> wanted = names;
  if (wanted.empty()) {
    TK_ASSIGN(std::vector<Prompt> all, list());
    for (const Prompt& p : all) wanted.push_back(p.name);
  }
  std::vector<Prompt> out;
  for (const std::string& name : wanted) {
    TK_ASSIGN(Prompt p, load(name));
    p.id = 0;
    out.push_back(std::move(p));
  }
  return out;
}

Result<ImportReport> PromptLibrary::import_prompts(const std::vector<Prompt>& prompts,
                                                   DuplicatePolicy policy) {
  std::set<std::string> seen;
  for (const Prompt& p : prompts) {
    TK_TRY(check_imported(p));
    if (!seen.insert(p.name).second) {
      return make_error(ErrorCode::InvalidArgument,
                        fmt::format("prompt '{}' appears twice in the file", p.name));
    }
  }
  SQLite::Database& db = db_.sql();
  try {
    SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
    ImportReport report;
    for (const Prompt& p : prompts) {
      int64_t id = find_id(db, p.name);
      if (id == 0) {
        // Markdown files may leave out the timestamps: now.
        const std::string now = clock_();
        const std::string& first = p.versions.front().created_at;
        id = insert_prompt(db, p.name,
                           !p.created_at.empty() ? p.created_at
                           : !first.empty()      ? first
                                                 : now);
        for (PromptVersion v : p.versions) {
          if (v.created_at.empty()) v.created_at = now;
          insert_version(db, id, v);
        }
        report.created.push_back(p.name);
      } else if (policy == DuplicatePolicy::Fail) {
        return make_error(ErrorCode::InvalidArgument,
                          fmt::format("prompt '{}' already exists in the library (nothing was "
                                      "imported; choose to skip it or to add its versions)",
                                      p.name));
      } else if (policy == DuplicatePolicy::Skip) {
        report.skipped.push_back(p.name);
      } else {
        const int32_t base = max_version(db, id);
        const std::string now = clock_();
        for (const PromptVersion& v : p.versions) {
          PromptVersion added = v;
          added.version = base + v.version;
          added.restored_from = v.restored_from > 0 ? base + v.restored_from : 0;
          added.created_at = now;
          insert_version(db, id, added);
        }
        report.updated.push_back(p.name);
      }
    }
    tx.commit();
    return report;
  } catch (const SQLite::Exception& e) {
    return store_error(db_, "importing prompts", e);
  }
}

}  // namespace tokamak
