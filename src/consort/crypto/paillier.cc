#include "consort/crypto/paillier.h"

#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>

#include "consort/crypto/random.h"

namespace consort::crypto {
namespace {

// Zeroes the limbs GMP allocated for x (secret values), then frees them.
void ClearSecret(mpz_t x) {
  if (x->_mp_alloc > 0 && x->_mp_d != nullptr) {
    sodium_memzero(x->_mp_d, static_cast<size_t>(x->_mp_alloc) * sizeof(mp_limb_t));
  }
  mpz_clear(x);
}

// Scoped temporary, wiped on exit (most temporaries here derive from secrets).
class Tmp {
 public:
  Tmp() { mpz_init(v_); }
  ~Tmp() { ClearSecret(v_); }
  Tmp(const Tmp&) = delete;
  Tmp& operator=(const Tmp&) = delete;
  mpz_ptr get() { return v_; }
  operator mpz_ptr() { return v_; }
  operator mpz_srcptr() const { return v_; }
  // GMP's macros (mpz_sgn, mpz_cmp_ui, ...) dereference their argument.
  __mpz_struct* operator->() { return v_; }
  const __mpz_struct* operator->() const { return v_; }

 private:
  mpz_t v_;
};

void ImportBe(mpz_t out, ByteSpan be) {
  if (be.empty()) {
    mpz_set_ui(out, 0);
    return;
  }
  mpz_import(out, be.size(), 1, 1, 1, 0, be.data());
}

// Writes x (0 <= x < 256^width) big-endian, left-padded with zeros, into out[0..width).
void ExportFixed(mpz_srcptr x, size_t width, uint8_t* out) {
  const size_t len = (mpz_sizeinbase(x, 2) + 7) / 8;
  CONSORT_CHECK(mpz_sgn(x) >= 0 && (mpz_sgn(x) == 0 || len <= width));
  std::memset(out, 0, width);
  if (mpz_sgn(x) == 0) return;
  size_t count = 0;
  mpz_export(out + (width - len), &count, 1, 1, 1, 0, x);
  CONSORT_CHECK(count == len);
}

// Uniform in [0, bound) from the CSPRNG: rejection sampling on bits(bound) random bits.
void RandomBelow(mpz_t out, mpz_srcptr bound) {
  const size_t bits = mpz_sizeinbase(bound, 2);
  const size_t bytes = (bits + 7) / 8;
  SecretBytes buf(bytes);
  const unsigned top_mask = bits % 8 == 0 ? 0xff : (1u << (bits % 8)) - 1;
  do {
    RandomBytes(buf.data(), bytes);
    buf.data()[0] &= static_cast<uint8_t>(top_mask);
    ImportBe(out, buf.span());
  } while (mpz_cmp(out, bound) >= 0);
}

// Uniform in Z_m^* (m > 1): reject 0 and non-units (negligible for an RSA modulus).
void RandomUnit(mpz_t out, mpz_srcptr m) {
  Tmp g;
  do {
    RandomBelow(out, m);
    mpz_gcd(g, out, m);
  } while (mpz_sgn(out) == 0 || mpz_cmp_ui(g, 1) != 0);
}

const mpz_t& SmallPrimorial() {
  static mpz_t primorial;
  static std::once_flag once;
  std::call_once(once, [] {
    mpz_init(primorial);
    mpz_primorial_ui(primorial, 2000);
  });
  return primorial;
}

// A random prime of exactly `bits` bits with its top two bits set (so that the product of
// two such primes has exactly 2*bits bits).
void RandomPrime(mpz_t out, int bits) {
  const size_t bytes = (static_cast<size_t>(bits) + 7) / 8;
  SecretBytes buf(bytes);
  Tmp g;
  while (true) {
    RandomBytes(buf.data(), bytes);
    ImportBe(out, buf.span());
    mpz_fdiv_r_2exp(out, out, static_cast<mp_bitcnt_t>(bits));
    mpz_setbit(out, bits - 1);
    mpz_setbit(out, bits - 2);
    mpz_setbit(out, 0);
    // Cheap sieve before the expensive test: no prime factor below 2000.
    mpz_gcd(g, out, SmallPrimorial());
    if (mpz_cmp_ui(g, 1) != 0) continue;
    // Baillie-PSW plus 24 Miller-Rabin rounds with random bases (GMP's documented behaviour
    // for reps = 48): error probability far below 2^-100 for random candidates.
    if (mpz_probab_prime_p(out, 48) > 0) return;
  }
}

// L(x) = (x - 1) / d (exact division).
void L(mpz_t out, mpz_srcptr x, mpz_srcptr d) {
  mpz_sub_ui(out, x, 1);
  mpz_divexact(out, out, d);
}

}  // namespace

// ---------------------------------------------------------------- value types

PaillierPlaintext::PaillierPlaintext() { mpz_init(v_); }
PaillierPlaintext::~PaillierPlaintext() { ClearSecret(v_); }
PaillierPlaintext::PaillierPlaintext(const PaillierPlaintext& o) { mpz_init_set(v_, o.v_); }
PaillierPlaintext& PaillierPlaintext::operator=(const PaillierPlaintext& o) {
  if (this != &o) mpz_set(v_, o.v_);
  return *this;
}
PaillierPlaintext::PaillierPlaintext(PaillierPlaintext&& o) noexcept {
  mpz_init(v_);
  mpz_swap(v_, o.v_);
}
PaillierPlaintext& PaillierPlaintext::operator=(PaillierPlaintext&& o) noexcept {
  mpz_swap(v_, o.v_);
  return *this;
}

PaillierCiphertext::PaillierCiphertext() { mpz_init(v_); }
PaillierCiphertext::~PaillierCiphertext() { mpz_clear(v_); }
PaillierCiphertext::PaillierCiphertext(const PaillierCiphertext& o) { mpz_init_set(v_, o.v_); }
PaillierCiphertext& PaillierCiphertext::operator=(const PaillierCiphertext& o) {
  if (this != &o) mpz_set(v_, o.v_);
  return *this;
}
PaillierCiphertext::PaillierCiphertext(PaillierCiphertext&& o) noexcept {
  mpz_init(v_);
  mpz_swap(v_, o.v_);
}
PaillierCiphertext& PaillierCiphertext::operator=(PaillierCiphertext&& o) noexcept {
  mpz_swap(v_, o.v_);
  return *this;
}

PaillierNoise::PaillierNoise() { mpz_init(v_); }
PaillierNoise::~PaillierNoise() { ClearSecret(v_); }
PaillierNoise::PaillierNoise(PaillierNoise&& o) noexcept {
  mpz_init(v_);
  mpz_swap(v_, o.v_);
}
PaillierNoise& PaillierNoise::operator=(PaillierNoise&& o) noexcept {
  mpz_swap(v_, o.v_);
  return *this;
}

// ---------------------------------------------------------------- public key

PaillierPublicKey::PaillierPublicKey() {
  mpz_init(n_);
  mpz_init(n2_);
  mpz_init(half_);
}
PaillierPublicKey::~PaillierPublicKey() {
  mpz_clear(n_);
  mpz_clear(n2_);
  mpz_clear(half_);
}
PaillierPublicKey::PaillierPublicKey(const PaillierPublicKey& o) : bits_(o.bits_) {
  mpz_init_set(n_, o.n_);
  mpz_init_set(n2_, o.n2_);
  mpz_init_set(half_, o.half_);
}
PaillierPublicKey& PaillierPublicKey::operator=(const PaillierPublicKey& o) {
  if (this != &o) {
    mpz_set(n_, o.n_);
    mpz_set(n2_, o.n2_);
    mpz_set(half_, o.half_);
    bits_ = o.bits_;
  }
  return *this;
}
PaillierPublicKey::PaillierPublicKey(PaillierPublicKey&& o) noexcept : PaillierPublicKey() {
  mpz_swap(n_, o.n_);
  mpz_swap(n2_, o.n2_);
  mpz_swap(half_, o.half_);
  std::swap(bits_, o.bits_);
}
PaillierPublicKey& PaillierPublicKey::operator=(PaillierPublicKey&& o) noexcept {
  mpz_swap(n_, o.n_);
  mpz_swap(n2_, o.n2_);
  mpz_swap(half_, o.half_);
  std::swap(bits_, o.bits_);
  return *this;
}

void PaillierPublicKey::Init(int bits) {
  bits_ = bits;
  mpz_mul(n2_, n_, n_);
  mpz_fdiv_q_2exp(half_, n_, 1);  // (n - 1) / 2 for odd n
}

bool PaillierPublicKey::operator==(const PaillierPublicKey& o) const {
  return bits_ == o.bits_ && mpz_cmp(n_, o.n_) == 0;
}

Bytes PaillierPublicKey::ToBytes() const {
  Bytes out(4 + plaintext_bytes());
  const uint32_t b = static_cast<uint32_t>(bits_);
  out[0] = static_cast<uint8_t>(b >> 24);
  out[1] = static_cast<uint8_t>(b >> 16);
  out[2] = static_cast<uint8_t>(b >> 8);
  out[3] = static_cast<uint8_t>(b);
  ExportFixed(n_, plaintext_bytes(), out.data() + 4);
  return out;
}

StatusOr<PaillierPublicKey> PaillierPublicKey::FromBytes(ByteSpan bytes, int min_bits) {
  if (bytes.size() < 4) {
    return absl::InvalidArgumentError("Paillier public key: " + std::to_string(bytes.size()) +
                                      " bytes, shorter than its 4-byte header");
  }
  const uint32_t bits = (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) |
                        (uint32_t{bytes[2]} << 8) | uint32_t{bytes[3]};
  if (bits % 8 != 0 || bits < static_cast<uint32_t>(min_bits) ||
      bits > static_cast<uint32_t>(kPaillierMaxBits)) {
    return absl::InvalidArgumentError("Paillier public key: modulus size " +
                                      std::to_string(bits) + " bits not allowed (multiple of 8 in [" +
                                      std::to_string(min_bits) + ", " +
                                      std::to_string(kPaillierMaxBits) + "])");
  }
  if (bytes.size() != 4 + bits / 8) {
    return absl::InvalidArgumentError("Paillier public key: " + std::to_string(bytes.size()) +
                                      " bytes, expected " + std::to_string(4 + bits / 8) +
                                      " for a " + std::to_string(bits) + "-bit modulus");
  }
  PaillierPublicKey pk;
  ImportBe(pk.n_, bytes.subspan(4));
  if (mpz_sizeinbase(pk.n_, 2) != bits || mpz_sgn(pk.n_) == 0) {
    return absl::InvalidArgumentError("Paillier public key: modulus does not have exactly " +
                                      std::to_string(bits) + " bits");
  }
  if (mpz_even_p(pk.n_)) return absl::InvalidArgumentError("Paillier public key: even modulus");
  if (mpz_perfect_square_p(pk.n_)) {
    return absl::InvalidArgumentError("Paillier public key: modulus is a perfect square");
  }
  Tmp g;
  mpz_gcd(g, pk.n_, SmallPrimorial());
  if (mpz_cmp_ui(g, 1) != 0) {
    return absl::InvalidArgumentError("Paillier public key: modulus has a small prime factor");
  }
  pk.Init(static_cast<int>(bits));
  return pk;
}

std::string PaillierPublicKey::ModulusHex() const {
  std::string out(mpz_sizeinbase(n_, 16) + 2, '\0');
  mpz_get_str(out.data(), 16, n_);
  out.resize(std::strlen(out.c_str()));
  return out;
}

PaillierPlaintext PaillierPublicKey::Encode(int64_t v) const {
  PaillierPlaintext m;
  if (v >= 0) {
    mpz_set_ui(m.v_, static_cast<unsigned long>(v));
  } else {
    // -v may not fit in int64 (INT64_MIN): negate in unsigned arithmetic.
    mpz_set_ui(m.v_, static_cast<unsigned long>(0) - static_cast<unsigned long>(v));
    mpz_sub(m.v_, n_, m.v_);
  }
  return m;
}

StatusOr<int64_t> PaillierPublicKey::DecodeInt64(const PaillierPlaintext& m) const {
  Tmp s;
  if (mpz_cmp(m.v_, half_) <= 0) {
    mpz_set(s, m.v_);
  } else {
    mpz_sub(s, m.v_, n_);
  }
  if (!mpz_fits_slong_p(s)) {
    return absl::OutOfRangeError("Paillier: decrypted value does not fit in int64");
  }
  static_assert(sizeof(long) == sizeof(int64_t), "LP64 expected");
  return static_cast<int64_t>(mpz_get_si(s));
}

std::string PaillierPublicKey::DecodeDecimal(const PaillierPlaintext& m) const {
  Tmp s;
  if (mpz_cmp(m.v_, half_) <= 0) {
    mpz_set(s, m.v_);
  } else {
    mpz_sub(s, m.v_, n_);
  }
  std::string out(mpz_sizeinbase(s, 10) + 2, '\0');
  mpz_get_str(out.data(), 10, s);
  out.resize(std::strlen(out.c_str()));
  return out;
}

Bytes PaillierPublicKey::PlaintextToBytes(const PaillierPlaintext& m) const {
  Bytes out(plaintext_bytes());
  ExportFixed(m.v_, out.size(), out.data());
  return out;
}

StatusOr<PaillierPlaintext> PaillierPublicKey::PlaintextFromBytes(ByteSpan bytes) const {
  if (bytes.size() != plaintext_bytes()) {
    return absl::InvalidArgumentError("Paillier plaintext: " + std::to_string(bytes.size()) +
                                      " bytes, expected " + std::to_string(plaintext_bytes()));
  }
  PaillierPlaintext m;
  ImportBe(m.v_, bytes);
  if (mpz_cmp(m.v_, n_) >= 0) {
    return absl::InvalidArgumentError("Paillier plaintext: value not below the modulus");
  }
  return m;
}

PaillierPlaintext PaillierPublicKey::RandomPlaintext() const {
  PaillierPlaintext m;
  RandomBelow(m.v_, n_);
  return m;
}

PaillierPlaintext PaillierPublicKey::AddPlaintexts(const PaillierPlaintext& a,
                                                   const PaillierPlaintext& b) const {
  PaillierPlaintext m;
  mpz_add(m.v_, a.v_, b.v_);
  mpz_mod(m.v_, m.v_, n_);
  return m;
}

PaillierPlaintext PaillierPublicKey::SubPlaintexts(const PaillierPlaintext& a,
                                                   const PaillierPlaintext& b) const {
  PaillierPlaintext m;
  mpz_sub(m.v_, a.v_, b.v_);
  mpz_mod(m.v_, m.v_, n_);
  return m;
}

PaillierNoise PaillierPublicKey::GenerateNoise() const {
  PaillierNoise noise;
  Tmp r;
  RandomUnit(r, n_);
  // The exponent n is public; the base is secret but mpz_powm's timing depends on the
  // exponent, so the faster routine is acceptable here.
  mpz_powm(noise.v_, r, n_, n2_);
  return noise;
}

PaillierCiphertext PaillierPublicKey::Encrypt(const PaillierPlaintext& m) const {
  return Encrypt(m, GenerateNoise());
}

PaillierCiphertext PaillierPublicKey::Encrypt(const PaillierPlaintext& m,
                                              PaillierNoise&& noise) const {
  CONSORT_CHECK(mpz_sgn(noise.v_) > 0 && mpz_cmp(noise.v_, n2_) < 0);
  PaillierCiphertext c;
  // (1 + m n) * noise mod n^2.
  mpz_mul(c.v_, m.v_, n_);
  mpz_add_ui(c.v_, c.v_, 1);
  mpz_mul(c.v_, c.v_, noise.v_);
  mpz_mod(c.v_, c.v_, n2_);
  PaillierNoise used = std::move(noise);  // wiped when `used` goes out of scope
  return c;
}

StatusOr<PaillierCiphertext> PaillierPublicKey::UnsafeEncryptWithR(
    const PaillierPlaintext& m, const PaillierPlaintext& r) const {
  Tmp g;
  mpz_gcd(g, r.v_, n_);
  if (mpz_sgn(r.v_) <= 0 || mpz_cmp(r.v_, n_) >= 0 || mpz_cmp_ui(g, 1) != 0) {
    return absl::InvalidArgumentError("Paillier: r must be a unit of Z_n");
  }
  PaillierNoise noise;
  mpz_powm(noise.v_, r.v_, n_, n2_);
  return Encrypt(m, std::move(noise));
}

PaillierCiphertext PaillierPublicKey::Add(const PaillierCiphertext& a,
                                          const PaillierCiphertext& b) const {
  PaillierCiphertext c;
  mpz_mul(c.v_, a.v_, b.v_);
  mpz_mod(c.v_, c.v_, n2_);
  return c;
}

void PaillierPublicKey::AddInPlace(PaillierCiphertext& acc, const PaillierCiphertext& b) const {
  mpz_mul(acc.v_, acc.v_, b.v_);
  mpz_mod(acc.v_, acc.v_, n2_);
}

PaillierCiphertext PaillierPublicKey::AddPlaintext(const PaillierCiphertext& a,
                                                   const PaillierPlaintext& m) const {
  PaillierCiphertext c;
  mpz_mul(c.v_, m.v_, n_);
  mpz_add_ui(c.v_, c.v_, 1);
  mpz_mul(c.v_, c.v_, a.v_);
  mpz_mod(c.v_, c.v_, n2_);
  return c;
}

PaillierCiphertext PaillierPublicKey::MultiplyScalar(const PaillierCiphertext& a,
                                                     const PaillierPlaintext& k) const {
  PaillierCiphertext c;
  Tmp e;
  mpz_mod(e, k.v_, n_);
  if (mpz_sgn(e) == 0) {
    mpz_set_ui(c.v_, 1);  // mpz_powm_sec needs a positive exponent; a^0 = 1
    return c;
  }
  mpz_powm_sec(c.v_, a.v_, e, n2_);
  return c;
}

PaillierCiphertext PaillierPublicKey::MultiplyScalar(const PaillierCiphertext& a,
                                                     int64_t k) const {
  return MultiplyScalar(a, Encode(k));
}

PaillierCiphertext PaillierPublicKey::Negate(const PaillierCiphertext& a) const {
  PaillierCiphertext c;
  // Valid ciphertexts are units mod n^2 (checked at parse time), so the inverse exists.
  CONSORT_CHECK(mpz_invert(c.v_, a.v_, n2_) != 0);
  return c;
}

PaillierCiphertext PaillierPublicKey::Rerandomize(const PaillierCiphertext& a) const {
  return Rerandomize(a, GenerateNoise());
}

PaillierCiphertext PaillierPublicKey::Rerandomize(const PaillierCiphertext& a,
                                                  PaillierNoise&& noise) const {
  PaillierCiphertext c;
  mpz_mul(c.v_, a.v_, noise.v_);
  mpz_mod(c.v_, c.v_, n2_);
  PaillierNoise used = std::move(noise);
  return c;
}

PaillierCiphertext PaillierPublicKey::ShiftLeft(const PaillierCiphertext& a, int bits) const {
  CONSORT_CHECK(bits >= 0 && bits <= 4096);
  PaillierCiphertext c(a);
  for (int i = 0; i < bits; ++i) {
    mpz_mul(c.v_, c.v_, c.v_);
    mpz_mod(c.v_, c.v_, n2_);
  }
  return c;
}

PaillierCiphertext PaillierPublicKey::Zero() const {
  PaillierCiphertext c;
  mpz_set_ui(c.v_, 1);
  return c;
}

Bytes PaillierPublicKey::SerializeCiphertext(const PaillierCiphertext& c) const {
  Bytes out(ciphertext_bytes());
  SerializeCiphertextTo(c, out.data());
  return out;
}

void PaillierPublicKey::SerializeCiphertextTo(const PaillierCiphertext& c, uint8_t* out) const {
  ExportFixed(c.v_, ciphertext_bytes(), out);
}

StatusOr<PaillierCiphertext> PaillierPublicKey::ParseCiphertext(ByteSpan bytes) const {
  if (bytes.size() != ciphertext_bytes()) {
    return absl::InvalidArgumentError("Paillier ciphertext: " + std::to_string(bytes.size()) +
                                      " bytes, expected " + std::to_string(ciphertext_bytes()));
  }
  PaillierCiphertext c;
  ImportBe(c.v_, bytes);
  if (mpz_sgn(c.v_) == 0 || mpz_cmp(c.v_, n2_) >= 0) {
    return absl::InvalidArgumentError("Paillier ciphertext: value outside [1, n^2)");
  }
  Tmp g;
  mpz_gcd(g, c.v_, n_);
  if (mpz_cmp_ui(g, 1) != 0) {
    return absl::InvalidArgumentError("Paillier ciphertext: not a unit (gcd(c, n) != 1)");
  }
  return c;
}

// ---------------------------------------------------------------- secret key

PaillierSecretKey::PaillierSecretKey() {
  mpz_init(p_);
  mpz_init(q_);
  mpz_init(p2_);
  mpz_init(q2_);
  mpz_init(hp_);
  mpz_init(hq_);
  mpz_init(qinv_p_);
  mpz_init(p2inv_q2_);
  mpz_init(lambda_);
  mpz_init(mu_);
  live_ = true;
}

PaillierSecretKey::~PaillierSecretKey() {
  if (!live_) return;
  ClearSecret(p_);
  ClearSecret(q_);
  ClearSecret(p2_);
  ClearSecret(q2_);
  ClearSecret(hp_);
  ClearSecret(hq_);
  ClearSecret(qinv_p_);
  ClearSecret(p2inv_q2_);
  ClearSecret(lambda_);
  ClearSecret(mu_);
}

PaillierSecretKey::PaillierSecretKey(PaillierSecretKey&& o) noexcept : PaillierSecretKey() {
  *this = std::move(o);
}

PaillierSecretKey& PaillierSecretKey::operator=(PaillierSecretKey&& o) noexcept {
  pk_ = std::move(o.pk_);
  mpz_swap(p_, o.p_);
  mpz_swap(q_, o.q_);
  mpz_swap(p2_, o.p2_);
  mpz_swap(q2_, o.q2_);
  mpz_swap(hp_, o.hp_);
  mpz_swap(hq_, o.hq_);
  mpz_swap(qinv_p_, o.qinv_p_);
  mpz_swap(p2inv_q2_, o.p2inv_q2_);
  mpz_swap(lambda_, o.lambda_);
  mpz_swap(mu_, o.mu_);
  return *this;
}

StatusOr<PaillierSecretKey> PaillierSecretKey::FromPrimes(mpz_t p, mpz_t q) {
  if (mpz_cmp_ui(p, 2) <= 0 || mpz_cmp_ui(q, 2) <= 0 || mpz_probab_prime_p(p, 48) == 0 ||
      mpz_probab_prime_p(q, 48) == 0) {
    return absl::InvalidArgumentError("Paillier: p and q must be odd primes");
  }
  if (mpz_cmp(p, q) == 0) return absl::InvalidArgumentError("Paillier: p == q");
  PaillierSecretKey sk;
  mpz_set(sk.p_, p);
  mpz_set(sk.q_, q);
  mpz_mul(sk.pk_.n_, p, q);
  sk.pk_.Init(static_cast<int>(mpz_sizeinbase(sk.pk_.n_, 2)));
  Tmp pm1, qm1, phi, g;
  mpz_sub_ui(pm1, p, 1);
  mpz_sub_ui(qm1, q, 1);
  mpz_mul(phi, pm1, qm1);
  mpz_gcd(g, sk.pk_.n_, phi);
  if (mpz_cmp_ui(g, 1) != 0) return absl::InvalidArgumentError("Paillier: gcd(pq, phi) != 1");

  mpz_mul(sk.p2_, p, p);
  mpz_mul(sk.q2_, q, q);
  // h_p = L_p(g^(p-1) mod p^2)^-1 mod p with g = n + 1.
  Tmp gen, x;
  mpz_add_ui(gen, sk.pk_.n_, 1);
  mpz_powm(x, gen, pm1, sk.p2_);
  L(sk.hp_, x, p);
  if (mpz_invert(sk.hp_, sk.hp_, p) == 0) return absl::InternalError("Paillier: h_p not invertible");
  mpz_powm(x, gen, qm1, sk.q2_);
  L(sk.hq_, x, q);
  if (mpz_invert(sk.hq_, sk.hq_, q) == 0) return absl::InternalError("Paillier: h_q not invertible");
  if (mpz_invert(sk.qinv_p_, q, p) == 0) return absl::InternalError("Paillier: q not invertible");
  if (mpz_invert(sk.p2inv_q2_, sk.p2_, sk.q2_) == 0) {
    return absl::InternalError("Paillier: p^2 not invertible mod q^2");
  }
  // lambda = lcm(p-1, q-1); mu = L(g^lambda mod n^2)^-1 mod n.
  mpz_lcm(sk.lambda_, pm1, qm1);
  mpz_powm(x, gen, sk.lambda_, sk.pk_.n2_);
  L(sk.mu_, x, sk.pk_.n_);
  if (mpz_invert(sk.mu_, sk.mu_, sk.pk_.n_) == 0) return absl::InternalError("Paillier: mu");
  return sk;
}

StatusOr<PaillierSecretKey> PaillierSecretKey::FromPrimesForTesting(ByteSpan p_be, ByteSpan q_be) {
  Tmp p, q;
  ImportBe(p, p_be);
  ImportBe(q, q_be);
  return FromPrimes(p, q);
}

StatusOr<PaillierSecretKey> PaillierSecretKey::GenerateForTesting(int bits) {
  if (bits < 256 || bits > kPaillierMaxBits || bits % 16 != 0) {
    return absl::InvalidArgumentError("Paillier: modulus size must be a multiple of 16 in [256, " +
                                      std::to_string(kPaillierMaxBits) + "], got " +
                                      std::to_string(bits));
  }
  InitCrypto();
  Tmp p, q;
  while (true) {
    RandomPrime(p, bits / 2);
    RandomPrime(q, bits / 2);
    if (mpz_cmp(p, q) == 0) continue;
    auto sk = FromPrimes(p, q);
    // FromPrimes only fails for equal primes or gcd(n, phi) != 1, both negligible here.
    if (!sk.ok()) continue;
    CONSORT_CHECK(sk->pk_.modulus_bits() == bits);
    return sk;
  }
}

StatusOr<PaillierSecretKey> PaillierSecretKey::Generate(int bits) {
  if (bits < kPaillierMinBits) {
    return absl::InvalidArgumentError("Paillier: modulus must have at least " +
                                      std::to_string(kPaillierMinBits) + " bits, got " +
                                      std::to_string(bits));
  }
  return GenerateForTesting(bits);
}

PaillierPlaintext PaillierSecretKey::Decrypt(const PaillierCiphertext& c) const {
  CONSORT_CHECK(mpz_sgn(c.v_) > 0);
  PaillierPlaintext m;
  Tmp mp, mq, x, e;
  // m_p = L_p(c^(p-1) mod p^2) h_p mod p; likewise for q. Exponents are secret.
  mpz_sub_ui(e, p_, 1);
  mpz_mod(x, c.v_, p2_);
  mpz_powm_sec(x, x, e, p2_);
  L(mp, x, p_);
  mpz_mul(mp, mp, hp_);
  mpz_mod(mp, mp, p_);
  mpz_sub_ui(e, q_, 1);
  mpz_mod(x, c.v_, q2_);
  mpz_powm_sec(x, x, e, q2_);
  L(mq, x, q_);
  mpz_mul(mq, mq, hq_);
  mpz_mod(mq, mq, q_);
  // Garner: m = m_q + q * ((m_p - m_q) q^-1 mod p).
  mpz_sub(x, mp, mq);
  mpz_mul(x, x, qinv_p_);
  mpz_mod(x, x, p_);
  mpz_mul(x, x, q_);
  mpz_add(m.v_, x, mq);
  return m;
}

PaillierPlaintext PaillierSecretKey::DecryptWithoutCrt(const PaillierCiphertext& c) const {
  CONSORT_CHECK(mpz_sgn(c.v_) > 0);
  PaillierPlaintext m;
  Tmp x;
  mpz_powm_sec(x, c.v_, lambda_, pk_.n2_);
  L(m.v_, x, pk_.n_);
  mpz_mul(m.v_, m.v_, mu_);
  mpz_mod(m.v_, m.v_, pk_.n_);
  return m;
}

PaillierNoise PaillierSecretKey::GenerateNoise() const {
  // A uniform n-th residue mod p^2 is x^p mod p^2 for x uniform in Z_p^* (the map is a
  // bijection onto the order-(p-1) subgroup); combine the two halves by CRT mod n^2.
  PaillierNoise noise;
  Tmp xp, xq, rp, rq;
  RandomUnit(xp, p_);
  RandomUnit(xq, q_);
  mpz_powm_sec(rp, xp, p_, p2_);
  mpz_powm_sec(rq, xq, q_, q2_);
  // r = r_p + p^2 * ((r_q - r_p) (p^2)^-1 mod q^2).
  mpz_sub(rq, rq, rp);
  mpz_mul(rq, rq, p2inv_q2_);
  mpz_mod(rq, rq, q2_);
  mpz_mul(rq, rq, p2_);
  mpz_add(noise.v_, rq, rp);
  return noise;
}

PaillierCiphertext PaillierSecretKey::Encrypt(const PaillierPlaintext& m) const {
  return pk_.Encrypt(m, GenerateNoise());
}

// ---------------------------------------------------------------- noise pool

PaillierNoise PaillierNoisePool::Generate() const {
  return sk_ != nullptr ? sk_->GenerateNoise() : pk_->GenerateNoise();
}

void PaillierNoisePool::Fill(size_t count) {
  for (size_t i = 0; i < count; ++i) {
    PaillierNoise n = Generate();  // outside the lock: several threads may fill at once
    std::lock_guard lock(mu_);
    pool_.push_back(std::move(n));
  }
}

PaillierNoise PaillierNoisePool::Take() {
  {
    std::lock_guard lock(mu_);
    if (!pool_.empty()) {
      PaillierNoise n = std::move(pool_.front());
      pool_.pop_front();
      return n;
    }
  }
  return Generate();
}

size_t PaillierNoisePool::size() const {
  std::lock_guard lock(mu_);
  return pool_.size();
}

// ---------------------------------------------------------------- noise producer

PaillierNoiseProducer::PaillierNoiseProducer(const PaillierSecretKey& sk, size_t total,
                                             int workers, size_t capacity)
    : pk_(&sk.public_key()), sk_(&sk), total_(total), capacity_(std::max<size_t>(1, capacity)) {
  Start(workers);
}

PaillierNoiseProducer::PaillierNoiseProducer(const PaillierPublicKey& pk, size_t total,
                                             int workers, size_t capacity)
    : pk_(&pk), total_(total), capacity_(std::max<size_t>(1, capacity)) {
  Start(workers);
}

PaillierNoiseProducer::PaillierNoiseProducer(const PaillierFastNoise& fast, size_t total,
                                             int workers, size_t capacity)
    : pk_(&fast.public_key()), fast_(&fast), total_(total),
      capacity_(std::max<size_t>(1, capacity)) {
  Start(workers);
}

PaillierNoiseProducer::~PaillierNoiseProducer() { Stop(); }

void PaillierNoiseProducer::Start(int workers) {
  for (int w = 0; w < workers; ++w) workers_.emplace_back([this] { Work(); });
}

PaillierNoise PaillierNoiseProducer::Generate() const {
  if (fast_ != nullptr) return fast_->Generate();
  return sk_ != nullptr ? sk_->GenerateNoise() : pk_->GenerateNoise();
}

void PaillierNoiseProducer::Work() {
  std::unique_lock lock(mu_);
  while (!stop_ && claimed_ < total_) {
    if (ready_.size() + in_flight_ >= capacity_) {
      space_cv_.wait(lock);
      continue;
    }
    ++claimed_;
    ++in_flight_;
    lock.unlock();
    PaillierNoise noise = Generate();
    lock.lock();
    --in_flight_;
    ++generated_;
    ready_.push_back(std::move(noise));
    // All waiters: when the last in-flight value lands, the ones that do not get it must see
    // in_flight_ == 0 and generate inline instead of sleeping forever.
    ready_cv_.notify_all();
  }
}

PaillierNoise PaillierNoiseProducer::Take() {
  std::unique_lock lock(mu_);
  while (true) {
    if (!ready_.empty()) {
      PaillierNoise noise = std::move(ready_.front());
      ready_.pop_front();
      space_cv_.notify_one();
      return noise;
    }
    if (claimed_ < total_ || in_flight_ == 0) {
      if (claimed_ < total_) ++claimed_;
      ++generated_;
      lock.unlock();
      return Generate();
    }
    ready_cv_.wait(lock);  // a worker is finishing one
  }
}

void PaillierNoiseProducer::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  space_cv_.notify_all();
  for (auto& t : workers_) {
    if (t.joinable()) t.join();
  }
  workers_.clear();
}

size_t PaillierNoiseProducer::generated() const {
  std::lock_guard lock(mu_);
  return generated_;
}

// ---------------------------------------------------------------- fast noise (DJN)

// Fixed-base table: entry (i, j) = base^(j * 2^(w i)) mod m, for j in [0, 2^w).
struct PaillierFastNoise::Table {
  mpz_t m;
  int digits = 0, w = 0;
  std::vector<__mpz_struct> entries;  // digits * 2^w, row-major by digit

  Table(mpz_srcptr base, mpz_srcptr modulus, int exponent_bits, int window) : w(window) {
    mpz_init_set(m, modulus);
    digits = (exponent_bits + w - 1) / w;
    const size_t per = size_t{1} << w;
    entries.resize(static_cast<size_t>(digits) * per);
    for (auto& e : entries) mpz_init(&e);
    Tmp b;
    mpz_mod(b, base, m);
    for (int i = 0; i < digits; ++i) {
      __mpz_struct* row = &entries[static_cast<size_t>(i) * per];
      mpz_set_ui(&row[0], 1);
      for (size_t j = 1; j < per; ++j) {
        mpz_mul(&row[j], &row[j - 1], b);
        mpz_mod(&row[j], &row[j], m);
      }
      // Next digit's base: b^(2^w) = row[per - 1] * b.
      mpz_mul(b, &row[per - 1], b);
      mpz_mod(b, b, m);
    }
  }
  ~Table() {
    for (auto& e : entries) ClearSecret(&e);
    ClearSecret(m);
  }
  Table(const Table&) = delete;
  Table& operator=(const Table&) = delete;

  // out = base^a mod m for 0 <= a < 2^(digits w).
  void Pow(mpz_ptr out, mpz_srcptr a) const {
    const size_t per = size_t{1} << w;
    Tmp t;
    bool first = true;
    for (int i = 0; i < digits; ++i) {
      size_t d = 0;
      for (int k = w - 1; k >= 0; --k) {
        d = (d << 1) | static_cast<size_t>(mpz_tstbit(a, static_cast<mp_bitcnt_t>(i * w + k)));
      }
      if (d == 0) continue;
      const __mpz_struct* e = &entries[static_cast<size_t>(i) * per + d];
      if (first) {
        mpz_set(out, e);
        first = false;
      } else {
        mpz_mul(t, out, e);
        mpz_mod(out, t, m);
      }
    }
    if (first) mpz_set_ui(out, 1);
  }
};

PaillierFastNoise::PaillierFastNoise(PaillierFastNoise&& o) noexcept = default;
PaillierFastNoise& PaillierFastNoise::operator=(PaillierFastNoise&& o) noexcept = default;
PaillierFastNoise::~PaillierFastNoise() = default;

StatusOr<PaillierFastNoise> PaillierFastNoise::Build(const PaillierPublicKey& pk,
                                                     const PaillierSecretKey* sk, ByteSpan h_be,
                                                     int exponent_bits, int window_bits) {
  if (exponent_bits < kPaillierDjnExponentBits || exponent_bits > pk.modulus_bits()) {
    return absl::InvalidArgumentError(
        "Paillier fast noise: exponent_bits " + std::to_string(exponent_bits) + " not in [" +
        std::to_string(kPaillierDjnExponentBits) + ", " + std::to_string(pk.modulus_bits()) + "]");
  }
  if (window_bits < 1 || window_bits > 16) {
    return absl::InvalidArgumentError("Paillier fast noise: window_bits " +
                                      std::to_string(window_bits) + " not in [1, 16]");
  }
  Tmp h, g;
  if (h_be.empty()) {
    // h = -x^2 mod n for x uniform in Z_n^* (DJN section 4.2).
    Tmp x;
    RandomUnit(x, pk.n_);
    mpz_mul(h, x, x);
    mpz_mod(h, h, pk.n_);
    mpz_sub(h, pk.n_, h);
  } else {
    ImportBe(h, h_be);
    mpz_gcd(g, h, pk.n_);
    if (mpz_sgn(h) <= 0 || mpz_cmp(h, pk.n_) >= 0 || mpz_cmp_ui(g, 1) != 0) {
      return absl::InvalidArgumentError("Paillier fast noise: h must be a unit of Z_n");
    }
  }
  Tmp hs;
  mpz_powm(hs, h, pk.n_, pk.n2_);  // public exponent n
  PaillierFastNoise f;
  f.pk_ = &pk;
  f.sk_ = sk;
  f.crt_ = sk != nullptr;
  f.exponent_bits_ = exponent_bits;
  f.window_bits_ = window_bits;
  if (sk != nullptr) {
    f.mod_p2_ = std::make_unique<Table>(hs, sk->p2_, exponent_bits, window_bits);
    f.mod_q2_ = std::make_unique<Table>(hs, sk->q2_, exponent_bits, window_bits);
  } else {
    f.full_ = std::make_unique<Table>(hs, pk.n2_, exponent_bits, window_bits);
  }
  return f;
}

StatusOr<PaillierFastNoise> PaillierFastNoise::Create(const PaillierPublicKey& pk,
                                                      int exponent_bits, int window_bits) {
  InitCrypto();
  return Build(pk, nullptr, {}, exponent_bits, window_bits);
}

StatusOr<PaillierFastNoise> PaillierFastNoise::Create(const PaillierSecretKey& sk,
                                                      int exponent_bits, int window_bits) {
  InitCrypto();
  return Build(sk.public_key(), &sk, {}, exponent_bits, window_bits);
}

StatusOr<PaillierFastNoise> PaillierFastNoise::CreateWithBaseForTesting(
    const PaillierPublicKey& pk, ByteSpan h_be, int exponent_bits, int window_bits) {
  if (h_be.empty()) return absl::InvalidArgumentError("Paillier fast noise: empty h");
  return Build(pk, nullptr, h_be, exponent_bits, window_bits);
}

StatusOr<PaillierFastNoise> PaillierFastNoise::CreateWithBaseForTesting(
    const PaillierSecretKey& sk, ByteSpan h_be, int exponent_bits, int window_bits) {
  if (h_be.empty()) return absl::InvalidArgumentError("Paillier fast noise: empty h");
  return Build(sk.public_key(), &sk, h_be, exponent_bits, window_bits);
}

void PaillierFastNoise::FromExponent(mpz_ptr out, mpz_srcptr a) const {
  if (!crt_) {
    full_->Pow(out, a);
    return;
  }
  // Both halves, then r = r_p + p^2 ((r_q - r_p) (p^2)^-1 mod q^2).
  Tmp rp, rq;
  mod_p2_->Pow(rp, a);
  mod_q2_->Pow(rq, a);
  mpz_sub(rq, rq, rp);
  mpz_mul(rq, rq, sk_->p2inv_q2_);
  mpz_mod(rq, rq, sk_->q2_);
  mpz_mul(rq, rq, sk_->p2_);
  mpz_add(out, rq, rp);
}

PaillierNoise PaillierFastNoise::Generate() const {
  const size_t bytes = (static_cast<size_t>(exponent_bits_) + 7) / 8;
  SecretBytes buf(bytes);
  RandomBytes(buf.data(), bytes);
  if (exponent_bits_ % 8 != 0) {
    buf.data()[0] &= static_cast<uint8_t>((1u << (exponent_bits_ % 8)) - 1);
  }
  Tmp a;
  ImportBe(a, buf.span());
  PaillierNoise noise;
  FromExponent(noise.v_, a);
  return noise;
}

StatusOr<PaillierNoise> PaillierFastNoise::UnsafeGenerateWithExponent(ByteSpan a_be) const {
  Tmp a;
  ImportBe(a, a_be);
  if (mpz_sizeinbase(a, 2) > static_cast<size_t>(exponent_bits_)) {
    return absl::InvalidArgumentError("Paillier fast noise: exponent longer than " +
                                      std::to_string(exponent_bits_) + " bits");
  }
  PaillierNoise noise;
  FromExponent(noise.v_, a);
  return noise;
}

// ---------------------------------------------------------------- packing

StatusOr<PaillierPacker> PaillierPacker::Create(const PaillierPublicKey& pk, int slots,
                                                int slot_bits) {
  if (slots < 1 || slot_bits < 2 || slot_bits > 64 ||
      static_cast<int64_t>(slots) * slot_bits >= pk.modulus_bits()) {
    return absl::InvalidArgumentError(
        "Paillier packer: " + std::to_string(slots) + " slots of " + std::to_string(slot_bits) +
        " bits do not fit a " + std::to_string(pk.modulus_bits()) +
        "-bit plaintext (slot_bits in [2, 64], slots * slot_bits < modulus bits)");
  }
  return PaillierPacker(pk, slots, slot_bits);
}

int PaillierPacker::MaxSlots(const PaillierPublicKey& pk, int slot_bits) {
  CONSORT_CHECK(slot_bits >= 2);
  return (pk.modulus_bits() - 1) / slot_bits;
}

int PaillierPacker::SlotBitsFor(uint64_t max_abs, uint64_t max_terms) {
  // Bits of max_abs * max_terms (as a 128-bit product), plus one for the sign.
  const unsigned __int128 p = static_cast<unsigned __int128>(max_abs) * max_terms;
  int bits = 0;
  for (unsigned __int128 v = p; v != 0; v >>= 1) ++bits;
  return bits + 1;
}

PaillierPlaintext PaillierPacker::Pack(const std::vector<int64_t>& values) const {
  CONSORT_CHECK(values.size() == static_cast<size_t>(slots_));
  PaillierPlaintext m;
  Tmp t;
  const int64_t lim = slot_bits_ == 64 ? std::numeric_limits<int64_t>::max()
                                       : (int64_t{1} << (slot_bits_ - 1)) - 1;
  // Horner from the top slot: m = (...(v_{k-1} 2^s + v_{k-2}) 2^s + ...) + v_0.
  for (int j = slots_ - 1; j >= 0; --j) {
    const int64_t v = values[static_cast<size_t>(j)];
    CONSORT_CHECK(v <= lim && v >= -lim);
    mpz_mul_2exp(m.v_, m.v_, static_cast<mp_bitcnt_t>(slot_bits_));
    if (v >= 0) {
      mpz_add_ui(m.v_, m.v_, static_cast<unsigned long>(v));
    } else {
      mpz_sub_ui(m.v_, m.v_, static_cast<unsigned long>(0) - static_cast<unsigned long>(v));
    }
  }
  mpz_mod(m.v_, m.v_, pk_->n_);
  return m;
}

StatusOr<std::vector<int64_t>> PaillierPacker::Unpack(const PaillierPlaintext& m) const {
  Tmp x, low, half;
  // The signed integer the plaintext stands for, in (-n/2, n/2].
  if (mpz_cmp(m.v_, pk_->half_) <= 0) {
    mpz_set(x, m.v_);
  } else {
    mpz_sub(x, m.v_, pk_->n_);
  }
  mpz_setbit(half, static_cast<mp_bitcnt_t>(slot_bits_ - 1));
  std::vector<int64_t> out(static_cast<size_t>(slots_));
  for (int j = 0; j < slots_; ++j) {
    // Symmetric residue mod 2^s: low in [-2^(s-1), 2^(s-1)).
    mpz_fdiv_r_2exp(low, x, static_cast<mp_bitcnt_t>(slot_bits_));
    if (mpz_cmp(low, half) >= 0) {
      mpz_sub(low, low, half);
      mpz_sub(low, low, half);
    }
    out[static_cast<size_t>(j)] = static_cast<int64_t>(mpz_get_si(low));
    mpz_sub(x, x, low);
    mpz_fdiv_q_2exp(x, x, static_cast<mp_bitcnt_t>(slot_bits_));
  }
  if (mpz_sgn(x) != 0) {
    return absl::OutOfRangeError("Paillier packer: value does not decode as " +
                                 std::to_string(slots_) + " slots of " +
                                 std::to_string(slot_bits_) + " bits");
  }
  return out;
}

}  // namespace consort::crypto
