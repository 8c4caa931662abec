#include "consort/data/csv.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <limits>
#include <unordered_map>

#include "consort/data/internal/csv_chunks.h"
#include "consort/data/internal/text.h"

namespace consort::data {
namespace {

constexpr size_t kChunkBytes = 1 << 20;

Status CheckDelimiter(char d) {
  if (d == '"' || d == '\r' || d == '\n' || d == '\0') {
    return absl::InvalidArgumentError("invalid CSV delimiter");
  }
  return OkStatus();
}

// Per-column evidence for type inference.
struct Inference {
  bool all_int = true;
  bool all_num = true;
  size_t values = 0;

  void Observe(std::string_view v) {
    ++values;
    if (!all_num) return;
    if (internal::ParseCanonicalInt64(v)) return;
    all_int = false;
    if (!internal::ParseDecimalFloat64(v)) all_num = false;
  }
  ColumnType Type() const {
    if (values == 0) return ColumnType::kString;
    if (all_int) return ColumnType::kInt64;
    if (all_num) return ColumnType::kFloat64;
    return ColumnType::kString;
  }
};

// Incremental RFC 4180 parser. Fields go straight into string Columns; numeric columns are
// converted once all rows are known (inference needs every value).
class CsvParser {
 public:
  CsvParser(std::string source, const CsvReadOptions& options)
      : source_(std::move(source)), options_(options), delim_(options.delimiter) {
    special_.fill(false);
    special_[static_cast<uint8_t>(delim_)] = true;
    special_['"'] = true;
    special_['\r'] = true;
    special_['\n'] = true;
  }

  Status Feed(std::string_view chunk);
  StatusOr<Table> Finish();

 private:
  enum class State { kFieldStart, kUnquoted, kQuoted, kQuotedQuote, kAfterCr };

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
  char delim_;
  std::array<bool, 256> special_;

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
  std::vector<Inference> inference_;
  std::vector<uint32_t> row_lines_;
};

Status CsvParser::Feed(std::string_view chunk) {
  const char* p = chunk.data();
  const size_t n = chunk.size();
  size_t i = 0;
  while (i < n) {
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
  return OkStatus();
}

Status CsvParser::EndField() {
  if (auto bad = internal::FindInvalidUtf8(field_)) {
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
  } else if (nfields_ < columns_.size()) {
    if (field_.empty() && !field_quoted_) {
      columns_[nfields_].AppendNull();
    } else {
      columns_[nfields_].AppendString(field_);
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
  row_lines_.push_back(static_cast<uint32_t>(record_line_));
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
  inference_.assign(header_.size(), Inference());
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
      auto x = internal::ParseCanonicalInt64(v);
      if (!x) {
        return Error(row_lines_[r], "column '" + header_[col] + "': value is not an int64");
      }
      out.AppendInt64(*x);
    } else {
      auto x = internal::ParseCanonicalInt64(v);
      std::optional<double> d =
          x ? std::optional<double>(static_cast<double>(*x)) : internal::ParseDecimalFloat64(v);
      if (!d) {
        return Error(row_lines_[r], "column '" + header_[col] + "': value is not a float64");
      }
      out.AppendFloat64(*d);
    }
  }
  return out;
}

StatusOr<Table> CsvParser::Finish() {
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

  std::vector<ColumnSpec> specs;
  std::vector<Column> columns;
  for (size_t c = 0; c < header_.size(); ++c) {
    ColumnType type = inference_[c].Type();
    if (auto it = options_.column_types.find(header_[c]); it != options_.column_types.end()) {
      type = it->second;
    }
    specs.push_back({header_[c], type});
    if (type == ColumnType::kString) {
      columns.push_back(std::move(columns_[c]));
    } else {
      CONSORT_ASSIGN_OR_RETURN(Column converted, Convert(c, type));
      columns.push_back(std::move(converted));
      columns_[c] = Column(ColumnType::kString);  // release the text early
    }
  }
  CONSORT_ASSIGN_OR_RETURN(Schema schema, Schema::Make(std::move(specs)));
  return Table::Make(std::move(schema), std::move(columns), source_, std::move(row_lines_));
}

std::string_view StripBom(std::string_view s) {
  if (s.size() >= 3 && s.substr(0, 3) == "\xEF\xBB\xBF") s.remove_prefix(3);
  return s;
}

Status FileError(const std::string& path, int err) {
  std::string msg = path + ": " + std::strerror(err);
  if (err == ENOENT) return absl::NotFoundError(path + ": no such file");
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(msg);
  if (err == EISDIR) return absl::InvalidArgumentError(path + ": is a directory");
  return absl::InternalError(msg);
}

// Streams bytes to a file descriptor through a buffer.
class FdWriter {
 public:
  explicit FdWriter(int fd) : fd_(fd) { buf_.reserve(kChunkBytes + 4096); }
  std::string& buffer() { return buf_; }
  Status MaybeFlush() { return buf_.size() >= kChunkBytes ? Flush() : OkStatus(); }
  Status Flush() {
    size_t off = 0;
    while (off < buf_.size()) {
      ssize_t n = ::write(fd_, buf_.data() + off, buf_.size() - off);
      if (n < 0) {
        if (errno == EINTR) continue;
        return absl::InternalError(std::string("write failed: ") + std::strerror(errno));
      }
      off += static_cast<size_t>(n);
    }
    buf_.clear();
    return OkStatus();
  }

 private:
  int fd_;
  std::string buf_;
};

void AppendField(std::string& out, std::string_view v, bool quote_if_empty, char delim) {
  bool quote = (v.empty() && quote_if_empty) ||
               v.find_first_of(std::string_view("\"\r\n", 3)) != std::string_view::npos ||
               v.find(delim) != std::string_view::npos;
  if (!quote) {
    out.append(v);
    return;
  }
  out.push_back('"');
  for (char c : v) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
}

// Appends row `row` (or the header for row == npos) of `table` to `out`.
void AppendRecord(std::string& out, const Table& table, size_t row, const CsvWriteOptions& o) {
  std::string text;
  for (size_t c = 0; c < table.num_columns(); ++c) {
    if (c) out.push_back(o.delimiter);
    if (row == std::string::npos) {
      AppendField(out, table.schema().column(c).name, true, o.delimiter);
      continue;
    }
    const Column& col = table.column(c);
    if (col.IsNull(row)) continue;
    if (col.type() == ColumnType::kString) {
      AppendField(out, col.String(row), true, o.delimiter);
    } else {
      text = col.ToText(row);
      AppendField(out, text, true, o.delimiter);
    }
  }
  if (o.crlf) out.push_back('\r');
  out.push_back('\n');
}

Status CheckWritable(const Table& table, const CsvWriteOptions& o) {
  CONSORT_RETURN_IF_ERROR(CheckDelimiter(o.delimiter));
  if (table.num_columns() == 0) {
    return absl::InvalidArgumentError("cannot write a table without columns as CSV");
  }
  return OkStatus();
}

}  // namespace

StatusOr<Table> ParseCsv(std::string_view text, std::string_view source_name,
                         const CsvReadOptions& options) {
  CONSORT_RETURN_IF_ERROR(CheckDelimiter(options.delimiter));
  CsvParser parser(std::string(source_name), options);
  CONSORT_RETURN_IF_ERROR(parser.Feed(StripBom(text)));
  return parser.Finish();
}

namespace internal {
StatusOr<Table> ParseCsvInChunks(std::string_view text, std::string_view source_name,
                                 const CsvReadOptions& options, size_t chunk_bytes) {
  CONSORT_RETURN_IF_ERROR(CheckDelimiter(options.delimiter));
  CONSORT_CHECK(chunk_bytes > 0);
  CsvParser parser(std::string(source_name), options);
  text = StripBom(text);
  for (size_t off = 0; off < text.size(); off += chunk_bytes) {
    CONSORT_RETURN_IF_ERROR(parser.Feed(text.substr(off, chunk_bytes)));
  }
  return parser.Finish();
}
}  // namespace internal

StatusOr<Table> ReadCsv(const std::string& path, const CsvReadOptions& options) {
  CONSORT_RETURN_IF_ERROR(CheckDelimiter(options.delimiter));
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return FileError(path, errno);
  struct stat st;
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    return FileError(path, EISDIR);
  }
  CsvParser parser(options.source_name.empty() ? path : options.source_name, options);
  std::string buf(kChunkBytes, '\0');
  bool first = true;
  Status status;
  while (true) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      status = FileError(path, errno);
      break;
    }
    if (n == 0) break;
    std::string_view chunk(buf.data(), static_cast<size_t>(n));
    if (first) {
      // A BOM split across reads is possible only for files under 3 bytes from a pipe; a
      // regular file's first read returns min(size, chunk) bytes.
      chunk = StripBom(chunk);
      first = false;
    }
    status = parser.Feed(chunk);
    if (!status.ok()) break;
  }
  ::close(fd);
  CONSORT_RETURN_IF_ERROR(status);
  return parser.Finish();
}

StatusOr<std::string> FormatCsv(const Table& table, const CsvWriteOptions& options) {
  CONSORT_RETURN_IF_ERROR(CheckWritable(table, options));
  std::string out;
  AppendRecord(out, table, std::string::npos, options);
  for (size_t r = 0; r < table.num_rows(); ++r) AppendRecord(out, table, r, options);
  return out;
}

Status WriteCsv(const Table& table, const std::string& path, const CsvWriteOptions& options) {
  CONSORT_RETURN_IF_ERROR(CheckWritable(table, options));
  static std::atomic<uint64_t> counter{0};
  std::string tmp =
      path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter.fetch_add(1));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, options.mode);
  if (fd < 0) return absl::InternalError(tmp + ": " + std::strerror(errno));
  auto fail = [&](const Status& st) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return absl::InternalError(path + ": " + std::string(st.message()));
  };
  FdWriter w(fd);
  AppendRecord(w.buffer(), table, std::string::npos, options);
  for (size_t r = 0; r < table.num_rows(); ++r) {
    AppendRecord(w.buffer(), table, r, options);
    if (Status st = w.MaybeFlush(); !st.ok()) return fail(st);
  }
  if (Status st = w.Flush(); !st.ok()) return fail(st);
  ::fchmod(fd, options.mode);  // the umask may have narrowed the open() mode
  if (::fsync(fd) != 0) return fail(absl::InternalError(std::strerror(errno)));
  if (::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return absl::InternalError(path + ": close failed: " + std::strerror(errno));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return absl::InternalError(path + ": rename failed: " + std::strerror(err));
  }
  // Make the rename itself durable.
  std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/'));
  if (dir.empty()) dir = "/";
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return OkStatus();
}

}  // namespace consort::data
