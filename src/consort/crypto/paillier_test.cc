#include "consort/crypto/paillier.h"

#include <gmp.h>

#include <atomic>
#include <chrono>
#include <limits>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "consort/common/bytes.h"

namespace consort::crypto {
namespace {

Bytes Hex(std::string_view h) {
  auto b = HexDecode(h);
  CONSORT_CHECK(b.ok());
  return *b;
}

// Left-pads big-endian hex to `bytes` bytes.
Bytes HexFixed(std::string_view h, size_t bytes) {
  std::string s(h);
  if (s.size() % 2) s = "0" + s;
  Bytes b = Hex(s);
  Bytes out(bytes - b.size(), 0);
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

Bytes U64Be(uint64_t v) {
  Bytes b(8);
  for (int i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(v >> (56 - 8 * i));
  return b;
}

// One 2048-bit key per test binary (key generation is the slow part).
const PaillierSecretKey& Key2048() {
  static const PaillierSecretKey* key = [] {
    auto k = PaillierSecretKey::Generate(2048);
    CONSORT_CHECK(k.ok());
    return new PaillierSecretKey(std::move(*k));
  }();
  return *key;
}

// Known-answer key: two 512-bit primes from `openssl prime -generate -bits 512`; the expected
// ciphertexts below were computed independently with Python's pow():
//   c = (1 + m n) * pow(r, n, n^2) % n^2.
constexpr char kP[] =
    "F596D7ED29E16986CF9CAB2EAE8FDD27BD439284C1C80B88676938AB6AB2D5B7DDC3D26AD89D2721E976D77154"
    "A8F87EEC031BD9C54C7BD5A30E203105D7150F";
constexpr char kQ[] =
    "E1D6F5E1B49503F04286841C1CD3E4EDD5AD2A9C02CCCBE4E4DAB119721DD181F3C247746F0D34E5636E7FC950"
    "1087AFAF6CEA88525D25BC4FB401152B209117";
constexpr char kR[] = "1234567890abcdef1234567890abcdef1234567890abcdef";

struct Kat {
  const char* m;  // hex, or "-5" style handled separately
  const char* c;
};
const Kat kKats[] = {
    {"00",
     "704291c5e89c85053faf3c32e852e415ebd64c188df853fae86508b7b37fc3422ed032f96e31a994020e582b4ac0a9e"
     "b76765836243bdfbd4ccf2b0b88c9050071cc34ebc5bca6c6c1a855694f1bc78c15015171da51eba4c741a2ffa9b4f08"
     "d79d06771d11c25447cd9a39c563b5a4898ce6ed734f583b339f27c263568e29afd380bacf8813cb2b5002c37aabe98c"
     "66c8b3d9b241ab2e480aba0096f31711ee9a169e00b166a80b0c195498818ae92782859db5831f081608a98c3150973c"
     "e69cc506b0576035b33d58adcf07e7590800c66cf573305f185fde460f8fd0d407fafcf54888071ca2e2301172f6fb84"
     "45466903c8a696a93e18cec782414ce48"},
    {"01",
     "511f8b71ed7e439813c79b15978286d948a8f25854a832ca854514fe5c164fbdc31044912bdf0916ac44fb5193166813"
     "605490a6aaf25020b7e78bf5be7fda0694e6dbc182b330aeef90e7fa8125ea49ebd5b15aef47217c4abbadd54ab085b6"
     "0444211fe0deb311a05c18fa2833c09c694546ba2e5ddb1a11ca250729a3e121f2aa048598a6ad3d431221ae14f76adb"
     "2bf529bf8c014ad77a392b5ca7221c110de51eacb3008c213e0306719bb05e8ebf5a21064665affb790a436701c2dbdc"
     "38bd76ecf7f103395975b8782bbffa23b4cd44b53ae026cb492dc36706211da5ec2812878cc2ec5e6f4ba5f03c93f21d"
     "1e2dca8feb8fd80c96b5d907ce0fc286"},
    {"2a",
     "5804a0c0af6a352bbc3c47f5f0f9d1ee0557d5da7e1f4f05746493beb010d3dc5ee11580f21b7000b713804a60dfeda2"
     "fb996ce7fb1ce58b7c3d820e1198fcc567d6261833f8ed1a19c5972b603da6aa696da27530284e10f011f599ec97ab41"
     "eb1457862c139d924ea3dcd2b6973ffee581c4d27e6fe18de9e0140618b1f2d96a70fe7edb1dbcb541700f6f758ce23a"
     "e6ec88010231e4d89c69c97bed46e3dd1c6120ebe80f57ee243dbb0fc5fcf082eb3c40e5e2a73dbde5b37f162eaf1037"
     "131c103daa7465230b86807803808a45b39d8b4339d193b97f2f08080301830ffe4cd2ee51fa8cf58a515a7d68468709"
     "4782430f5ec6142ed0349ccdf0e2930b"},
    // m = n - 5, the encoding of -5.
    {"d8a7cbc1d586e519ec86072f9066b7630d9bd6f6370d5d5574bd867ad02644f5456ead2da9dc16d22676ef50850552f0"
     "c9b3927221bd0d4afcee19c937c0f6448fba3e6cb078f59a13e19bdba677031658f081fb7ca84a405973487bb9e734b8"
     "3b381f9f826aad1ac85151e54262fd71873fff666f1ad482a9e24d5d80206354",
     "54961b973ece9824dd6a5042df6aae038e28ba180dc7337fdefc0121eedd043a0556ffa2622b5a74db8d634d223682f9"
     "28bd448d431b4f4c67fc5af561cfdb33965327044e616fc799d5de95a345a5d7dfc6381150baca4844e70fbf41226b09"
     "f415da418abb58bd5dd17e84acb8e8f0152ba8289195848d1d3a7d0bc00727f47558bd430a9051cf2f0225caaed9f2a5"
     "f5e743b0fe9043b49ad4dc4c4bfa796398ee4dab012621119b3a6ec3008fc2da1ca06dbba054ee1766046ba4473d7c5f"
     "8e445b85bbccac1ccceeb9f44d9b1bc0ad6f641263a4edf7dc6fe2e172699f1a90ed1203ddb17ac5f469992ac6be66dc"
     "6929d5965f829b3f99302d8dd5601421"},
    {"018ee90ff6c373e0ee4e3f0ad2",  // 123456789012345678901234567890
     "5b34cb139a5ea6f54f0379dfe3860ec177e78a7ebd03f3142d6e9e63031501117e77460d5cde67a6a016bfae99efc711"
     "dac403f7fbed8c3e046d80736e16a5b3ba1bd2487bf2431ea83dd05c22262a7177a409a537bd01d0992c03b93567a29a"
     "e4aea3dedfac9d4a1fd6f4fab9393ca8c73d13554ea2a1fa840cc2cf11ec993f9a03bc05c313f1b8147f90722f601083"
     "c6c585bd15a1240eb65e26283575db967d1940a302c4e0098badd8b94e8166db5b92f106734c8786da6c7432d39ef079"
     "654ff8a021fd9bf0c6fdd78087d5e1b23c2582f3d70c36d1b7aa21823ad1ef0d94e3e68315fafc035d4db90abd2bfdf9"
     "46f7c5e4cd9cea7946971facf6024925"},
};

TEST(Paillier, KnownAnswerTinyKey) {
  // p = 7, q = 11, n = 77 (hand-checkable): (1 + 42*77) * 23^77 mod 5929 = 3840 and
  // (1 + 76*77) * 2^77 mod 5929 = 2405.
  auto sk = PaillierSecretKey::FromPrimesForTesting(Bytes{7}, Bytes{11});
  ASSERT_TRUE(sk.ok()) << sk.status();
  const auto& pk = sk->public_key();
  EXPECT_EQ(pk.modulus_bits(), 7);
  auto m = pk.PlaintextFromBytes(Bytes{42});
  auto r = pk.PlaintextFromBytes(Bytes{23});
  ASSERT_TRUE(m.ok() && r.ok());
  auto c = pk.UnsafeEncryptWithR(*m, *r);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(pk.SerializeCiphertext(*c), (Bytes{0x0f, 0x00}));  // 3840
  auto c2 = pk.UnsafeEncryptWithR(pk.Encode(-1), *pk.PlaintextFromBytes(Bytes{2}));
  ASSERT_TRUE(c2.ok());
  EXPECT_EQ(pk.SerializeCiphertext(*c2), (Bytes{0x09, 0x65}));  // 2405
  EXPECT_EQ(pk.PlaintextToBytes(sk->Decrypt(*c)), Bytes{42});
  EXPECT_EQ(pk.PlaintextToBytes(sk->DecryptWithoutCrt(*c)), Bytes{42});
  // 42 > (77 - 1) / 2, so its signed reading is 42 - 77.
  EXPECT_EQ(*pk.DecodeInt64(sk->Decrypt(*c)), -35);
  EXPECT_EQ(*pk.DecodeInt64(sk->Decrypt(*c2)), -1);
}

TEST(Paillier, KnownAnswerVectors1024) {
  auto sk = PaillierSecretKey::FromPrimesForTesting(Hex(kP), Hex(kQ));
  ASSERT_TRUE(sk.ok()) << sk.status();
  const auto& pk = sk->public_key();
  ASSERT_EQ(pk.modulus_bits(), 1024);
  auto r = pk.PlaintextFromBytes(HexFixed(kR, pk.plaintext_bytes()));
  ASSERT_TRUE(r.ok()) << r.status();
  for (const Kat& kat : kKats) {
    auto m = pk.PlaintextFromBytes(HexFixed(kat.m, pk.plaintext_bytes()));
    ASSERT_TRUE(m.ok()) << m.status();
    auto c = pk.UnsafeEncryptWithR(*m, *r);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(HexEncode(pk.SerializeCiphertext(*c)),
              HexEncode(HexFixed(kat.c, pk.ciphertext_bytes())))
        << "m = " << kat.m;
    // And the expected ciphertext, parsed from the wire, decrypts to m both ways.
    auto parsed = pk.ParseCiphertext(HexFixed(kat.c, pk.ciphertext_bytes()));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(pk.PlaintextToBytes(sk->Decrypt(*parsed)), pk.PlaintextToBytes(*m));
    EXPECT_EQ(pk.PlaintextToBytes(sk->DecryptWithoutCrt(*parsed)), pk.PlaintextToBytes(*m));
  }
  // The fourth vector is the signed encoding of -5.
  auto neg = pk.ParseCiphertext(HexFixed(kKats[3].c, pk.ciphertext_bytes()));
  EXPECT_EQ(*pk.DecodeInt64(sk->Decrypt(*neg)), -5);
  EXPECT_EQ(pk.DecodeDecimal(sk->Decrypt(*neg)), "-5");
  auto big = pk.ParseCiphertext(HexFixed(kKats[4].c, pk.ciphertext_bytes()));
  EXPECT_EQ(pk.DecodeDecimal(sk->Decrypt(*big)), "123456789012345678901234567890");
  EXPECT_EQ(pk.DecodeInt64(sk->Decrypt(*big)).status().code(), absl::StatusCode::kOutOfRange);
}

TEST(Paillier, GeneratedKeyHasExactSizeAndRejectsSmallSizes) {
  const auto& pk = Key2048().public_key();
  EXPECT_EQ(pk.modulus_bits(), 2048);
  EXPECT_EQ(pk.ciphertext_bytes(), 512u);
  EXPECT_EQ(PaillierSecretKey::Generate(1024).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PaillierSecretKey::GenerateForTesting(1000).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto small = PaillierSecretKey::GenerateForTesting(512);
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(small->public_key().modulus_bits(), 512);
  EXPECT_FALSE(small->public_key() == pk);
}

TEST(Paillier, HomomorphicIdentitiesOnRandomValues) {
  const auto& sk = Key2048();
  const auto& pk = sk.public_key();
  std::mt19937_64 rng(11);
  for (int i = 0; i < 20; ++i) {
    // |a|, |b| < 2^51 and |k| <= 1000: no int64 overflow in a * k below.
    const int64_t a = static_cast<int64_t>(rng()) >> 12;
    const int64_t b = static_cast<int64_t>(rng()) >> 12;
    const int64_t k = static_cast<int64_t>(rng() % 2001) - 1000;
    auto ea = pk.Encrypt(a);
    auto eb = sk.Encrypt(b);  // CRT noise: must interoperate
    EXPECT_EQ(*pk.DecodeInt64(sk.Decrypt(pk.Add(ea, eb))), a + b);
    EXPECT_EQ(*pk.DecodeInt64(sk.Decrypt(pk.AddPlaintext(ea, pk.Encode(b)))), a + b);
    EXPECT_EQ(*pk.DecodeInt64(sk.Decrypt(pk.MultiplyScalar(ea, k))), a * k);
    EXPECT_EQ(*pk.DecodeInt64(sk.Decrypt(pk.Negate(ea))), -a);
    EXPECT_EQ(*pk.DecodeInt64(sk.Decrypt(pk.Add(ea, pk.Negate(eb)))), a - b);
    auto re = pk.Rerandomize(ea);
    EXPECT_NE(pk.SerializeCiphertext(re), pk.SerializeCiphertext(ea));
    EXPECT_EQ(*pk.DecodeInt64(sk.Decrypt(re)), a);
    PaillierCiphertext acc = pk.Zero();
    pk.AddInPlace(acc, ea);
    pk.AddInPlace(acc, eb);
    EXPECT_EQ(*pk.DecodeInt64(sk.Decrypt(acc)), a + b);
  }
  // Scalar 0 gives an encryption of 0.
  EXPECT_EQ(*pk.DecodeInt64(sk.Decrypt(pk.MultiplyScalar(pk.Encrypt(5), 0))), 0);
  // Two encryptions of the same value differ (fresh randomness).
  EXPECT_NE(pk.SerializeCiphertext(pk.Encrypt(7)), pk.SerializeCiphertext(pk.Encrypt(7)));
  EXPECT_NE(pk.SerializeCiphertext(sk.Encrypt(7)), pk.SerializeCiphertext(sk.Encrypt(7)));
}

TEST(Paillier, CrtAndTextbookDecryptionAgree) {
  const auto& sk = Key2048();
  const auto& pk = sk.public_key();
  for (int i = 0; i < 10; ++i) {
    PaillierPlaintext m = pk.RandomPlaintext();
    auto c = pk.Encrypt(m);
    EXPECT_EQ(pk.PlaintextToBytes(sk.Decrypt(c)), pk.PlaintextToBytes(m));
    EXPECT_EQ(pk.PlaintextToBytes(sk.DecryptWithoutCrt(c)), pk.PlaintextToBytes(m));
  }
}

TEST(Paillier, SignedEncodingAndOverflowBound) {
  const auto& sk = Key2048();
  const auto& pk = sk.public_key();
  const int64_t lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(*pk.DecodeInt64(sk.Decrypt(pk.Encrypt(lo))), lo);
  EXPECT_EQ(*pk.DecodeInt64(sk.Decrypt(pk.Encrypt(hi))), hi);
  // 4 * INT64_MAX leaves int64 but stays exact as a decimal.
  auto c = pk.MultiplyScalar(pk.Encrypt(hi), 4);
  EXPECT_EQ(pk.DecodeDecimal(sk.Decrypt(c)), "36893488147419103228");
  EXPECT_EQ(pk.DecodeInt64(sk.Decrypt(c)).status().code(), absl::StatusCode::kOutOfRange);
  auto neg = pk.MultiplyScalar(pk.Encrypt(lo), 3);
  EXPECT_EQ(pk.DecodeDecimal(sk.Decrypt(neg)), "-27670116110564327424");
  // Masking with a uniform element of Z_n and unmasking recovers the value.
  PaillierPlaintext mask = pk.RandomPlaintext();
  auto masked = pk.AddPlaintext(pk.Encrypt(-123), mask);
  EXPECT_EQ(*pk.DecodeInt64(pk.SubPlaintexts(sk.Decrypt(masked), mask)), -123);
  EXPECT_EQ(*pk.DecodeInt64(pk.AddPlaintexts(pk.Encode(-3), pk.Encode(10))), 7);
}

TEST(Paillier, NoisePoolAndCrtNoiseAreNthResidues) {
  const auto& sk = Key2048();
  const auto& pk = sk.public_key();
  // An encryption of 0 is the noise itself: it must decrypt to 0 (an n-th residue).
  EXPECT_EQ(*pk.DecodeInt64(sk.Decrypt(pk.Encrypt(pk.Encode(0), sk.GenerateNoise()))), 0);
  EXPECT_EQ(*pk.DecodeInt64(sk.Decrypt(pk.Encrypt(pk.Encode(0), pk.GenerateNoise()))), 0);
  for (PaillierNoisePool* pool : {new PaillierNoisePool(pk), new PaillierNoisePool(sk)}) {
    pool->Fill(3);
    EXPECT_EQ(pool->size(), 3u);
    for (int i = 0; i < 5; ++i) {  // two more than filled: falls back to fresh noise
      auto c = pk.Encrypt(pk.Encode(i - 2), pool->Take());
      EXPECT_EQ(*pk.DecodeInt64(sk.Decrypt(c)), i - 2);
    }
    EXPECT_EQ(pool->size(), 0u);
    delete pool;
  }
}

// A small key for the producer tests (they exercise threading, not key size).
const PaillierSecretKey& Key1024() {
  static const PaillierSecretKey* key = [] {
    auto sk = PaillierSecretKey::GenerateForTesting(1024);
    CONSORT_CHECK(sk.ok());
    return new PaillierSecretKey(std::move(*sk));
  }();
  return *key;
}

TEST(PaillierNoiseProducer, GeneratesExactlyTotalValidNoiseThenInline) {
  const auto& sk = Key1024();
  const auto& pk = sk.public_key();
  for (int workers : {0, 1, 2}) {
    PaillierNoiseProducer producer(sk, 20, workers, 4);
    for (int i = 0; i < 20; ++i) {
      auto c = pk.Encrypt(pk.Encode(i - 7), producer.Take());
      EXPECT_EQ(*pk.DecodeInt64(sk.Decrypt(c)), i - 7);
    }
    EXPECT_EQ(producer.generated(), 20u) << workers << " workers";
    // Past `total`: generated inline, still valid.
    auto c = pk.Encrypt(pk.Encode(5), producer.Take());
    EXPECT_EQ(*pk.DecodeInt64(sk.Decrypt(c)), 5);
    EXPECT_EQ(producer.generated(), 21u);
  }
  // Public-key noise too (the same contract without the CRT shortcut).
  PaillierNoiseProducer pub(pk, 3, 1, 2);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(*pk.DecodeInt64(sk.Decrypt(pk.Encrypt(pk.Encode(i), pub.Take()))), i);
  }
}

TEST(PaillierNoiseProducer, WorkersStopAtCapacityAndStopJoins) {
  const auto& sk = Key1024();
  const auto& pk = sk.public_key();
  PaillierNoiseProducer producer(sk, 50, 2, 3);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (producer.generated() < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(producer.generated(), 3u);  // full: nobody generates more ahead
  EXPECT_EQ(*pk.DecodeInt64(sk.Decrypt(pk.Encrypt(pk.Encode(-1), producer.Take()))), -1);
  producer.Stop();  // joins workers blocked on a full pool
  const size_t after_stop = producer.generated();
  EXPECT_LE(after_stop, 4u);
  for (int i = 0; i < 6; ++i) {  // what is ready, then inline
    EXPECT_EQ(*pk.DecodeInt64(sk.Decrypt(pk.Encrypt(pk.Encode(i), producer.Take()))), i);
  }
  EXPECT_EQ(producer.generated(), std::max<size_t>(after_stop, 7u));
}

TEST(PaillierNoiseProducer, ConcurrentTakersPastTotalAllGetValidNoise) {
  const auto& sk = Key1024();
  const auto& pk = sk.public_key();
  for (int round = 0; round < 3; ++round) {
    PaillierNoiseProducer producer(sk, 4, 2, 2);
    std::vector<std::thread> takers;
    std::atomic<int> ok{0};
    for (int t = 0; t < 4; ++t) {
      takers.emplace_back([&, t] {
        for (int i = 0; i < 3; ++i) {
          auto c = pk.Encrypt(pk.Encode(t * 10 + i), producer.Take());
          if (*pk.DecodeInt64(sk.Decrypt(c)) == t * 10 + i) ++ok;
        }
      });
    }
    for (auto& t : takers) t.join();
    EXPECT_EQ(ok.load(), 12);
    EXPECT_EQ(producer.generated(), 12u);
  }
}

TEST(Paillier, MalformedCiphertextsAreRejected) {
  auto sk = PaillierSecretKey::FromPrimesForTesting(Hex(kP), Hex(kQ));
  ASSERT_TRUE(sk.ok());
  const auto& pk = sk->public_key();
  const size_t w = pk.ciphertext_bytes();
  auto code = [&](const Bytes& b) { return pk.ParseCiphertext(b).status().code(); };
  EXPECT_EQ(code(Bytes(w - 1, 1)), absl::StatusCode::kInvalidArgument);   // short
  EXPECT_EQ(code(Bytes(w + 1, 1)), absl::StatusCode::kInvalidArgument);   // long
  EXPECT_EQ(code(Bytes(w, 0)), absl::StatusCode::kInvalidArgument);       // zero
  EXPECT_EQ(code(Bytes(w, 0xff)), absl::StatusCode::kInvalidArgument);    // >= n^2
  EXPECT_EQ(code(HexFixed(kP, w)), absl::StatusCode::kInvalidArgument);   // gcd(c, n) = p
  // n^2 itself is out of range; n^2 - 1 is a unit and accepted.
  Bytes n = HexFixed(pk.ModulusHex(), pk.plaintext_bytes());
  mpz_t x;
  mpz_init(x);
  mpz_import(x, n.size(), 1, 1, 1, 0, n.data());
  mpz_mul(x, x, x);
  Bytes n2(w);
  size_t count = 0;
  mpz_export(n2.data(), &count, 1, 1, 1, 0, x);
  ASSERT_EQ(count, w);
  EXPECT_EQ(code(n2), absl::StatusCode::kInvalidArgument);
  mpz_sub_ui(x, x, 1);
  mpz_export(n2.data(), &count, 1, 1, 1, 0, x);
  EXPECT_TRUE(pk.ParseCiphertext(n2).ok());
  mpz_clear(x);
  // Plaintexts >= n are rejected too.
  EXPECT_EQ(pk.PlaintextFromBytes(n).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(pk.PlaintextFromBytes(Bytes(3)).status().code(), absl::StatusCode::kInvalidArgument);
  // Deterministic encryption refuses r = 0 and r sharing a factor with n.
  EXPECT_EQ(pk.UnsafeEncryptWithR(pk.Encode(1), pk.Encode(0)).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto rp = pk.PlaintextFromBytes(HexFixed(kP, pk.plaintext_bytes()));
  ASSERT_TRUE(rp.ok());
  EXPECT_EQ(pk.UnsafeEncryptWithR(pk.Encode(1), *rp).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(Paillier, PublicKeySerializationRoundTripsAndValidates) {
  const auto& pk = Key2048().public_key();
  Bytes wire = pk.ToBytes();
  ASSERT_EQ(wire.size(), 4u + 256u);
  auto back = PaillierPublicKey::FromBytes(wire);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(*back == pk);
  // A ciphertext made under the parsed key decrypts under the original.
  EXPECT_EQ(*pk.DecodeInt64(Key2048().Decrypt(back->Encrypt(99))), 99);

  auto code = [](const Bytes& b, int min_bits = kPaillierMinBits) {
    return PaillierPublicKey::FromBytes(b, min_bits).status().code();
  };
  EXPECT_EQ(code(Bytes{0, 0}), absl::StatusCode::kInvalidArgument);
  Bytes truncated(wire.begin(), wire.end() - 1);
  EXPECT_EQ(code(truncated), absl::StatusCode::kInvalidArgument);
  Bytes even = wire;
  even.back() &= 0xfe;
  EXPECT_EQ(code(even), absl::StatusCode::kInvalidArgument);
  Bytes short_top = wire;
  short_top[4] = 0;  // top byte zero: fewer than 2048 bits
  EXPECT_EQ(code(short_top), absl::StatusCode::kInvalidArgument);
  Bytes small_factor = wire;  // n = 3 * odd: rejected by the small-prime check
  {
    mpz_t x;
    mpz_init(x);
    mpz_import(x, 256, 1, 1, 1, 0, wire.data() + 4);
    mpz_fdiv_q_ui(x, x, 3);
    mpz_mul_ui(x, x, 3);
    if (mpz_even_p(x)) mpz_sub_ui(x, x, 3);
    size_t count = 0;
    mpz_export(small_factor.data() + 4, &count, 1, 1, 1, 0, x);
    mpz_clear(x);
  }
  EXPECT_EQ(code(small_factor), absl::StatusCode::kInvalidArgument);
  auto k1024 = PaillierSecretKey::FromPrimesForTesting(Hex(kP), Hex(kQ));
  Bytes w1024 = k1024->public_key().ToBytes();
  EXPECT_EQ(code(w1024), absl::StatusCode::kInvalidArgument);  // below the 2048-bit minimum
  EXPECT_TRUE(PaillierPublicKey::FromBytes(w1024, 1024).ok());
  Bytes huge = U64Be(uint64_t{16384});
  huge.erase(huge.begin(), huge.begin() + 4);
  EXPECT_EQ(code(huge), absl::StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------- fast (DJN) noise

// h^a mod n (with GMP directly), as a plaintext-sized value of pk.
PaillierPlaintext PowModN(const PaillierPublicKey& pk, const Bytes& h_be, const Bytes& a_be) {
  mpz_t h, a, n, r;
  mpz_inits(h, a, n, r, nullptr);
  mpz_import(h, h_be.size(), 1, 1, 1, 0, h_be.data());
  mpz_import(a, a_be.size(), 1, 1, 1, 0, a_be.data());
  mpz_set_str(n, pk.ModulusHex().c_str(), 16);
  mpz_powm(r, h, a, n);
  Bytes out(pk.plaintext_bytes(), 0);
  size_t count = 0;
  const size_t len = (mpz_sizeinbase(r, 2) + 7) / 8;
  mpz_export(out.data() + out.size() - len, &count, 1, 1, 1, 0, r);
  mpz_clears(h, a, n, r, nullptr);
  auto m = pk.PlaintextFromBytes(out);
  CONSORT_CHECK(m.ok());
  return *m;
}

TEST(PaillierFastNoise, KnownAnswerAgainstTextbookEncryption) {
  // h_s^a = (h^a)^n mod n^2, so Enc(m) with table noise for exponent a must equal the textbook
  // encryption with r = h^a mod n, for the public (mod n^2) and the CRT (mod p^2, q^2) tables.
  auto sk = PaillierSecretKey::FromPrimesForTesting(Hex(kP), Hex(kQ));
  ASSERT_TRUE(sk.ok());
  const auto& pk = sk->public_key();
  const Bytes h = Hex("0123456789abcdef0fedcba987654321deadbeef");
  for (int window : {1, 5, 8}) {
    auto pub = PaillierFastNoise::CreateWithBaseForTesting(pk, h, 256, window);
    auto crt = PaillierFastNoise::CreateWithBaseForTesting(*sk, h, 256, window);
    ASSERT_TRUE(pub.ok() && crt.ok()) << pub.status() << crt.status();
    EXPECT_FALSE(pub->uses_crt());
    EXPECT_TRUE(crt->uses_crt());
    for (const Bytes& a : {Hex("01"), Hex("00"), Hex(kR), Bytes(32, 0xff)}) {
      auto expected = pk.UnsafeEncryptWithR(pk.Encode(42), PowModN(pk, h, a));
      ASSERT_TRUE(expected.ok());
      auto n1 = pub->UnsafeGenerateWithExponent(a);
      auto n2 = crt->UnsafeGenerateWithExponent(a);
      ASSERT_TRUE(n1.ok() && n2.ok());
      EXPECT_EQ(pk.SerializeCiphertext(pk.Encrypt(pk.Encode(42), std::move(*n1))),
                pk.SerializeCiphertext(*expected))
          << "window " << window;
      EXPECT_EQ(pk.SerializeCiphertext(pk.Encrypt(pk.Encode(42), std::move(*n2))),
                pk.SerializeCiphertext(*expected))
          << "window " << window;
    }
    auto too_long = pub->UnsafeGenerateWithExponent(Bytes(33, 0x01));
    EXPECT_EQ(too_long.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(PaillierFastNoise, EncryptionsDecryptAndAddAt2048Bits) {
  const auto& sk = Key2048();
  const auto& pk = sk.public_key();
  auto pub = PaillierFastNoise::Create(pk);
  auto crt = PaillierFastNoise::Create(sk);
  ASSERT_TRUE(pub.ok() && crt.ok());
  EXPECT_EQ(pub->exponent_bits(), kPaillierDjnExponentBits);
  std::mt19937_64 rng(7);
  PaillierCiphertext acc = pk.Zero();
  int64_t sum = 0;
  Bytes previous;
  for (int i = 0; i < 20; ++i) {
    const int64_t v = static_cast<int64_t>(rng() % 2000001) - 1000000;
    const PaillierFastNoise& f = i % 2 ? *pub : *crt;
    PaillierCiphertext c = pk.Encrypt(pk.Encode(v), f.Generate());
    EXPECT_EQ(*pk.DecodeInt64(sk.Decrypt(c)), v);
    Bytes wire = pk.SerializeCiphertext(c);
    EXPECT_NE(wire, previous);  // fresh randomness
    previous = wire;
    pk.AddInPlace(acc, c);
    sum += v;
  }
  EXPECT_EQ(*pk.DecodeInt64(sk.Decrypt(acc)), sum);
  // Encryptions of the same value differ (randomized), and noise is an n-th residue.
  EXPECT_NE(pk.SerializeCiphertext(pk.Encrypt(pk.Encode(5), pub->Generate())),
            pk.SerializeCiphertext(pk.Encrypt(pk.Encode(5), pub->Generate())));
  EXPECT_EQ(*pk.DecodeInt64(sk.Decrypt(pk.Rerandomize(acc, crt->Generate()))), sum);
}

TEST(PaillierFastNoise, RejectsBadParameters) {
  const auto& sk = Key1024();
  EXPECT_EQ(PaillierFastNoise::Create(sk.public_key(), 128).status().code(),
            absl::StatusCode::kInvalidArgument);  // below 2 x 128 bits
  EXPECT_EQ(PaillierFastNoise::Create(sk.public_key(), 2048).status().code(),
            absl::StatusCode::kInvalidArgument);  // longer than n
  EXPECT_EQ(PaillierFastNoise::Create(sk, 256, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PaillierFastNoise::Create(sk, 256, 17).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PaillierFastNoise::CreateWithBaseForTesting(sk.public_key(), Bytes{0}, 256, 4)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);  // h = 0 is not a unit
}

TEST(PaillierFastNoise, ProducerThreadsDeliverValidNoise) {
  const auto& sk = Key1024();
  const auto& pk = sk.public_key();
  auto fast = PaillierFastNoise::Create(sk, 256, 6);
  ASSERT_TRUE(fast.ok());
  PaillierNoiseProducer producer(*fast, 12, 2, 4);
  for (int i = 0; i < 14; ++i) {  // two past total: inline
    EXPECT_EQ(*pk.DecodeInt64(sk.Decrypt(pk.Encrypt(pk.Encode(i), producer.Take()))), i);
  }
  producer.Stop();
  EXPECT_EQ(producer.generated(), 14u);
}

// ---------------------------------------------------------------- packing

TEST(PaillierPacker, PackedSumsDecodeSlotwiseIncludingNegatives) {
  const auto& sk = Key1024();
  const auto& pk = sk.public_key();
  const int slot_bits = PaillierPacker::SlotBitsFor(uint64_t{1} << 40, 1000);
  EXPECT_EQ(slot_bits, 51);  // 2^40 * 1000 < 2^50, plus the sign
  auto packer = PaillierPacker::Create(pk, 3, slot_bits);
  ASSERT_TRUE(packer.ok());
  std::mt19937_64 rng(11);
  const int64_t bound = int64_t{1} << 40;
  std::vector<int64_t> sums(3, 0);
  PaillierCiphertext acc = pk.Zero();
  for (int i = 0; i < 1000; ++i) {
    std::vector<int64_t> v = {static_cast<int64_t>(rng() % (2 * bound + 1)) - bound,
                              static_cast<int64_t>(rng() % (bound + 1)),
                              i % 2 ? -bound : bound};
    if (i == 0) {
      auto one = packer->Unpack(sk.Decrypt(pk.Encrypt(packer->Pack(v))));
      ASSERT_TRUE(one.ok());
      EXPECT_EQ(*one, v);
    }
    for (int j = 0; j < 3; ++j) sums[j] += v[j];
    pk.AddInPlace(acc, pk.Encrypt(packer->Pack(v), pk.GenerateNoise()));
  }
  auto got = packer->Unpack(sk.Decrypt(acc));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, sums);
  // Horner concatenation: ShiftLeft by 3 slots, add another packed sum -> 6 slots.
  auto six = PaillierPacker::Create(pk, 6, slot_bits);
  ASSERT_TRUE(six.ok());
  std::vector<int64_t> low = {-1, 2, -3};
  auto cat = pk.Add(pk.ShiftLeft(acc, 3 * slot_bits), pk.Encrypt(packer->Pack(low)));
  auto all = six->Unpack(sk.Decrypt(cat));
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, (std::vector<int64_t>{-1, 2, -3, sums[0], sums[1], sums[2]}));
  // Reading a 6-slot value as 3 slots fails instead of returning garbage.
  EXPECT_EQ(packer->Unpack(sk.Decrypt(cat)).status().code(), absl::StatusCode::kOutOfRange);
}

TEST(PaillierPacker, ExtremeSlotValuesAndBadShapes) {
  const auto& sk = Key1024();
  const auto& pk = sk.public_key();
  auto p64 = PaillierPacker::Create(pk, 4, 64);
  ASSERT_TRUE(p64.ok());
  const int64_t max = std::numeric_limits<int64_t>::max();
  std::vector<int64_t> v = {max, -max, 0, -1};
  EXPECT_EQ(*p64->Unpack(sk.Decrypt(pk.Encrypt(p64->Pack(v)))), v);
  EXPECT_EQ(PaillierPacker::MaxSlots(pk, 64), 15);  // 1023 / 64
  EXPECT_EQ(PaillierPacker::Create(pk, 16, 64).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PaillierPacker::Create(pk, 2, 65).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PaillierPacker::Create(pk, 0, 8).status().code(), absl::StatusCode::kInvalidArgument);
  // ShiftLeft(c, k) = 2^k * Dec(c).
  EXPECT_EQ(*pk.DecodeInt64(sk.Decrypt(pk.ShiftLeft(pk.Encrypt(pk.Encode(-3)), 10))), -3072);
}

}  // namespace
}  // namespace consort::crypto
