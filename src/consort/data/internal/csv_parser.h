#pragma once
// The incremental RFC 4180 parser behind data/csv.h (ParseCsv, ReadCsv) and the streaming
// reader (data/csv_reader.h), so both apply exactly the same rules and errors. Internal to
// data/. Not thread-safe.
//
// Feed() takes bytes in any chunking; records go into per-column text buffers. A reader that
// wants batches sets a row limit: Feed() then stops after the record that fills the buffer and
// reports how many bytes it consumed; TakeRows() converts the buffered rows to a typed Table
// and empties the buffer. Finish() (whole-file use) infers the column types over every row.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "consort/data/csv.h"
#include "consort/data/table.h"

namespace consort::data::internal {

// Per-column evidence for type inference (csv.h: int64, then float64, else string).
struct CsvInference {
  bool all_int = true;
  bool all_num = true;
  size_t values = 0;

  void Observe(std::string_view v);
  ColumnType Type() const;
};

// InvalidArgument for a delimiter CSV cannot use ('"', CR, LF, NUL).
Status CheckCsvDelimiter(char d);
// Drops a leading UTF-8 byte-order mark.
std::string_view StripUtf8Bom(std::string_view s);

class CsvParser {
 public:
  // `options` must outlive the parser. With keep_values = false the parser only checks the
  // syntax and gathers type evidence (a first pass over a file too large to hold).
  CsvParser(std::string source, const CsvReadOptions& options, bool keep_values = true);

  // Buffered rows at which Feed() stops early (0 = never).
  void set_row_limit(size_t rows) { row_limit_ = rows; }
  // Parses bytes; returns how many were consumed (all of them unless the row limit was hit).
  StatusOr<size_t> Feed(std::string_view chunk);
  // Ends the input: completes a last record without a line break, reports an unterminated
  // quote, and "file is empty" when there was no header. Call once.
  Status EndInput();

  bool has_header() const { return have_header_; }
  const std::vector<std::string>& header() const { return header_; }
  size_t buffered_rows() const { return buffered_; }
  uint64_t total_rows() const { return total_rows_; }
  // Inferred type per column, with CsvReadOptions::column_types applied (after EndInput()).
  std::vector<ColumnType> ColumnTypes() const;
  // The buffered rows as a Table with the given column types (one per header column); empties
  // the buffer. InvalidArgument naming line and column for a value that does not parse.
  StatusOr<Table> TakeRows(const std::vector<ColumnType>& types);
  // EndInput(), then every row with the inferred types (csv.h ParseCsv).
  StatusOr<Table> Finish();

 private:
  enum class State { kFieldStart, kUnquoted, kQuoted, kQuotedQuote, kAfterCr };

  // A field longer than this is refused (memory stays bounded even when a stray quote would
  // make the rest of the file one field).
  static constexpr size_t kMaxFieldBytes = size_t{16} << 20;
  Status FieldTooLong() const {
    return Error(field_line_, FieldLabel() + ": field longer than 16 MiB (an unclosed quote?)");
  }
  Status EndField();
  Status EndRecord();
  Status ValidateHeader();
  Status Error(uint64_t line, std::string_view what) const {
    return absl::InvalidArgumentError(source_ + ":" + std::to_string(line) + ": " +
                                      std::string(what));
  }
  // "column 'name'", "header" or "field 7" for the field being parsed.
  std::string FieldLabel() const {
    if (!have_header_) return "header field " + std::to_string(nfields_ + 1);
    if (nfields_ < header_.size()) return "column '" + header_[nfields_] + "'";
    return "field " + std::to_string(nfields_ + 1);
  }
  StatusOr<Column> Convert(size_t col, ColumnType type) const;

  std::string source_;
  const CsvReadOptions& options_;
  bool keep_values_;
  char delim_;
  std::array<bool, 256> special_;
  size_t row_limit_ = 0;

  State state_ = State::kFieldStart;
  uint64_t line_ = 1;         // physical line of the byte being read
  uint64_t record_line_ = 1;  // line where the current record started
  uint64_t field_line_ = 1;   // line where the current field started
  bool last_was_cr_ = false;  // inside quotes: the previous byte was CR (CRLF counts once)
  std::string field_;
  bool field_quoted_ = false;
  size_t nfields_ = 0;

  bool have_header_ = false;
  std::vector<std::string> header_;
  std::vector<Column> columns_;
  std::vector<CsvInference> inference_;
  std::vector<uint32_t> row_lines_;
  uint64_t total_rows_ = 0;
  size_t buffered_ = 0;  // rows since the last TakeRows (counted without keep_values too)
};

}  // namespace consort::data::internal
