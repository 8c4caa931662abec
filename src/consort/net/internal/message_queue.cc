#include "consort/net/internal/message_queue.h"

namespace consort::net::internal {

Status MessageQueue::Push(Bytes message, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!not_full_.wait_for(lock, timeout, [&] { return closed_ || queue_.size() < capacity_; })) {
    return absl::DeadlineExceededError("peer did not read for " +
                                       std::to_string(timeout.count()) + " ms");
  }
  // The pusher is never the closer (a Link refuses to send once closed locally), so a closed
  // queue means the other side went away.
  if (closed_) return absl::UnavailableError("peer closed the link");
  queue_.push_back(std::move(message));
  not_empty_.notify_one();
  return OkStatus();
}

StatusOr<Bytes> MessageQueue::Pop(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!not_empty_.wait_for(lock, timeout, [&] { return closed_ || !queue_.empty(); })) {
    return absl::DeadlineExceededError("no message from peer within " +
                                       std::to_string(timeout.count()) + " ms");
  }
  if (queue_.empty()) return reason_;
  Bytes m = std::move(queue_.front());
  queue_.pop_front();
  not_full_.notify_one();
  return m;
}

void MessageQueue::Close(Status reason) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return;
  closed_ = true;
  reason_ = reason.ok() ? absl::UnavailableError("link closed") : std::move(reason);
  not_empty_.notify_all();
  not_full_.notify_all();
}

bool MessageQueue::closed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return closed_;
}

}  // namespace consort::net::internal
