#include "consort/crypto/random.h"

#include <sodium.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>

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

SecretBytes::~SecretBytes() { Wipe(); }

void SecretBytes::Wipe() {
  if (!data_.empty()) sodium_memzero(data_.data(), data_.size());
  data_.clear();
}

bool ConstantTimeEquals(ByteSpan a, ByteSpan b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace consort::crypto
