#include "consort/common/bytes.h"

#include <gtest/gtest.h>

namespace consort {
namespace {

TEST(Hex, RoundTrip) {
  Bytes b = {0x00, 0x01, 0xab, 0xff};
  EXPECT_EQ(HexEncode(b), "0001abff");
  auto back = HexDecode("0001ABff");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, b);
}

TEST(Hex, RejectsOddLengthAndBadChars) {
  EXPECT_EQ(HexDecode("abc").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HexDecode("zz").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Base64Url, Rfc4648Vectors) {
  // RFC 4648 section 10 vectors, in the URL alphabet without padding.
  EXPECT_EQ(Base64UrlEncode(AsBytes("")), "");
  EXPECT_EQ(Base64UrlEncode(AsBytes("f")), "Zg");
  EXPECT_EQ(Base64UrlEncode(AsBytes("fo")), "Zm8");
  EXPECT_EQ(Base64UrlEncode(AsBytes("foo")), "Zm9v");
  EXPECT_EQ(Base64UrlEncode(AsBytes("foob")), "Zm9vYg");
  EXPECT_EQ(Base64UrlEncode(AsBytes("fooba")), "Zm9vYmE");
  EXPECT_EQ(Base64UrlEncode(AsBytes("foobar")), "Zm9vYmFy");
  Bytes all(256);
  for (int i = 0; i < 256; ++i) all[i] = static_cast<uint8_t>(i);
  auto back = Base64UrlDecode(Base64UrlEncode(all));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, all);
}

TEST(Base64Url, RejectsBadInput) {
  EXPECT_EQ(Base64UrlDecode("Zm9v!").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Base64UrlDecode("Z").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Integers, LittleEndianRoundTrip) {
  Bytes b;
  AppendU32(b, 0x01020304);
  AppendU64(b, 0x1122334455667788ull);
  ASSERT_EQ(b.size(), 12u);
  EXPECT_EQ(b[0], 0x04);
  EXPECT_EQ(ReadU32(b.data()), 0x01020304u);
  EXPECT_EQ(ReadU64(b.data() + 4), 0x1122334455667788ull);
}

}  // namespace
}  // namespace consort
