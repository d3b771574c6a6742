// The conversation tables (one migration in schema_migrations.cpp; never edit
// this text once committed: a change of schema is a new migration).
//
//   conversations 1──* messages (a tree: parent_id NULL for a root; an edit or
//   a regenerate is a sibling of what it replaces) 1──0..1 generation_records
//   (assistant messages: what made them and how fast)
//   messages_fts: FTS5 over messages.content (external content, kept in sync
//   by triggers; a message is indexed once it stops being 'partial', so the
//   appends of a streamed answer cost no index work).
//
// Values on disk are never renumbered: roles and statuses are text.
#pragma once

#include <string_view>

namespace tokamak {

inline constexpr std::string_view kConversationTablesSql = R"sql(
CREATE TABLE conversations (
  id             INTEGER PRIMARY KEY,
  title          TEXT NOT NULL,
  created_at     TEXT NOT NULL,                 -- ISO 8601 UTC with milliseconds
  updated_at     TEXT NOT NULL,                 -- last activity
  activity_seq   INTEGER NOT NULL,              -- strictly increasing with each activity
  current_leaf   INTEGER,                       -- messages.id of the branch shown; NULL: none
  system_prompt  TEXT NOT NULL DEFAULT '',
  template_name  TEXT NOT NULL DEFAULT '',      -- '' : the model's own template
  template_text  TEXT NOT NULL DEFAULT '',      -- a custom template's text
  sampling_json  TEXT NOT NULL DEFAULT '{}',    -- SamplingParams and max_tokens as JSON
  deleted_at     TEXT                           -- NULL: live; else soft-deleted (undo: restore)
);
CREATE INDEX conversations_activity ON conversations(activity_seq);

CREATE TABLE messages (
  id              INTEGER PRIMARY KEY,
  conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
  parent_id       INTEGER REFERENCES messages(id) ON DELETE CASCADE,
  role            TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
  content         TEXT NOT NULL DEFAULT '',
  status          TEXT NOT NULL DEFAULT 'complete'
                  CHECK (status IN ('complete', 'partial', 'interrupted', 'error')),
  created_at      TEXT NOT NULL,
  updated_at      TEXT NOT NULL
);
CREATE INDEX messages_children ON messages(conversation_id, parent_id, id);
CREATE INDEX messages_parent ON messages(parent_id);
CREATE INDEX messages_partial ON messages(status) WHERE status = 'partial';

CREATE TABLE generation_records (
  message_id                INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
  model_path                TEXT NOT NULL,
  model_size_bytes          INTEGER NOT NULL,
  model_header_sha256       TEXT NOT NULL,
  template_name             TEXT NOT NULL,
  template_sha256           TEXT NOT NULL,
  sampling_json             TEXT NOT NULL,
  seed                      TEXT NOT NULL,     -- decimal u64 (does not fit INTEGER above 2^63)
  engine_version            TEXT NOT NULL,
  device                    TEXT NOT NULL,
  num_prompt_tokens         INTEGER NOT NULL,
  num_cached_tokens         INTEGER NOT NULL,
  num_generated_tokens      INTEGER NOT NULL,
  ttft_ms                   REAL NOT NULL,
  prefill_tokens_per_second REAL NOT NULL,
  decode_tokens_per_second  REAL NOT NULL,
  e2e_ms                    REAL NOT NULL,
  finish_reason             TEXT NOT NULL,     -- eos | stop | length | cancelled | error | context
  error_message             TEXT NOT NULL DEFAULT ''
);

CREATE VIRTUAL TABLE messages_fts USING fts5(
  content, content = 'messages', content_rowid = 'id',
  tokenize = 'unicode61 remove_diacritics 2');
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN new.status <> 'partial' BEGIN
  INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN old.status <> 'partial' BEGIN
  INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, status ON messages BEGIN
  INSERT INTO messages_fts (messages_fts, rowid, content)
    SELECT 'delete', old.id, old.content WHERE old.status <> 'partial';
  INSERT INTO messages_fts (rowid, content)
    SELECT new.id, new.content WHERE new.status <> 'partial';
END;
)sql";

}  // namespace tokamak
