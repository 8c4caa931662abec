#pragma once
// A thin RAII wrapper over SQLite: one Db per connection, prepared statements with typed binds.
// Every error carries the SQLite message and the database path. Not thread-safe per object:
// open one Db per thread (SQLite in WAL mode serializes writers across connections).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "consort/common/bytes.h"
#include "consort/common/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace consort {

// A value bound to, or read from, a statement.
using SqlValue = std::variant<std::monostate, int64_t, double, std::string, Bytes>;

class SqlStatement;

class SqlDb {
 public:
  // Opens (creating if needed) with WAL journaling, foreign keys on, and a busy timeout.
  // `read_only` opens an existing database without creating it (NotFound if missing).
  static StatusOr<SqlDb> Open(const std::string& path, bool read_only = false);

  SqlDb(SqlDb&& other) noexcept;
  SqlDb& operator=(SqlDb&& other) noexcept;
  SqlDb(const SqlDb&) = delete;
  SqlDb& operator=(const SqlDb&) = delete;
  ~SqlDb();

  // Runs one or more statements without results (schema, PRAGMAs, BEGIN/COMMIT).
  Status Exec(std::string_view sql);
  // Prepares one statement.
  StatusOr<SqlStatement> Prepare(std::string_view sql);
  // Convenience: prepare, bind `params` in order, run to completion.
  Status Run(std::string_view sql, const std::vector<SqlValue>& params = {});
  // Convenience: all rows of a query, each as a vector of values.
  StatusOr<std::vector<std::vector<SqlValue>>> Query(std::string_view sql,
                                                     const std::vector<SqlValue>& params = {});

  int64_t last_insert_rowid() const;
  // True inside BEGIN ... COMMIT.
  bool in_transaction() const;
  int changes() const;
  const std::string& path() const { return path_; }
  sqlite3* raw() { return db_; }

 private:
  SqlDb(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_ = nullptr;
  std::string path_;
};

// Runs `body` inside BEGIN IMMEDIATE / COMMIT; rolls back if it returns an error. Nests: inside
// an open transaction it uses a SAVEPOINT, so only the inner work is undone on error.
template <typename F>
Status InTransaction(SqlDb& db, F&& body) {
  const bool nested = db.in_transaction();
  CONSORT_RETURN_IF_ERROR(db.Exec(nested ? "SAVEPOINT consort_tx" : "BEGIN IMMEDIATE"));
  Status st = body();
  if (!st.ok()) {
    (void)db.Exec(nested ? "ROLLBACK TO consort_tx; RELEASE consort_tx" : "ROLLBACK");
    return st;
  }
  return db.Exec(nested ? "RELEASE consort_tx" : "COMMIT");
}

class SqlStatement {
 public:
  SqlStatement(SqlStatement&& other) noexcept;
  SqlStatement& operator=(SqlStatement&& other) noexcept;
  SqlStatement(const SqlStatement&) = delete;
  ~SqlStatement();

  // 1-based parameter index, as in SQLite.
  Status Bind(int index, const SqlValue& value);
  Status BindAll(const std::vector<SqlValue>& values);
  // Advances: true while a row is available, false when done.
  StatusOr<bool> Step();
  Status Reset();

  int column_count() const;
  std::string column_name(int i) const;
  SqlValue Column(int i) const;
  int64_t ColumnInt(int i) const;
  std::string ColumnText(int i) const;
  Bytes ColumnBlob(int i) const;
  bool ColumnIsNull(int i) const;

 private:
  friend class SqlDb;
  SqlStatement(sqlite3_stmt* stmt, sqlite3* db, const std::string* path)
      : stmt_(stmt), db_(db), path_(path) {}
  Status Error(std::string_view what) const;
  sqlite3_stmt* stmt_ = nullptr;
  sqlite3* db_ = nullptr;
  const std::string* path_ = nullptr;
};

// Helpers to read a SqlValue.
inline int64_t AsInt(const SqlValue& v) {
  return std::holds_alternative<int64_t>(v) ? std::get<int64_t>(v) : 0;
}
inline std::string AsText(const SqlValue& v) {
  if (std::holds_alternative<std::string>(v)) return std::get<std::string>(v);
  if (std::holds_alternative<int64_t>(v)) return std::to_string(std::get<int64_t>(v));
  if (std::holds_alternative<Bytes>(v)) return ToString(std::get<Bytes>(v));
  return "";
}

}  // namespace consort
