#include <memory>

#include "consort/net/internal/mailbox.h"
#include "consort/net/link.h"

namespace consort::net {
namespace {

using internal::Mailbox;

// Bytes buffered per direction; the message count (`capacity`) is the tighter bound in tests.
constexpr size_t kInMemoryBufferBytes = 256u << 20;

class InMemoryLink final : public Link {
 public:
  InMemoryLink(std::string self, std::string peer, std::shared_ptr<Mailbox> out,
               std::shared_ptr<Mailbox> in)
      : self_(std::move(self)), peer_(std::move(peer)), out_(std::move(out)), in_(std::move(in)) {}
  ~InMemoryLink() override { Close(); }

  const std::string& peer() const override { return peer_; }

  Status Send(ByteSpan message) override {
    if (message.size() > kMaxMessageBytes) {
      return absl::InvalidArgumentError("message of " + std::to_string(message.size()) +
                                        " bytes exceeds the link limit");
    }
    if (closed_locally_) return absl::CancelledError("link closed locally");
    Status pushed = out_->Push(Bytes(message.begin(), message.end()), timeout());
    // A closed mailbox means the peer closed the link (we never push after closing ours).
    if (pushed.code() == absl::StatusCode::kFailedPrecondition) {
      return absl::UnavailableError("peer closed the link");
    }
    CONSORT_RETURN_IF_ERROR(pushed);
    CountSent(message.size());
    return OkStatus();
  }

  StatusOr<Bytes> Recv() override {
    if (closed_locally_) return absl::CancelledError("link closed locally");
    auto m = in_->Pop(timeout());
    if (m.ok()) CountReceived(m->size());
    return m;
  }

  void Close() override {
    if (closed_locally_.exchange(true)) return;
    in_->Close(absl::CancelledError("link to " + peer_ + " closed locally"));
    out_->Close(absl::UnavailableError("peer " + self_ + " closed the link"));
  }

 private:
  std::string self_, peer_;
  std::shared_ptr<Mailbox> out_, in_;
  std::atomic<bool> closed_locally_{false};
};

}  // namespace

std::pair<std::unique_ptr<Link>, std::unique_ptr<Link>> CreateInMemoryLinkPair(
    const std::string& name_a, const std::string& name_b, size_t capacity) {
  auto a_to_b = std::make_shared<Mailbox>(kInMemoryBufferBytes, capacity);
  auto b_to_a = std::make_shared<Mailbox>(kInMemoryBufferBytes, capacity);
  return {std::make_unique<InMemoryLink>(name_a, name_b, a_to_b, b_to_a),
          std::make_unique<InMemoryLink>(name_b, name_a, b_to_a, a_to_b)};
}

}  // namespace consort::net
