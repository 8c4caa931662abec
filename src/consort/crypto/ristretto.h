#pragma once
// Ristretto255 (RFC 9496) group elements and scalars over libsodium
// (crypto_core_ristretto255_*, crypto_scalarmult_ristretto255*), for protocols that need a
// prime-order group with canonical encodings (base OTs, ot/base_ot.h).
//
// Every point decoded from a peer goes through RistrettoPoint::Decode, which rejects
// non-canonical encodings; scalar multiplication rejects the identity result.
// Security: 128-bit (discrete log / CDH in the ristretto255 group of prime order l ~ 2^252).
// Thread-safe: pure functions over value types. Scalars are wiped on destruction.

#include <array>
#include <cstdint>

#include "consort/common/bytes.h"
#include "consort/common/status.h"

namespace consort::crypto {

inline constexpr size_t kRistrettoBytes = 32;

class RistrettoScalar {
 public:
  // A uniformly random non-zero scalar mod l from the OS CSPRNG.
  static RistrettoScalar Random();
  // A scalar from its 32-byte little-endian encoding. InvalidArgument unless canonical (< l)
  // and non-zero.
  static StatusOr<RistrettoScalar> FromBytes(ByteSpan bytes);
  RistrettoScalar() = default;
  RistrettoScalar(const RistrettoScalar& o) = default;
  RistrettoScalar& operator=(const RistrettoScalar& o) = default;
  ~RistrettoScalar();
  const uint8_t* data() const { return bytes_.data(); }

 private:
  std::array<uint8_t, 32> bytes_{};
};

class RistrettoPoint {
 public:
  // The canonical encoding of the identity (all zero) until assigned.
  RistrettoPoint() = default;
  // InvalidArgument unless `enc` is 32 bytes and a canonical encoding of a group element.
  static StatusOr<RistrettoPoint> Decode(ByteSpan enc);
  // s * B for the standard base point B. Internal if s is zero (never for Random()).
  static StatusOr<RistrettoPoint> BaseMul(const RistrettoScalar& s);
  // s * this. InvalidArgument if the result is the identity (this was the identity).
  StatusOr<RistrettoPoint> Mul(const RistrettoScalar& s) const;
  RistrettoPoint Add(const RistrettoPoint& o) const;
  RistrettoPoint Sub(const RistrettoPoint& o) const;
  const std::array<uint8_t, kRistrettoBytes>& bytes() const { return bytes_; }
  bool operator==(const RistrettoPoint& o) const { return bytes_ == o.bytes_; }

 private:
  std::array<uint8_t, kRistrettoBytes> bytes_{};
};

}  // namespace consort::crypto
