#include "consort/common/sqlite.h"

#include <sqlite3.h>

namespace consort {
namespace {
Status SqlError(sqlite3* db, const std::string& path, std::string_view what, int rc) {
  std::string msg = path + ": " + std::string(what) + ": " +
                    (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  if (rc == SQLITE_CONSTRAINT || (db && sqlite3_errcode(db) == SQLITE_CONSTRAINT)) {
    return absl::AlreadyExistsError(msg);
  }
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) return absl::UnavailableError(msg);
  if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB) return absl::DataLossError(msg);
  return absl::InternalError(msg);
}
}  // namespace

StatusOr<SqlDb> SqlDb::Open(const std::string& path, bool read_only) {
  sqlite3* db = nullptr;
  int flags = read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  flags |= SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Status st = read_only && rc == SQLITE_CANTOPEN
                    ? absl::NotFoundError(path + ": cannot open database")
                    : SqlError(db, path, "open", rc);
    sqlite3_close(db);
    return st;
  }
  sqlite3_busy_timeout(db, 10000);
  SqlDb out(db, path);
  if (!read_only) {
    CONSORT_RETURN_IF_ERROR(out.Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"));
  }
  CONSORT_RETURN_IF_ERROR(out.Exec("PRAGMA foreign_keys=ON;"));
  return out;
}

SqlDb::SqlDb(SqlDb&& other) noexcept : db_(other.db_), path_(std::move(other.path_)) {
  other.db_ = nullptr;
}
SqlDb& SqlDb::operator=(SqlDb&& other) noexcept {
  if (this != &other) {
    if (db_) sqlite3_close_v2(db_);
    db_ = other.db_;
    path_ = std::move(other.path_);
    other.db_ = nullptr;
  }
  return *this;
}
SqlDb::~SqlDb() {
  if (db_) sqlite3_close_v2(db_);
}

Status SqlDb::Exec(std::string_view sql) {
  char* err = nullptr;
  std::string s(sql);
  int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    Status st = SqlError(nullptr, path_, "exec", rc);
    return Status(st.code(), path_ + ": " + msg);
  }
  return OkStatus();
}

StatusOr<SqlStatement> SqlDb::Prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) return SqlError(db_, path_, "prepare", rc);
  return SqlStatement(stmt, db_, &path_);
}

Status SqlDb::Run(std::string_view sql, const std::vector<SqlValue>& params) {
  CONSORT_ASSIGN_OR_RETURN(SqlStatement st, Prepare(sql));
  CONSORT_RETURN_IF_ERROR(st.BindAll(params));
  while (true) {
    CONSORT_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
  }
  return OkStatus();
}

StatusOr<std::vector<std::vector<SqlValue>>> SqlDb::Query(std::string_view sql,
                                                          const std::vector<SqlValue>& params) {
  CONSORT_ASSIGN_OR_RETURN(SqlStatement st, Prepare(sql));
  CONSORT_RETURN_IF_ERROR(st.BindAll(params));
  std::vector<std::vector<SqlValue>> rows;
  while (true) {
    CONSORT_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    std::vector<SqlValue> r;
    for (int i = 0; i < st.column_count(); ++i) r.push_back(st.Column(i));
    rows.push_back(std::move(r));
  }
  return rows;
}

int64_t SqlDb::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
bool SqlDb::in_transaction() const { return sqlite3_get_autocommit(db_) == 0; }
int SqlDb::changes() const { return sqlite3_changes(db_); }

SqlStatement::SqlStatement(SqlStatement&& other) noexcept
    : stmt_(other.stmt_), db_(other.db_), path_(other.path_) {
  other.stmt_ = nullptr;
}
SqlStatement& SqlStatement::operator=(SqlStatement&& other) noexcept {
  if (this != &other) {
    if (stmt_) sqlite3_finalize(stmt_);
    stmt_ = other.stmt_;
    db_ = other.db_;
    path_ = other.path_;
    other.stmt_ = nullptr;
  }
  return *this;
}
SqlStatement::~SqlStatement() {
  if (stmt_) sqlite3_finalize(stmt_);
}

Status SqlStatement::Error(std::string_view what) const {
  return SqlError(db_, *path_, what, sqlite3_errcode(db_));
}

Status SqlStatement::Bind(int index, const SqlValue& v) {
  int rc = SQLITE_OK;
  if (std::holds_alternative<std::monostate>(v)) {
    rc = sqlite3_bind_null(stmt_, index);
  } else if (auto* i = std::get_if<int64_t>(&v)) {
    rc = sqlite3_bind_int64(stmt_, index, *i);
  } else if (auto* d = std::get_if<double>(&v)) {
    rc = sqlite3_bind_double(stmt_, index, *d);
  } else if (auto* s = std::get_if<std::string>(&v)) {
    rc = sqlite3_bind_text64(stmt_, index, s->data(), s->size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  } else if (auto* b = std::get_if<Bytes>(&v)) {
    rc = sqlite3_bind_blob64(stmt_, index, b->data(), b->size(), SQLITE_TRANSIENT);
  }
  if (rc != SQLITE_OK) return Error("bind");
  return OkStatus();
}

Status SqlStatement::BindAll(const std::vector<SqlValue>& values) {
  for (size_t i = 0; i < values.size(); ++i) {
    CONSORT_RETURN_IF_ERROR(Bind(static_cast<int>(i + 1), values[i]));
  }
  return OkStatus();
}

StatusOr<bool> SqlStatement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqlError(db_, *path_, "step", rc);
}

Status SqlStatement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  return OkStatus();
}

int SqlStatement::column_count() const { return sqlite3_column_count(stmt_); }
std::string SqlStatement::column_name(int i) const { return sqlite3_column_name(stmt_, i); }

SqlValue SqlStatement::Column(int i) const {
  switch (sqlite3_column_type(stmt_, i)) {
    case SQLITE_INTEGER: return static_cast<int64_t>(sqlite3_column_int64(stmt_, i));
    case SQLITE_FLOAT: return sqlite3_column_double(stmt_, i);
    case SQLITE_TEXT: return ColumnText(i);
    case SQLITE_BLOB: return ColumnBlob(i);
    default: return std::monostate{};
  }
}
int64_t SqlStatement::ColumnInt(int i) const { return sqlite3_column_int64(stmt_, i); }
std::string SqlStatement::ColumnText(int i) const {
  const unsigned char* p = sqlite3_column_text(stmt_, i);
  int n = sqlite3_column_bytes(stmt_, i);
  return p ? std::string(reinterpret_cast<const char*>(p), n) : std::string();
}
Bytes SqlStatement::ColumnBlob(int i) const {
  const uint8_t* p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, i));
  int n = sqlite3_column_bytes(stmt_, i);
  return p ? Bytes(p, p + n) : Bytes();
}
bool SqlStatement::ColumnIsNull(int i) const {
  return sqlite3_column_type(stmt_, i) == SQLITE_NULL;
}

}  // namespace consort
