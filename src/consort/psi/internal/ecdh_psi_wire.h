#pragma once
// Wire format of ECDH-PSI messages (little-endian integers). Internal to psi/; tests use it to
// play a misbehaving peer.
//
//   handshake: 'H' | u32 version | u64 set size | u8 my output | u8 peer output |
//              u32 batch size | SHA-256(domain)                              (51 bytes)
//   masked:    'M' | u32 batch index | u32 count | count x 32-byte u-coordinate
//   returned:  'R' | u32 batch index | u32 count | count x T bytes (truncated H(.)^ab)

#include <array>
#include <cstdint>

#include "consort/common/bytes.h"
#include "consort/common/status.h"
#include "consort/psi/psi.h"

namespace consort::psi::internal {

inline constexpr uint8_t kMsgHandshake = 'H';
inline constexpr uint8_t kMsgMasked = 'M';
inline constexpr uint8_t kMsgReturned = 'R';
inline constexpr size_t kHandshakeBytes = 1 + 4 + 8 + 1 + 1 + 4 + 32;
inline constexpr size_t kBatchHeaderBytes = 1 + 4 + 4;

struct Handshake {
  uint32_t version = 0;
  uint64_t set_size = 0;
  PsiOutput my_output = PsiOutput::kNone;
  PsiOutput peer_output = PsiOutput::kNone;
  uint32_t batch_size = 0;
  std::array<uint8_t, 32> domain_hash{};
};

Bytes EncodeHandshake(const Handshake& h);
// InvalidArgument on a wrong size, type byte or output value.
StatusOr<Handshake> DecodeHandshake(ByteSpan msg);

struct BatchView {
  uint8_t type = 0;
  uint32_t index = 0;
  uint32_t count = 0;
  ByteSpan payload;  // points into the decoded message
};

Bytes EncodeBatch(uint8_t type, uint32_t index, uint32_t count, ByteSpan payload);
// Splits the header off; InvalidArgument if the message is shorter than a header. The caller
// checks type, index, count and payload size against what it expects.
StatusOr<BatchView> DecodeBatch(ByteSpan msg);

}  // namespace consort::psi::internal
