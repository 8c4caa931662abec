#pragma once
// Columnar in-memory tables: the form in which a node holds its local dataset.
//
// Columns are typed vectors (int64 / float64) or, for strings, one contiguous character
// buffer plus offsets (~9 bytes of overhead per value), each with a per-row validity byte, so
// 1M rows x 10 columns of short values stay in the low hundreds of MB. A Table remembers where
// it came from (`source`, e.g. "customers.csv") and, when known, the physical file line of each
// row, so that errors can name "customers.csv:12" without quoting any value.
// Tables are immutable once built and safe to read from several threads.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "consort/common/status.h"

namespace consort::data {

enum class ColumnType { kInt64, kFloat64, kString };

// "int64", "float64", "string".
std::string_view ColumnTypeName(ColumnType type);
// Inverse of ColumnTypeName; InvalidArgument on anything else.
StatusOr<ColumnType> ParseColumnType(std::string_view name);

struct ColumnSpec {
  std::string name;
  ColumnType type = ColumnType::kString;
  bool operator==(const ColumnSpec&) const = default;
};

// Ordered, uniquely named columns.
class Schema {
 public:
  Schema() = default;
  // InvalidArgument on an empty or duplicate column name (names are case-sensitive).
  static StatusOr<Schema> Make(std::vector<ColumnSpec> columns);

  size_t size() const { return columns_.size(); }
  const ColumnSpec& column(size_t i) const { return columns_[i]; }
  const std::vector<ColumnSpec>& columns() const { return columns_; }
  // Index of the column named `name`, or -1.
  int Find(std::string_view name) const;
  // "'id', 'name', 'phone'" - for error messages.
  std::string NameList() const;
  bool operator==(const Schema&) const = default;

 private:
  explicit Schema(std::vector<ColumnSpec> columns) : columns_(std::move(columns)) {}
  std::vector<ColumnSpec> columns_;
};

// One column's values. Accessors CHECK the type and the row index (programmer errors).
// A null value reads as 0 / 0.0 / "" from the typed accessors; test IsNull first.
class Column {
 public:
  explicit Column(ColumnType type) : type_(type) {
    if (type_ == ColumnType::kString) offsets_.push_back(0);
  }

  ColumnType type() const { return type_; }
  size_t size() const { return valid_.size(); }
  bool IsNull(size_t row) const { return valid_[row] == 0; }
  int64_t Int64(size_t row) const;
  double Float64(size_t row) const;
  std::string_view String(size_t row) const;
  // Canonical text of a non-null value: int64 in decimal ("-12"), float64 in the shortest form
  // that round-trips (always with '.' or an exponent: "1.0", "2.5e-07"), strings as stored.
  // Empty for null.
  std::string ToText(size_t row) const;

  // Raw typed storage, for vectorized consumers (statistics, MPC input encoding).
  std::span<const int64_t> int64_values() const { return ints_; }
  std::span<const double> float64_values() const { return floats_; }
  std::span<const uint8_t> validity() const { return valid_; }

  void Reserve(size_t rows);
  void AppendNull();
  void AppendInt64(int64_t v);
  void AppendFloat64(double v);
  void AppendString(std::string_view v);
  // Appends row `row` of `other` (same type).
  void AppendFrom(const Column& other, size_t row);

  // Bytes held by the value buffers (approximate memory use).
  size_t MemoryBytes() const;

 private:
  ColumnType type_;
  std::vector<int64_t> ints_;
  std::vector<double> floats_;
  std::string chars_;
  std::vector<uint64_t> offsets_;  // size()+1 entries for strings
  std::vector<uint8_t> valid_;     // 1 = value present, 0 = null
};

class Table {
 public:
  Table() = default;
  // Takes ownership of `columns`. InvalidArgument if the column count or a type differs from
  // `schema`, if columns have different lengths, or if `row_lines` is neither empty nor one
  // entry per row. `source` names the origin in error messages ("customers.csv").
  static StatusOr<Table> Make(Schema schema, std::vector<Column> columns, std::string source = "",
                              std::vector<uint32_t> row_lines = {});

  const Schema& schema() const { return schema_; }
  size_t num_rows() const { return num_rows_; }
  size_t num_columns() const { return columns_.size(); }
  const Column& column(size_t i) const { return columns_[i]; }
  const std::string& source() const { return source_; }

  // NotFound naming the column and listing the available ones.
  StatusOr<size_t> ColumnIndex(std::string_view name) const;
  StatusOr<const Column*> ColumnByName(std::string_view name) const;

  // Physical file line of `row` (1-based) or 0 when the source has no lines (SQLite).
  uint32_t row_line(size_t row) const { return row_lines_.empty() ? 0 : row_lines_[row]; }
  bool has_row_lines() const { return !row_lines_.empty(); }
  // Where a row came from, for error messages: "customers.csv:12" or "shop.db:t row 3".
  std::string RowLocation(size_t row) const;
  // "line 12" or "row 3" (1-based), for messages that already name the source.
  std::string RowLabel(size_t row) const;

  // A table with only the named columns, in the given order. NotFound for an unknown name,
  // InvalidArgument if a name repeats.
  StatusOr<Table> Project(std::span<const std::string> names) const;
  // A table with the rows at `rows`, in that order (repeats allowed), keeping their source
  // lines. InvalidArgument if an index is out of range (indices may derive from peer data).
  StatusOr<Table> SelectRows(std::span<const uint32_t> rows) const;

  size_t MemoryBytes() const;

 private:
  Schema schema_;
  std::vector<Column> columns_;
  size_t num_rows_ = 0;
  std::string source_;
  std::vector<uint32_t> row_lines_;
};

}  // namespace consort::data
