#include "consort/crypto/x25519_blind.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "consort/common/bytes.h"
#include "consort/crypto/curve25519.h"

namespace consort::crypto {
namespace {

TEST(X25519Blind, PairInvertsModLAndStaysClamped) {
  auto enc = Curve25519Encoder::Create(AsBytes("test-dst"));
  ASSERT_TRUE(enc.ok());
  for (int trial = 0; trial < 50; ++trial) {
    auto pair = GenerateX25519BlindPair();
    ASSERT_TRUE(pair.ok()) << pair.status();
    // Both are already clamped: X25519 leaves them unchanged.
    for (const auto* s : {&pair->blind, &pair->unblind}) {
      EXPECT_EQ(s->data()[0] & 7, 0);
      EXPECT_EQ(s->data()[31] & 0xc0, 0x40);
    }
    auto c = X25519Scalar::FromBytes(pair->blind.span());
    auto d = X25519Scalar::FromBytes(pair->unblind.span());
    auto k = X25519Scalar::Generate();
    std::string msg = "item-" + std::to_string(trial);
    std::vector<X25519Point> p(1), direct(1);
    enc->Encode(std::span<const std::string>(&msg, 1), p);
    ASSERT_TRUE(k.Multiply(p, direct).ok());  // X25519(k, H(x))
    ASSERT_TRUE(c->Multiply(p, p).ok());
    ASSERT_TRUE(k.Multiply(p, p).ok());
    ASSERT_TRUE(d->Multiply(p, p).ok());
    EXPECT_EQ(p[0], direct[0]) << "trial " << trial;
  }
}

}  // namespace
}  // namespace consort::crypto
