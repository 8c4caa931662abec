#pragma once
// Randomness from the OS CSPRNG (libsodium randombytes) and a buffer that wipes itself.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "consort/common/bytes.h"

namespace consort::crypto {

// Must be called once before any other crypto function; idempotent and thread-safe.
// Aborts if libsodium cannot initialize (no entropy source).
void InitCrypto();

void RandomBytes(uint8_t* out, size_t n);
Bytes RandomBytes(size_t n);
// n random bytes, hex-encoded (2n characters).
std::string RandomHex(size_t n);

// Overwrites n bytes at p with zeros in a way the compiler may not elide (sodium_memzero), for
// secrets that do not live in a SecretBytes. p may be null when n is 0.
void SecureWipe(void* p, size_t n);

// Owns secret bytes; wipes them (sodium_memzero) on destruction and on reassignment.
class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(size_t n);
  SecretBytes(const uint8_t* data, size_t n);
  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  ~SecretBytes();

  uint8_t* data() { return data_.data(); }
  const uint8_t* data() const { return data_.data(); }
  size_t size() const { return data_.size(); }
  ByteSpan span() const { return ByteSpan(data_.data(), data_.size()); }

 private:
  void Wipe();
  Bytes data_;
};

// A fast CSPRNG for bulk sampling (shuffles, permutations): ChaCha20 (IETF) keystream under a
// 256-bit key drawn from the OS CSPRNG. Not thread-safe; wipes its key and buffer on
// destruction.
class Csprng {
 public:
  Csprng();
  ~Csprng();
  Csprng(const Csprng&) = delete;
  Csprng& operator=(const Csprng&) = delete;

  uint64_t Next64();
  // Uniform in [0, bound) without modulo bias (Lemire's method with rejection). bound > 0.
  uint64_t Uniform(uint64_t bound);

 private:
  void Refill();
  SecretBytes key_;
  uint64_t block_counter_ = 0;
  std::array<uint8_t, 4096> buf_{};
  size_t pos_ = sizeof(buf_);
};

// A uniformly random permutation of [0, n) (Fisher-Yates over Csprng).
std::vector<size_t> RandomPermutation(size_t n);

// Constant-time equality of two byte strings of the same length (false if lengths differ).
bool ConstantTimeEquals(ByteSpan a, ByteSpan b);

}  // namespace consort::crypto
