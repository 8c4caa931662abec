#pragma once
// Link: an ordered, reliable message channel between this party and one peer, for one job.
//
// Protocol code talks only to Link; it never knows whether the peer is in the same process
// (InMemoryLink, for tests) or another node across the network (gRPC over mutual TLS,
// net/grpc_transport.h). Messages are delivered whole and in order.
//
// Thread safety: one thread may Send while another Recv's; two concurrent Sends (or two
// concurrent Recvs) on the same link are not allowed. Close may be called from any thread at
// any time, and unblocks pending Send and Recv calls (used to cancel a running job).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "consort/common/bytes.h"
#include "consort/common/status.h"

namespace consort::net {

// Messages larger than this are rejected by Send (InvalidArgument) and by every receiver.
inline constexpr size_t kMaxMessageBytes = 16u << 20;
inline constexpr std::chrono::milliseconds kDefaultLinkTimeout{120'000};

class Link {
 public:
  virtual ~Link() = default;

  // The peer's party name.
  virtual const std::string& peer() const = 0;

  // Sends one message. Blocks while the peer's receive buffer is full (backpressure).
  // Errors: Unavailable (peer gone or link closed by the peer), DeadlineExceeded (blocked
  // longer than timeout()), Cancelled (closed locally), InvalidArgument (too large).
  virtual Status Send(ByteSpan message) = 0;

  // Receives the next message. Errors: DeadlineExceeded (nothing within timeout()),
  // Unavailable (peer disconnected or closed), Cancelled (closed locally).
  virtual StatusOr<Bytes> Recv() = 0;

  // Closes both directions; pending and future calls fail with Cancelled (locally) and
  // Unavailable (on the peer). Idempotent.
  virtual void Close() = 0;

  void set_timeout(std::chrono::milliseconds t) { timeout_ = t; }
  std::chrono::milliseconds timeout() const { return timeout_; }

  uint64_t bytes_sent() const { return bytes_sent_.load(); }
  uint64_t bytes_received() const { return bytes_received_.load(); }
  uint64_t messages_sent() const { return messages_sent_.load(); }

 protected:
  void CountSent(size_t n) {
    bytes_sent_ += n;
    ++messages_sent_;
  }
  void CountReceived(size_t n) { bytes_received_ += n; }

 private:
  std::chrono::milliseconds timeout_ = kDefaultLinkTimeout;
  std::atomic<uint64_t> bytes_sent_{0};
  std::atomic<uint64_t> bytes_received_{0};
  std::atomic<uint64_t> messages_sent_{0};
};

// Two connected in-memory links ("a" talks to "b"). `capacity` bounds the messages buffered
// in each direction.
std::pair<std::unique_ptr<Link>, std::unique_ptr<Link>> CreateInMemoryLinkPair(
    const std::string& name_a, const std::string& name_b, size_t capacity = 64);

}  // namespace consort::net
