#include "consort/net/link.h"

#include <thread>

#include <gtest/gtest.h>

namespace consort::net {
namespace {

TEST(InMemoryLink, DeliversInOrderBothWays) {
  auto [a, b] = CreateInMemoryLinkPair("a", "b", 256);
  EXPECT_EQ(a->peer(), "b");
  std::thread t([&, &b = b] {
    for (int i = 0; i < 100; ++i) {
      auto m = b->Recv();
      ASSERT_TRUE(m.ok());
      ASSERT_EQ(m->size(), 1u);
      EXPECT_EQ((*m)[0], i);
      ASSERT_TRUE(b->Send(*m).ok());
    }
  });
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(a->Send(Bytes{static_cast<uint8_t>(i)}).ok());
  for (int i = 0; i < 100; ++i) {
    auto m = a->Recv();
    ASSERT_TRUE(m.ok());
    EXPECT_EQ((*m)[0], i);
  }
  t.join();
  EXPECT_EQ(a->bytes_sent(), 100u);
  EXPECT_EQ(a->bytes_received(), 100u);
}

TEST(InMemoryLink, RecvTimesOutWithDeadlineExceeded) {
  auto [a, b] = CreateInMemoryLinkPair("a", "b");
  a->set_timeout(std::chrono::milliseconds(20));
  EXPECT_EQ(a->Recv().status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(InMemoryLink, SendBlocksWhenFullThenTimesOut) {
  auto [a, b] = CreateInMemoryLinkPair("a", "b", 2);
  a->set_timeout(std::chrono::milliseconds(20));
  ASSERT_TRUE(a->Send(Bytes{1}).ok());
  ASSERT_TRUE(a->Send(Bytes{2}).ok());
  EXPECT_EQ(a->Send(Bytes{3}).code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(InMemoryLink, PeerCloseIsUnavailableAfterDrain) {
  auto [a, b] = CreateInMemoryLinkPair("a", "b");
  ASSERT_TRUE(a->Send(Bytes{7}).ok());
  a->Close();
  auto first = b->Recv();
  ASSERT_TRUE(first.ok());
  EXPECT_EQ((*first)[0], 7);
  EXPECT_EQ(b->Recv().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(b->Send(Bytes{1}).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(a->Recv().status().code(), absl::StatusCode::kCancelled);
}

TEST(InMemoryLink, RejectsOversizedMessage) {
  auto [a, b] = CreateInMemoryLinkPair("a", "b");
  Bytes big(kMaxMessageBytes + 1);
  EXPECT_EQ(a->Send(big).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace consort::net
