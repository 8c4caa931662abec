#include "consort/crypto/hash.h"

#include <gtest/gtest.h>

#include "consort/crypto/random.h"

namespace consort::crypto {
namespace {

// FIPS 180-4 example vectors (NIST CSRC "Example Values").
constexpr char kSha256Abc[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr char kSha256Empty[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr char kSha256TwoBlock[] =
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
constexpr char kSha512Abc[] =
    "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";
constexpr char kSha512Empty[] =
    "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
    "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";

TEST(Sha256, KnownAnswers) {
  EXPECT_EQ(HexEncode(Sha256(std::string_view("abc"))), kSha256Abc);
  EXPECT_EQ(HexEncode(Sha256(std::string_view(""))), kSha256Empty);
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            kSha256TwoBlock);
  EXPECT_EQ(HexEncode(Sha256(AsBytes("abc"))), kSha256Abc);
}

TEST(Sha512, KnownAnswers) {
  EXPECT_EQ(HexEncode(Sha512(AsBytes("abc"))), kSha512Abc);
  EXPECT_EQ(HexEncode(Sha512(AsBytes(""))), kSha512Empty);
}

TEST(Sha256Hasher, IncrementalMatchesOneShot) {
  Sha256Hasher h;
  h.Update(std::string_view("abcdbcdecdefdefgefghfghighij"));
  h.Update(AsBytes("hijkijkljklmklmnlmnomnopnopq"));
  EXPECT_EQ(HexEncode(h.Finish()), kSha256TwoBlock);
  // Finish resets the state.
  EXPECT_EQ(HexEncode(h.Finish()), kSha256Empty);

  Bytes big = RandomBytes(10'000);
  Sha256Hasher h2;
  for (size_t i = 0; i < big.size(); i += 333) {
    h2.Update(ByteSpan(big).subspan(i, std::min<size_t>(333, big.size() - i)));
  }
  EXPECT_EQ(h2.Finish(), Sha256(ByteSpan(big)));
}

TEST(Blake2b, MatchesRfc7693WithZeroSaltAndPersonalAndBothChangeTheOutput) {
  // RFC 7693 Appendix A: BLAKE2b-512("abc").
  const std::string abc = "abc";
  uint8_t out[64];
  Blake2bSaltPersonal(out, 64, reinterpret_cast<const uint8_t*>(abc.data()), abc.size(), nullptr,
                      nullptr);
  EXPECT_EQ(HexEncode(ByteSpan(out, 64)),
            "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
            "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923");
  uint8_t zeros[16] = {0}, one[16] = {1}, a[16], b[16], c[16], d[16];
  const auto* in = reinterpret_cast<const uint8_t*>(abc.data());
  Blake2bSaltPersonal(a, 16, in, abc.size(), zeros, zeros);
  Blake2bSaltPersonal(b, 16, in, abc.size(), one, zeros);
  Blake2bSaltPersonal(c, 16, in, abc.size(), zeros, one);
  Blake2bSaltPersonal(d, 16, in, abc.size(), nullptr, nullptr);
  EXPECT_EQ(HexEncode(ByteSpan(a, 16)), HexEncode(ByteSpan(d, 16)));
  EXPECT_NE(HexEncode(ByteSpan(a, 16)), HexEncode(ByteSpan(b, 16)));
  EXPECT_NE(HexEncode(ByteSpan(a, 16)), HexEncode(ByteSpan(c, 16)));
  EXPECT_NE(HexEncode(ByteSpan(b, 16)), HexEncode(ByteSpan(c, 16)));
}

}  // namespace
}  // namespace consort::crypto
