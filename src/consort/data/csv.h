#pragma once
// RFC 4180 CSV: reading into a typed Table and writing a Table back, atomically.
//
// Reading: a header row is required (non-empty, unique names). Fields may be quoted, with
// embedded delimiters, doubled quotes ("") and line breaks; records end with LF, CRLF or a lone
// CR. A UTF-8 byte-order mark is skipped. Every field must be valid UTF-8. Blank lines are
// skipped when the table has several columns (they cannot be a record) and read as a null value
// when it has one. An unquoted empty field is null; a quoted empty field ("") is an empty string
// in a string column and null in a numeric one.
//
// Type inference over all rows, per column, ignoring nulls:
//   int64   if every value is a canonical integer: -?(0|[1-9][0-9]*) within int64 range. Values
//           with leading zeros or a '+' ("0044", "+1") make a column text, so identifiers such as
//           phone numbers and postcodes keep their exact spelling;
//   float64 if every value is such an integer or a finite JSON-style decimal with a fraction or
//           exponent ("2.50", "1e-3"; not ".5", "inf", "nan", nor integers beyond int64);
//   string  otherwise, and for columns with no value at all.
// CsvReadOptions::column_types overrides inference per column.
//
// Errors are InvalidArgument (NotFound / PermissionDenied for the file itself) and name the
// source, the 1-based physical line and, where relevant, the column - never a field's value:
//   "customers.csv:17: expected 4 fields, found 5"
//   "customers.csv:9: column 'name': invalid UTF-8 at byte 3"   (byte offset within the field)
//   "customers.csv:4: column 'note': unterminated quoted field"  (line where the quote opened)
//   "customers.csv: file is empty"
// Thread-safe: functions share no state.

#include <map>
#include <string>
#include <string_view>

#include "consort/common/status.h"
#include "consort/data/table.h"

namespace consort::data {

struct CsvReadOptions {
  // Name used in error messages and as Table::source(); defaults to the path as given.
  std::string source_name;
  // Field delimiter: ',' (default), ';', '\t' or '|'. Never '"', CR or LF.
  char delimiter = ',';
  // Forces the type of the named columns instead of inferring it. InvalidArgument naming the
  // line and column if a value does not parse as the forced type; NotFound for an unknown column.
  std::map<std::string, ColumnType, std::less<>> column_types;
};

// Reads `path` in 1 MiB chunks (the file is never held whole in memory besides the table).
StatusOr<Table> ReadCsv(const std::string& path, const CsvReadOptions& options = {});
// Parses CSV text already in memory; `source_name` names it in errors.
StatusOr<Table> ParseCsv(std::string_view text, std::string_view source_name,
                         const CsvReadOptions& options = {});

struct CsvWriteOptions {
  char delimiter = ',';
  bool crlf = false;  // RFC 4180 line breaks; LF by default
  int mode = 0644;    // permission bits of the written file
};

// Renders `table` as CSV: a header row, then one record per row. Fields are quoted when they
// contain the delimiter, a quote, CR or LF; null is an empty field and an empty string is "".
// Float64 values use their shortest round-trip text (always with '.' or an exponent).
// InvalidArgument for a table without columns.
StatusOr<std::string> FormatCsv(const Table& table, const CsvWriteOptions& options = {});
// Streams the CSV to a temporary file beside `path`, fsyncs it and renames it over `path`, so a
// reader sees either the old file or the complete new one. Internal on I/O errors (the
// temporary file is removed).
Status WriteCsv(const Table& table, const std::string& path, const CsvWriteOptions& options = {});

}  // namespace consort::data
