#include "consort/crypto/curve25519.h"

#include <gmp.h>

#include <algorithm>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "consort/crypto/hash.h"

namespace consort::crypto {
namespace {

Bytes Hex(std::string_view h) {
  auto b = HexDecode(h);
  EXPECT_TRUE(b.ok()) << h;
  return b.ok() ? *b : Bytes{};
}

// The RFC prints field elements as big-endian hex; ours are little-endian bytes.
std::string BigEndianHex(const std::array<uint8_t, 32>& le) {
  std::array<uint8_t, 32> be;
  std::reverse_copy(le.begin(), le.end(), be.begin());
  return HexEncode(be);
}

// u-coordinate of [8]Q by three x-only doublings, x' = (x^2 - 1)^2 / (4x(x^2 + Ax + 1)):
// an independent check that ties Q.x to the RFC's P.x = clear_cofactor(Q).x.
std::string TimesEightBigEndianHex(const X25519Point& q) {
  mpz_t p, x, n, d, t;
  mpz_inits(p, x, n, d, t, nullptr);
  mpz_ui_pow_ui(p, 2, 255);
  mpz_sub_ui(p, p, 19);
  mpz_import(x, 32, -1, 1, 0, 0, q.data());
  for (int i = 0; i < 3; ++i) {
    mpz_mul(n, x, x);
    mpz_sub_ui(n, n, 1);
    mpz_mul(n, n, n);
    mpz_add_ui(t, x, 486662);
    mpz_mul(t, t, x);
    mpz_add_ui(t, t, 1);
    mpz_mul(d, t, x);
    mpz_mul_ui(d, d, 4);
    mpz_mod(d, d, p);
    EXPECT_NE(mpz_invert(d, d, p), 0);
    mpz_mul(x, n, d);
    mpz_mod(x, x, p);
  }
  char buf[80];
  gmp_snprintf(buf, sizeof(buf), "%064Zx", x);
  mpz_clears(p, x, n, d, t, nullptr);
  return buf;
}

// RFC 9380 Appendix K.3, expand_message_xmd(SHA-512), DST QUUX-V01-CS02-with-expander-SHA512-256.
TEST(ExpandMessageXmdSha512, Rfc9380KnownAnswers) {
  const Bytes dst = ToBytes("QUUX-V01-CS02-with-expander-SHA512-256");
  struct V {
    const char* msg;
    size_t len;
    const char* out;
  } vectors[] = {
      {"", 32, "6b9a7312411d92f921c6f68ca0b6380730a1a4d982c507211a90964c394179ba"},
      {"abc", 32, "0da749f12fbe5483eb066a5f595055679b976e93abe9be6f0f6318bce7aca8dc"},
      {"abcdef0123456789", 32,
       "087e45a86e2939ee8b91100af1583c4938e0f5fc6c9db4b107b83346bc967f58"},
      {"", 128,
       "41b037d1734a5f8df225dd8c7de38f851efdb45c372887be655212d07251b921"
       "b052b62eaed99b46f72f2ef4cc96bfaf254ebbbec091e1a3b9e4fb5e5b619d2e"
       "0c5414800a1d882b62bb5cd1778f098b8eb6cb399d5d9d18f5d5842cf5d13d7e"
       "b00a7cff859b605da678b318bd0e65ebff70bec88c753b159a805d2c89c55961"},
  };
  for (const V& v : vectors) {
    auto out = ExpandMessageXmdSha512(AsBytes(v.msg), dst, v.len);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(HexEncode(*out), v.out) << "msg=" << v.msg << " len=" << v.len;
  }
}

TEST(ExpandMessageXmdSha512, RejectsBadParameters) {
  EXPECT_EQ(ExpandMessageXmdSha512(AsBytes("m"), Bytes{}, 32).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ExpandMessageXmdSha512(AsBytes("m"), AsBytes("d"), 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ExpandMessageXmdSha512(AsBytes("m"), AsBytes("d"), 255 * 64 + 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ExpandMessageXmdSha512(AsBytes("m"), AsBytes("d"), 255 * 64).ok());
}

TEST(ExpandMessageXmdSha512, OversizeDstIsHashedFirst) {
  // RFC 9380 5.3.3: DST' = SHA-512("H2C-OVERSIZE-DST-" || DST) for DSTs over 255 bytes.
  const std::string long_dst(300, 'D');
  Digest512 short_dst = Sha512(AsBytes("H2C-OVERSIZE-DST-" + long_dst));
  auto a = ExpandMessageXmdSha512(AsBytes("msg"), AsBytes(long_dst), 48);
  auto b = ExpandMessageXmdSha512(AsBytes("msg"), short_dst, 48);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
}

struct NuVector {
  std::string msg;
  const char* u0;
  const char* qx;
  const char* px;
};

// RFC 9380 Appendix J.4.2, curve25519_XMD:SHA-512_ELL2_NU_.
std::vector<NuVector> Rfc9380NuVectors() {
  return {
      {"", "608d892b641f0328523802a6603427c26e55e6f27e71a91a478148d45b5093cd",
       "51125222da5e763d97f3c10fcc92ea6860b9ccbbd2eb1285728f566721c1e65b",
       "1bb913f0c9daefa0b3375378ffa534bda5526c97391952a7789eb976edfe4d08"},
      {"abc", "46f5b22494bfeaa7f232cc8d054be68561af50230234d7d1d63d1d9abeca8da5",
       "7d56d1e08cb0ccb92baf069c18c49bb5a0dcd927eff8dcf75ca921ef7f3e6eeb",
       "7c22950b7d900fa866334262fcaea47a441a578df43b894b4625c9b450f9a026"},
      {"abcdef0123456789", "235fe40c443766ce7e18111c33862d66c3b33267efa50d50f9e8e5d252a40aaa",
       "3fbe66b9c9883d79e8407150e7c2a1c8680bee496c62fabe4619a72b3cabe90f",
       "31ad08a8b0deeb2a4d8b0206ca25f567ab4e042746f792f4b7973f3ae2096c52"},
      {"q128_" + std::string(128, 'q'),
       "001e92a544463bda9bd04ddbe3d6eed248f82de32f522669efc5ddce95f46f5b",
       "227e0bb89de700385d19ec40e857db6e6a3e634b1c32962f370d26f84ff19683",
       "027877759d155b1997d0d84683a313eb78bdb493271d935b622900459d52ceaa"},
      {"a512_" + std::string(512, 'a'),
       "1a68a1af9f663592291af987203393f707305c7bac9c8d63d6a729bdc553dc19",
       "3bcd651ee54d5f7b6013898aab251ee8ecc0688166fce6e9548d38472f6bd196",
       "5fd892c0958d1a75f54c3182a18d286efab784e774d1e017ba2fb252998b5dc1"},
  };
}

TEST(Curve25519Encoder, Rfc9380NonuniformKnownAnswers) {
  auto enc = Curve25519Encoder::Create(AsBytes("QUUX-V01-CS02-with-curve25519_XMD:SHA-512_ELL2_NU_"));
  ASSERT_TRUE(enc.ok());
  const auto vectors = Rfc9380NuVectors();
  std::vector<std::string> msgs;
  for (const auto& v : vectors) {
    EXPECT_EQ(BigEndianHex(enc->HashToField(AsBytes(v.msg))), v.u0) << v.msg;
    msgs.push_back(v.msg);
  }
  // The whole batch at once (one shared inversion) and each message alone agree with the RFC.
  std::vector<X25519Point> q(msgs.size());
  enc->Encode(std::span<const std::string>(msgs), q);
  for (size_t i = 0; i < vectors.size(); ++i) {
    EXPECT_EQ(BigEndianHex(q[i]), vectors[i].qx) << vectors[i].msg;
    EXPECT_EQ(TimesEightBigEndianHex(q[i]), vectors[i].px) << vectors[i].msg;
    X25519Point single;
    enc->Encode(std::span<const std::string>(&msgs[i], 1), std::span<X25519Point>(&single, 1));
    EXPECT_EQ(single, q[i]);
  }
}

TEST(Curve25519Encoder, EmptyDstIsInvalid) {
  EXPECT_EQ(Curve25519Encoder::Create(Bytes{}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(Curve25519Encoder, DomainSeparatesAndIsDeterministic) {
  auto a = Curve25519Encoder::Create(AsBytes("CONSORT-test-A"));
  auto b = Curve25519Encoder::Create(AsBytes("CONSORT-test-B"));
  ASSERT_TRUE(a.ok() && b.ok());
  std::vector<std::string> msgs;
  for (int i = 0; i < 1000; ++i) msgs.push_back("row-" + std::to_string(i));
  std::vector<X25519Point> pa(msgs.size()), pa2(msgs.size()), pb(msgs.size());
  a->Encode(std::span<const std::string>(msgs), pa);
  a->Encode(std::span<const std::string>(msgs), pa2);
  b->Encode(std::span<const std::string>(msgs), pb);
  EXPECT_EQ(pa, pa2);
  std::set<X25519Point> distinct(pa.begin(), pa.end());
  EXPECT_EQ(distinct.size(), msgs.size());
  for (size_t i = 0; i < msgs.size(); ++i) {
    EXPECT_NE(pa[i], pb[i]);
    EXPECT_TRUE(IsCanonicalX25519(pa[i]));
    EXPECT_TRUE(IsOnCurve25519(pa[i]));
  }
}

TEST(MapToCurve25519, AlwaysLandsOnTheCurveNeverTheTwist) {
  // Random field elements are on the twist about half of the time; mapped ones never are.
  std::vector<Fe25519> u(512);
  for (auto& x : u) {
    RandomBytes(x.data(), x.size());
    x[31] &= 0x7f;
  }
  u[0].fill(0);  // u = 0 and the exceptional-looking inputs still map to curve points
  u[1].fill(0);
  u[1][0] = 1;
  int raw_off_curve = 0;
  for (const auto& x : u) raw_off_curve += IsOnCurve25519(x) ? 0 : 1;
  EXPECT_GT(raw_off_curve, 150);
  EXPECT_LT(raw_off_curve, 362);
  std::vector<X25519Point> q(u.size());
  MapToCurve25519(u, q);
  for (size_t i = 0; i < q.size(); ++i) {
    EXPECT_TRUE(IsOnCurve25519(q[i])) << i;
    EXPECT_TRUE(IsCanonicalX25519(q[i])) << i;
    X25519Point single;
    MapToCurve25519(std::span<const Fe25519>(&u[i], 1), std::span<X25519Point>(&single, 1));
    EXPECT_EQ(single, q[i]) << i;
  }
  // Non-canonical inputs are reduced: u + p maps like u.
  Fe25519 p_plus_1 = {};
  p_plus_1.fill(0xff);
  p_plus_1[0] = 0xee;
  p_plus_1[31] = 0x7f;  // 2^255 - 18 = p + 1
  X25519Point a, b;
  MapToCurve25519(std::span<const Fe25519>(&p_plus_1, 1), std::span<X25519Point>(&a, 1));
  MapToCurve25519(std::span<const Fe25519>(&u[1], 1), std::span<X25519Point>(&b, 1));
  EXPECT_EQ(a, b);
}

TEST(X25519Scalar, Rfc7748KnownAnswer) {
  // RFC 7748 section 6.1: Alice's key times the base point 9.
  auto a = X25519Scalar::FromBytes(
      Hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
  ASSERT_TRUE(a.ok());
  X25519Point nine = {9}, out;
  ASSERT_TRUE(a->Multiply(std::span<const X25519Point>(&nine, 1),
                          std::span<X25519Point>(&out, 1))
                  .ok());
  EXPECT_EQ(HexEncode(out), "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  EXPECT_EQ(X25519Scalar::FromBytes(Bytes(31)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(X25519Scalar, MultiplicationsCommuteOnHashedPoints) {
  auto enc = Curve25519Encoder::Create(AsBytes("CONSORT-test"));
  ASSERT_TRUE(enc.ok());
  std::vector<std::string> msgs = {"alice", "bob", "carol", ""};
  std::vector<X25519Point> h(msgs.size()), ha(h.size()), hb(h.size()), hab(h.size()),
      hba(h.size());
  enc->Encode(std::span<const std::string>(msgs), h);
  X25519Scalar a = X25519Scalar::Generate(), b = X25519Scalar::Generate();
  ASSERT_TRUE(a.Multiply(h, ha).ok());
  ASSERT_TRUE(b.Multiply(h, hb).ok());
  ASSERT_TRUE(b.Multiply(ha, hab).ok());
  ASSERT_TRUE(a.Multiply(hb, hba).ok());
  EXPECT_EQ(hab, hba);
  for (size_t i = 0; i < h.size(); ++i) {
    EXPECT_NE(ha[i], hb[i]);
    EXPECT_TRUE(IsOnCurve25519(hab[i]));
  }
  // In-place multiplication is allowed.
  std::vector<X25519Point> inplace = h;
  ASSERT_TRUE(a.Multiply(inplace, inplace).ok());
  EXPECT_EQ(inplace, ha);
}

TEST(X25519Scalar, RejectsLowOrderAndNonCanonicalPoints) {
  X25519Scalar a = X25519Scalar::Generate();
  std::vector<X25519Point> in(3), out(3);
  in[0] = {9};
  in[1] = {0};  // the point of order 2: X25519 yields all zeros
  in[2] = {9};
  Status st = a.Multiply(in, out);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("point 1"), std::string_view::npos) << st;
  in[1] = {1};  // order 4
  EXPECT_EQ(a.Multiply(in, out).code(), absl::StatusCode::kInvalidArgument);

  X25519Point high_bit = {9};
  high_bit[31] = 0x80;
  X25519Point p_itself;
  p_itself.fill(0xff);
  p_itself[0] = 0xed;
  p_itself[31] = 0x7f;
  X25519Point p_minus_1 = p_itself;
  p_minus_1[0] = 0xec;
  EXPECT_FALSE(IsCanonicalX25519(high_bit));
  EXPECT_FALSE(IsCanonicalX25519(p_itself));
  EXPECT_TRUE(IsCanonicalX25519(p_minus_1));
  EXPECT_EQ(a.Multiply(std::span<const X25519Point>(&high_bit, 1), std::span(out).first(1)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(a.Multiply(std::span<const X25519Point>(&p_itself, 1), std::span(out).first(1)).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace consort::crypto
