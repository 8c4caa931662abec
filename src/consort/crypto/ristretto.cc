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
