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

}  // namespace consort::data
