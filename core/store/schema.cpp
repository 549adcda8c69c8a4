// The store's schema and its forward migrations. PRAGMA user_version holds the version a database
// has reached; migration N takes it from N-1 to N inside one transaction, so a crash mid-migration
// leaves the previous version intact. To change the schema, append a migration (never edit a
// published one) and raise Store::kSchemaVersion.
#include <string>

#include "core/store/sqlite_util.h"
#include "core/store/store.h"

namespace duet {

namespace {

struct Migration {
  int version;      // user_version after this migration
  const char* sql;  // one or more statements
};

// v1: runs (manifest JSON, experiment and dataset identity kept denormalized per run), the run's
// systems, items (with the verdict), the stages of an item, the per-token records of a stage as
// one compact blob (see token_blob.h), and per-system metrics. Deleting a run cascades.
// REAL columns are nullable because SQLite stores a NaN as NULL; Statement::real reads it back
// as NaN.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE runs (
  id              INTEGER PRIMARY KEY,
  name            TEXT NOT NULL,
  created_at      TEXT NOT NULL,
  status          TEXT NOT NULL,
  experiment_name TEXT NOT NULL DEFAULT '',
  experiment_path TEXT NOT NULL DEFAULT '',
  dataset_name    TEXT NOT NULL DEFAULT '',
  dataset_path    TEXT NOT NULL DEFAULT '',
  manifest_json   TEXT NOT NULL DEFAULT '',
  item_count      INTEGER NOT NULL DEFAULT 0,
  repeats         INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX runs_created ON runs(created_at);

CREATE TABLE run_systems (
  run_id   INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  system   TEXT NOT NULL,
  PRIMARY KEY (run_id, position)
) WITHOUT ROWID;

CREATE TABLE items (
  id                INTEGER PRIMARY KEY,
  run_id            INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  system            TEXT NOT NULL,
  item_index        INTEGER NOT NULL,
  item_id           TEXT NOT NULL,
  repeat            INTEGER NOT NULL,
  question          TEXT NOT NULL,
  gold              TEXT NOT NULL,
  grade_kind        TEXT NOT NULL,
  signal            TEXT NOT NULL,
  signal_tokens     INTEGER NOT NULL,
  capable_tokens    INTEGER NOT NULL,
  light_tokens      INTEGER NOT NULL,
  answer            TEXT NOT NULL,
  correct           INTEGER NOT NULL,
  extracted         INTEGER NOT NULL,
  extracted_answer  TEXT NOT NULL,
  normalized_answer TEXT NOT NULL,
  normalized_gold   TEXT NOT NULL,
  method            TEXT NOT NULL,
  reason            TEXT NOT NULL,
  wall_ms           REAL,
  UNIQUE (run_id, system, item_index, repeat)
);

CREATE TABLE stages (
  id                INTEGER PRIMARY KEY,
  item_id           INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
  position          INTEGER NOT NULL,
  stage             TEXT NOT NULL,
  model             TEXT NOT NULL,
  prompt            TEXT NOT NULL,
  output            TEXT NOT NULL,
  prompt_tokens     INTEGER NOT NULL,
  output_tokens     INTEGER NOT NULL,
  ttft_ms           REAL,
  tokens_per_second REAL,
  wall_ms           REAL,
  started_at_ms     INTEGER NOT NULL,
  stop_reason       TEXT NOT NULL,
  UNIQUE (item_id, position)
);

CREATE TABLE tokens (
  stage_id INTEGER PRIMARY KEY REFERENCES stages(id) ON DELETE CASCADE,
  count    INTEGER NOT NULL,
  data     BLOB NOT NULL
);

CREATE TABLE metrics (
  run_id                 INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  position               INTEGER NOT NULL,
  system                 TEXT NOT NULL,
  step                   INTEGER NOT NULL,
  n                      INTEGER NOT NULL,
  correct                INTEGER NOT NULL,
  accuracy               REAL,
  accuracy_lo            REAL,
  accuracy_hi            REAL,
  mean_capable_tokens    REAL,
  mean_capable_lo        REAL,
  mean_capable_hi        REAL,
  median_capable_tokens  REAL,
  median_capable_lo      REAL,
  median_capable_hi      REAL,
  mean_signal_tokens     REAL,
  mean_light_tokens      REAL,
  ipt                    REAL,
  saving_vs_original     REAL,
  mean_capable_wall_ms   REAL,
  mean_light_wall_ms     REAL,
  mcnemar_p              REAL,
  mcnemar_b              INTEGER NOT NULL,
  mcnemar_c              INTEGER NOT NULL,
  PRIMARY KEY (run_id, position)
) WITHOUT ROWID;
)sql";

constexpr Migration kMigrations[] = {
    {1, kSchemaV1},
};
static_assert(std::size(kMigrations) == Store::kSchemaVersion, "one migration per schema version");

Result<int> userVersion(sqlite3* db, const std::string& path) {
  auto st = sql::Statement::prepare(db, path, "PRAGMA user_version", "reading the schema version");
  if (!st.ok()) return st.error();
  auto row = st->step();
  if (!row.ok()) return row.error();
  return *row ? st->int32(0) : 0;
}

}  // namespace

int Store::schemaVersion() const {
  auto v = userVersion(m_db.get(), m_path);
  return v.ok() ? *v : -1;
}

Status Store::migrate() {
  sqlite3* db = m_db.get();
  auto current = userVersion(db, m_path);
  if (!current.ok()) return current.error();
  if (*current > kSchemaVersion) {
    return makeError(Errc::kUnsupported,
                     m_path + ": the database has schema version " + std::to_string(*current) +
                         ", newer than this build understands (" + std::to_string(kSchemaVersion) +
                         "); use a newer Duet Workbench or choose another file with --db");
  }
  for (const Migration& m : kMigrations) {
    if (m.version <= *current) continue;
    sql::Transaction tx(db, m_path);
    DUET_TRY_STATUS(tx.begin());
    // Another connection may have migrated while we waited for the write lock.
    auto again = userVersion(db, m_path);
    if (!again.ok()) return again.error();
    if (*again >= m.version) continue;
    const std::string what = "migrating the schema to version " + std::to_string(m.version);
    DUET_TRY_STATUS(sql::exec(db, m_path, m.sql, what));
    // PRAGMA takes no bound parameters; the value is our own integer constant.
    const std::string pragma = "PRAGMA user_version = " + std::to_string(m.version);
    DUET_TRY_STATUS(sql::exec(db, m_path, pragma.c_str(), what));
    DUET_TRY_STATUS(tx.commit());
  }
  return {};
}

}  // namespace duet
