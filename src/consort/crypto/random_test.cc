#include "consort/crypto/random.h"

#include <algorithm>
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

TEST(Csprng, UniformStaysInRangeAndCoversIt) {
  Csprng rng;
  std::vector<int> counts(7, 0);
  for (int i = 0; i < 7000; ++i) {
    uint64_t v = rng.Uniform(7);
    ASSERT_LT(v, 7u);
    ++counts[v];
  }
  // Each bucket expects 1000 (sd ~29); 10 sd either side never fails by chance.
  for (int c : counts) {
    EXPECT_GT(c, 700);
    EXPECT_LT(c, 1300);
  }
  EXPECT_EQ(rng.Uniform(1), 0u);
  Csprng other;
  EXPECT_NE(rng.Next64(), other.Next64());  // independent keys
}

TEST(RandomPermutation, IsAPermutationAndVaries) {
  for (size_t n : {0u, 1u, 2u, 1000u}) {
    auto p = RandomPermutation(n);
    ASSERT_EQ(p.size(), n);
    std::vector<size_t> sorted = p;
    std::sort(sorted.begin(), sorted.end());
    for (size_t i = 0; i < n; ++i) EXPECT_EQ(sorted[i], i);
  }
  EXPECT_NE(RandomPermutation(1000), RandomPermutation(1000));
  // Position 0 takes every value of a 4-permutation (catches an off-by-one in Fisher-Yates).
  std::set<size_t> firsts;
  for (int i = 0; i < 200; ++i) firsts.insert(RandomPermutation(4)[0]);
  EXPECT_EQ(firsts.size(), 4u);
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
