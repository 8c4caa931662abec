#include "consort/net/internal/mailbox.h"

namespace consort::net::internal {

Status Mailbox::Push(Bytes&& message, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  auto fits = [&] {
    return queue_.empty() ||
           (queue_.size() < max_messages_ && bytes_ + message.size() <= max_bytes_);
  };
  if (!not_full_.wait_for(lock, timeout, [&] { return closed_ || fits(); })) {
    return absl::DeadlineExceededError("mailbox full for " + std::to_string(timeout.count()) +
                                       " ms");
  }
  if (closed_) return absl::FailedPreconditionError("mailbox closed");
  bytes_ += message.size();
  queue_.push_back(std::move(message));
  not_empty_.notify_one();
  return OkStatus();
}

StatusOr<Bytes> Mailbox::Pop(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!not_empty_.wait_for(lock, timeout, [&] { return closed_ || !queue_.empty(); })) {
    return absl::DeadlineExceededError("no message from peer within " +
                                       std::to_string(timeout.count()) + " ms");
  }
  if (queue_.empty()) return reason_;
  Bytes m = std::move(queue_.front());
  queue_.pop_front();
  bytes_ -= m.size();
  // Several small messages may fit where one large one left.
  not_full_.notify_all();
  return m;
}

void Mailbox::Close(Status reason) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return;
  closed_ = true;
  reason_ = reason.ok() ? absl::UnavailableError("link closed") : std::move(reason);
  not_empty_.notify_all();
  not_full_.notify_all();
}

bool Mailbox::closed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return closed_;
}

Status Mailbox::close_reason() const {
  std::lock_guard<std::mutex> lock(mu_);
  return reason_;
}

size_t Mailbox::queued_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

}  // namespace consort::net::internal
