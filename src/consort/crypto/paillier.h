#pragma once
// Paillier additively homomorphic encryption over GMP.
//
// Paper: P. Paillier, "Public-Key Cryptosystems Based on Composite Degree Residuosity Classes",
// EUROCRYPT 1999 (scheme 1, section 3; CRT decryption, section 7). Generator g = n + 1, so
// g^m = 1 + m*n mod n^2 and encryption costs one exponentiation: Enc(m; r) = (1 + m n) r^n
// mod n^2 with r uniform in Z_n^*.
//
// Parameters: modulus n = p q with p, q random primes of exactly bits/2 bits each (top two bits
// set, so n has exactly `bits` bits), p != q, gcd(n, (p-1)(q-1)) = 1. Default and minimum 2048
// bits (112-bit security per NIST SP 800-57; use 3072 for 128-bit); smaller keys exist only
// through the *ForTesting functions. Semantic security rests on the decisional composite
// residuosity assumption.
//
// Plaintext encoding: Z_n holds signed integers v in (-n/2, n/2), v >= 0 as v, v < 0 as n + v.
// Homomorphic results decode correctly as long as the true integer result stays inside that
// interval (for 2048-bit n: |result| < 2^2046). Sums of up to 2^32 int64 values stay below 2^95
// and can never wrap.
//
// Randomness: r^n mod n^2 ("noise") is the whole cost of an encryption; it does not depend on
// the message, so it can be computed ahead of time (PaillierNoisePool). The key owner computes
// it about 3x faster through CRT (PaillierSecretKey::GenerateNoise): a uniform n-th residue
// mod p^2 is x^p mod p^2 for x uniform in Z_p^*, likewise mod q^2.
//
// Side channels: secret exponents use mpz_powm_sec. Secret values (p, q, derived constants,
// noise, plaintexts) are zeroed before their limbs are freed; GMP may still leave copies in
// memory it reallocates internally during arithmetic.
// Thread safety: keys are immutable after creation and safe to share between threads; the
// ciphertext/plaintext values are plain values (no sharing). PaillierNoisePool is thread-safe.

#include <gmp.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "consort/common/bytes.h"
#include "consort/common/status.h"

namespace consort::crypto {

inline constexpr int kPaillierDefaultBits = 2048;
inline constexpr int kPaillierMinBits = 2048;
inline constexpr int kPaillierMaxBits = 8192;

class PaillierPublicKey;
class PaillierSecretKey;
class PaillierFastNoise;
class PaillierPacker;

// An element of Z_n (a plaintext). Wiped on destruction (plaintexts are usually secret).
class PaillierPlaintext {
 public:
  PaillierPlaintext();
  ~PaillierPlaintext();
  PaillierPlaintext(const PaillierPlaintext& other);
  PaillierPlaintext& operator=(const PaillierPlaintext& other);
  PaillierPlaintext(PaillierPlaintext&& other) noexcept;
  PaillierPlaintext& operator=(PaillierPlaintext&& other) noexcept;

 private:
  friend class PaillierPublicKey;
  friend class PaillierSecretKey;
  friend class PaillierFastNoise;
  friend class PaillierPacker;
  mpz_t v_;
};

// An element of Z_{n^2}^* (a ciphertext). Objects only come from encryption, homomorphic
// operations or PaillierPublicKey::ParseCiphertext (which validates), so they are always valid
// for the key that made them. Using one with another key is a programmer error.
class PaillierCiphertext {
 public:
  PaillierCiphertext();
  ~PaillierCiphertext();
  PaillierCiphertext(const PaillierCiphertext& other);
  PaillierCiphertext& operator=(const PaillierCiphertext& other);
  PaillierCiphertext(PaillierCiphertext&& other) noexcept;
  PaillierCiphertext& operator=(PaillierCiphertext&& other) noexcept;

 private:
  friend class PaillierPublicKey;
  friend class PaillierSecretKey;
  friend class PaillierFastNoise;
  friend class PaillierPacker;
  mpz_t v_;
};

// r^n mod n^2 for a uniform r in Z_n^*: the randomness of one encryption. Secret (it decrypts
// the ciphertext it was used for), single use (Encrypt consumes it), wiped on destruction.
class PaillierNoise {
 public:
  PaillierNoise();
  ~PaillierNoise();
  PaillierNoise(PaillierNoise&& other) noexcept;
  PaillierNoise& operator=(PaillierNoise&& other) noexcept;
  PaillierNoise(const PaillierNoise&) = delete;
  PaillierNoise& operator=(const PaillierNoise&) = delete;

 private:
  friend class PaillierPublicKey;
  friend class PaillierSecretKey;
  friend class PaillierFastNoise;
  friend class PaillierPacker;
  mpz_t v_;
};

class PaillierPublicKey {
 public:
  PaillierPublicKey();
  ~PaillierPublicKey();
  PaillierPublicKey(const PaillierPublicKey& other);
  PaillierPublicKey& operator=(const PaillierPublicKey& other);
  PaillierPublicKey(PaillierPublicKey&& other) noexcept;
  PaillierPublicKey& operator=(PaillierPublicKey&& other) noexcept;

  // Wire form: u32 big-endian bit length || n big-endian in bits/8 bytes.
  Bytes ToBytes() const;
  // Parses an untrusted key. InvalidArgument unless: the length matches, the bit length is a
  // multiple of 8 in [min_bits, kPaillierMaxBits], n has exactly that many bits, is odd, is
  // not a perfect square and has no prime factor below 2000. (A malicious n cannot be fully
  // checked without a proof of correct generation; these checks reject garbage.)
  static StatusOr<PaillierPublicKey> FromBytes(ByteSpan bytes, int min_bits = kPaillierMinBits);

  int modulus_bits() const { return bits_; }
  size_t plaintext_bytes() const { return (static_cast<size_t>(bits_) + 7) / 8; }
  size_t ciphertext_bytes() const { return 2 * plaintext_bytes(); }
  // Hex of n (for tests and diagnostics; public).
  std::string ModulusHex() const;

  // --- plaintexts
  PaillierPlaintext Encode(int64_t v) const;  // v mod n
  // The signed value of m (see the file comment), if it fits in int64; OutOfRange otherwise.
  StatusOr<int64_t> DecodeInt64(const PaillierPlaintext& m) const;
  // The signed value of m in decimal ("-12"), whatever its size.
  std::string DecodeDecimal(const PaillierPlaintext& m) const;
  // Fixed-width big-endian (plaintext_bytes()); parsing rejects values >= n (InvalidArgument).
  Bytes PlaintextToBytes(const PaillierPlaintext& m) const;
  StatusOr<PaillierPlaintext> PlaintextFromBytes(ByteSpan bytes) const;
  // Uniform in Z_n (a one-time mask), from the CSPRNG.
  PaillierPlaintext RandomPlaintext() const;
  PaillierPlaintext AddPlaintexts(const PaillierPlaintext& a, const PaillierPlaintext& b) const;
  PaillierPlaintext SubPlaintexts(const PaillierPlaintext& a, const PaillierPlaintext& b) const;

  // --- encryption
  // r^n mod n^2 for a fresh r from the CSPRNG (one 2048-bit-exponent exponentiation mod n^2).
  PaillierNoise GenerateNoise() const;
  // Fresh randomness each call.
  PaillierCiphertext Encrypt(const PaillierPlaintext& m) const;
  PaillierCiphertext Encrypt(int64_t v) const { return Encrypt(Encode(v)); }
  // With noise computed ahead of time (GenerateNoise / PaillierNoisePool); consumes it.
  PaillierCiphertext Encrypt(const PaillierPlaintext& m, PaillierNoise&& noise) const;
  // Deterministic: (1 + m n) r^n mod n^2 with the given r (known-answer tests only; never
  // reuse r). InvalidArgument unless 0 < r < n and gcd(r, n) = 1.
  StatusOr<PaillierCiphertext> UnsafeEncryptWithR(const PaillierPlaintext& m,
                                                  const PaillierPlaintext& r) const;

  // --- homomorphic operations (results are NOT re-randomized: their randomness is a product
  // of the inputs'; call Rerandomize before revealing a result to whoever made the inputs)
  PaillierCiphertext Add(const PaillierCiphertext& a, const PaillierCiphertext& b) const;
  // In place: acc = acc + b (avoids allocations in long sums).
  void AddInPlace(PaillierCiphertext& acc, const PaillierCiphertext& b) const;
  PaillierCiphertext AddPlaintext(const PaillierCiphertext& a, const PaillierPlaintext& m) const;
  // Dec = k * Dec(a) mod n (k may be negative; exponent treated as secret: mpz_powm_sec).
  PaillierCiphertext MultiplyScalar(const PaillierCiphertext& a, int64_t k) const;
  PaillierCiphertext MultiplyScalar(const PaillierCiphertext& a, const PaillierPlaintext& k) const;
  PaillierCiphertext Negate(const PaillierCiphertext& a) const;
  // Same plaintext, fresh randomness: a * r^n mod n^2.
  PaillierCiphertext Rerandomize(const PaillierCiphertext& a) const;
  PaillierCiphertext Rerandomize(const PaillierCiphertext& a, PaillierNoise&& noise) const;
  // An encryption of 0 with randomness 1 (the neutral element for sums).
  PaillierCiphertext Zero() const;
  // Dec = 2^bits * Dec(a) mod n, by `bits` modular squarings (public exponent; 0 <= bits <=
  // 4096). Packs several sums into one ciphertext: acc = ShiftLeft(acc, s) + c (Horner).
  PaillierCiphertext ShiftLeft(const PaillierCiphertext& a, int bits) const;

  // --- ciphertext wire form: ciphertext_bytes() big-endian.
  Bytes SerializeCiphertext(const PaillierCiphertext& c) const;
  void SerializeCiphertextTo(const PaillierCiphertext& c, uint8_t* out) const;
  // InvalidArgument unless bytes.size() == ciphertext_bytes(), 1 <= c < n^2 and gcd(c, n) = 1.
  StatusOr<PaillierCiphertext> ParseCiphertext(ByteSpan bytes) const;

  bool operator==(const PaillierPublicKey& other) const;

 private:
  friend class PaillierSecretKey;
  friend class PaillierFastNoise;
  friend class PaillierPacker;
  void Init(int bits);  // derives n2_, half_ from n_
  mpz_t n_, n2_, half_;
  int bits_ = 0;
};

// A key pair (p, q and CRT constants). Not copyable; secret values are wiped on destruction.
class PaillierSecretKey {
 public:
  // A fresh key of `bits` (even, multiple of 16, in [kPaillierMinBits, kPaillierMaxBits]);
  // InvalidArgument otherwise. About 0.2-1 s at 2048 bits.
  static StatusOr<PaillierSecretKey> Generate(int bits = kPaillierDefaultBits);
  // Same without the minimum size (>= 256 bits): tests only, never for real data.
  static StatusOr<PaillierSecretKey> GenerateForTesting(int bits);
  // From given primes, big-endian (known-answer tests). InvalidArgument if either is not a
  // probable prime, p == q, or gcd(pq, (p-1)(q-1)) != 1. No size minimum: tests only.
  static StatusOr<PaillierSecretKey> FromPrimesForTesting(ByteSpan p_be, ByteSpan q_be);

  PaillierSecretKey(PaillierSecretKey&& other) noexcept;
  PaillierSecretKey& operator=(PaillierSecretKey&& other) noexcept;
  PaillierSecretKey(const PaillierSecretKey&) = delete;
  PaillierSecretKey& operator=(const PaillierSecretKey&) = delete;
  ~PaillierSecretKey();

  const PaillierPublicKey& public_key() const { return pk_; }

  // CRT decryption (Paillier section 7): two half-size exponentiations.
  PaillierPlaintext Decrypt(const PaillierCiphertext& c) const;
  // Textbook decryption L(c^lambda mod n^2) * mu mod n (for cross-checking; slower).
  PaillierPlaintext DecryptWithoutCrt(const PaillierCiphertext& c) const;
  // Same distribution as PaillierPublicKey::GenerateNoise, about 3x faster (CRT, see above).
  PaillierNoise GenerateNoise() const;
  // Encryption with CRT noise.
  PaillierCiphertext Encrypt(const PaillierPlaintext& m) const;
  PaillierCiphertext Encrypt(int64_t v) const { return Encrypt(pk_.Encode(v)); }

 private:
  PaillierSecretKey();
  friend class PaillierFastNoise;
  static StatusOr<PaillierSecretKey> FromPrimes(mpz_t p, mpz_t q);
  PaillierPublicKey pk_;
  // p, q, p^2, q^2, h_p, h_q (section 7), q^-1 mod p, (p^2)^-1 mod q^2, lambda, mu.
  mpz_t p_, q_, p2_, q2_, hp_, hq_, qinv_p_, p2inv_q2_, lambda_, mu_;
  bool live_ = false;
};

// Noise computed ahead of time: Fill() (from any thread, e.g. a worker during network waits)
// adds values; Take() pops one, or computes a fresh one when the pool is empty. Uses the
// secret key's CRT shortcut when built from one. The key must outlive the pool.
class PaillierNoisePool {
 public:
  explicit PaillierNoisePool(const PaillierPublicKey& pk) : pk_(&pk) {}
  explicit PaillierNoisePool(const PaillierSecretKey& sk) : pk_(&sk.public_key()), sk_(&sk) {}

  void Fill(size_t count);
  PaillierNoise Take();
  size_t size() const;

 private:
  PaillierNoise Generate() const;
  const PaillierPublicKey* pk_;
  const PaillierSecretKey* sk_ = nullptr;
  mutable std::mutex mu_;
  std::deque<PaillierNoise> pool_;
};

// Noise produced ahead of use by background threads: `workers` threads (started by the
// constructor) generate up to `total` values, keeping at most `capacity` (>= 1) ready, so that a
// party can fill it on spare cores while it waits for its peer. Take() pops a ready value; when
// none is ready it generates one inline if some of the `total` are still unclaimed (the caller
// helps instead of idling), waits for a worker if all are claimed and some are in flight, and
// generates inline past `total`. Exactly `total` values are generated for `total` Takes: no work
// is wasted. CRT noise when built from a secret key. Thread-safe; the key must outlive the
// producer; the destructor stops the workers (each finishes at most its current value).
class PaillierNoiseProducer {
 public:
  PaillierNoiseProducer(const PaillierSecretKey& sk, size_t total, int workers, size_t capacity);
  PaillierNoiseProducer(const PaillierPublicKey& pk, size_t total, int workers, size_t capacity);
  // Noise from a fixed-base DJN generator (PaillierFastNoise, below); it must outlive the producer.
  PaillierNoiseProducer(const PaillierFastNoise& fast, size_t total, int workers, size_t capacity);
  ~PaillierNoiseProducer();
  PaillierNoiseProducer(const PaillierNoiseProducer&) = delete;
  PaillierNoiseProducer& operator=(const PaillierNoiseProducer&) = delete;

  PaillierNoise Take();
  // Stops and joins the workers (idempotent); later Takes use what is ready, then generate inline.
  void Stop();
  // Values generated so far by the workers and inline (for tests and diagnostics).
  size_t generated() const;

 private:
  void Start(int workers);
  void Work();
  PaillierNoise Generate() const;
  const PaillierPublicKey* pk_;
  const PaillierSecretKey* sk_ = nullptr;
  const PaillierFastNoise* fast_ = nullptr;
  const size_t total_, capacity_;
  mutable std::mutex mu_;
  std::condition_variable ready_cv_, space_cv_;
  std::deque<PaillierNoise> ready_;
  size_t claimed_ = 0, in_flight_ = 0, generated_ = 0;
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

// ------------------------------------------------------------------ fast noise (DJN)
//
// Paper: I. Damgård, M. Jurik, J. B. Nielsen, "A generalization of Paillier's public-key system
// with applications to electronic voting", Int. J. Inf. Secur. 9(6), 2010, section 4.2 (the
// DJN variant of the randomizer). Setup: x uniform in Z_n^*, h = -x^2 mod n, h_s = h^n mod n^2
// (an n-th residue, public once published). Noise for one encryption: h_s^a mod n^2 with a
// uniform SHORT exponent a in [0, 2^exponent_bits) instead of r^n for r uniform in Z_n^*. With a
// fixed base, a table of h_s^(j 2^(w i)) (w-bit windows) turns each value into
// ceil(exponent_bits / w) - 1 modular multiplications and no squarings.
//
// Extra assumption (beyond DCR): h_s^a for a short uniform a is indistinguishable from a
// uniform element of the subgroup <h_s> (the short-exponent indistinguishability assumption in
// a group of unknown order; DJN prove semantic security under DCR plus this). Generic attacks on
// an l-bit exponent (Pollard's kangaroo / baby-step giant-step) cost 2^(l/2), so 128-bit
// security needs l >= 256: kPaillierDjnExponentBits = 256 (the paper takes about k/2 bits for a
// k-bit n, i.e. 1024 for 2048-bit keys; pass exponent_bits = 1024 to follow it). Note that a
// 2048-bit n itself gives 112-bit security (see the top of this file).
// Side channel: the table index is a window of the secret exponent (cache-timing leaks to an
// attacker running code on the same machine); the multiplications are not constant time.
// Thread safety: immutable after Create; Generate may be called from any number of threads.
inline constexpr int kPaillierDjnExponentBits = 256;

class PaillierFastNoise {
 public:
  // From the public key (any party that encrypts): picks a fresh h. `exponent_bits` in
  // [kPaillierDjnExponentBits, modulus bits], `window_bits` in [1, 16]; InvalidArgument
  // otherwise. Table: ceil(exponent_bits / w) * 2^w values mod n^2 (256-bit exponents, w = 8:
  // 32 * 256 * 512 B = 4 MiB, built with 8192 multiplications).
  static StatusOr<PaillierFastNoise> Create(const PaillierPublicKey& pk,
                                            int exponent_bits = kPaillierDjnExponentBits,
                                            int window_bits = 8);
  // Key owner: the same distribution computed mod p^2 and q^2 (tables of half-size values, CRT
  // recombination): about 3x fewer limb operations per value. The key must outlive this object.
  static StatusOr<PaillierFastNoise> Create(const PaillierSecretKey& sk,
                                            int exponent_bits = kPaillierDjnExponentBits,
                                            int window_bits = 8);
  // Same with a given h (big-endian, a unit of Z_n): known-answer tests only.
  static StatusOr<PaillierFastNoise> CreateWithBaseForTesting(const PaillierPublicKey& pk,
                                                              ByteSpan h_be, int exponent_bits,
                                                              int window_bits);
  static StatusOr<PaillierFastNoise> CreateWithBaseForTesting(const PaillierSecretKey& sk,
                                                              ByteSpan h_be, int exponent_bits,
                                                              int window_bits);

  PaillierFastNoise(PaillierFastNoise&& other) noexcept;
  PaillierFastNoise& operator=(PaillierFastNoise&& other) noexcept;
  PaillierFastNoise(const PaillierFastNoise&) = delete;
  PaillierFastNoise& operator=(const PaillierFastNoise&) = delete;
  ~PaillierFastNoise();

  const PaillierPublicKey& public_key() const { return *pk_; }
  int exponent_bits() const { return exponent_bits_; }
  int window_bits() const { return window_bits_; }
  bool uses_crt() const { return crt_; }

  // h_s^a mod n^2 for a fresh uniform a of exponent_bits bits from the CSPRNG.
  PaillierNoise Generate() const;
  // h_s^a with the given exponent (big-endian, < 2^exponent_bits): tests only; InvalidArgument
  // if it is too long.
  StatusOr<PaillierNoise> UnsafeGenerateWithExponent(ByteSpan a_be) const;

 private:
  PaillierFastNoise() = default;
  struct Table;  // fixed-base windows for one modulus
  static StatusOr<PaillierFastNoise> Build(const PaillierPublicKey& pk,
                                           const PaillierSecretKey* sk, ByteSpan h_be,
                                           int exponent_bits, int window_bits);
  void FromExponent(mpz_ptr out, mpz_srcptr a) const;
  const PaillierPublicKey* pk_ = nullptr;
  const PaillierSecretKey* sk_ = nullptr;  // set for the CRT variant
  bool crt_ = false;
  int exponent_bits_ = 0, window_bits_ = 0;
  std::unique_ptr<Table> full_, mod_p2_, mod_q2_;
};

// ------------------------------------------------------------------ packing
//
// Packs `slots` signed integers into one plaintext: m = sum_j v_j 2^(slot_bits j) mod n. The map
// is linear, so Add/AddInPlace of packed ciphertexts adds slot-wise and ShiftLeft(c, slot_bits *
// k) moves a whole packed value k slots up (several packed sums concatenate into one
// ciphertext: fewer decryptions and fewer bytes). Slots are signed with borrows between them
// (no offsets, so no per-sum counts are needed to decode): Unpack recovers every slot exactly as
// long as each slot's true sum v satisfies |v| < 2^(slot_bits - 1). Headroom: a sum of up to T
// values of magnitude <= M needs slot_bits >= SlotBitsFor(M, T).
// Thread safety: immutable; the key must outlive the packer.
class PaillierPacker {
 public:
  // InvalidArgument unless slots >= 1, 2 <= slot_bits <= 64 and slots * slot_bits <
  // modulus bits.
  static StatusOr<PaillierPacker> Create(const PaillierPublicKey& pk, int slots, int slot_bits);
  // Slots of `slot_bits` that fit in one plaintext of `pk`.
  static int MaxSlots(const PaillierPublicKey& pk, int slot_bits);
  // ceil(log2(M * T + 1)) + 1 (sign): the slot width that holds any sum of T values in [-M, M].
  static int SlotBitsFor(uint64_t max_abs, uint64_t max_terms);

  int slots() const { return slots_; }
  int slot_bits() const { return slot_bits_; }
  // values.size() must equal slots() and each |v| < 2^(slot_bits - 1) (CHECKed: programmer
  // error).
  PaillierPlaintext Pack(const std::vector<int64_t>& values) const;
  // The slots of a decrypted (sum of) packed plaintext(s). OutOfRange if the value does not
  // decode as `slots` signed slots (a slot overflowed, or the plaintext is not a packed value).
  StatusOr<std::vector<int64_t>> Unpack(const PaillierPlaintext& m) const;

 private:
  PaillierPacker(const PaillierPublicKey& pk, int slots, int slot_bits)
      : pk_(&pk), slots_(slots), slot_bits_(slot_bits) {}
  const PaillierPublicKey* pk_;
  int slots_, slot_bits_;
};

}  // namespace consort::crypto
