#include "consort/data/internal/csv_parser.h"

#include <limits>
#include <optional>
#include <unordered_map>

#include "consort/data/internal/text.h"

namespace consort::data::internal {

void CsvInference::Observe(std::string_view v) {
  ++values;
  if (!all_num) return;
  if (ParseCanonicalInt64(v)) return;
  all_int = false;
  if (!ParseDecimalFloat64(v)) all_num = false;
}

ColumnType CsvInference::Type() const {
  if (values == 0) return ColumnType::kString;
  if (all_int) return ColumnType::kInt64;
  if (all_num) return ColumnType::kFloat64;
  return ColumnType::kString;
}

Status CheckCsvDelimiter(char d) {
  if (d == '"' || d == '\r' || d == '\n' || d == '\0') {
    return absl::InvalidArgumentError("invalid CSV delimiter");
  }
  return OkStatus();
}

std::string_view StripUtf8Bom(std::string_view s) {
  if (s.size() >= 3 && s.substr(0, 3) == "\xEF\xBB\xBF") s.remove_prefix(3);
  return s;
}

CsvParser::CsvParser(std::string source, const CsvReadOptions& options, bool keep_values)
    : source_(std::move(source)),
      options_(options),
      keep_values_(keep_values),
      delim_(options.delimiter) {
  special_.fill(false);
  special_[static_cast<uint8_t>(delim_)] = true;
  special_['"'] = true;
  special_['\r'] = true;
  special_['\n'] = true;
}

StatusOr<size_t> CsvParser::Feed(std::string_view chunk) {
  const char* p = chunk.data();
  const size_t n = chunk.size();
  size_t i = 0;
  // Stop at a record boundary once the buffer is full; the caller feeds the rest later.
  while (i < n && (row_limit_ == 0 || buffered_ < row_limit_)) {
    switch (state_) {
      case State::kAfterCr:
        if (p[i] == '\n') ++i;
        state_ = State::kFieldStart;
        break;

      case State::kFieldStart:
        if (nfields_ == 0) record_line_ = line_;
        field_line_ = line_;
        if (p[i] == '"') {
          field_quoted_ = true;
          last_was_cr_ = false;
          state_ = State::kQuoted;
          ++i;
          break;
        }
        state_ = State::kUnquoted;
        [[fallthrough]];

      case State::kUnquoted: {
        size_t j = i;
        while (j < n && !special_[static_cast<uint8_t>(p[j])]) ++j;
        field_.append(p + i, j - i);
        if (field_.size() > kMaxFieldBytes) return FieldTooLong();
        i = j;
        if (i == n) break;
        char c = p[i++];
        if (c == delim_) {
          CONSORT_RETURN_IF_ERROR(EndField());
          state_ = State::kFieldStart;
        } else if (c == '\n' || c == '\r') {
          CONSORT_RETURN_IF_ERROR(EndRecord());
          ++line_;
          state_ = c == '\r' ? State::kAfterCr : State::kFieldStart;
        } else {
          return Error(line_, FieldLabel() + ": quote character inside an unquoted field");
        }
        break;
      }

      case State::kQuoted: {
        size_t j = i;
        while (j < n && p[j] != '"' && p[j] != '\n' && p[j] != '\r') ++j;
        if (j > i) last_was_cr_ = false;
        field_.append(p + i, j - i);
        if (field_.size() > kMaxFieldBytes) return FieldTooLong();
        i = j;
        if (i == n) break;
        char c = p[i++];
        if (c == '"') {
          state_ = State::kQuotedQuote;
        } else {
          field_.push_back(c);
          if (c == '\r' || !last_was_cr_) ++line_;
          last_was_cr_ = c == '\r';
        }
        break;
      }

      case State::kQuotedQuote: {
        char c = p[i++];
        if (c == '"') {
          field_.push_back('"');
          last_was_cr_ = false;
          state_ = State::kQuoted;
        } else if (c == delim_) {
          CONSORT_RETURN_IF_ERROR(EndField());
          state_ = State::kFieldStart;
        } else if (c == '\n' || c == '\r') {
          CONSORT_RETURN_IF_ERROR(EndRecord());
          ++line_;
          state_ = c == '\r' ? State::kAfterCr : State::kFieldStart;
        } else {
          return Error(line_, FieldLabel() + ": unexpected character after a closing quote");
        }
        break;
      }
    }
  }
  return i;
}

Status CsvParser::EndField() {
  if (auto bad = FindInvalidUtf8(field_)) {
    // Report the physical line of the bad byte, which may follow line breaks in a quoted field.
    uint64_t line = field_line_;
    for (size_t k = 0; k < *bad; ++k) {
      if (field_[k] == '\n' && (k == 0 || field_[k - 1] != '\r')) ++line;
      if (field_[k] == '\r') ++line;
    }
    return Error(line, FieldLabel() + ": invalid UTF-8 at byte " + std::to_string(*bad + 1));
  }
  if (!have_header_) {
    header_.push_back(field_);
  } else if (nfields_ < inference_.size()) {
    if (field_.empty() && !field_quoted_) {
      if (keep_values_) columns_[nfields_].AppendNull();
    } else {
      if (keep_values_) columns_[nfields_].AppendString(field_);
      if (!field_.empty()) inference_[nfields_].Observe(field_);
    }
  }
  ++nfields_;
  field_.clear();
  field_quoted_ = false;
  return OkStatus();
}

Status CsvParser::EndRecord() {
  bool blank = nfields_ == 0 && field_.empty() && !field_quoted_;
  if (blank && have_header_ && header_.size() > 1) {
    return OkStatus();  // a blank line cannot be a record of a multi-column table
  }
  CONSORT_RETURN_IF_ERROR(EndField());
  if (!have_header_) {
    if (blank) return Error(record_line_, "header is empty");
    have_header_ = true;
    CONSORT_RETURN_IF_ERROR(ValidateHeader());
    nfields_ = 0;
    return OkStatus();
  }
  if (nfields_ != header_.size()) {
    return Error(record_line_, "expected " + std::to_string(header_.size()) + " fields, found " +
                                   std::to_string(nfields_));
  }
  if (row_lines_.size() >= std::numeric_limits<uint32_t>::max() ||
      record_line_ > std::numeric_limits<uint32_t>::max()) {
    return Error(record_line_, "too many rows (the limit is 2^32 - 1)");
  }
  if (keep_values_) row_lines_.push_back(static_cast<uint32_t>(record_line_));
  ++total_rows_;
  ++buffered_;
  nfields_ = 0;
  return OkStatus();
}

Status CsvParser::ValidateHeader() {
  std::unordered_map<std::string_view, size_t> seen;
  for (size_t i = 0; i < header_.size(); ++i) {
    if (header_[i].empty()) {
      return Error(record_line_, "header column " + std::to_string(i + 1) + " has an empty name");
    }
    auto [it, inserted] = seen.emplace(header_[i], i);
    if (!inserted) {
      return Error(record_line_, "duplicate column name '" + header_[i] + "' (columns " +
                                     std::to_string(it->second + 1) + " and " +
                                     std::to_string(i + 1) + ")");
    }
  }
  for (const auto& [name, type] : options_.column_types) {
    if (!seen.count(name)) {
      std::string list;
      for (size_t i = 0; i < header_.size(); ++i) list += (i ? ", '" : "'") + header_[i] + "'";
      return absl::NotFoundError(source_ + ": no column '" + name + "' (available: " + list + ")");
    }
  }
  columns_.assign(header_.size(), Column(ColumnType::kString));
  inference_.assign(header_.size(), CsvInference());
  return OkStatus();
}

StatusOr<Column> CsvParser::Convert(size_t col, ColumnType type) const {
  const Column& src = columns_[col];
  Column out(type);
  out.Reserve(src.size());
  for (size_t r = 0; r < src.size(); ++r) {
    std::string_view v = src.IsNull(r) ? std::string_view() : src.String(r);
    if (v.empty()) {
      out.AppendNull();
      continue;
    }
    if (type == ColumnType::kInt64) {
      auto x = ParseCanonicalInt64(v);
      if (!x) {
        return Error(row_lines_[r], "column '" + header_[col] + "': value is not an int64");
      }
      out.AppendInt64(*x);
    } else {
      auto x = ParseCanonicalInt64(v);
      std::optional<double> d =
          x ? std::optional<double>(static_cast<double>(*x)) : ParseDecimalFloat64(v);
      if (!d) {
        return Error(row_lines_[r], "column '" + header_[col] + "': value is not a float64");
      }
      out.AppendFloat64(*d);
    }
  }
  return out;
}

Status CsvParser::EndInput() {
  switch (state_) {
    case State::kQuoted:
      return Error(field_line_, FieldLabel() + ": unterminated quoted field");
    case State::kFieldStart:
      if (nfields_ == 0) break;  // input ended with a line break (or is empty)
      [[fallthrough]];
    case State::kUnquoted:
    case State::kQuotedQuote:
      CONSORT_RETURN_IF_ERROR(EndRecord());
      break;
    case State::kAfterCr:
      break;
  }
  if (!have_header_) return absl::InvalidArgumentError(source_ + ": file is empty");
  return OkStatus();
}

std::vector<ColumnType> CsvParser::ColumnTypes() const {
  std::vector<ColumnType> types;
  for (size_t c = 0; c < header_.size(); ++c) {
    ColumnType type = inference_[c].Type();
    if (auto it = options_.column_types.find(header_[c]); it != options_.column_types.end()) {
      type = it->second;
    }
    types.push_back(type);
  }
  return types;
}

StatusOr<Table> CsvParser::TakeRows(const std::vector<ColumnType>& types) {
  CONSORT_CHECK(have_header_ && types.size() == header_.size());
  std::vector<ColumnSpec> specs;
  std::vector<Column> columns;
  for (size_t c = 0; c < header_.size(); ++c) {
    specs.push_back({header_[c], types[c]});
    if (types[c] == ColumnType::kString) {
      columns.push_back(std::move(columns_[c]));
    } else {
      CONSORT_ASSIGN_OR_RETURN(Column converted, Convert(c, types[c]));
      columns.push_back(std::move(converted));
    }
    columns_[c] = Column(ColumnType::kString);  // release the text early
  }
  CONSORT_ASSIGN_OR_RETURN(Schema schema, Schema::Make(std::move(specs)));
  std::vector<uint32_t> lines;
  lines.swap(row_lines_);
  buffered_ = 0;
  return Table::Make(std::move(schema), std::move(columns), source_, std::move(lines));
}

StatusOr<Table> CsvParser::Finish() {
  CONSORT_RETURN_IF_ERROR(EndInput());
  return TakeRows(ColumnTypes());
}

}  // namespace consort::data::internal
