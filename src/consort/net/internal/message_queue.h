#pragma once
// A bounded, closable, thread-safe FIFO of messages; the mailbox behind every Link transport.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>

#include "consort/common/bytes.h"
#include "consort/common/status.h"

namespace consort::net::internal {

class MessageQueue {
 public:
  explicit MessageQueue(size_t capacity) : capacity_(capacity) {}

  // Blocks while full. Unavailable if closed, DeadlineExceeded on timeout.
  Status Push(Bytes message, std::chrono::milliseconds timeout);
  // Blocks while empty. After Close, drains what is queued, then returns the close reason.
  StatusOr<Bytes> Pop(std::chrono::milliseconds timeout);
  // Wakes every waiter; later Push calls fail with Unavailable, Pop calls (after draining)
  // with `reason`. The first reason wins.
  void Close(Status reason);
  bool closed() const;

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable not_empty_, not_full_;
  std::deque<Bytes> queue_;
  bool closed_ = false;
  Status reason_;
};

}  // namespace consort::net::internal
