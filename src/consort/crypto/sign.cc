#include "consort/crypto/sign.h"

#include <sodium.h>

#include <cstring>

namespace consort::crypto {

static_assert(crypto_sign_PUBLICKEYBYTES == 32);
static_assert(crypto_sign_BYTES == 64);
static_assert(crypto_sign_SEEDBYTES == 32);

Bytes SignContext(std::string_view purpose, ByteSpan message) {
  static constexpr std::string_view kPrefix = "consort/v1/";
  std::string ctx;
  ctx.reserve(kPrefix.size() + purpose.size() + 1 + message.size());
  ctx.append(kPrefix).append(purpose).push_back('\0');
  ctx.append(reinterpret_cast<const char*>(message.data()), message.size());
  Bytes out(ctx.begin(), ctx.end());
  return out;
}

SigningKey SigningKey::Generate() {
  SecretBytes seed(crypto_sign_SEEDBYTES);
  RandomBytes(seed.data(), seed.size());
  auto key = FromSeed(seed.span());
  CONSORT_CHECK(key.ok());
  return std::move(key).value();
}

StatusOr<SigningKey> SigningKey::FromSeed(ByteSpan seed) {
  if (seed.size() != crypto_sign_SEEDBYTES) {
    return absl::InvalidArgumentError("Ed25519 seed must be 32 bytes, got " +
                                      std::to_string(seed.size()));
  }
  InitCrypto();
  SigningKey key;
  key.seed_ = SecretBytes(seed.data(), seed.size());
  key.secret_ = SecretBytes(crypto_sign_SECRETKEYBYTES);
  if (crypto_sign_seed_keypair(key.public_key_.data(), key.secret_.data(), key.seed_.data()) !=
      0) {
    return absl::InternalError("crypto_sign_seed_keypair failed");
  }
  return key;
}

Signature SigningKey::Sign(ByteSpan message) const {
  Signature sig;
  // Cannot fail with a well-formed secret key, which FromSeed guarantees.
  CONSORT_CHECK(crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(),
                                     secret_.data()) == 0);
  return sig;
}

Signature SigningKey::SignFor(std::string_view purpose, ByteSpan message) const {
  return Sign(SignContext(purpose, message));
}

Status Verify(const PublicKey& key, ByteSpan message, const Signature& sig) {
  InitCrypto();
  if (crypto_sign_verify_detached(sig.data(), message.data(), message.size(), key.data()) != 0) {
    return absl::UnauthenticatedError("Ed25519 signature verification failed");
  }
  return OkStatus();
}

Status VerifyFor(const PublicKey& key, std::string_view purpose, ByteSpan message,
                 const Signature& sig) {
  Status st = Verify(key, SignContext(purpose, message), sig);
  if (!st.ok()) {
    return absl::UnauthenticatedError("Ed25519 signature for purpose '" + std::string(purpose) +
                                      "' does not verify");
  }
  return st;
}

namespace {
template <size_t N>
StatusOr<std::array<uint8_t, N>> DecodeFixed(std::string_view text, const char* what) {
  auto raw = Base64UrlDecode(text);
  if (!raw.ok()) {
    return absl::InvalidArgumentError(std::string(what) + ": " +
                                      std::string(raw.status().message()));
  }
  if (raw->size() != N) {
    return absl::InvalidArgumentError(std::string(what) + " must be " + std::to_string(N) +
                                      " bytes, got " + std::to_string(raw->size()));
  }
  // One text form per value: reject encodings whose unused trailing bits are set.
  std::string_view stripped = text;
  while (!stripped.empty() && stripped.back() == '=') stripped.remove_suffix(1);
  if (Base64UrlEncode(*raw) != stripped) {
    return absl::InvalidArgumentError(std::string(what) + " is not canonical base64url");
  }
  std::array<uint8_t, N> out;
  std::memcpy(out.data(), raw->data(), N);
  return out;
}
}  // namespace

std::string EncodePublicKey(const PublicKey& key) { return Base64UrlEncode(key); }

StatusOr<PublicKey> DecodePublicKey(std::string_view text) {
  return DecodeFixed<32>(text, "Ed25519 public key");
}

std::string EncodeSignature(const Signature& sig) { return Base64UrlEncode(sig); }

StatusOr<Signature> DecodeSignature(std::string_view text) {
  return DecodeFixed<64>(text, "Ed25519 signature");
}

}  // namespace consort::crypto
