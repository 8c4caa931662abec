#pragma once
// Ed25519 signatures (libsodium crypto_sign_detached), RFC 8032.
//
// Every signature in Consort is domain-separated: callers sign Context(tag, message) so that a
// signature made for one purpose (approving a job) can never be replayed for another
// (an audit entry). See SignContext().

#include <array>
#include <string>
#include <string_view>

#include "consort/common/bytes.h"
#include "consort/common/status.h"
#include "consort/crypto/random.h"

namespace consort::crypto {

using PublicKey = std::array<uint8_t, 32>;
using Signature = std::array<uint8_t, 64>;

// The message actually signed for `purpose`: "consort/v1/" + purpose + "\0" + message.
Bytes SignContext(std::string_view purpose, ByteSpan message);

class SigningKey {
 public:
  // A fresh key from the CSPRNG.
  static SigningKey Generate();
  // Deterministic from a 32-byte seed (RFC 8032 test vectors). InvalidArgument on bad size.
  static StatusOr<SigningKey> FromSeed(ByteSpan seed);

  const PublicKey& public_key() const { return public_key_; }
  // The 32-byte seed, for storage in a 0600 file. Treat as secret.
  const SecretBytes& seed() const { return seed_; }

  Signature Sign(ByteSpan message) const;
  // Signs SignContext(purpose, message).
  Signature SignFor(std::string_view purpose, ByteSpan message) const;

 private:
  SigningKey() = default;
  SecretBytes seed_;
  SecretBytes secret_;  // libsodium's 64-byte expanded secret key
  PublicKey public_key_{};
};

// OK if `sig` is a valid signature of `message` by `key`; Unauthenticated otherwise.
Status Verify(const PublicKey& key, ByteSpan message, const Signature& sig);
Status VerifyFor(const PublicKey& key, std::string_view purpose, ByteSpan message,
                 const Signature& sig);

// Text forms (base64url, no padding). InvalidArgument on a wrong length or alphabet.
std::string EncodePublicKey(const PublicKey& key);
StatusOr<PublicKey> DecodePublicKey(std::string_view text);
std::string EncodeSignature(const Signature& sig);
StatusOr<Signature> DecodeSignature(std::string_view text);

}  // namespace consort::crypto
