#pragma once
// Wire format of the size-only PSI flow (internal/size_only_psi.h; integers little-endian).
// Internal to psi/; tests use it to play a misbehaving peer.
//
//   hello:   'S' | u32 version | u64 distinct keys | u32 budget MiB | 16 B mask id |
//            16 B peer mask id | u32 peer partitions done | u32 Pd | u8 T | u32 Pm   (62 B)
//   masked:  'M' | u32 partition | u32 count | u8 last | count x 32 B point
//   doubled: 'D' | u32 partition | u32 count | u8 last | count x T B value
//   keepalive 'K' (1 B), dropped by the receiver.

#include <array>
#include <cstddef>
#include <cstdint>

#include "consort/common/bytes.h"
#include "consort/common/status.h"

namespace consort::psi::internal {

inline constexpr uint8_t kMsgSizeHello = 'S';
inline constexpr uint8_t kMsgSizeMasked = 'M';
inline constexpr uint8_t kMsgSizeDoubled = 'D';
inline constexpr uint32_t kSizeOnlyVersion = 1;
inline constexpr size_t kSizeHelloBytes = 1 + 4 + 8 + 4 + 16 + 16 + 4 + 4 + 1 + 4;
inline constexpr size_t kSizeBatchHeader = 1 + 4 + 4 + 1;

namespace so {

using MaskId = std::array<uint8_t, 16>;

struct Hello {
  uint32_t version = 0;
  uint64_t keys = 0;
  uint32_t budget_mb = 0;
  MaskId mask_id{};
  MaskId peer_mask_id{};   // the peer's mask id my progress is for
  uint32_t peer_done = 0;  // the peer's masked partitions I processed
  uint32_t pd = 0;         // ... into this many doubled partitions
  uint8_t t = 0;           // ... of this many bytes
  uint32_t pm = 0;         // my masked partitions
};
Bytes EncodeHello(const Hello& h);
// InvalidArgument on a wrong size or type byte.
StatusOr<Hello> DecodeHello(ByteSpan m);

Bytes EncodeBatch(uint8_t type, uint32_t part, uint32_t count, bool last, const uint8_t* data,
                  size_t bytes);

struct BatchView {
  uint32_t part = 0, count = 0;
  bool last = false;
  const uint8_t* data = nullptr;  // points into the decoded message
};
// Checks a 'M' / 'D' batch for partition `part` with values of `width` bytes: InvalidArgument
// on another type, partition, a bad last flag or a length that does not match the count.
StatusOr<BatchView> DecodeBatch(const Bytes& m, uint8_t type, uint32_t part, size_t width);

}  // namespace so
}  // namespace consort::psi::internal
