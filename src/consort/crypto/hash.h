#pragma once
// SHA-256 and SHA-512 (libsodium), one-shot and incremental.

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
