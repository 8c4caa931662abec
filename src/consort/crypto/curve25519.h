#pragma once
// Curve25519 (Montgomery form, X25519 u-coordinates) as the group for DH-based protocols
// such as ECDH-PSI: a batched RFC 9380 hash-to-curve and a secret scalar with batched X25519.
//
// Hash to curve: curve25519_XMD:SHA-512_ELL2_NU_ (RFC 9380 section 6.7.1 Elligator 2 with
// Z = 2, hash_to_field per section 5.2 with expand_message_xmd(SHA-512), L = 48), without
// clear_cofactor and without the v-coordinate, which X25519 never reads. Elligator 2 always
// lands on the curve, never on its quadratic twist: hashing straight to a random u would put
// half of the inputs on the twist, and the curve/twist bit survives exponentiation, leaking
// one bit of H(x) per element to a peer.
//
// Cofactor: the map may land anywhere in the full group of order 8*l. It is cleared by the
// first multiplication: a clamped X25519 scalar is 2^254 + 8k, so [s]Q lies in the prime-order
// subgroup, and DH values [s_a s_b]Q agree whatever order the two scalars are applied in.
//
// Field arithmetic uses GMP (batch inversion by Montgomery's trick, mpz_jacobi for the
// quadratic character); scalar multiplication is libsodium's crypto_scalarmult_curve25519.
// Security: 128-bit (DDH / gap-DH on the prime-order subgroup of Curve25519; clamped scalars
// range over 2^251 residues mod l, the standard X25519 assumption).

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "consort/common/bytes.h"
#include "consort/common/status.h"
#include "consort/crypto/random.h"

namespace consort::crypto {

// A Curve25519 u-coordinate (X25519 public value): 32 bytes, little-endian, canonical (< p).
using X25519Point = std::array<uint8_t, 32>;
// An element of GF(2^255 - 19): 32 bytes, little-endian, canonical (< p).
using Fe25519 = std::array<uint8_t, 32>;

// The suite identifier, and the DST prefix Consort uses with it (callers append a purpose).
inline constexpr std::string_view kCurve25519NuSuite = "curve25519_XMD:SHA-512_ELL2_NU_";

// expand_message_xmd with SHA-512 (RFC 9380 section 5.3.1); a DST longer than 255 bytes is
// first hashed as in section 5.3.3. InvalidArgument if `dst` is empty, `len_in_bytes` is 0
// or above 65535, or it needs more than 255 SHA-512 blocks.
StatusOr<Bytes> ExpandMessageXmdSha512(ByteSpan msg, ByteSpan dst, size_t len_in_bytes);

// Elligator 2 for curve25519 (RFC 9380 section 6.7.1, Z = 2), u-coordinate only:
// out[i] = Q(u[i]).x. Batched: one modular inversion for the whole span. Inputs need not be
// canonical (they are reduced mod p). CHECK-fails if the spans differ in length.
void MapToCurve25519(std::span<const Fe25519> u, std::span<X25519Point> out);

// True iff `u` is the u-coordinate of a point on Curve25519 (not its twist), i.e.
// u^3 + A u^2 + u is a square mod p. `u` is reduced mod p first.
bool IsOnCurve25519(const X25519Point& u);

// encode_to_curve (RFC 9380 section 3, nonuniform) for curve25519_XMD:SHA-512_ELL2_NU_, minus
// clear_cofactor (see the file comment), for whole batches of messages.
// Thread safety: Encode uses per-object scratch space; use one encoder per thread.
class Curve25519Encoder {
 public:
  // `dst` is the domain separation tag (any non-empty length; > 255 bytes is hashed per
  // RFC 9380 section 5.3.3). InvalidArgument if empty.
  static StatusOr<Curve25519Encoder> Create(ByteSpan dst);
  Curve25519Encoder(Curve25519Encoder&&) noexcept;
  Curve25519Encoder& operator=(Curve25519Encoder&&) noexcept;
  ~Curve25519Encoder();

  // hash_to_field(msg, 1): the field element u as in the RFC's test vectors.
  Fe25519 HashToField(ByteSpan msg) const;
  // out[i] = map_to_curve(hash_to_field(msgs[i])).x. CHECK-fails if the spans differ in size.
  void Encode(std::span<const std::string_view> msgs, std::span<X25519Point> out);
  void Encode(std::span<const std::string> msgs, std::span<X25519Point> out);

 private:
  struct State;
  explicit Curve25519Encoder(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// A secret X25519 scalar (32 random bytes, clamped by X25519 on use), wiped on destruction.
// Thread safety: Multiply is const and may run concurrently on disjoint outputs.
class X25519Scalar {
 public:
  // A fresh scalar from the CSPRNG.
  static X25519Scalar Generate();
  // From 32 bytes (tests, RFC 7748 vectors). InvalidArgument on another size.
  static StatusOr<X25519Scalar> FromBytes(ByteSpan bytes);

  // out[i] = X25519(scalar, in[i]); `in` and `out` may alias exactly. InvalidArgument naming
  // the index if an input is non-canonical (>= p, or top bit set) or yields the all-zero
  // output, i.e. is a low-order point. CHECK-fails if the spans differ in size.
  Status Multiply(std::span<const X25519Point> in, std::span<X25519Point> out) const;

 private:
  X25519Scalar() = default;
  SecretBytes secret_;
};

// True iff `u` is a canonical encoding: top bit clear and value < 2^255 - 19.
bool IsCanonicalX25519(const X25519Point& u);

}  // namespace consort::crypto
