#pragma once
// The receive buffer of one (job, sender) pair in PeerTransport: a closable FIFO bounded by
// bytes as well as messages (a peer may send 16 MiB messages, so a count alone does not bound
// memory). While full, the gRPC handler feeding it stops reading, and HTTP/2 flow control
// pushes back on the sender.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>

#include "consort/common/bytes.h"
#include "consort/common/status.h"

namespace consort::net::internal {

class Mailbox {
 public:
  // Holds at most `max_messages` messages and `max_bytes` bytes, except that one message of
  // any size is admitted into an empty mailbox.
  Mailbox(size_t max_bytes, size_t max_messages) : max_bytes_(max_bytes), max_messages_(max_messages) {}

  // Appends `message` (moved from only on success). DeadlineExceeded if still full after
  // `timeout`; FailedPrecondition if the mailbox is closed. Thread-safe.
  Status Push(Bytes&& message, std::chrono::milliseconds timeout);
  // Next message; after Close, drains what is queued, then returns the close reason.
  // DeadlineExceeded if nothing arrives within `timeout`. Thread-safe.
  StatusOr<Bytes> Pop(std::chrono::milliseconds timeout);
  // Wakes every waiter. The first non-OK reason wins; later calls are no-ops.
  void Close(Status reason);
  bool closed() const;
  Status close_reason() const;
  size_t queued_bytes() const;

 private:
  const size_t max_bytes_, max_messages_;
  mutable std::mutex mu_;
  std::condition_variable not_empty_, not_full_;
  std::deque<Bytes> queue_;
  size_t bytes_ = 0;
  bool closed_ = false;
  Status reason_;
};

}  // namespace consort::net::internal
