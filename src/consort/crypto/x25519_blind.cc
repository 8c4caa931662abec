#include "consort/crypto/x25519_blind.h"

#include <sodium.h>

#include <array>
#include <cstring>

namespace consort::crypto {
namespace {

constexpr size_t kScalarBytes = crypto_core_ed25519_SCALARBYTES;
static_assert(kScalarBytes == 32);
constexpr int kMaxTries = 256;  // each try succeeds with probability ~1/2

// Reduces a 32-byte little-endian integer mod l.
void Reduce32(const uint8_t in[32], uint8_t out[32]) {
  uint8_t wide[64] = {0};
  std::memcpy(wide, in, 32);
  crypto_core_ed25519_scalar_reduce(out, wide);
  sodium_memzero(wide, sizeof(wide));
}

void Clamp(uint8_t s[32]) {
  s[0] &= 248;
  s[31] &= 127;
  s[31] |= 64;
}

}  // namespace

StatusOr<X25519BlindPair> GenerateX25519BlindPair() {
  crypto::InitCrypto();
  // 2^254 mod l and 8^-1 mod l, computed once with the library's own arithmetic.
  uint8_t two254[32] = {0};
  two254[31] = 0x40;
  uint8_t two254_mod_l[32], eight[32] = {8}, inv8[32];
  Reduce32(two254, two254_mod_l);
  if (crypto_core_ed25519_scalar_invert(inv8, eight) != 0) {
    return absl::InternalError("X25519 blinding: cannot invert 8 mod l");
  }
  SecretBytes c(kScalarBytes), c_mod_l(kScalarBytes), d_res(kScalarBytes), m(kScalarBytes),
      d(kScalarBytes);
  for (int tries = 0; tries < kMaxTries; ++tries) {
    crypto::RandomBytes(c.data(), kScalarBytes);
    Clamp(c.data());
    Reduce32(c.data(), c_mod_l.data());
    if (crypto_core_ed25519_scalar_invert(d_res.data(), c_mod_l.data()) != 0) continue;
    // d = 2^254 + 8 m with d = c^-1 (mod l): m = (c^-1 - 2^254) / 8 (mod l), usable iff m < 2^251.
    crypto_core_ed25519_scalar_sub(m.data(), d_res.data(), two254_mod_l);
    crypto_core_ed25519_scalar_mul(m.data(), m.data(), inv8);
    if (m.data()[31] >= 0x08) continue;
    // d = 8m (a 254-bit shift of m by 3) with bit 254 set.
    uint8_t carry = 0;
    for (size_t i = 0; i < kScalarBytes; ++i) {
      const uint8_t b = m.data()[i];
      d.data()[i] = static_cast<uint8_t>((b << 3) | carry);
      carry = static_cast<uint8_t>(b >> 5);
    }
    d.data()[31] |= 0x40;
    X25519BlindPair pair;
    pair.blind = std::move(c);
    pair.unblind = std::move(d);
    return pair;
  }
  return absl::InternalError("X25519 blinding: no invertible clamped pair in 256 tries");
}

}  // namespace consort::crypto
