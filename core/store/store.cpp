// Store: opening (pragmas, migration), runs and metrics. Items live in store_items.cpp.
#include "core/store/store.h"

#include <pwd.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <system_error>

#include "core/store/sqlite_util.h"

namespace duet {

namespace {

namespace fs = std::filesystem;

std::string homeDir() {
  if (const char* h = std::getenv("HOME"); h != nullptr && *h != '\0') return h;
  if (const passwd* pw = getpwuid(getuid()); pw != nullptr && pw->pw_dir != nullptr) return pw->pw_dir;
  return ".";
}

// ISO 8601 UTC with milliseconds, so runs created within one second still order by time.
std::string nowIso8601() {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const std::time_t t = system_clock::to_time_t(now);
  const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

bool isSpecialPath(const std::string& path) {
  return path.empty() || path == ":memory:" || path.rfind("file:", 0) == 0;
}

// LIKE pattern matching `s` anywhere, with % _ and the escape character itself escaped.
std::string likeContains(const std::string& s) {
  std::string p = "%";
  for (char c : s) {
    if (c == '%' || c == '_' || c == '\\') p.push_back('\\');
    p.push_back(c);
  }
  p.push_back('%');
  return p;
}

constexpr const char* kRunColumns =
    "id, name, created_at, status, experiment_name, experiment_path, dataset_name, dataset_path, "
    "manifest_json, item_count, repeats";

RunInfo readRun(const sql::Statement& st) {
  RunInfo r;
  r.id = st.int64(0);
  r.name = st.text(1);
  r.createdAt = st.text(2);
  r.status = st.text(3);
  r.experimentName = st.text(4);
  r.experimentPath = st.text(5);
  r.datasetName = st.text(6);
  r.datasetPath = st.text(7);
  r.manifestJson = st.text(8);
  r.itemCount = st.int32(9);
  r.repeats = st.int32(10);
  return r;
}

Status loadSystems(sqlite3* db, const std::string& path, RunInfo& run) {
  auto st =
      sql::Statement::prepare(db, path, "SELECT system FROM run_systems WHERE run_id = ?1 ORDER BY position",
                              "reading a run's systems");
  if (!st.ok()) return st.error();
  st->bind(1, run.id);
  for (;;) {
    auto row = st->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    run.systems.push_back(st->text(0));
  }
  return {};
}

}  // namespace

std::string defaultStorePath() {
  // XDG Base Directory: XDG_DATA_HOME must be absolute to count.
  const char* xdg = std::getenv("XDG_DATA_HOME");
  fs::path base =
      (xdg != nullptr && xdg[0] == '/') ? fs::path(xdg) : fs::path(homeDir()) / ".local" / "share";
  return (base / "duet-workbench" / "history.sqlite").string();
}

void Store::Closer::operator()(sqlite3* db) const {
  sqlite3_close_v2(db);
}

Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::open(const std::string& path, int busyTimeoutMs) {
  if (path.empty()) return makeError(Errc::kInvalidArgument, "no database path given");
  if (!isSpecialPath(path)) {
    const fs::path parent = fs::path(path).parent_path();
    std::error_code ec;
    if (!parent.empty()) fs::create_directories(parent, ec);
    if (ec) {
      return makeError(Errc::kIo,
                       path + ": creating directory " + parent.string() + " failed: " + ec.message());
    }
  }
  std::unique_ptr<Store> store(new Store(path));
  sqlite3* raw = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  store->m_db.reset(raw);  // a handle is returned even on failure and must be closed
  if (rc != SQLITE_OK) return sql::sqliteError(raw, path, "opening the database", rc);
  sqlite3* db = raw;
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, busyTimeoutMs);

  // foreign_keys is per connection and off by default; WAL lets readers run beside a writer;
  // synchronous=NORMAL in WAL keeps every commit atomic and the database consistent after a crash
  // (a power loss may lose the last commits, never corrupt).
  DUET_TRY_STATUS(sql::exec(db, path, "PRAGMA foreign_keys = ON", "enabling foreign keys"));
  {
    auto st = sql::Statement::prepare(db, path, "PRAGMA journal_mode = WAL", "enabling WAL mode");
    if (!st.ok()) return st.error();
    auto row = st->step();
    if (!row.ok()) return row.error();
  }
  DUET_TRY_STATUS(sql::exec(db, path, "PRAGMA synchronous = NORMAL", "setting synchronous mode"));
  DUET_TRY_STATUS(store->migrate());
  return store;
}

// =============================================================================================
// Runs

Result<int64_t> Store::createRun(RunInfo& info) {
  sqlite3* db = m_db.get();
  const std::string createdAt = info.createdAt.empty() ? nowIso8601() : info.createdAt;
  const std::string status = info.status.empty() ? "running" : info.status;
  sql::Transaction tx(db, m_path);
  DUET_TRY_STATUS(tx.begin());
  auto st =
      sql::Statement::prepare(db, m_path,
                              "INSERT INTO runs (name, created_at, status, experiment_name, experiment_path, "
                              "dataset_name, dataset_path, manifest_json, item_count, repeats) "
                              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                              "creating a run");
  if (!st.ok()) return st.error();
  st->bind(1, info.name).bind(2, createdAt).bind(3, status).bind(4, info.experimentName);
  st->bind(5, info.experimentPath).bind(6, info.datasetName).bind(7, info.datasetPath);
  st->bind(8, info.manifestJson).bind(9, info.itemCount).bind(10, info.repeats);
  DUET_TRY_STATUS(st->run());
  const int64_t id = sqlite3_last_insert_rowid(db);

  auto sys = sql::Statement::prepare(db, m_path,
                                     "INSERT INTO run_systems (run_id, position, system) VALUES (?1, ?2, ?3)",
                                     "storing a run's systems");
  if (!sys.ok()) return sys.error();
  for (size_t i = 0; i < info.systems.size(); ++i) {
    sys->reset();
    sys->bind(1, id).bind(2, static_cast<int64_t>(i)).bind(3, info.systems[i]);
    DUET_TRY_STATUS(sys->run());
  }
  DUET_TRY_STATUS(tx.commit());
  info.id = id;
  info.createdAt = createdAt;
  info.status = status;
  return id;
}

Status Store::setRunStatus(int64_t runId, const std::string& status) {
  auto st = sql::Statement::prepare(m_db.get(), m_path, "UPDATE runs SET status = ?1 WHERE id = ?2",
                                    "updating a run's status");
  if (!st.ok()) return st.error();
  st->bind(1, status).bind(2, runId);
  DUET_TRY_STATUS(st->run());
  if (sqlite3_changes(m_db.get()) == 0) {
    return makeError(Errc::kNotFound, m_path + ": run " + std::to_string(runId) + " does not exist");
  }
  return {};
}

Result<RunInfo> Store::run(int64_t runId) const {
  const std::string q = std::string("SELECT ") + kRunColumns + " FROM runs WHERE id = ?1";
  auto st = sql::Statement::prepare(m_db.get(), m_path, q, "reading a run");
  if (!st.ok()) return st.error();
  st->bind(1, runId);
  auto row = st->step();
  if (!row.ok()) return row.error();
  if (!*row) return makeError(Errc::kNotFound, m_path + ": run " + std::to_string(runId) + " does not exist");
  RunInfo r = readRun(*st);
  DUET_TRY_STATUS(loadSystems(m_db.get(), m_path, r));
  return r;
}

Result<std::vector<RunInfo>> Store::runs(const std::string& search) const {
  const std::string q = std::string("SELECT ") + kRunColumns +
                        " FROM runs WHERE ?1 = '' OR name LIKE ?2 ESCAPE '\\' OR experiment_name LIKE ?2 "
                        "ESCAPE '\\' OR dataset_name LIKE ?2 ESCAPE '\\' ORDER BY created_at DESC, id DESC";
  auto st = sql::Statement::prepare(m_db.get(), m_path, q, "listing runs");
  if (!st.ok()) return st.error();
  st->bind(1, search).bind(2, likeContains(search));
  std::vector<RunInfo> out;
  for (;;) {
    auto row = st->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    out.push_back(readRun(*st));
  }
  for (RunInfo& r : out) DUET_TRY_STATUS(loadSystems(m_db.get(), m_path, r));
  return out;
}

Status Store::deleteRun(int64_t runId) {
  // Items, stages, tokens, systems and metrics go with it (ON DELETE CASCADE).
  auto st = sql::Statement::prepare(m_db.get(), m_path, "DELETE FROM runs WHERE id = ?1", "deleting a run");
  if (!st.ok()) return st.error();
  st->bind(1, runId);
  DUET_TRY_STATUS(st->run());
  if (sqlite3_changes(m_db.get()) == 0) {
    return makeError(Errc::kNotFound, m_path + ": run " + std::to_string(runId) + " does not exist");
  }
  return {};
}

// =============================================================================================
// Metrics

Status Store::saveMetrics(int64_t runId, const std::vector<SystemMetrics>& metrics) {
  sqlite3* db = m_db.get();
  sql::Transaction tx(db, m_path);
  DUET_TRY_STATUS(tx.begin());
  auto del =
      sql::Statement::prepare(db, m_path, "DELETE FROM metrics WHERE run_id = ?1", "replacing metrics");
  if (!del.ok()) return del.error();
  del->bind(1, runId);
  DUET_TRY_STATUS(del->run());
  auto st = sql::Statement::prepare(db, m_path,
                                    "INSERT INTO metrics VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
                                    "?11, ?12, ?13, ?14, ?15, ?16, ?17, "
                                    "?18, ?19, ?20, ?21, ?22, ?23, ?24)",
                                    "storing metrics");
  if (!st.ok()) return st.error();
  for (size_t i = 0; i < metrics.size(); ++i) {
    const SystemMetrics& m = metrics[i];
    st->reset();
    st->bind(1, runId).bind(2, static_cast<int64_t>(i)).bind(3, m.system).bind(4, m.step).bind(5, m.n);
    st->bind(6, m.correct).bind(7, m.accuracy).bind(8, m.accuracyLo).bind(9, m.accuracyHi);
    st->bind(10, m.meanCapableTokens).bind(11, m.meanCapableLo).bind(12, m.meanCapableHi);
    st->bind(13, m.medianCapableTokens).bind(14, m.medianCapableLo).bind(15, m.medianCapableHi);
    st->bind(16, m.meanSignalTokens).bind(17, m.meanLightTokens).bind(18, m.ipt).bind(19, m.savingVsOriginal);
    st->bind(20, m.meanCapableWallMs).bind(21, m.meanLightWallMs).bind(22, m.mcnemarP);
    st->bind(23, m.mcnemarB).bind(24, m.mcnemarC);
    DUET_TRY_STATUS(st->run());
  }
  return tx.commit();
}

Result<std::vector<SystemMetrics>> Store::metrics(int64_t runId) const {
  auto st = sql::Statement::prepare(
      m_db.get(), m_path, "SELECT * FROM metrics WHERE run_id = ?1 ORDER BY position", "reading metrics");
  if (!st.ok()) return st.error();
  st->bind(1, runId);
  std::vector<SystemMetrics> out;
  for (;;) {
    auto row = st->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    SystemMetrics m;
    m.system = st->text(2);
    m.step = st->int32(3);
    m.n = st->int32(4);
    m.correct = st->int32(5);
    m.accuracy = st->real(6), m.accuracyLo = st->real(7), m.accuracyHi = st->real(8);
    m.meanCapableTokens = st->real(9), m.meanCapableLo = st->real(10), m.meanCapableHi = st->real(11);
    m.medianCapableTokens = st->real(12), m.medianCapableLo = st->real(13), m.medianCapableHi = st->real(14);
    m.meanSignalTokens = st->real(15);
    m.meanLightTokens = st->real(16);
    m.ipt = st->real(17);
    m.savingVsOriginal = st->real(18);
    m.meanCapableWallMs = st->real(19);
    m.meanLightWallMs = st->real(20);
    m.mcnemarP = st->real(21);
    m.mcnemarB = st->int32(22);
    m.mcnemarC = st->int32(23);
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace duet
