#pragma once
// Wire format of PSI-sum messages (integers little-endian; Paillier values big-endian,
// fixed width). Internal to psi/; tests use it to play a misbehaving peer.
//
//   hello:     'h' | u32 version | u64 set size | u32 batch size | u8 b_learns_size |
//              SHA-256(domain) | (B only) Paillier public key (crypto::PaillierPublicKey wire)
//   masked:    'M' | u32 index | u32 count | count x 32 B               (A -> B)
//   returned:  'R' | u32 index | u32 count | count x T B                (B -> A, shuffled)
//   values:    'V' | u32 index | u32 count | count x (32 B point | ciphertext)   (B -> A)
//   sum:       'S' | ciphertext | (u64 |J| if b_learns_size)            (A -> B)
//   decrypted: 'D' | plaintext (|n|/8 B)                                (B -> A)
// Batched messages use internal::EncodeBatch / DecodeBatch (ecdh_psi_wire.h).

#include <array>
#include <cstdint>

#include "consort/common/bytes.h"
#include "consort/common/status.h"

namespace consort::psi::internal {

inline constexpr uint8_t kSumHello = 'h';
inline constexpr uint8_t kSumMasked = 'M';
inline constexpr uint8_t kSumReturned = 'R';
inline constexpr uint8_t kSumValues = 'V';
inline constexpr uint8_t kSumSum = 'S';
inline constexpr uint8_t kSumDecrypted = 'D';
inline constexpr size_t kSumHelloBytes = 1 + 4 + 8 + 4 + 1 + 32;

struct SumHello {
  uint32_t version = 0;
  uint64_t set_size = 0;
  uint32_t batch_size = 0;
  bool b_learns_size = false;
  std::array<uint8_t, 32> domain_hash{};
  Bytes public_key;  // B only
};

Bytes EncodeSumHello(const SumHello& h);
// InvalidArgument on a short message, a wrong type byte or a flag other than 0/1.
StatusOr<SumHello> DecodeSumHello(ByteSpan msg);

}  // namespace consort::psi::internal
