#pragma once
// SHA-256 and SHA-512 (libsodium), one-shot and incremental; BLAKE2b with salt and
// personalization (the correlation-robust / item hashes of OT-based PSI).

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "consort/common/bytes.h"

namespace consort::crypto {

using Digest256 = std::array<uint8_t, 32>;
using Digest512 = std::array<uint8_t, 64>;

Digest256 Sha256(ByteSpan data);
Digest256 Sha256(std::string_view data);
Digest512 Sha512(ByteSpan data);
std::string Sha256Hex(std::string_view data);

// Unkeyed BLAKE2b (RFC 7693) of `in` into out[0, out_len), 1 <= out_len <= 64, with a 16-byte
// salt and a 16-byte personalization (the first 16 bytes of each; nullptr = all zero).
// Allocation-free, for hot loops. CHECK-fails on an out_len outside [1, 64].
void Blake2bSaltPersonal(uint8_t* out, size_t out_len, const uint8_t* in, size_t in_len,
                         const uint8_t* salt16, const uint8_t* personal16);

class Sha256Hasher {
 public:
  Sha256Hasher();
  void Update(ByteSpan data);
  void Update(std::string_view data);
  Digest256 Finish();

 private:
  alignas(64) uint8_t state_[128];
};

}  // namespace consort::crypto
