// ConversationStore: generation records and full-text search (see
// conversation_store.h).
#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "store/conversation_store.h"
#include "store/store_sql.h"

namespace tokamak {
namespace {

using store_detail::store_error;

constexpr const char* kSaveRecord = R"sql(
INSERT OR REPLACE INTO generation_records (message_id, model_path, model_size_bytes,
  model_header_sha256, template_name, template_sha256, sampling_json, seed, engine_version, device,
  num_prompt_tokens, num_cached_tokens, num_generated_tokens, ttft_ms, prefill_tokens_per_second,
  decode_tokens_per_second, e2e_ms, finish_reason, error_message)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?))sql";

constexpr const char* kSelectRecord = R"sql(
SELECT model_path, model_size_bytes, model_header_sha256, template_name, template_sha256,
  sampling_json, seed, engine_version, device, num_prompt_tokens, num_cached_tokens,
  num_generated_tokens, ttft_ms, prefill_tokens_per_second, decode_tokens_per_second, e2e_ms,
  finish_reason, error_message
FROM generation_records WHERE message_id = ?)sql";

// bm25 rank, best first; soft-deleted conversations are left out.
constexpr const char* kSearch = R"sql(
SELECT m.conversation_id, c.title, m.id, m.role,
  CASE WHEN ?7 THEN highlight(messages_fts, 0, ?2, ?3)
       ELSE snippet(messages_fts, 0, ?2, ?3, ?4, ?5) END,
  messages_fts.rank
FROM messages_fts
JOIN messages m ON m.id = messages_fts.rowid
JOIN conversations c ON c.id = m.conversation_id
WHERE messages_fts MATCH ?1 AND c.deleted_at IS NULL
ORDER BY messages_fts.rank, m.id LIMIT ?6)sql";

uint64_t parse_seed(const std::string& text) {
  uint64_t v = 0;
  std::from_chars(text.data(), text.data() + text.size(), v);
  return v;
}

}  // namespace

// Words -> an FTS5 query: each word a quoted string (so punctuation and FTS
// operators in the text are plain text), all required, the last a prefix.
std::string fts_query_from_words(const std::string& text) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    size_t j = i;
    while (j < text.size() && !std::isspace(static_cast<unsigned char>(text[j]))) ++j;
    if (j == i) break;
    if (!out.empty()) out += ' ';
    out += '"';
    for (size_t k = i; k < j; ++k) {
      if (text[k] == '"') out += '"';
      out += text[k];
    }
    out += '"';
    i = j;
    if (i >= text.size() || text.find_first_not_of(" \t\r\n", i) == std::string::npos) out += '*';
  }
  return out;
}

Status ConversationStore::save_record(int64_t message_id, const GenerationRecord& r) {
  try {
    SQLite::Statement q(db_->sql(), kSaveRecord);
    int i = 1;
    q.bind(i++, message_id);
    q.bind(i++, r.model_path);
    q.bind(i++, r.model_size_bytes);
    for (const std::string* s :
         {&r.model_header_sha256, &r.template_name, &r.template_sha256, &r.sampling_json}) {
      q.bind(i++, *s);
    }
    q.bind(i++, std::to_string(r.seed));
    q.bind(i++, r.engine_version);
    q.bind(i++, r.device);
    for (int32_t n : {r.num_prompt_tokens, r.num_cached_tokens, r.num_generated_tokens}) {
      q.bind(i++, n);
    }
    for (double v :
         {r.ttft_ms, r.prefill_tokens_per_second, r.decode_tokens_per_second, r.e2e_ms}) {
      q.bind(i++, v);
    }
    q.bind(i++, r.finish_reason);
    q.bind(i++, r.error_message);
    q.exec();
    return {};
  } catch (const SQLite::Exception& e) {
    return store_error(*db_, "saving a generation record", e);
  }
}

Result<std::optional<GenerationRecord>> ConversationStore::record(int64_t message_id) {
  try {
    SQLite::Statement q(db_->sql(), kSelectRecord);
    q.bind(1, message_id);
    if (!q.executeStep()) return std::optional<GenerationRecord>();
    GenerationRecord r;
    int i = 0;
    r.model_path = q.getColumn(i++).getString();
    r.model_size_bytes = q.getColumn(i++).getInt64();
    for (std::string* s :
         {&r.model_header_sha256, &r.template_name, &r.template_sha256, &r.sampling_json}) {
      *s = q.getColumn(i++).getString();
    }
    r.seed = parse_seed(q.getColumn(i++).getString());
    r.engine_version = q.getColumn(i++).getString();
    r.device = q.getColumn(i++).getString();
    for (int32_t* n : {&r.num_prompt_tokens, &r.num_cached_tokens, &r.num_generated_tokens}) {
      *n = q.getColumn(i++).getInt();
    }
    for (double* v :
         {&r.ttft_ms, &r.prefill_tokens_per_second, &r.decode_tokens_per_second, &r.e2e_ms}) {
      *v = q.getColumn(i++).getDouble();
    }
    r.finish_reason = q.getColumn(i++).getString();
    r.error_message = q.getColumn(i++).getString();
    return std::optional<GenerationRecord>(std::move(r));
  } catch (const SQLite::Exception& e) {
    return store_error(*db_, "reading a generation record", e);
  }
}

Result<std::vector<SearchHit>> ConversationStore::search(const std::string& query,
                                                         const SearchOptions& options) {
  const std::string fts = options.raw_fts_query ? query : fts_query_from_words(query);
  if (fts.empty()) return std::vector<SearchHit>();
  try {
    SQLite::Statement q(db_->sql(), kSearch);
    q.bind(1, fts);
    q.bind(2, options.open_mark);
    q.bind(3, options.close_mark);
    q.bind(4, options.ellipsis);
    q.bind(5, std::clamp(options.snippet_tokens, 1, 64));
    q.bind(6, options.limit);
    q.bind(7, options.whole_text ? 1 : 0);
    std::vector<SearchHit> out;
    while (q.executeStep()) {
      SearchHit h;
      h.conversation_id = q.getColumn(0).getInt64();
      h.conversation_title = q.getColumn(1).getString();
      h.message_id = q.getColumn(2).getInt64();
      TK_ASSIGN(h.role, parse_role(q.getColumn(3).getString()));
      h.snippet = q.getColumn(4).getString();
      h.rank = q.getColumn(5).getDouble();
      out.push_back(std::move(h));
    }
    return out;
  } catch (const SQLite::Exception& e) {
    if (options.raw_fts_query && (e.getErrorCode() & 0xff) == SQLITE_ERROR) {
      return make_error(
          ErrorCode::InvalidArgument,
          fmt::format("search query '{}' is not valid FTS5 syntax: {}", query, e.what()));
    }
    return store_error(*db_, "searching messages", e);
  }
}

}  // namespace tokamak
