#pragma once
// Scratch-directory files and keepalives shared by the streaming PSI flows (bucketed_psi.cc,
// internal/size_only_psi.cc). Internal to psi/.
//   FileWriter / FileReader: buffered (kIoBytes) sequential files, errors as Internal naming
//     the path (DataLoss for a truncated record).
//   AppendToFile: one open/append/close (for more files than a process may hold open).
//   LocalPhase: keepalives while a party works locally and its peer waits in Recv.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "consort/common/bytes.h"
#include "consort/common/status.h"
#include "consort/net/link.h"
#include "consort/psi/internal/bucketed_psi_wire.h"

namespace consort::psi::internal {

inline constexpr size_t kIoBytes = 1 << 20;

inline Status IoError(const std::string& what, int err) {
  return absl::InternalError(what + ": " + std::strerror(err));
}

class FileWriter {
 public:
  FileWriter() = default;
  FileWriter(const FileWriter&) = delete;
  FileWriter& operator=(const FileWriter&) = delete;
  ~FileWriter() {
    if (fd_ >= 0) ::close(fd_);
  }

  Status Open(const std::string& path, bool append) {
    path_ = path;
    const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC);
    fd_ = ::open(path.c_str(), flags, 0600);
    if (fd_ < 0) return IoError(path, errno);
    buf_.reserve(kIoBytes);
    return OkStatus();
  }
  Status Append(std::string_view data) {
    buf_.append(data);
    return buf_.size() >= kIoBytes ? Flush() : OkStatus();
  }
  Status Flush() {
    CONSORT_RETURN_IF_ERROR(WriteAll(fd_, buf_, path_));
    buf_.clear();
    return OkStatus();
  }
  Status Sync() {
    CONSORT_RETURN_IF_ERROR(Flush());
    if (::fsync(fd_) != 0) return IoError(path_, errno);
    return OkStatus();
  }
  Status Close() {
    CONSORT_RETURN_IF_ERROR(Flush());
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) return IoError(path_, errno);
    return OkStatus();
  }

  static Status WriteAll(int fd, std::string_view data, const std::string& path) {
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::write(fd, data.data() + off, data.size() - off);
      if (n < 0) {
        if (errno == EINTR) continue;
        return IoError(path, errno);
      }
      off += static_cast<size_t>(n);
    }
    return OkStatus();
  }

 private:
  std::string path_;
  int fd_ = -1;
  std::string buf_;
};

// Appends `data` to `path` (created if missing) with one open/write/close: the split keeps
// up to kMaxBuckets buckets, more than a process may hold open.
inline Status AppendToFile(const std::string& path, std::string_view data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return IoError(path, errno);
  Status st = FileWriter::WriteAll(fd, data, path);
  if (::close(fd) != 0 && st.ok()) st = IoError(path, errno);
  return st;
}

class FileReader {
 public:
  FileReader() = default;
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;
  ~FileReader() {
    if (fd_ >= 0) ::close(fd_);
  }
  Status Open(const std::string& path) {
    path_ = path;
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) return IoError(path, errno);
    buf_.resize(kIoBytes);
    return OkStatus();
  }
  // Reads exactly n bytes; false at a clean end of file, DataLoss at a truncated record.
  StatusOr<bool> Read(void* out, size_t n) {
    uint8_t* dst = static_cast<uint8_t*>(out);
    size_t got = 0;
    while (got < n) {
      if (pos_ == len_) {
        ssize_t r = ::read(fd_, buf_.data(), buf_.size());
        if (r < 0) {
          if (errno == EINTR) continue;
          return IoError(path_, errno);
        }
        if (r == 0) {
          if (got == 0) return false;
          return absl::DataLossError(path_ + ": truncated record");
        }
        pos_ = 0;
        len_ = static_cast<size_t>(r);
      }
      size_t take = std::min(n - got, len_ - pos_);
      std::memcpy(dst + got, buf_.data() + pos_, take);
      pos_ += take;
      got += take;
    }
    return true;
  }

 private:
  std::string path_;
  int fd_ = -1;
  std::string buf_;
  size_t pos_ = 0, len_ = 0;
};

// While this party works locally (reading and bucketing up to 10^9 keys can take minutes) the
// peer waits in Recv, and a link fails after timeout() of silence. A LocalPhase sends a 1-byte
// keepalive every timeout()/4 and drains the peer's keepalives, until Exchange() sends this
// party's next real message and returns the peer's. Both parties run the same phases, so every
// keepalive is consumed by the peer's phase that precedes the real message it trails.
class LocalPhase {
 public:
  explicit LocalPhase(net::Link& link) : link_(link) {
    const auto interval = std::clamp<std::chrono::milliseconds>(
        link.timeout() / 4, std::chrono::milliseconds(20), std::chrono::milliseconds(30'000));
    pinger_ = std::thread([this, interval] {
      std::unique_lock lock(mu_);
      while (!cv_.wait_for(lock, interval, [&] { return stop_; })) {
        lock.unlock();
        const uint8_t k = internal::kMsgBucketKeepalive;
        Status st = link_.Send(ByteSpan(&k, 1));
        lock.lock();
        if (!st.ok()) return;  // the real Send reports the failure
      }
    });
    drainer_ = std::thread([this] {
      while (true) {
        StatusOr<Bytes> m = link_.Recv();
        if (m.ok() && m->size() == 1 && (*m)[0] == internal::kMsgBucketKeepalive) continue;
        peer_message_ = std::move(m);
        return;
      }
    });
  }
  LocalPhase(const LocalPhase&) = delete;
  LocalPhase& operator=(const LocalPhase&) = delete;
  // On an error path: the link is closed so that the drainer's Recv returns.
  ~LocalPhase() {
    StopPinger();
    if (drainer_.joinable()) {
      link_.Close();
      drainer_.join();
    }
  }

  // Stops the keepalives, sends `mine`, and returns the peer's next real message.
  StatusOr<Bytes> Exchange(ByteSpan mine) {
    StopPinger();
    CONSORT_RETURN_IF_ERROR(link_.Send(mine));
    drainer_.join();
    return std::move(peer_message_);
  }

 private:
  void StopPinger() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (pinger_.joinable()) pinger_.join();
  }

  net::Link& link_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread pinger_, drainer_;
  StatusOr<Bytes> peer_message_ = absl::InternalError("no message");
};


}  // namespace consort::psi::internal
