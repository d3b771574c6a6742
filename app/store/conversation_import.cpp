#include "store/conversation_import.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_map>
#include <vector>

#include "store/conversation_export.h"
#include "store/store_sql.h"

namespace tokamak {
namespace {

using nlohmann::json;

struct ImportedMessage {
  int64_t file_id = 0;
  int64_t file_parent = 0;  // 0: a root
  MessageRole role = MessageRole::User;
  MessageStatus status = MessageStatus::Complete;
  std::string content;
  std::string created_at;
  std::string updated_at;
  std::optional<GenerationRecord> record;
};

struct Imported {
  std::string title;
  std::string created_at;
  std::string updated_at;
  int64_t file_leaf = 0;
  ConversationSettings settings;
  std::vector<ImportedMessage> messages;
};

Error bad_line(size_t line, const std::string& what) {
  return make_error(ErrorCode::BadFormat,
                    fmt::format("line {}: {}; nothing was imported", line, what));
}

// A JSON value of `key` in `j` as T, with a message naming the line and key.
class Fields {
 public:
  Fields(const json& j, size_t line) : j_(j), line_(line) {}

  Status string(const char* key, std::string& out, bool required = true) const {
    const json* v = find(key);
    if (!v) return required ? missing(key) : Status();
    if (!v->is_string()) return wrong(key, *v, "a string");
    out = v->get<std::string>();
    return {};
  }
  template <class T>
  Status number(const char* key, T& out) const {
    const json* v = find(key);
    if (!v) return missing(key);
    const bool ok = std::is_floating_point_v<T> ? v->is_number()
                    : std::is_unsigned_v<T>     ? v->is_number_unsigned()
                                                : v->is_number_integer();
    if (!ok) return wrong(key, *v, std::is_floating_point_v<T> ? "a number" : "an integer");
    out = v->get<T>();
    return {};
  }
  // An id or null (0).
  Status optional_id(const char* key, int64_t& out) const {
    const json* v = find(key);
    if (!v || v->is_null()) {
      out = 0;
      return {};
    }
    if (!v->is_number_integer() || v->get<int64_t>() <= 0) {
      return wrong(key, *v, "a positive integer or null");
    }
    out = v->get<int64_t>();
    return {};
  }
  // A JSON object or string stored as text.
  Status json_text(const char* key, std::string& out) const {
    const json* v = find(key);
    if (!v) return missing(key);
    if (!v->is_object() && !v->is_string()) return wrong(key, *v, "an object");
    out = v->is_string() ? v->get<std::string>() : v->dump();
    return {};
  }
  const json* find(const char* key) const {
    auto it = j_.find(key);
    return it == j_.end() ? nullptr : &*it;
  }
  size_t line() const { return line_; }

 private:
  Error missing(const char* key) const { return bad_line(line_, fmt::format("no \"{}\"", key)); }
  Error wrong(const char* key, const json& v, const char* expected) const {
    std::string shown = v.dump();
    if (shown.size() > 60) shown = shown.substr(0, 57) + "...";
    return bad_line(line_, fmt::format("\"{}\" is {}, expected {}", key, shown, expected));
  }
  const json& j_;
  size_t line_;
};

Status read_record(const json& j, size_t line, GenerationRecord& r) {
  const Fields f(j, line);
  for (auto [key, out] : {std::pair{"model_path", &r.model_path},
                          {"model_header_sha256", &r.model_header_sha256},
                          {"template_name", &r.template_name},
                          {"template_sha256", &r.template_sha256},
                          {"engine_version", &r.engine_version},
                          {"device", &r.device},
                          {"finish_reason", &r.finish_reason},
                          {"error_message", &r.error_message}}) {
    TK_TRY(f.string(key, *out));
  }
  TK_TRY(f.json_text("sampling", r.sampling_json));
  TK_TRY(f.number("model_size_bytes", r.model_size_bytes));
  TK_TRY(f.number("seed", r.seed));
  TK_TRY(f.number("num_prompt_tokens", r.num_prompt_tokens));
  TK_TRY(f.number("num_cached_tokens", r.num_cached_tokens));
  TK_TRY(f.number("num_generated_tokens", r.num_generated_tokens));
  TK_TRY(f.number("ttft_ms", r.ttft_ms));
  TK_TRY(f.number("prefill_tokens_per_second", r.prefill_tokens_per_second));
  TK_TRY(f.number("decode_tokens_per_second", r.decode_tokens_per_second));
  TK_TRY(f.number("e2e_ms", r.e2e_ms));
  return {};
}

Status read_header(const json& j, size_t line, Imported& out) {
  const Fields f(j, line);
  std::string type, format;
  TK_TRY(f.string("type", type));
  TK_TRY(f.string("format", format));
  if (type != "conversation" || format != kConversationFormat) {
    return bad_line(line, fmt::format("the first line must be the conversation (type "
                                      "\"conversation\", format \"{}\"), found type \"{}\", "
                                      "format \"{}\"",
                                      kConversationFormat, type, format));
  }
  int version = 0;
  TK_TRY(f.number("version", version));
  if (version < 1 || version > kConversationFormatVersion) {
    return bad_line(line, fmt::format("format version {} is not one this build reads (1..{})",
                                      version, kConversationFormatVersion));
  }
  TK_TRY(f.string("title", out.title));
  TK_TRY(f.string("created_at", out.created_at));
  TK_TRY(f.string("updated_at", out.updated_at));
  TK_TRY(f.optional_id("current_leaf", out.file_leaf));
  const json* settings = f.find("settings");
  if (!settings || !settings->is_object()) return bad_line(line, "no \"settings\" object");
  const Fields s(*settings, line);
  TK_TRY(s.string("system_prompt", out.settings.system_prompt));
  TK_TRY(s.string("template_name", out.settings.template_name));
  TK_TRY(s.string("template_text", out.settings.template_text));
  TK_TRY(s.json_text("sampling", out.settings.sampling_json));
  return {};
}

Status read_message(const json& j, size_t line, const std::unordered_map<int64_t, size_t>& seen,
                    ImportedMessage& m) {
  const Fields f(j, line);
  std::string type, role, status;
  TK_TRY(f.string("type", type));
  if (type != "message") {
    return bad_line(line, fmt::format("\"type\" is \"{}\", expected \"message\"", type));
  }
  TK_TRY(f.optional_id("id", m.file_id));
  if (m.file_id == 0) return bad_line(line, "no \"id\"");
  if (seen.count(m.file_id)) {
    return bad_line(line, fmt::format("message id {} appears twice (first on line {})", m.file_id,
                                      seen.at(m.file_id)));
  }
  TK_TRY(f.optional_id("parent", m.file_parent));
  if (m.file_parent != 0 && !seen.count(m.file_parent)) {
    return bad_line(
        line, fmt::format("\"parent\" is {}, which is not an earlier message's id", m.file_parent));
  }
  TK_TRY(f.string("role", role));
  TK_TRY(f.string("status", status));
  auto r = parse_role(role);
  if (!r.ok()) return bad_line(line, r.error().message);
  m.role = *r;
  auto s = parse_status(status);
  if (!s.ok()) return bad_line(line, s.error().message);
  m.status = *s == MessageStatus::Partial ? MessageStatus::Interrupted : *s;
  TK_TRY(f.string("content", m.content));
  TK_TRY(f.string("created_at", m.created_at));
  TK_TRY(f.string("updated_at", m.updated_at));
  const json* g = f.find("generation");
  if (g && !g->is_null()) {
    if (!g->is_object()) return bad_line(line, "\"generation\" is neither an object nor null");
    m.record.emplace();
    TK_TRY(read_record(*g, line, *m.record));
  }
  return {};
}

// Parses and checks every line; nothing touches the database.
Result<Imported> parse(std::string_view text) {
  Imported out;
  std::unordered_map<int64_t, size_t> seen;  // file id -> line
  bool have_header = false;
  size_t line = 0;
  for (size_t pos = 0; pos < text.size();) {
    const size_t end = std::min(text.find('\n', pos), text.size());
    const std::string_view raw = text.substr(pos, end - pos);
    pos = end + 1;
    ++line;
    if (raw.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    const json j = json::parse(raw, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return bad_line(line, "not valid JSON");
    if (!j.is_object()) return bad_line(line, "not a JSON object");
    if (!have_header) {
      TK_TRY(read_header(j, line, out));
      have_header = true;
      continue;
    }
    ImportedMessage m;
    TK_TRY(read_message(j, line, seen, m));
    seen[m.file_id] = line;
    out.messages.push_back(std::move(m));
  }
  if (!have_header) return bad_line(1, "the file is empty (no conversation line)");
  if (out.file_leaf != 0 && !seen.count(out.file_leaf)) {
    return bad_line(
        1, fmt::format("\"current_leaf\" is {}, which is no message of the file", out.file_leaf));
  }
  return out;
}

// Writes the parsed file; throws SQLite::Exception (the caller's transaction rolls back).
Result<int64_t> write(ConversationStore& store, const Imported& in) {
  SQLite::Database& db = store.database().sql();
  SQLite::Statement c(db, store_detail::kInsertConversation);
  int i = 1;
  for (const std::string* s :
       {&in.title, &in.created_at, &in.updated_at, &in.settings.system_prompt,
        &in.settings.template_name, &in.settings.template_text, &in.settings.sampling_json}) {
    c.bind(i++, *s);
  }
  c.exec();
  const int64_t conversation_id = db.getLastInsertRowid();
  std::unordered_map<int64_t, int64_t> new_id;  // file id -> database id
  SQLite::Statement q(db, store_detail::kInsertMessage);
  for (const ImportedMessage& m : in.messages) {
    q.reset();
    q.bind(1, conversation_id);
    q.bind(2, m.file_parent == 0 ? int64_t{0} : new_id.at(m.file_parent));
    q.bind(3, std::string(role_name(m.role)));
    q.bind(4, m.content);
    q.bind(5, std::string(status_name(m.status)));
    q.bind(6, m.created_at);
    q.bind(7, m.updated_at);
    q.exec();
    new_id[m.file_id] = db.getLastInsertRowid();
    if (m.record) TK_TRY(store.save_record(new_id[m.file_id], *m.record));
  }
  if (in.file_leaf != 0) {
    SQLite::Statement leaf(db, "UPDATE conversations SET current_leaf = ? WHERE id = ?");
    leaf.bind(1, new_id.at(in.file_leaf));
    leaf.bind(2, conversation_id);
    leaf.exec();
  }
  return conversation_id;
}

}  // namespace

Result<int64_t> import_conversation_jsonl(ConversationStore& store, std::string_view jsonl) {
  TK_ASSIGN(const Imported in, parse(jsonl));
  try {
    SQLite::Transaction tx(store.database().sql(), SQLite::TransactionBehavior::IMMEDIATE);
    TK_ASSIGN(const int64_t id, write(store, in));
    tx.commit();
    return id;
  } catch (const SQLite::Exception& e) {
    return store_detail::store_error(store.database(), "importing a conversation", e);
  }
}

}  // namespace tokamak
