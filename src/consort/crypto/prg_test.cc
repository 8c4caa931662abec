#include "consort/crypto/prg.h"

#include <gtest/gtest.h>

#include <bit>
#include <chrono>
#include <cstring>

#include "consort/common/bytes.h"

namespace consort::crypto {
namespace {

TEST(Prg, MatchesAesCtrKnownAnswer) {
  // NIST SP 800-38A F.5.1 (CTR-AES128): keystream block 1 = ciphertext XOR plaintext.
  auto key = HexDecode("2b7e151628aed2a6abf7158809cf4f3cf0f1f2f3f4f5f6f7f8f9fafbfcfdfeff").value();
  SecretBytes seed(key.data(), key.size());
  Prg prg(seed);
  auto w = prg.Next(2);
  uint8_t bytes[16];
  std::memcpy(bytes, w.data(), 16);
  EXPECT_EQ(HexEncode(ByteSpan(bytes, 16)), "ec8cdf7398607cb0f2d21675ea9ea1e4");
}

TEST(Prg, StreamIsIndependentOfCallSplitAndSeed) {
  auto seed = RandomSeed();
  Prg a(seed), b(seed);
  auto whole = a.Next(10001);
  std::vector<uint64_t> parts;
  for (size_t n : {1, 3, 8192, 1805}) {
    auto p = b.Next(n);
    parts.insert(parts.end(), p.begin(), p.end());
  }
  EXPECT_EQ(whole, parts);
  EXPECT_EQ(b.words_generated(), 10001u);
  Prg c(RandomSeed());
  EXPECT_NE(c.Next(4), std::vector<uint64_t>(whole.begin(), whole.begin() + 4));
}

TEST(Prg, BitsAreBalanced) {
  Prg prg(RandomSeed());
  auto w = prg.Next(1 << 16);
  uint64_t ones = 0;
  for (uint64_t v : w) ones += std::popcount(v);
  const double n = 64.0 * w.size();  // 2^22 bits; sd = 1024
  EXPECT_NEAR(static_cast<double>(ones), n / 2, 6 * 1024);
}

TEST(Prg, Throughput) {
  Prg prg(RandomSeed());
  std::vector<uint64_t> buf(1 << 20);
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 32; ++i) prg.Fill(buf);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double gbs = 32.0 * 8 * buf.size() / s / 1e9;
  std::printf("AES-128-CTR PRG: %.2f GB/s\n", gbs);
  EXPECT_GT(gbs, 0.1);  // sanity only: the figure is for BENCHMARKS.md
}

}  // namespace
}  // namespace consort::crypto
