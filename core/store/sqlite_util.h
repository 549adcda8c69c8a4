// Small RAII layer over the SQLite C API, private to core/store: owning handles, a prepared
// Statement (bind by 1-based index, step, 0-based column getters) and an IMMEDIATE Transaction
// that rolls back unless committed. Every failure becomes an Error "<db path>: <what> failed:
// <sqlite message>" (kIo; constraint violations map to kInvalidArgument / kNotFound).
// Thread-safety: objects belong to the connection's thread.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/util/result.h"

namespace duet::sql {

struct StmtFinalizer {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

// The Error for SQLite result code `rc` (extended codes understood) while doing `what` on the
// database at `path`. Adds a hint for a full disk and a locked database.
Error sqliteError(sqlite3* db, const std::string& path, std::string_view what, int rc);

// A prepared statement. Bind errors are remembered and reported by the next step().
class Statement {
 public:
  // `what` names the operation in error messages ("storing item", "reading runs").
  static Result<Statement> prepare(sqlite3* db, const std::string& path, std::string_view sql,
                                   std::string_view what);

  Statement& bind(int index, int64_t v);
  Statement& bind(int index, int v) { return bind(index, static_cast<int64_t>(v)); }
  Statement& bind(int index, double v);
  Statement& bind(int index, std::string_view text);  // copied (SQLITE_TRANSIENT)
  Statement& bindBlob(int index, std::string_view bytes);

  // true: a row is available; false: done.
  Result<bool> step();
  // Steps once and expects completion (INSERT/UPDATE/DELETE/DDL).
  Status run();
  // Resets for re-execution and clears bindings.
  void reset();

  int64_t int64(int col) const { return sqlite3_column_int64(m_stmt.get(), col); }
  int int32(int col) const { return sqlite3_column_int(m_stmt.get(), col); }
  // NULL reads as NaN: SQLite stores a bound NaN as NULL.
  double real(int col) const;
  std::string text(int col) const;  // exact bytes; "" for NULL
  std::string blob(int col) const;  // exact bytes; "" for NULL

 private:
  Statement(sqlite3* db, const std::string& path, StmtPtr stmt, std::string_view what)
      : m_db(db), m_path(&path), m_stmt(std::move(stmt)), m_what(what) {}
  void noteBind(int rc);

  sqlite3* m_db = nullptr;
  const std::string* m_path = nullptr;  // owned by the Store, which outlives its statements
  StmtPtr m_stmt;
  std::string m_what;
  int m_bindRc = SQLITE_OK;
};

// Runs SQL text without parameters (may hold several statements).
Status exec(sqlite3* db, const std::string& path, const char* sql, std::string_view what);

// One unit of work: begin() issues BEGIN IMMEDIATE (takes the write lock up front, so a busy
// database fails here, before any work); the destructor rolls back unless commit() succeeded.
// SQLite may already have rolled back after some errors (SQLITE_FULL, I/O); the destructor then
// does nothing.
class Transaction {
 public:
  Transaction(sqlite3* db, const std::string& path) : m_db(db), m_path(path) {}
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  Status begin();
  Status commit();

 private:
  sqlite3* m_db;
  const std::string& m_path;
  bool m_open = false;
};

}  // namespace duet::sql
