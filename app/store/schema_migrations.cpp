// The app's schema as an ordered list of forward migrations (see database.h).
// Append only: never edit, reorder or renumber a migration once committed.
#include <array>

#include "store/conversation_schema.h"
#include "store/database.h"

namespace tokamak {
namespace {

// 1: benchmark runs. A session is one `tokamak-cli bench serve` command (one
// model, device and machine); each of its runs is one point of the sweep
// (policy x workload x concurrency x batch size). The headline figures are
// columns for dashboards; result_json holds the whole run.
constexpr const char* kBenchmarkTables = R"sql(
CREATE TABLE bench_sessions (
  id             INTEGER PRIMARY KEY,
  created_at     TEXT NOT NULL,               -- ISO 8601 UTC
  kind           TEXT NOT NULL,               -- 'serve'
  model          TEXT NOT NULL,               -- as given: path, demo or synth:PRESET[:TYPE]
  model_path     TEXT NOT NULL,
  device         TEXT NOT NULL,               -- 'cpu' | 'cuda'
  engine_version TEXT NOT NULL,
  git_commit     TEXT NOT NULL DEFAULT '',
  cpu_model      TEXT NOT NULL DEFAULT '',
  gpu_name       TEXT NOT NULL DEFAULT '',
  config_json    TEXT NOT NULL                -- the command's whole configuration
);
CREATE TABLE bench_runs (
  id                       INTEGER PRIMARY KEY,
  session_id               INTEGER NOT NULL REFERENCES bench_sessions(id) ON DELETE CASCADE,
  position                 INTEGER NOT NULL,  -- 0, 1, ... in the order run
  policy                   TEXT NOT NULL,
  workload                 TEXT NOT NULL,
  concurrency              INTEGER NOT NULL,  -- closed-loop clients; 0 for open loop
  rate                     REAL NOT NULL,     -- open-loop requests/s; 0 for closed loop
  batch_size               INTEGER NOT NULL,
  max_sequences            INTEGER NOT NULL,
  num_requests             INTEGER NOT NULL,
  num_errors               INTEGER NOT NULL,
  duration_s               REAL NOT NULL,
  requests_per_second      REAL NOT NULL,
  output_tokens_per_second REAL NOT NULL,
  total_tokens_per_second  REAL NOT NULL,
  ttft_p50_ms              REAL NOT NULL,
  ttft_p99_ms              REAL NOT NULL,
  tpot_p50_ms              REAL NOT NULL,
  itl_p50_ms               REAL NOT NULL,
  e2e_p50_ms               REAL NOT NULL,
  e2e_p99_ms               REAL NOT NULL,
  kv_waste_percent         REAL NOT NULL,
  peak_running             INTEGER NOT NULL,
  mean_running             REAL NOT NULL,
  result_json              TEXT NOT NULL,     -- the run as in --json-out
  UNIQUE (session_id, position)
);
CREATE INDEX bench_sessions_created ON bench_sessions(created_at);
)sql";

// 2: the prompt library. A prompt is a name; each save adds a version (1, 2,
// ... per prompt, never reused) holding the text, notes and tags as saved. A
// restore is a new version that copies an older one (restored_from). The
// latest version's tags are mirrored in prompt_tags for searching by tag.
constexpr const char* kPromptTables = R"sql(
CREATE TABLE prompts (
  id         INTEGER PRIMARY KEY,
  name       TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL                    -- ISO 8601 UTC
);
CREATE TABLE prompt_versions (
  id            INTEGER PRIMARY KEY,
  prompt_id     INTEGER NOT NULL REFERENCES prompts(id) ON DELETE CASCADE,
  version       INTEGER NOT NULL,             -- 1, 2, ... per prompt
  created_at    TEXT NOT NULL,                -- ISO 8601 UTC
  body          TEXT NOT NULL,                -- Jinja text with {{ variables }}
  notes         TEXT NOT NULL DEFAULT '',
  tags_json     TEXT NOT NULL DEFAULT '[]',   -- sorted list of strings
  restored_from INTEGER,                      -- the version a restore copied
  UNIQUE (prompt_id, version)
);
CREATE TABLE prompt_tags (
  prompt_id INTEGER NOT NULL REFERENCES prompts(id) ON DELETE CASCADE,
  tag       TEXT NOT NULL,
  PRIMARY KEY (prompt_id, tag)
);
CREATE INDEX prompt_tags_tag ON prompt_tags(tag);
)sql";

// 3: conversations, their message trees, generation records and the FTS5
// index over message text (the SQL: conversation_schema.h).

// 4: the energy of a benchmark run, from the GPU's telemetry (NVML); NULL
// when it was not measured (the CPU backend, no NVIDIA driver, runs saved
// before this version). The run's timeline is in result_json.
constexpr const char* kBenchEnergyColumns = R"sql(
ALTER TABLE bench_runs ADD COLUMN gpu_energy_j REAL;
ALTER TABLE bench_runs ADD COLUMN joules_per_output_token REAL;
)sql";

constexpr std::array kMigrations = {
    Migration{1, "benchmark tables", kBenchmarkTables},
    Migration{2, "prompt library", kPromptTables},
    Migration{3, "conversations, messages, generation records, search", kConversationTablesSql},
    Migration{4, "benchmark energy", kBenchEnergyColumns},
};

}  // namespace

std::span<const Migration> schema_migrations() { return kMigrations; }

}  // namespace tokamak
