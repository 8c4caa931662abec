#include "bench/common/socket_link.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace consort::bench {
namespace {

class SocketLink final : public net::Link {
 public:
  SocketLink(int fd, std::string peer) : fd_(fd), peer_(std::move(peer)) {}
  ~SocketLink() override {
    Close();
    ::close(fd_);
  }

  const std::string& peer() const override { return peer_; }

  Status Send(ByteSpan message) override {
    if (message.size() > net::kMaxMessageBytes) {
      return absl::InvalidArgumentError("message exceeds the link limit");
    }
    if (closed_) return absl::CancelledError("link closed locally");
    uint8_t header[4];
    for (int i = 0; i < 4; ++i) header[i] = static_cast<uint8_t>(message.size() >> (8 * i));
    CONSORT_RETURN_IF_ERROR(WriteAll(header, 4));
    CONSORT_RETURN_IF_ERROR(WriteAll(message.data(), message.size()));
    CountSent(message.size());
    return OkStatus();
  }

  StatusOr<Bytes> Recv() override {
    if (closed_) return absl::CancelledError("link closed locally");
    uint8_t header[4];
    CONSORT_RETURN_IF_ERROR(ReadAll(header, 4));
    uint32_t n = 0;
    for (int i = 0; i < 4; ++i) n |= static_cast<uint32_t>(header[i]) << (8 * i);
    if (n > net::kMaxMessageBytes) return absl::InvalidArgumentError("oversized frame");
    Bytes out(n);
    CONSORT_RETURN_IF_ERROR(ReadAll(out.data(), n));
    CountReceived(n);
    return out;
  }

  void Close() override {
    if (closed_.exchange(true)) return;
    ::shutdown(fd_, SHUT_RDWR);
  }

 private:
  Status Wait(short events) {
    const auto deadline = std::chrono::steady_clock::now() + timeout();
    while (true) {
      if (closed_) return absl::CancelledError("link closed locally");
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return absl::DeadlineExceededError("socket link timeout");
      pollfd p{fd_, events, 0};
      int r = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 200)));
      if (r > 0) return OkStatus();
      if (r < 0 && errno != EINTR) return absl::UnavailableError(std::strerror(errno));
    }
  }

  Status WriteAll(const uint8_t* p, size_t n) {
    while (n > 0) {
      CONSORT_RETURN_IF_ERROR(Wait(POLLOUT));
      ssize_t w = ::send(fd_, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w < 0) {
        if (errno == EAGAIN || errno == EINTR) continue;
        return closed_ ? absl::CancelledError("link closed locally")
                       : absl::UnavailableError("peer " + peer_ + " disconnected");
      }
      p += w;
      n -= static_cast<size_t>(w);
    }
    return OkStatus();
  }

  Status ReadAll(uint8_t* p, size_t n) {
    while (n > 0) {
      CONSORT_RETURN_IF_ERROR(Wait(POLLIN));
      ssize_t r = ::recv(fd_, p, n, MSG_DONTWAIT);
      if (r == 0) {
        return closed_ ? absl::CancelledError("link closed locally")
                       : absl::UnavailableError("peer " + peer_ + " closed the link");
      }
      if (r < 0) {
        if (errno == EAGAIN || errno == EINTR) continue;
        return absl::UnavailableError("peer " + peer_ + " disconnected");
      }
      p += r;
      n -= static_cast<size_t>(r);
    }
    return OkStatus();
  }

  const int fd_;
  const std::string peer_;
  std::atomic<bool> closed_{false};
};

}  // namespace

std::unique_ptr<net::Link> CreateSocketLink(int fd, std::string peer) {
  return std::make_unique<SocketLink>(fd, std::move(peer));
}

}  // namespace consort::bench
