#pragma once
// Streaming SQLite: a data::TableReader over one table (or view) of an SQLite database, batch
// by batch, with memory bounded by the batch size plus SQLite's page cache (not the table
// size). Same table/column resolution, quoting, projection push-down, conversions and errors
// as ReadSqliteTable (data/sqlite_source.h; both use data/internal/sqlite_table.h).
//
// The database is opened read-only and one read transaction spans the whole stream: every
// batch comes from the same snapshot, by stepping a single SELECT. While the reader is open a
// writer using a rollback journal waits (and fails after its busy timeout); in WAL mode
// writers proceed and the reader keeps its snapshot. Rows come in SQLite's scan order, as in
// ReadSqliteTable; errors say "<source>:<table> row N" (1-based across batches), never values.

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "consort/common/status.h"
#include "consort/data/table.h"
#include "consort/data/table_reader.h"

namespace consort::data {

struct SqliteStreamOptions {
  // Columns to SELECT, in this order (matched case-insensitively, as SQLite does); empty = all
  // columns in table order.
  std::vector<std::string> columns;
  // Types by column name as stored in the table (the node passes the types recorded at
  // registration). A value that does not fit is InvalidArgument naming column and row. Columns
  // without an entry get ReadSqliteTable's type, from one aggregate query at open.
  std::map<std::string, ColumnType> column_types;
  size_t batch_rows = 65536;  // >= 1
  // Prefix of Table::source() and of error messages; empty = the database path.
  std::string source_name;
  // If set, what the node recorded at registration; a mismatch is FailedPrecondition "changed
  // since registration":
  //  - a content fingerprint (data::TableContentFingerprint of the streamed columns, "content:"
  //    prefix): computed while streaming and checked at the end of the table, before the last
  //    batch is handed out; a value that does not fit its recorded type is then reported as
  //    FailedPrecondition too (registration read every value with those types);
  //  - otherwise the hex SHA-256 of the database file (data::FileFingerprint, older
  //    registrations): hashed at open, inside the read transaction, before any batch. It
  //    misses writes still in a WAL file.
  std::string expected_fingerprint;
};

// Opens `table` of the database at `db_path` for streaming. Every batch holds at most
// batch_rows rows (and at least one) and has the same schema. Errors: NotFound (database,
// table or column missing), InvalidArgument (bad options, repeated column; from Next: BLOB,
// invalid UTF-8, a value not fitting its type), FailedPrecondition (fingerprint mismatch),
// DataLoss (corrupt file), Internal otherwise. The reader owns its connection; not
// thread-safe.
StatusOr<std::unique_ptr<TableReader>> OpenSqliteReader(const std::string& db_path,
                                                        std::string_view table,
                                                        const SqliteStreamOptions& options);

}  // namespace consort::data
