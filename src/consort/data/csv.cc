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
#include "consort/data/internal/csv_parser.h"
#include "consort/data/internal/text.h"

namespace consort::data {
namespace {

using internal::CsvParser;

constexpr size_t kChunkBytes = 1 << 20;

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
  CONSORT_RETURN_IF_ERROR(internal::CheckCsvDelimiter(o.delimiter));
  if (table.num_columns() == 0) {
    return absl::InvalidArgumentError("cannot write a table without columns as CSV");
  }
  return OkStatus();
}

}  // namespace

StatusOr<Table> ParseCsv(std::string_view text, std::string_view source_name,
                         const CsvReadOptions& options) {
  CONSORT_RETURN_IF_ERROR(internal::CheckCsvDelimiter(options.delimiter));
  CsvParser parser(std::string(source_name), options);
  CONSORT_RETURN_IF_ERROR(parser.Feed(internal::StripUtf8Bom(text)).status());
  return parser.Finish();
}

namespace internal {
StatusOr<Table> ParseCsvInChunks(std::string_view text, std::string_view source_name,
                                 const CsvReadOptions& options, size_t chunk_bytes) {
  CONSORT_RETURN_IF_ERROR(internal::CheckCsvDelimiter(options.delimiter));
  CONSORT_CHECK(chunk_bytes > 0);
  CsvParser parser(std::string(source_name), options);
  text = internal::StripUtf8Bom(text);
  for (size_t off = 0; off < text.size(); off += chunk_bytes) {
    CONSORT_RETURN_IF_ERROR(parser.Feed(text.substr(off, chunk_bytes)).status());
  }
  return parser.Finish();
}
}  // namespace internal

StatusOr<Table> ReadCsv(const std::string& path, const CsvReadOptions& options) {
  CONSORT_RETURN_IF_ERROR(internal::CheckCsvDelimiter(options.delimiter));
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
      chunk = internal::StripUtf8Bom(chunk);
      first = false;
    }
    status = parser.Feed(chunk).status();
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
