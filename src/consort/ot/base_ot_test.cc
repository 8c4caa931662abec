#include "consort/ot/base_ot.h"

#include <thread>

#include <gtest/gtest.h>

#include "consort/crypto/random.h"

namespace consort::ot {
namespace {

Block RandomBlock() {
  Block b;
  crypto::RandomBytes(reinterpret_cast<uint8_t*>(&b), sizeof(b));
  return b;
}

std::vector<bool> RandomChoices(size_t n) {
  Bytes r = crypto::RandomBytes(n);
  std::vector<bool> c(n);
  for (size_t i = 0; i < n; ++i) c[i] = r[i] & 1;
  return c;
}

TEST(BaseOt, RandomOtReceiverGetsTheChosenKeyAndNotTheOther) {
  auto [a, b] = net::CreateInMemoryLinkPair("s", "r");
  const size_t n = 128;
  auto choices = RandomChoices(n);
  StatusOr<std::vector<std::array<Block, 2>>> sent;
  std::thread t([&, &a = a] { sent = BaseOtSendRandom(*a, n, "job"); });
  auto got = BaseOtReceiveRandom(*b, choices, "job");
  t.join();
  ASSERT_TRUE(sent.ok()) << sent.status();
  ASSERT_TRUE(got.ok()) << got.status();
  for (size_t i = 0; i < n; ++i) {
    EXPECT_EQ((*got)[i], (*sent)[i][choices[i] ? 1 : 0]) << i;
    EXPECT_FALSE((*got)[i] == (*sent)[i][choices[i] ? 0 : 1]) << i;
    EXPECT_FALSE((*sent)[i][0] == (*sent)[i][1]);
  }
}

TEST(BaseOt, ChosenMessagesArriveForTheChoiceBits) {
  auto [a, b] = net::CreateInMemoryLinkPair("s", "r");
  const size_t n = 200;
  std::vector<std::array<Block, 2>> msgs(n);
  for (auto& m : msgs) m = {RandomBlock(), RandomBlock()};
  auto choices = RandomChoices(n);
  Status sent;
  std::thread t([&, &a = a] { sent = BaseOtSend(*a, msgs, "job"); });
  auto got = BaseOtReceive(*b, choices, "job");
  t.join();
  ASSERT_TRUE(sent.ok()) << sent;
  ASSERT_TRUE(got.ok()) << got.status();
  for (size_t i = 0; i < n; ++i) EXPECT_EQ((*got)[i], msgs[i][choices[i] ? 1 : 0]) << i;
}

TEST(BaseOt, DifferentDomainsGiveUnrelatedKeys) {
  auto [a, b] = net::CreateInMemoryLinkPair("s", "r");
  std::vector<bool> choices(8, false);
  StatusOr<std::vector<std::array<Block, 2>>> sent;
  std::thread t([&, &a = a] { sent = BaseOtSendRandom(*a, 8, "job-1"); });
  auto got = BaseOtReceiveRandom(*b, choices, "job-2");
  t.join();
  ASSERT_TRUE(sent.ok() && got.ok());
  for (size_t i = 0; i < 8; ++i) EXPECT_FALSE((*got)[i] == (*sent)[i][0]);
}

TEST(BaseOt, MalformedReceiverReplyIsInvalidArgument) {
  auto [a, b] = net::CreateInMemoryLinkPair("s", "r");
  StatusOr<std::vector<std::array<Block, 2>>> sent;
  std::thread t([&, &a = a] { sent = BaseOtSendRandom(*a, 4, "job"); });
  ASSERT_TRUE(b->Recv().ok());
  Bytes bad(4 * 32, 0xff);  // not canonical ristretto255 encodings
  ASSERT_TRUE(b->Send(bad).ok());
  t.join();
  EXPECT_EQ(sent.status().code(), absl::StatusCode::kInvalidArgument) << sent.status();

  auto [c, d] = net::CreateInMemoryLinkPair("s", "r");
  std::thread t2([&, &c = c] { sent = BaseOtSendRandom(*c, 4, "job"); });
  ASSERT_TRUE(d->Recv().ok());
  ASSERT_TRUE(d->Send(Bytes(3 * 32, 0)).ok());  // wrong count
  t2.join();
  EXPECT_EQ(sent.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(BaseOt, MalformedSenderMessageIsInvalidArgument) {
  auto [a, b] = net::CreateInMemoryLinkPair("s", "r");
  ASSERT_TRUE(a->Send(Bytes(40, 0)).ok());  // no tag
  auto got = BaseOtReceiveRandom(*b, std::vector<bool>(4), "job");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(BaseOt, ClosedLinkIsUnavailable) {
  auto [a, b] = net::CreateInMemoryLinkPair("s", "r");
  a->Close();
  auto got = BaseOtReceiveRandom(*b, std::vector<bool>(4), "job");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable) << got.status();
}

}  // namespace
}  // namespace consort::ot
