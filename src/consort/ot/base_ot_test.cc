#include "consort/ot/base_ot.h"

#include <gtest/gtest.h>

#include <thread>

#include "consort/crypto/random.h"
#include "consort/crypto/ristretto.h"

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

Bytes Scalar(uint8_t v) {
  Bytes s(32, 0);
  s[0] = v;
  return s;
}

// RFC 9496 appendix A.1: encodings of small multiples of the generator.
TEST(Ristretto, KnownAnswerMultiplesOfTheGenerator) {
  const char* kMultiples[] = {
      "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76",
      "6a493210f7499cd17fecb510ae0cea23a110e8d5b901f8acadd3095c73a3b919",
      "94741f5d5d52755ece4f23f044ee27d5d1ea1e2bd196b462166b16152a9d0259",
  };
  crypto::RistrettoPoint sum;
  for (uint8_t k = 1; k <= 3; ++k) {
    auto s = crypto::RistrettoScalar::FromBytes(Scalar(k));
    ASSERT_TRUE(s.ok()) << s.status();
    auto p = crypto::RistrettoPoint::BaseMul(*s);
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(HexEncode(ByteSpan(p->bytes().data(), 32)), kMultiples[k - 1]) << k;
    auto g = crypto::RistrettoPoint::Decode(ByteSpan(p->bytes().data(), 32));
    sum = k == 1 ? *g : sum.Add(*g);
    if (k == 3) {  // B + 2B + 3B = 6B
      auto six = crypto::RistrettoScalar::FromBytes(Scalar(6));
      ASSERT_TRUE(six.ok());
      EXPECT_EQ(sum, *crypto::RistrettoPoint::BaseMul(*six));
    }
  }
}

TEST(Ristretto, RejectsNonCanonicalInputs) {
  Bytes p(32, 0xff);
  EXPECT_EQ(crypto::RistrettoPoint::Decode(p).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(crypto::RistrettoPoint::Decode(Bytes(31, 0)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(crypto::RistrettoScalar::FromBytes(Bytes(32, 0xff)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(crypto::RistrettoScalar::FromBytes(Bytes(32, 0)).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto identity = crypto::RistrettoPoint::Decode(Bytes(32, 0));  // canonical identity
  ASSERT_TRUE(identity.ok());
  EXPECT_EQ(identity->Mul(crypto::RistrettoScalar::Random()).status().code(),
            absl::StatusCode::kInvalidArgument);
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
