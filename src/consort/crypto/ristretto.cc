#include "consort/crypto/ristretto.h"

#include <sodium.h>

#include "consort/crypto/random.h"

namespace consort::crypto {

RistrettoScalar RistrettoScalar::Random() {
  InitCrypto();
  RistrettoScalar s;
  // crypto_core_ristretto255_scalar_random never returns zero.
  crypto_core_ristretto255_scalar_random(s.bytes_.data());
  return s;
}

StatusOr<RistrettoScalar> RistrettoScalar::FromBytes(ByteSpan bytes) {
  if (bytes.size() != 32) return absl::InvalidArgumentError("ristretto255 scalar must be 32 bytes");
  InitCrypto();
  // Canonical iff reducing it (as a 64-byte number with zero high half) changes nothing.
  uint8_t wide[64] = {0}, reduced[32];
  std::copy(bytes.begin(), bytes.end(), wide);
  crypto_core_ristretto255_scalar_reduce(reduced, wide);
  const bool canonical = sodium_memcmp(reduced, bytes.data(), 32) == 0;
  const bool zero = sodium_is_zero(reduced, 32) == 1;
  RistrettoScalar s;
  std::copy(reduced, reduced + 32, s.bytes_.begin());
  sodium_memzero(wide, sizeof(wide));
  sodium_memzero(reduced, sizeof(reduced));
  if (!canonical || zero) {
    return absl::InvalidArgumentError("not a canonical non-zero ristretto255 scalar");
  }
  return s;
}

RistrettoScalar::~RistrettoScalar() { sodium_memzero(bytes_.data(), bytes_.size()); }

StatusOr<RistrettoPoint> RistrettoPoint::Decode(ByteSpan enc) {
  if (enc.size() != kRistrettoBytes) {
    return absl::InvalidArgumentError("ristretto255 point must be 32 bytes");
  }
  InitCrypto();
  if (crypto_core_ristretto255_is_valid_point(enc.data()) != 1) {
    return absl::InvalidArgumentError("not a canonical ristretto255 point encoding");
  }
  RistrettoPoint p;
  std::copy(enc.begin(), enc.end(), p.bytes_.begin());
  return p;
}

StatusOr<RistrettoPoint> RistrettoPoint::BaseMul(const RistrettoScalar& s) {
  InitCrypto();
  RistrettoPoint p;
  if (crypto_scalarmult_ristretto255_base(p.bytes_.data(), s.data()) != 0) {
    return absl::InternalError("ristretto255 base multiplication by zero");
  }
  return p;
}

StatusOr<RistrettoPoint> RistrettoPoint::Mul(const RistrettoScalar& s) const {
  RistrettoPoint p;
  if (crypto_scalarmult_ristretto255(p.bytes_.data(), s.data(), bytes_.data()) != 0) {
    return absl::InvalidArgumentError("ristretto255 multiplication gave the identity");
  }
  return p;
}

RistrettoPoint RistrettoPoint::Add(const RistrettoPoint& o) const {
  RistrettoPoint p;
  // Fails only on invalid encodings, which Decode/BaseMul/Mul never produce.
  CONSORT_CHECK(crypto_core_ristretto255_add(p.bytes_.data(), bytes_.data(), o.bytes_.data()) == 0);
  return p;
}

RistrettoPoint RistrettoPoint::Sub(const RistrettoPoint& o) const {
  RistrettoPoint p;
  CONSORT_CHECK(crypto_core_ristretto255_sub(p.bytes_.data(), bytes_.data(), o.bytes_.data()) == 0);
  return p;
}

}  // namespace consort::crypto
