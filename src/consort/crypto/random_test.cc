#include "consort/crypto/random.h"

#include <set>

#include <gtest/gtest.h>

namespace consort::crypto {
namespace {

TEST(RandomBytes, ProducesDistinctOutputsOfTheRightLength) {
  InitCrypto();
  InitCrypto();  // idempotent
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    Bytes b = RandomBytes(16);
    ASSERT_EQ(b.size(), 16u);
    EXPECT_TRUE(seen.insert(ToString(b)).second);
  }
  EXPECT_EQ(RandomHex(8).size(), 16u);
  EXPECT_TRUE(RandomBytes(0).empty());
}

TEST(RandomBytes, BitsAreRoughlyBalanced) {
  Bytes b = RandomBytes(4096);
  int ones = 0;
  for (uint8_t v : b) ones += __builtin_popcount(v);
  // 32768 fair bits: mean 16384, sd 90.5; 8 sd either side never fails by chance.
  EXPECT_GT(ones, 16384 - 724);
  EXPECT_LT(ones, 16384 + 724);
}

TEST(SecretBytes, MovesAndOwns) {
  const uint8_t raw[3] = {1, 2, 3};
  SecretBytes a(raw, 3);
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a.data()[2], 3);
  SecretBytes b(std::move(a));
  EXPECT_EQ(b.size(), 3u);
  EXPECT_EQ(a.size(), 0u);  // NOLINT(bugprone-use-after-move): checking the moved-from state
  SecretBytes c(5);
  EXPECT_EQ(c.size(), 5u);
  EXPECT_EQ(c.data()[4], 0);
  c = std::move(b);
  EXPECT_EQ(c.size(), 3u);
  EXPECT_EQ(c.span()[0], 1);
}

TEST(ConstantTimeEquals, ComparesContentAndLength) {
  Bytes x = {1, 2, 3}, y = {1, 2, 3}, z = {1, 2, 4}, w = {1, 2};
  EXPECT_TRUE(ConstantTimeEquals(x, y));
  EXPECT_FALSE(ConstantTimeEquals(x, z));
  EXPECT_FALSE(ConstantTimeEquals(x, w));
  EXPECT_TRUE(ConstantTimeEquals(Bytes{}, Bytes{}));
}

}  // namespace
}  // namespace consort::crypto
