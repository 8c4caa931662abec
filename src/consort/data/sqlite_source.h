#pragma once
// Reads one table (or view) of an SQLite database file into a Table (`--sqlite DB --table T`).
//
// The database is opened read-only. The table name is looked up in sqlite_master through a
// bound parameter (case-insensitively, as SQLite does) and then quoted as an identifier, so no
// name can inject SQL. A column projection is pushed down: only the requested columns are
// SELECTed.
//
// Types: the declared type's affinity (SQLite's rules, datatype3.html 3.1: "INT" -> int64;
// "CHAR"/"CLOB"/"TEXT" -> string; "REAL"/"FLOA"/"DOUB" -> float64; NUMERIC or none -> no
// preference) is widened by the storage classes actually present, found by one aggregate
// query pushed down to SQLite (SQLite lets any column hold any value): int64 < float64 <
// string. An untyped column with no values is a string column. Rows come in SQLite's scan
// order (rowid order for ordinary tables).
// Table::source() is "<db>:<table>" and rows have no line numbers (errors say "row N").

#include <string>
#include <string_view>
#include <vector>

#include "consort/common/status.h"
#include "consort/data/table.h"

namespace consort::data {

// `columns` empty = all columns, in table order. Errors: NotFound if the database file or the
// table is missing (naming it) or a requested column does not exist (listing the available
// ones); InvalidArgument for a repeated column, a BLOB value or TEXT that is not valid UTF-8
// (naming column and row, never the value); DataLoss for a corrupt file; Internal otherwise.
StatusOr<Table> ReadSqliteTable(const std::string& db_path, std::string_view table,
                                const std::vector<std::string>& columns = {});

// `name` as an SQL identifier: wrapped in double quotes, embedded quotes doubled.
std::string QuoteSqlIdentifier(std::string_view name);

}  // namespace consort::data
