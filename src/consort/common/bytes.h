#pragma once
// Byte strings and their text encodings (hex, base64url without padding).

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "consort/common/status.h"

namespace consort {

using Bytes = std::vector<uint8_t>;
using ByteSpan = std::span<const uint8_t>;

inline ByteSpan AsBytes(std::string_view s) {
  return ByteSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}
inline std::string ToString(ByteSpan b) { return std::string(b.begin(), b.end()); }
inline Bytes ToBytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

std::string HexEncode(ByteSpan b);
// InvalidArgument on odd length or a non-hex character.
StatusOr<Bytes> HexDecode(std::string_view hex);

// RFC 4648 base64url, no padding.
std::string Base64UrlEncode(ByteSpan b);
// InvalidArgument on a character outside the alphabet or an impossible length.
StatusOr<Bytes> Base64UrlDecode(std::string_view s);

// Little-endian fixed-width integers, for wire formats.
void AppendU32(Bytes& out, uint32_t v);
void AppendU64(Bytes& out, uint64_t v);
uint32_t ReadU32(const uint8_t* p);
uint64_t ReadU64(const uint8_t* p);

}  // namespace consort
