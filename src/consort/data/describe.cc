#include "consort/data/describe.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "consort/common/bytes.h"
#include "consort/crypto/hash.h"

namespace consort::data {

Json DescribeTable(const Table& table) {
  Json columns = Json::array();
  for (const ColumnSpec& c : table.schema().columns()) {
    columns.push_back({{"name", c.name}, {"type", std::string(ColumnTypeName(c.type))}});
  }
  return Json{{"columns", std::move(columns)}, {"rows", table.num_rows()}};
}

StatusOr<std::string> FileFingerprint(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) return absl::NotFoundError(path + ": no such file");
    if (err == EACCES || err == EPERM) {
      return absl::PermissionDeniedError(path + ": " + std::strerror(err));
    }
    return absl::InternalError(path + ": " + std::strerror(err));
  }
  struct stat st;
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(path + ": is a directory");
  }
  crypto::Sha256Hasher hasher;
  std::string buf(1 << 20, '\0');
  while (true) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return absl::InternalError(path + ": " + std::strerror(err));
    }
    if (n == 0) break;
    hasher.Update(std::string_view(buf.data(), static_cast<size_t>(n)));
  }
  ::close(fd);
  crypto::Digest256 d = hasher.Finish();
  return HexEncode(ByteSpan(d.data(), d.size()));
}

namespace {
void PutU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
constexpr size_t kFlushBytes = 1 << 16;
// Fixed tags, independent of the enum's order.
char TypeTag(ColumnType t) {
  switch (t) {
    case ColumnType::kInt64:
      return 1;
    case ColumnType::kFloat64:
      return 2;
    case ColumnType::kString:
      return 3;
  }
  return 0;
}
}  // namespace

bool IsContentFingerprint(std::string_view fingerprint) {
  return fingerprint.substr(0, kContentFingerprintPrefix.size()) == kContentFingerprintPrefix;
}

TableContentHasher::TableContentHasher(const Schema& schema) {
  buf_ = std::string("consort.table-content.v1", 24) + '\0';
  PutU64(buf_, schema.size());
  for (const ColumnSpec& c : schema.columns()) {
    PutU64(buf_, c.name.size());
    buf_ += c.name;
    buf_.push_back(TypeTag(c.type));
  }
}

void TableContentHasher::Flush() {
  hasher_.Update(std::string_view(buf_));
  buf_.clear();
}

void TableContentHasher::Update(const Table& batch) {
  for (size_t r = 0; r < batch.num_rows(); ++r) {
    for (size_t c = 0; c < batch.num_columns(); ++c) {
      const Column& col = batch.column(c);
      if (col.IsNull(r)) {
        buf_.push_back(0);
        continue;
      }
      switch (col.type()) {
        case ColumnType::kInt64:
          buf_.push_back(1);
          PutU64(buf_, static_cast<uint64_t>(col.Int64(r)));
          break;
        case ColumnType::kFloat64: {
          double d = col.Float64(r);
          uint64_t bits;
          std::memcpy(&bits, &d, sizeof bits);
          buf_.push_back(2);
          PutU64(buf_, bits);
          break;
        }
        case ColumnType::kString: {
          std::string_view s = col.String(r);
          buf_.push_back(3);
          PutU64(buf_, s.size());
          buf_.append(s);
          break;
        }
      }
    }
    ++rows_;
    if (buf_.size() >= kFlushBytes) Flush();
  }
}

std::string TableContentHasher::Finish() {
  PutU64(buf_, rows_);
  Flush();
  crypto::Digest256 d = hasher_.Finish();
  return std::string(kContentFingerprintPrefix) + HexEncode(ByteSpan(d.data(), d.size()));
}

std::string TableContentFingerprint(const Table& table) {
  TableContentHasher h(table.schema());
  h.Update(table);
  return h.Finish();
}

}  // namespace consort::data
