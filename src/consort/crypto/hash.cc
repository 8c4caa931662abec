#include "consort/crypto/hash.h"

#include <sodium.h>

#include <new>

#include "consort/crypto/random.h"

namespace consort::crypto {

static_assert(sizeof(crypto_hash_sha256_state) <= 128, "Sha256Hasher::state_ too small");
static_assert(alignof(crypto_hash_sha256_state) <= 64, "Sha256Hasher::state_ misaligned");

Digest256 Sha256(ByteSpan data) {
  InitCrypto();
  Digest256 out;
  crypto_hash_sha256(out.data(), data.data(), data.size());
  return out;
}

Digest256 Sha256(std::string_view data) { return Sha256(AsBytes(data)); }

Digest512 Sha512(ByteSpan data) {
  InitCrypto();
  Digest512 out;
  crypto_hash_sha512(out.data(), data.data(), data.size());
  return out;
}

std::string Sha256Hex(std::string_view data) { return HexEncode(Sha256(data)); }

namespace {
crypto_hash_sha256_state* State(uint8_t* raw) {
  return std::launder(reinterpret_cast<crypto_hash_sha256_state*>(raw));
}
}  // namespace

Sha256Hasher::Sha256Hasher() {
  InitCrypto();
  crypto_hash_sha256_init(new (state_) crypto_hash_sha256_state);
}

void Sha256Hasher::Update(ByteSpan data) {
  crypto_hash_sha256_update(State(state_), data.data(), data.size());
}

void Sha256Hasher::Update(std::string_view data) { Update(AsBytes(data)); }

Digest256 Sha256Hasher::Finish() {
  Digest256 out;
  crypto_hash_sha256_final(State(state_), out.data());
  // Leave a fresh state so a second Finish (or further Updates) is well defined.
  crypto_hash_sha256_init(State(state_));
  return out;
}

void Blake2bSaltPersonal(uint8_t* out, size_t out_len, const uint8_t* in, size_t in_len,
                         const uint8_t* salt16, const uint8_t* personal16) {
  CONSORT_CHECK(out_len >= 1 && out_len <= crypto_generichash_blake2b_BYTES_MAX);
  // Fails only on bad lengths, excluded above.
  CONSORT_CHECK(crypto_generichash_blake2b_salt_personal(out, out_len, in, in_len, nullptr, 0,
                                                         salt16, personal16) == 0);
}

}  // namespace consort::crypto
