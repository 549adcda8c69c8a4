// Store: the SQLite history of experiments, datasets, runs, items and metrics (SQLite C API).
// One connection per Store; WAL mode, foreign keys on, busy timeout; schema version in
// PRAGMA user_version with forward migrations. Every write is one transaction per unit of work
// (one finished item, one regrade, one run row), so a run killed at any moment keeps every item
// it finished and nothing half-written. A full disk or a locked database gives a clear Error
// (kIo, naming the database path and SQLite's message) and loses nothing already committed.
// Only bound parameters are used.
//
// Thread-safety: a Store is used by one thread at a time; open one Store per thread (WAL lets
// readers and one writer proceed together).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "core/eval/records.h"
#include "core/util/result.h"

struct sqlite3;

namespace duet {

// The default database path: $XDG_DATA_HOME/duet-workbench/history.sqlite
// (~/.local/share/duet-workbench/history.sqlite when XDG_DATA_HOME is unset).
std::string defaultStorePath();

class Store {
 public:
  static constexpr int kSchemaVersion = 1;
  static constexpr int kDefaultBusyTimeoutMs = 5000;

  // Opens or creates the database (":memory:" works), creating parent directories, and migrates
  // the schema. Errors name the path. A database with a newer schema than kSchemaVersion is
  // rejected (kUnsupported). busyTimeoutMs: how long a write waits for another connection's
  // lock before failing with a "locked" error.
  static Result<std::unique_ptr<Store>> open(const std::string& path,
                                             int busyTimeoutMs = kDefaultBusyTimeoutMs);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& path() const { return m_path; }
  int schemaVersion() const;  // PRAGMA user_version; -1 when it cannot be read
  // The raw connection, for diagnostics and tests (e.g. PRAGMA max_page_count to simulate a full
  // disk). Same thread rules as the Store.
  sqlite3* nativeHandle() const { return m_db.get(); }

  // Runs. createRun fills info.id, and createdAt (ISO 8601 UTC, milliseconds) and status
  // ("running") when empty. Unknown run or item ids give kNotFound throughout.
  Result<int64_t> createRun(RunInfo& info);
  Status setRunStatus(int64_t runId, const std::string& status);
  Result<RunInfo> run(int64_t runId) const;
  // Newest first. `search` (optional) matches name, experiment or dataset (LIKE %search%).
  Result<std::vector<RunInfo>> runs(const std::string& search = "") const;
  Status deleteRun(int64_t runId);

  // Items. addItem stores one finished item with its stages and tokens in one transaction and
  // fills item.rowId. A second item with the same (run, system, itemIndex, repeat) is rejected
  // (kInvalidArgument), so resuming can never duplicate.
  Status addItem(ItemResult& item);
  // All items of a run (optionally one system), ordered by system, itemIndex, repeat. Stages are
  // included; per-token records only when withTokens.
  Result<std::vector<ItemResult>> items(int64_t runId, const std::string& system = "",
                                        bool withTokens = false) const;
  Result<ItemResult> item(int64_t itemRowId, bool withTokens = true) const;
  // Row ids of one system's items in a run, by (itemIndex, repeat): to read them one at a time.
  Result<std::map<std::pair<int, int>, int64_t>> itemRows(int64_t runId, const std::string& system) const;
  // (system, itemIndex, repeat) of the finished items: what a resumed run skips.
  Result<std::set<std::tuple<std::string, int, int>>> finishedKeys(int64_t runId) const;
  // Replaces verdicts (regrading without regenerating), all in one transaction.
  Status updateVerdicts(const std::vector<std::pair<int64_t, Verdict>>& rowVerdicts);

  // Metrics of a run, replaced as a whole.
  Status saveMetrics(int64_t runId, const std::vector<SystemMetrics>& metrics);
  Result<std::vector<SystemMetrics>> metrics(int64_t runId) const;

 private:
  struct Closer {
    void operator()(sqlite3* db) const;
  };
  explicit Store(std::string path) : m_path(std::move(path)) {}
  Status migrate();
  std::string m_path;
  std::unique_ptr<sqlite3, Closer> m_db;
};

}  // namespace duet
