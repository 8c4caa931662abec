#include "consort/data/table.h"

#include <charconv>
#include <cmath>
#include <unordered_set>

namespace consort::data {

std::string_view ColumnTypeName(ColumnType type) {
  switch (type) {
    case ColumnType::kInt64:
      return "int64";
    case ColumnType::kFloat64:
      return "float64";
    case ColumnType::kString:
      return "string";
  }
  return "?";
}

StatusOr<ColumnType> ParseColumnType(std::string_view name) {
  if (name == "int64") return ColumnType::kInt64;
  if (name == "float64") return ColumnType::kFloat64;
  if (name == "string") return ColumnType::kString;
  return absl::InvalidArgumentError("unknown column type '" + std::string(name) +
                                    "' (expected int64, float64 or string)");
}

// ---------------------------------------------------------------------------------------------
// Schema

StatusOr<Schema> Schema::Make(std::vector<ColumnSpec> columns) {
  std::unordered_set<std::string_view> seen;
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].name.empty()) {
      return absl::InvalidArgumentError("column " + std::to_string(i + 1) + " has an empty name");
    }
    if (!seen.insert(columns[i].name).second) {
      return absl::InvalidArgumentError("duplicate column name '" + columns[i].name + "'");
    }
  }
  return Schema(std::move(columns));
}

int Schema::Find(std::string_view name) const {
  for (size_t i = 0; i < columns_.size(); ++i) {
    if (columns_[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

std::string Schema::NameList() const {
  std::string out;
  for (size_t i = 0; i < columns_.size(); ++i) {
    if (i) out += ", ";
    out += "'" + columns_[i].name + "'";
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Column

int64_t Column::Int64(size_t row) const {
  CONSORT_CHECK(type_ == ColumnType::kInt64 && row < ints_.size());
  return ints_[row];
}

double Column::Float64(size_t row) const {
  CONSORT_CHECK(type_ == ColumnType::kFloat64 && row < floats_.size());
  return floats_[row];
}

std::string_view Column::String(size_t row) const {
  CONSORT_CHECK(type_ == ColumnType::kString && row + 1 < offsets_.size());
  return std::string_view(chars_.data() + offsets_[row], offsets_[row + 1] - offsets_[row]);
}

std::string Column::ToText(size_t row) const {
  CONSORT_CHECK(row < valid_.size());
  if (!valid_[row]) return "";
  char buf[64];
  switch (type_) {
    case ColumnType::kInt64: {
      auto r = std::to_chars(buf, buf + sizeof(buf), ints_[row]);
      return std::string(buf, r.ptr);
    }
    case ColumnType::kFloat64: {
      double v = floats_[row];
      if (std::isnan(v)) return "nan";
      if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
      auto r = std::to_chars(buf, buf + sizeof(buf), v);
      std::string s(buf, r.ptr);
      // Keep float text recognizably non-integral so that a CSV round trip keeps the type.
      if (s.find_first_of(".e") == std::string::npos) s += ".0";
      return s;
    }
    case ColumnType::kString:
      return std::string(String(row));
  }
  return "";
}

void Column::Reserve(size_t rows) {
  valid_.reserve(rows);
  switch (type_) {
    case ColumnType::kInt64:
      ints_.reserve(rows);
      break;
    case ColumnType::kFloat64:
      floats_.reserve(rows);
      break;
    case ColumnType::kString:
      offsets_.reserve(rows + 1);
      break;
  }
}

void Column::AppendNull() {
  valid_.push_back(0);
  switch (type_) {
    case ColumnType::kInt64:
      ints_.push_back(0);
      break;
    case ColumnType::kFloat64:
      floats_.push_back(0.0);
      break;
    case ColumnType::kString:
      offsets_.push_back(chars_.size());
      break;
  }
}

void Column::AppendInt64(int64_t v) {
  CONSORT_CHECK(type_ == ColumnType::kInt64);
  ints_.push_back(v);
  valid_.push_back(1);
}

void Column::AppendFloat64(double v) {
  CONSORT_CHECK(type_ == ColumnType::kFloat64);
  floats_.push_back(v);
  valid_.push_back(1);
}

void Column::AppendString(std::string_view v) {
  CONSORT_CHECK(type_ == ColumnType::kString);
  chars_.append(v);
  offsets_.push_back(chars_.size());
  valid_.push_back(1);
}

void Column::AppendFrom(const Column& other, size_t row) {
  CONSORT_CHECK(other.type_ == type_ && row < other.size());
  if (other.IsNull(row)) {
    AppendNull();
    return;
  }
  switch (type_) {
    case ColumnType::kInt64:
      AppendInt64(other.ints_[row]);
      break;
    case ColumnType::kFloat64:
      AppendFloat64(other.floats_[row]);
      break;
    case ColumnType::kString:
      AppendString(other.String(row));
      break;
  }
}

size_t Column::MemoryBytes() const {
  return ints_.capacity() * sizeof(int64_t) + floats_.capacity() * sizeof(double) +
         chars_.capacity() + offsets_.capacity() * sizeof(uint64_t) + valid_.capacity();
}

// ---------------------------------------------------------------------------------------------
// Table

StatusOr<Table> Table::Make(Schema schema, std::vector<Column> columns, std::string source,
                            std::vector<uint32_t> row_lines) {
  if (columns.size() != schema.size()) {
    return absl::InvalidArgumentError("table has " + std::to_string(columns.size()) +
                                      " columns but its schema names " +
                                      std::to_string(schema.size()));
  }
  size_t rows = columns.empty() ? row_lines.size() : columns[0].size();
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].type() != schema.column(i).type) {
      return absl::InvalidArgumentError("column '" + schema.column(i).name + "' holds " +
                                        std::string(ColumnTypeName(columns[i].type())) +
                                        " values but the schema says " +
                                        std::string(ColumnTypeName(schema.column(i).type)));
    }
    if (columns[i].size() != rows) {
      return absl::InvalidArgumentError("column '" + schema.column(i).name + "' has " +
                                        std::to_string(columns[i].size()) + " rows, expected " +
                                        std::to_string(rows));
    }
  }
  if (!row_lines.empty() && row_lines.size() != rows) {
    return absl::InvalidArgumentError("row line numbers given for " +
                                      std::to_string(row_lines.size()) + " rows, table has " +
                                      std::to_string(rows));
  }
  Table t;
  t.schema_ = std::move(schema);
  t.columns_ = std::move(columns);
  t.num_rows_ = rows;
  t.source_ = std::move(source);
  t.row_lines_ = std::move(row_lines);
  return t;
}

StatusOr<size_t> Table::ColumnIndex(std::string_view name) const {
  int i = schema_.Find(name);
  if (i < 0) {
    std::string where = source_.empty() ? "" : source_ + ": ";
    return absl::NotFoundError(where + "no column '" + std::string(name) +
                               "' (available: " + schema_.NameList() + ")");
  }
  return static_cast<size_t>(i);
}

StatusOr<const Column*> Table::ColumnByName(std::string_view name) const {
  CONSORT_ASSIGN_OR_RETURN(size_t i, ColumnIndex(name));
  return &columns_[i];
}

std::string Table::RowLocation(size_t row) const {
  std::string src = source_.empty() ? "<table>" : source_;
  if (has_row_lines()) return src + ":" + std::to_string(row_lines_[row]);
  return src + " row " + std::to_string(row + 1);
}

std::string Table::RowLabel(size_t row) const {
  if (has_row_lines()) return "line " + std::to_string(row_lines_[row]);
  return "row " + std::to_string(row + 1);
}

StatusOr<Table> Table::Project(std::span<const std::string> names) const {
  std::vector<ColumnSpec> specs;
  std::vector<Column> cols;
  for (const std::string& name : names) {
    CONSORT_ASSIGN_OR_RETURN(size_t i, ColumnIndex(name));
    specs.push_back(schema_.column(i));
    cols.push_back(columns_[i]);
  }
  CONSORT_ASSIGN_OR_RETURN(Schema schema, Schema::Make(std::move(specs)));
  std::vector<uint32_t> lines = row_lines_;
  Table t;
  t.schema_ = std::move(schema);
  t.columns_ = std::move(cols);
  t.num_rows_ = num_rows_;
  t.source_ = source_;
  t.row_lines_ = std::move(lines);
  return t;
}

StatusOr<Table> Table::SelectRows(std::span<const uint32_t> rows) const {
  for (uint32_t r : rows) {
    if (r >= num_rows_) {
      return absl::InvalidArgumentError("row index " + std::to_string(r) + " out of range (" +
                                        std::to_string(num_rows_) + " rows)");
    }
  }
  std::vector<Column> cols;
  cols.reserve(columns_.size());
  for (const Column& src : columns_) {
    Column c(src.type());
    c.Reserve(rows.size());
    for (uint32_t r : rows) c.AppendFrom(src, r);
    cols.push_back(std::move(c));
  }
  std::vector<uint32_t> lines;
  if (has_row_lines()) {
    lines.reserve(rows.size());
    for (uint32_t r : rows) lines.push_back(row_lines_[r]);
  }
  Table t;
  t.schema_ = schema_;
  t.columns_ = std::move(cols);
  t.num_rows_ = rows.size();
  t.source_ = source_;
  t.row_lines_ = std::move(lines);
  return t;
}

size_t Table::MemoryBytes() const {
  size_t n = row_lines_.capacity() * sizeof(uint32_t);
  for (const Column& c : columns_) n += c.MemoryBytes();
  return n;
}

}  // namespace consort::data
