#include "consort/net/internal/mailbox.h"

#include <thread>

#include <gtest/gtest.h>

namespace consort::net {
namespace {

using internal::Mailbox;
using std::chrono::milliseconds;

TEST(Mailbox, BoundedByBytesButAdmitsOneLargeMessage) {
  Mailbox box(/*max_bytes=*/100, /*max_messages=*/10);
  ASSERT_TRUE(box.Push(Bytes(1000, 1), milliseconds(10)).ok());  // empty: admitted
  Bytes small(10, 2);
  EXPECT_EQ(box.Push(std::move(small), milliseconds(10)).code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(small.size(), 10u);  // not consumed by a failed Push
  EXPECT_EQ(box.Pop(milliseconds(10))->size(), 1000u);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(box.Push(Bytes(10, 3), milliseconds(10)).ok());
  EXPECT_EQ(box.queued_bytes(), 100u);
  EXPECT_EQ(box.Push(Bytes(1, 4), milliseconds(10)).code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(Mailbox, BoundedByCount) {
  Mailbox box(1 << 20, 2);
  ASSERT_TRUE(box.Push(Bytes{1}, milliseconds(10)).ok());
  ASSERT_TRUE(box.Push(Bytes{2}, milliseconds(10)).ok());
  EXPECT_EQ(box.Push(Bytes{3}, milliseconds(10)).code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(Mailbox, CloseDrainsThenReportsFirstReason) {
  Mailbox box(1 << 20, 16);
  ASSERT_TRUE(box.Push(Bytes{7}, milliseconds(10)).ok());
  box.Close(absl::UnavailableError("peer x closed the link"));
  box.Close(absl::CancelledError("second reason ignored"));
  EXPECT_EQ(box.Push(Bytes{8}, milliseconds(10)).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(*box.Pop(milliseconds(10)), Bytes{7});
  auto end = box.Pop(milliseconds(10));
  EXPECT_EQ(end.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(end.status().message(), "peer x closed the link");
}

TEST(Mailbox, CloseWakesBlockedPushAndPop) {
  Mailbox full(1, 1), empty(1, 1);
  ASSERT_TRUE(full.Push(Bytes{1}, milliseconds(10)).ok());
  Status push_st, pop_st;
  std::thread a([&] { push_st = full.Push(Bytes{2}, milliseconds(10000)); });
  std::thread b([&] { pop_st = empty.Pop(milliseconds(10000)).status(); });
  std::this_thread::sleep_for(milliseconds(50));
  full.Close(absl::CancelledError("bye"));
  empty.Close(absl::CancelledError("bye"));
  a.join();
  b.join();
  EXPECT_EQ(push_st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(pop_st.code(), absl::StatusCode::kCancelled);
}

}  // namespace
}  // namespace consort::net
