#pragma once
// Wire format of k-party PSI messages (psi/multiparty_psi.h; integers little-endian). Internal
// to psi/; tests use it to play a misbehaving peer.
//
//   hello:  'h' | u32 version | u32 parties | u32 sender | u32 leader | u64 set size |
//           u32 batch size | SHA-256(version, parties, leader, batch, outputs, domain) (61 B)
//   sizes:  's' | u32 n | n x u64                                        (leader -> everyone)
//   ring:   'b' | u32 owner | u32 batch index | u32 count | count x 32 B (to the next party)
//   final:  'f' | u32 owner | u32 batch index | u32 count | count x T B  (to the leader)
//   result: 'r' | u64 intersection size | u32 chunk | u32 count | count x u32 position
//           (leader -> party, in chunks of at most batch size positions, ascending across
//           chunks; a party owed no positions gets one chunk of count 0. Version 1 sent one
//           message, which outgrew net::kMaxMessageBytes past about 4.2M positions.)
//   end:    'e'                                          (last message on a link, each way)
//   keepalive: 'k', on a link with nothing to send for timeout/4, before its end marker; the
//              receiver drops it (some links carry nothing between the sizes and the result)

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "consort/common/bytes.h"
#include "consort/common/status.h"

namespace consort::psi::internal::mp {

inline constexpr uint8_t kHello = 'h';
inline constexpr uint8_t kSizes = 's';
inline constexpr uint8_t kRing = 'b';
inline constexpr uint8_t kFinal = 'f';
inline constexpr uint8_t kResult = 'r';
inline constexpr uint8_t kEnd = 'e';
inline constexpr uint8_t kKeepalive = 'k';
inline constexpr size_t kHelloBytes = 1 + 4 * 4 + 8 + 4 + 32;
inline constexpr size_t kBatchHeaderBytes = 1 + 4 + 4 + 4;
inline constexpr size_t kResultHeaderBytes = 1 + 8 + 4 + 4;

struct Hello {
  uint32_t version = 0, parties = 0, sender = 0, leader = 0;
  uint64_t set_size = 0;
  uint32_t batch_size = 0;
  std::array<uint8_t, 32> config{};
};
Bytes EncodeHello(const Hello& h);
// InvalidArgument on a wrong size or type byte.
StatusOr<Hello> DecodeHello(ByteSpan msg);

Bytes EncodeSizes(const std::vector<uint64_t>& sizes);
// InvalidArgument on a wrong type byte, a count above 16 or a size that does not match it.
StatusOr<std::vector<uint64_t>> DecodeSizes(ByteSpan msg);

struct BatchView {
  uint8_t type = 0;
  uint32_t owner = 0, index = 0, count = 0;
  ByteSpan payload;  // points into the decoded message
};
Bytes EncodeBatch(uint8_t type, uint32_t owner, uint32_t index, uint32_t count, ByteSpan payload);
// Splits the header off (InvalidArgument if too short); the caller checks the rest.
StatusOr<BatchView> DecodeBatch(ByteSpan msg);

struct ResultView {
  uint64_t intersection_size = 0;
  uint32_t chunk = 0;
  std::vector<uint32_t> positions;
};
Bytes EncodeResult(uint64_t intersection_size, uint32_t chunk, std::span<const uint32_t> positions);
// InvalidArgument on a wrong type byte or a length that does not match the count.
StatusOr<ResultView> DecodeResult(ByteSpan msg);

}  // namespace consort::psi::internal::mp
