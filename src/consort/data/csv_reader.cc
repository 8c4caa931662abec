#include "consort/data/csv_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "consort/common/bytes.h"
#include "consort/crypto/hash.h"
#include "consort/data/internal/csv_parser.h"

namespace consort::data {
namespace {

constexpr size_t kReadBytes = 1 << 20;

Status OpenError(const std::string& path, int err) {
  if (err == ENOENT) return absl::NotFoundError(path + ": no such file");
  if (err == EACCES || err == EPERM) {
    return absl::PermissionDeniedError(path + ": " + std::strerror(err));
  }
  if (err == EISDIR) return absl::InvalidArgumentError(path + ": is a directory");
  return absl::InternalError(path + ": " + std::strerror(err));
}

// A file read in chunks, optionally hashed as it goes.
class ChunkedFile {
 public:
  ~ChunkedFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  Status Open(const std::string& path) {
    path_ = path;
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) return OpenError(path, errno);
    struct stat st;
    if (::fstat(fd_, &st) == 0 && S_ISDIR(st.st_mode)) return OpenError(path, EISDIR);
    buf_.resize(kReadBytes);
    return OkStatus();
  }
  // The next chunk (empty at the end of the file). The first strips a UTF-8 BOM.
  StatusOr<std::string_view> Read() {
    while (true) {
      ssize_t n = ::read(fd_, buf_.data(), buf_.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return absl::InternalError(path_ + ": " + std::strerror(errno));
      }
      std::string_view chunk(buf_.data(), static_cast<size_t>(n));
      hasher_.Update(chunk);
      if (first_) {
        // A regular file's first read returns min(size, chunk) bytes, so a BOM is never split.
        chunk = internal::StripUtf8Bom(chunk);
        first_ = false;
        if (chunk.empty() && n > 0) continue;
      }
      return chunk;
    }
  }
  // Reads (and hashes) whatever is left, then returns the hex digest of the whole file.
  StatusOr<std::string> FinishHash() {
    while (true) {
      CONSORT_ASSIGN_OR_RETURN(std::string_view c, Read());
      if (c.empty()) break;
    }
    crypto::Digest256 d = hasher_.Finish();
    return HexEncode(ByteSpan(d.data(), d.size()));
  }

 private:
  std::string path_;
  int fd_ = -1;
  std::string buf_;
  bool first_ = true;
  crypto::Sha256Hasher hasher_;
};

class CsvStreamReader final : public TableReader {
 public:
  CsvStreamReader(std::string source, CsvStreamOptions options, std::vector<ColumnType> types)
      : options_(std::move(options)),
        types_(std::move(types)),
        parser_(std::move(source), options_.read) {
    parser_.set_row_limit(options_.batch_rows);
  }

  Status Open(const std::string& path) { return file_.Open(path); }

  StatusOr<bool> Next(Table* batch) override {
    if (!status_.ok()) return status_;
    StatusOr<bool> r = NextInternal(batch);
    if (!r.ok()) {
      status_ = r.status();
      // A file that changed since registration explains any parse error better than the
      // error itself: hash the rest and say so.
      if (!ended_ && !options_.expected_fingerprint.empty()) {
        ended_ = true;
        StatusOr<std::string> fp = file_.FinishHash();
        if (fp.ok() && *fp != options_.expected_fingerprint) status_ = Changed();
      }
      *batch = Table();
      return status_;
    }
    return r;
  }

 private:
  Status Changed() const {
    return absl::FailedPreconditionError(options_.read.source_name +
                                         ": the file changed since it was registered");
  }

  StatusOr<bool> NextInternal(Table* batch) {
    while (!ended_) {
      if (pending_.empty()) {
        CONSORT_ASSIGN_OR_RETURN(pending_, file_.Read());
        if (pending_.empty()) {
          ended_ = true;
          CONSORT_RETURN_IF_ERROR(parser_.EndInput());
          if (!options_.expected_fingerprint.empty()) {
            CONSORT_ASSIGN_OR_RETURN(std::string fp, file_.FinishHash());
            if (fp != options_.expected_fingerprint) return Changed();
          }
          break;
        }
      }
      CONSORT_ASSIGN_OR_RETURN(size_t used, parser_.Feed(pending_));
      pending_.remove_prefix(used);
      if (parser_.buffered_rows() >= options_.batch_rows) {
        CONSORT_ASSIGN_OR_RETURN(*batch, parser_.TakeRows(types_));
        return true;
      }
    }
    if (parser_.buffered_rows() > 0) {
      CONSORT_ASSIGN_OR_RETURN(*batch, parser_.TakeRows(types_));
      return true;
    }
    *batch = Table();
    return false;
  }

  CsvStreamOptions options_;
  std::vector<ColumnType> types_;
  internal::CsvParser parser_;
  ChunkedFile file_;
  std::string_view pending_;
  bool ended_ = false;
  Status status_;
};

// Reads the whole file once, keeping no values, for the header and the inferred types.
StatusOr<std::vector<ColumnType>> InferTypes(const std::string& path, const std::string& source,
                                             const CsvReadOptions& read) {
  ChunkedFile file;
  CONSORT_RETURN_IF_ERROR(file.Open(path));
  internal::CsvParser parser(source, read, /*keep_values=*/false);
  while (true) {
    CONSORT_ASSIGN_OR_RETURN(std::string_view chunk, file.Read());
    if (chunk.empty()) break;
    CONSORT_RETURN_IF_ERROR(parser.Feed(chunk).status());
  }
  CONSORT_RETURN_IF_ERROR(parser.EndInput());
  return parser.ColumnTypes();
}

// Reads just enough of the file for the header; nullopt-like empty vector when the types
// must be inferred (a column has no forced type).
StatusOr<std::vector<ColumnType>> ForcedTypes(const std::string& path, const std::string& source,
                                              const CsvReadOptions& read) {
  ChunkedFile file;
  CONSORT_RETURN_IF_ERROR(file.Open(path));
  internal::CsvParser parser(source, read, /*keep_values=*/false);
  while (!parser.has_header()) {
    CONSORT_ASSIGN_OR_RETURN(std::string_view chunk, file.Read());
    if (chunk.empty()) {
      CONSORT_RETURN_IF_ERROR(parser.EndInput());
      break;
    }
    // Only the header matters here; parse until it is complete (limit 1 row stops right after).
    parser.set_row_limit(1);
    CONSORT_RETURN_IF_ERROR(parser.Feed(chunk).status());
  }
  std::vector<ColumnType> types;
  for (const std::string& name : parser.header()) {
    auto it = read.column_types.find(name);
    if (it == read.column_types.end()) return std::vector<ColumnType>();
    types.push_back(it->second);
  }
  return types;
}

}  // namespace

StatusOr<std::unique_ptr<TableReader>> OpenCsvReader(const std::string& path,
                                                     const CsvStreamOptions& options_in) {
  CsvStreamOptions options = options_in;
  CONSORT_RETURN_IF_ERROR(internal::CheckCsvDelimiter(options.read.delimiter));
  if (options.batch_rows < 1) {
    return absl::InvalidArgumentError("CSV reader: batch_rows must be at least 1");
  }
  if (options.read.source_name.empty()) options.read.source_name = path;
  const std::string source = options.read.source_name;
  std::vector<ColumnType> types;
  if (!options.read.column_types.empty()) {
    CONSORT_ASSIGN_OR_RETURN(types, ForcedTypes(path, source, options.read));
  }
  if (types.empty()) {
    StatusOr<std::vector<ColumnType>> inferred = InferTypes(path, source, options.read);
    if (!inferred.ok() && !options.expected_fingerprint.empty() &&
        inferred.status().code() == absl::StatusCode::kInvalidArgument) {
      StatusOr<std::string> fp = [&]() -> StatusOr<std::string> {
        ChunkedFile f;
        CONSORT_RETURN_IF_ERROR(f.Open(path));
        return f.FinishHash();
      }();
      if (fp.ok() && *fp != options.expected_fingerprint) {
        return absl::FailedPreconditionError(source +
                                             ": the file changed since it was registered");
      }
    }
    CONSORT_RETURN_IF_ERROR(inferred.status());
    types = *std::move(inferred);
  }
  auto reader = std::make_unique<CsvStreamReader>(source, std::move(options), std::move(types));
  CONSORT_RETURN_IF_ERROR(reader->Open(path));
  return std::unique_ptr<TableReader>(std::move(reader));
}

}  // namespace consort::data
