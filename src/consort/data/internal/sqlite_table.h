#pragma once
// Pieces shared by ReadSqliteTable (data/sqlite_source.h) and OpenSqliteReader
// (data/sqlite_reader.h): resolving a table and its columns, SQLite-affinity type inference and
// the value conversion rules, so that both readers agree on names, types and errors.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "consort/common/sqlite.h"
#include "consort/common/status.h"
#include "consort/data/table.h"

namespace consort::data::internal {

// A table (or view) and the columns to read, resolved against the database's catalog.
struct SqliteSelection {
  std::string table;                  // the name as stored in sqlite_master
  std::string source;                 // "<label>:<table>", for errors and Table::source()
  std::vector<std::string> names;     // the selected columns, in the requested order
  std::vector<std::string> declared;  // their declared types ("" if none)
  std::string select_sql;             // SELECT "a", "b" FROM "t" (identifiers quoted)
};

// Looks the table up through a bound parameter (case-insensitively), then the columns
// (`columns` empty = all, in table order). Run it inside a read transaction so that the
// snapshot read afterwards is the one resolved. Errors as ReadSqliteTable's.
StatusOr<SqliteSelection> ResolveSqliteSelection(SqlDb& db, const std::string& label,
                                                 std::string_view table,
                                                 const std::vector<std::string>& columns);

// The type ReadSqliteTable gives each column at `indices` of `sel` (declared affinity widened
// by the storage classes present), found by one aggregate query pushed down to SQLite (one
// scan, no values kept). Returns one type per index, in order.
StatusOr<std::vector<ColumnType>> InferSqliteTypes(SqlDb& db, const SqliteSelection& sel,
                                                   const std::vector<size_t>& indices);

// Appends one SQLite value to `column` (whose type is fixed): NULL -> null; integers widen to
// float64 / decimal text; reals to text. InvalidArgument "<source> row <row>: column '<name>':
// ..." for a BLOB, invalid UTF-8, or a value that does not fit the column's type (a REAL in an
// int64 column, TEXT in a numeric one). Never includes the value.
Status AppendSqliteValue(Column& column, const std::string& name, const SqlValue& value,
                         const std::string& source, uint64_t row);

}  // namespace consort::data::internal
