#include "core/store/sqlite_util.h"

#include <limits>

namespace duet::sql {

Error sqliteError(sqlite3* db, const std::string& path, std::string_view what, int rc) {
  std::string msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  if (msg.empty() || msg == "not an error") msg = sqlite3_errstr(rc);
  Errc code = Errc::kIo;
  std::string hint;
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
      code = rc == SQLITE_CONSTRAINT_FOREIGNKEY ? Errc::kNotFound : Errc::kInvalidArgument;
      if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) hint = " (the run or item it refers to does not exist)";
      break;
    case SQLITE_FULL:
      hint =
          " (the disk or the database's size limit is full: free space and retry; everything "
          "committed before is kept)";
      break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      hint =
          " (another program or run holds the database: wait for it, close it, or choose another "
          "file with --db)";
      break;
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
      hint = " (check that the file and its directory are writable)";
      break;
    default:
      break;
  }
  return makeError(code, path + ": " + std::string(what) + " failed: " + msg + hint);
}

// =============================================================================================
// Statement

Result<Statement> Statement::prepare(sqlite3* db, const std::string& path, std::string_view sql,
                                     std::string_view what) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &raw, nullptr);
  StmtPtr stmt(raw);
  if (rc != SQLITE_OK) return sqliteError(db, path, what, rc);
  return Statement(db, path, std::move(stmt), what);
}

void Statement::noteBind(int rc) {
  if (m_bindRc == SQLITE_OK && rc != SQLITE_OK) m_bindRc = rc;
}

Statement& Statement::bind(int index, int64_t v) {
  noteBind(sqlite3_bind_int64(m_stmt.get(), index, v));
  return *this;
}

Statement& Statement::bind(int index, double v) {
  noteBind(sqlite3_bind_double(m_stmt.get(), index, v));
  return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
  // A non-null pointer even for "" so the value is an empty TEXT, not NULL.
  noteBind(sqlite3_bind_text64(m_stmt.get(), index, text.empty() ? "" : text.data(), text.size(),
                               SQLITE_TRANSIENT, SQLITE_UTF8));
  return *this;
}

Statement& Statement::bindBlob(int index, std::string_view bytes) {
  noteBind(sqlite3_bind_blob64(m_stmt.get(), index, bytes.empty() ? "" : bytes.data(), bytes.size(),
                               SQLITE_TRANSIENT));
  return *this;
}

Result<bool> Statement::step() {
  if (m_bindRc != SQLITE_OK) {
    int rc = m_bindRc;
    return makeError(Errc::kInternal,
                     *m_path + ": " + m_what + " failed: binding a parameter: " + sqlite3_errstr(rc));
  }
  int rc = sqlite3_step(m_stmt.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Error err = sqliteError(m_db, *m_path, m_what, rc);
  sqlite3_reset(m_stmt.get());  // release locks the failed statement may hold
  return err;
}

Status Statement::run() {
  Result<bool> r = step();
  if (!r.ok()) return r.error();
  if (*r) sqlite3_reset(m_stmt.get());  // a statement that returned rows: discard them
  return {};
}

void Statement::reset() {
  sqlite3_reset(m_stmt.get());
  sqlite3_clear_bindings(m_stmt.get());
  m_bindRc = SQLITE_OK;
}

double Statement::real(int col) const {
  if (sqlite3_column_type(m_stmt.get(), col) == SQLITE_NULL) return std::numeric_limits<double>::quiet_NaN();
  return sqlite3_column_double(m_stmt.get(), col);
}

std::string Statement::text(int col) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(m_stmt.get(), col));
  if (p == nullptr) return {};
  return std::string(p, static_cast<size_t>(sqlite3_column_bytes(m_stmt.get(), col)));
}

std::string Statement::blob(int col) const {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(m_stmt.get(), col));
  if (p == nullptr) return {};
  return std::string(p, static_cast<size_t>(sqlite3_column_bytes(m_stmt.get(), col)));
}

// =============================================================================================
// exec, Transaction

Status exec(sqlite3* db, const std::string& path, const char* sql, std::string_view what) {
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  sqlite3_free(err);  // the same text is available from sqlite3_errmsg
  if (rc != SQLITE_OK) return sqliteError(db, path, what, rc);
  return {};
}

Status Transaction::begin() {
  DUET_TRY_STATUS(exec(m_db, m_path, "BEGIN IMMEDIATE", "starting a write transaction"));
  m_open = true;
  return {};
}

Status Transaction::commit() {
  Status s = exec(m_db, m_path, "COMMIT", "committing");
  if (s.ok()) m_open = false;
  return s;
}

Transaction::~Transaction() {
  // After SQLITE_FULL or an I/O error SQLite may have rolled back already (autocommit is on again).
  if (m_open && sqlite3_get_autocommit(m_db) == 0) {
    sqlite3_exec(m_db, "ROLLBACK", nullptr, nullptr, nullptr);
  }
}

}  // namespace duet::sql
