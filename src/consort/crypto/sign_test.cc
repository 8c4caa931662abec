#include "consort/crypto/sign.h"

#include <gtest/gtest.h>

namespace consort::crypto {
namespace {

Bytes Hex(std::string_view h) {
  auto b = HexDecode(h);
  EXPECT_TRUE(b.ok());
  return *b;
}

struct Rfc8032Vector {
  const char* seed;
  const char* public_key;
  const char* message;
  const char* signature;
};

// RFC 8032 section 7.1, TEST 1 and TEST 2.
const Rfc8032Vector kVectors[] = {
    {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
     "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
    {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
     "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
};

TEST(Ed25519, Rfc8032KnownAnswers) {
  for (const auto& v : kVectors) {
    auto key = SigningKey::FromSeed(Hex(v.seed));
    ASSERT_TRUE(key.ok()) << key.status();
    EXPECT_EQ(HexEncode(key->public_key()), v.public_key);
    EXPECT_EQ(HexEncode(key->seed().span()), v.seed);
    Bytes msg = Hex(v.message);
    Signature sig = key->Sign(msg);
    EXPECT_EQ(HexEncode(sig), v.signature);
    EXPECT_TRUE(Verify(key->public_key(), msg, sig).ok());
  }
}

TEST(Ed25519, ModifiedSignatureOrMessageIsUnauthenticated) {
  SigningKey key = SigningKey::Generate();
  Bytes msg = ToBytes("approve job 42");
  Signature sig = key.Sign(msg);
  ASSERT_TRUE(Verify(key.public_key(), msg, sig).ok());
  for (size_t i : {0u, 31u, 32u, 63u}) {
    Signature bad = sig;
    bad[i] ^= 0x01;
    EXPECT_EQ(Verify(key.public_key(), msg, bad).code(), absl::StatusCode::kUnauthenticated);
  }
  Bytes other = msg;
  other.back() ^= 1;
  EXPECT_EQ(Verify(key.public_key(), other, sig).code(), absl::StatusCode::kUnauthenticated);
  SigningKey stranger = SigningKey::Generate();
  EXPECT_EQ(Verify(stranger.public_key(), msg, sig).code(), absl::StatusCode::kUnauthenticated);
}

TEST(Ed25519, FromSeedRejectsWrongLength) {
  EXPECT_EQ(SigningKey::FromSeed(Bytes(31)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SigningKey::FromSeed(Bytes(33)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(Ed25519, GenerateGivesDistinctKeysThatRoundTripThroughSeed) {
  SigningKey a = SigningKey::Generate(), b = SigningKey::Generate();
  EXPECT_NE(a.public_key(), b.public_key());
  auto a2 = SigningKey::FromSeed(a.seed().span());
  ASSERT_TRUE(a2.ok());
  EXPECT_EQ(a2->public_key(), a.public_key());
}

TEST(SignContext, LayoutIsPrefixPurposeNulMessage) {
  Bytes ctx = SignContext("job", ToBytes("m"));
  EXPECT_EQ(ctx, ToBytes(std::string("consort/v1/job\0m", 16)));
}

TEST(SignFor, DomainSeparatesPurposes) {
  SigningKey key = SigningKey::Generate();
  Bytes msg = ToBytes("payload");
  Signature sig = key.SignFor("job-approval", msg);
  EXPECT_TRUE(VerifyFor(key.public_key(), "job-approval", msg, sig).ok());
  EXPECT_EQ(VerifyFor(key.public_key(), "ledger-entry", msg, sig).code(),
            absl::StatusCode::kUnauthenticated);
  // A context signature is not a signature of the bare message, nor vice versa.
  EXPECT_EQ(Verify(key.public_key(), msg, sig).code(), absl::StatusCode::kUnauthenticated);
  Signature raw = key.Sign(msg);
  EXPECT_EQ(VerifyFor(key.public_key(), "job-approval", msg, raw).code(),
            absl::StatusCode::kUnauthenticated);
  // Moving bytes between purpose and message does not collide thanks to the NUL separator.
  Signature s2 = key.SignFor("a", ToBytes("bc"));
  EXPECT_EQ(VerifyFor(key.public_key(), "ab", ToBytes("c"), s2).code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(KeyText, RoundTripsAndRejectsWrongLengthOrAlphabet) {
  SigningKey key = SigningKey::Generate();
  std::string pk_text = EncodePublicKey(key.public_key());
  EXPECT_EQ(pk_text.size(), 43u);
  auto pk = DecodePublicKey(pk_text);
  ASSERT_TRUE(pk.ok());
  EXPECT_EQ(*pk, key.public_key());

  Signature sig = key.Sign(ToBytes("x"));
  auto sig2 = DecodeSignature(EncodeSignature(sig));
  ASSERT_TRUE(sig2.ok());
  EXPECT_EQ(*sig2, sig);

  EXPECT_EQ(DecodePublicKey(Base64UrlEncode(Bytes(31))).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodePublicKey(Base64UrlEncode(Bytes(33))).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeSignature(pk_text).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodePublicKey("").status().code(), absl::StatusCode::kInvalidArgument);
  std::string bad = pk_text;
  bad[5] = '+';  // standard base64, not base64url
  EXPECT_EQ(DecodePublicKey(bad).status().code(), absl::StatusCode::kInvalidArgument);
  // Non-canonical trailing bits: the same 32 bytes must have exactly one text form.
  std::string noncanon = Base64UrlEncode(Bytes(32, 0));  // ends in 'A'
  noncanon.back() = 'B';
  EXPECT_EQ(DecodePublicKey(noncanon).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace consort::crypto
