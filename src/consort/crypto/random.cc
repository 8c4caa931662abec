#include "consort/crypto/random.h"

#include <sodium.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "consort/common/status.h"

namespace consort::crypto {

void InitCrypto() {
  static std::once_flag once;
  std::call_once(once, [] {
    // sodium_init returns 0 on first success, 1 if already initialized, -1 on failure.
    if (sodium_init() < 0) {
      std::fprintf(stderr, "libsodium failed to initialize (no entropy source?)\n");
      std::abort();
    }
  });
}

void RandomBytes(uint8_t* out, size_t n) {
  InitCrypto();
  randombytes_buf(out, n);
}

Bytes RandomBytes(size_t n) {
  Bytes out(n);
  RandomBytes(out.data(), n);
  return out;
}

std::string RandomHex(size_t n) {
  Bytes b = RandomBytes(n);
  std::string hex = HexEncode(b);
  sodium_memzero(b.data(), b.size());
  return hex;
}

SecretBytes::SecretBytes(size_t n) : data_(n, 0) {}

SecretBytes::SecretBytes(const uint8_t* data, size_t n) : data_(data, data + n) {}

SecretBytes::SecretBytes(SecretBytes&& other) noexcept : data_(std::move(other.data_)) {
  // A moved-from vector is left empty by libstdc++; clear() makes that explicit.
  other.data_.clear();
}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    Wipe();
    data_ = std::move(other.data_);
    other.data_.clear();
  }
  return *this;
}

void SecureWipe(void* p, size_t n) {
  if (n > 0) sodium_memzero(p, n);
}

SecretBytes::~SecretBytes() { Wipe(); }

void SecretBytes::Wipe() {
  if (!data_.empty()) sodium_memzero(data_.data(), data_.size());
  data_.clear();
}

Csprng::Csprng() : key_(crypto_stream_chacha20_ietf_KEYBYTES) {
  RandomBytes(key_.data(), key_.size());
}

Csprng::~Csprng() { sodium_memzero(buf_.data(), buf_.size()); }

void Csprng::Refill() {
  // A fresh nonce per 4 KiB block: (key, nonce) pairs never repeat within one generator.
  uint8_t nonce[crypto_stream_chacha20_ietf_NONCEBYTES] = {};
  for (int i = 0; i < 8; ++i) nonce[i] = static_cast<uint8_t>(block_counter_ >> (8 * i));
  ++block_counter_;
  crypto_stream_chacha20_ietf(buf_.data(), buf_.size(), nonce, key_.data());
  pos_ = 0;
}

uint64_t Csprng::Next64() {
  if (pos_ + 8 > buf_.size()) Refill();
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(buf_[pos_ + i]) << (8 * i);
  sodium_memzero(&buf_[pos_], 8);
  pos_ += 8;
  return v;
}

uint64_t Csprng::Uniform(uint64_t bound) {
  CONSORT_CHECK(bound > 0);
  // Lemire, "Fast Random Integer Generation in an Interval" (2019): exact, rarely rejects.
  unsigned __int128 m = static_cast<unsigned __int128>(Next64()) * bound;
  uint64_t low = static_cast<uint64_t>(m);
  if (low < bound) {
    const uint64_t threshold = (0 - bound) % bound;
    while (low < threshold) {
      m = static_cast<unsigned __int128>(Next64()) * bound;
      low = static_cast<uint64_t>(m);
    }
  }
  return static_cast<uint64_t>(m >> 64);
}

std::vector<size_t> RandomPermutation(size_t n) {
  std::vector<size_t> perm(n);
  for (size_t i = 0; i < n; ++i) perm[i] = i;
  if (n < 2) return perm;
  Csprng rng;
  for (size_t i = n - 1; i > 0; --i) {
    size_t j = static_cast<size_t>(rng.Uniform(i + 1));
    std::swap(perm[i], perm[j]);
  }
  return perm;
}

bool ConstantTimeEquals(ByteSpan a, ByteSpan b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace consort::crypto
