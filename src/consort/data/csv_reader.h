#pragma once
// Streaming CSV: a data::TableReader over a CSV file, batch by batch, with memory bounded by
// the batch size (not the file size). Same syntax, type rules and errors as data/csv.h (both
// use one parser, data/internal/csv_parser.h); errors name file:line and column, never values.
//
// Column types cannot be inferred from a prefix of a file, so they come from
// CsvReadOptions::column_types (the node passes the types recorded when the dataset was
// registered); for any column without one, OpenCsvReader first reads the whole file once to
// infer it exactly as ReadCsv would (syntax errors surface there, before any batch).

#include <cstddef>
#include <memory>
#include <string>

#include "consort/common/status.h"
#include "consort/data/csv.h"
#include "consort/data/table_reader.h"

namespace consort::data {

struct CsvStreamOptions {
  CsvReadOptions read;  // source name, delimiter, forced column types
  size_t batch_rows = 65536;  // >= 1
  // If set: the lowercase hex SHA-256 the file's bytes must have (data::FileFingerprint). It is
  // computed while streaming; at the end of the file (or on a parse error, after hashing the
  // rest) a different value is FailedPrecondition "changed since registration".
  std::string expected_fingerprint;
};

// Opens `path` for streaming. Every batch holds at most batch_rows rows (and at least one),
// keeps its rows' physical line numbers and has the same schema. NotFound / PermissionDenied /
// InvalidArgument (directory, bad options, CSV errors as ReadCsv). The reader owns its file
// descriptor; not thread-safe.
StatusOr<std::unique_ptr<TableReader>> OpenCsvReader(const std::string& path,
                                                     const CsvStreamOptions& options);

}  // namespace consort::data
