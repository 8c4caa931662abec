#pragma once
// Wire format of unbalanced PSI (psi/unbalanced_psi.h; integers little-endian) and of its
// encoded set E. Internal to psi/; tests use it to play a misbehaving peer.
//
//   client hello: 'u' | u32 version | SHA-256(domain) | u64 |X| | u32 batch size |
//                 16 B cached set id | SHA-256 of the cached E (zeros: none)        (97 B)
//   server hello: 'U' | u32 version | SHA-256(domain) | 16 B set id | u64 |Y| | u8 T |
//                 u64 max client size | u64 |E| | SHA-256(E) | u8 sending E         (111 B)
//   E chunk:      'x' | u32 chunk index | up to 8 MiB of E
//   blinded:      'M' | u32 batch index | u32 count | count x 32 B   (client -> server)
//   evaluated:    'R' | u32 batch index | u32 count | count x 32 B   (server -> client)
//                 (batches use ecdh_psi_wire.h's EncodeBatch / DecodeBatch)
//
//   E: "CUPSIES1" | 16 B id | u64 n | u8 T | u8 D | u64 max client size |
//      (256^D + 1) x u32 offsets | n x (T - D) B
//   the n values, sorted, without their first D bytes (the bucket); bucket b holds values
//   offsets[b] .. offsets[b+1]. D = 0, 1 or 2 as n < 2^8, < 2^16, or larger.

#include <array>
#include <cstdint>

#include "consort/common/bytes.h"
#include "consort/common/status.h"

namespace consort::psi::internal::upsi {

inline constexpr uint8_t kClientHello = 'u';
inline constexpr uint8_t kServerHello = 'U';
inline constexpr uint8_t kChunk = 'x';
inline constexpr uint8_t kBlinded = 'M';
inline constexpr uint8_t kEvaluated = 'R';
inline constexpr size_t kClientHelloBytes = 1 + 4 + 32 + 8 + 4 + 16 + 32;
inline constexpr size_t kServerHelloBytes = 1 + 4 + 32 + 16 + 8 + 1 + 8 + 8 + 32 + 1;
inline constexpr size_t kChunkBytes = 8u << 20;
inline constexpr char kSetMagic[8] = {'C', 'U', 'P', 'S', 'I', 'E', 'S', '1'};
inline constexpr size_t kSetHeaderBytes = 8 + 16 + 8 + 1 + 1 + 8;

using Id = std::array<uint8_t, 16>;
using Digest = std::array<uint8_t, 32>;

struct ClientHello {
  uint32_t version = 0;
  Digest domain_hash{};
  uint64_t set_size = 0;
  uint32_t batch_size = 0;
  Id cached_id{};
  Digest cached_digest{};
};
Bytes EncodeClientHello(const ClientHello& h);
StatusOr<ClientHello> DecodeClientHello(ByteSpan msg);  // InvalidArgument on size/type

struct ServerHello {
  uint32_t version = 0;
  Digest domain_hash{};
  Id id{};
  uint64_t set_size = 0;
  uint8_t value_bytes = 0;
  uint64_t max_client_size = 0;
  uint64_t encoded_bytes = 0;
  Digest digest{};
  bool sending = false;
};
Bytes EncodeServerHello(const ServerHello& h);
StatusOr<ServerHello> DecodeServerHello(ByteSpan msg);  // InvalidArgument on size/type/flag

// A parsed, validated E (points into the bytes it was parsed from).
struct EncodedSetView {
  Id id{};
  uint64_t n = 0;
  size_t value_bytes = 0;  // T
  size_t dir_bytes = 0;    // D
  uint64_t max_client_size = 0;
  const uint8_t* offsets = nullptr;  // 256^D + 1 little-endian u32
  const uint8_t* values = nullptr;   // n x (T - D)
  // True iff the T-byte value `v` is in the set.
  bool Contains(const uint8_t* v) const;
};
// Checks everything: magic, T in [5, 16], D as n implies, sizes, offsets monotone from 0 to
// n, each value in its bucket sorted strictly ascending. InvalidArgument naming the problem.
StatusOr<EncodedSetView> ParseEncodedSet(ByteSpan e);
// Serializes sorted, distinct T-byte values (each padded to 16 bytes).
Bytes SerializeEncodedSet(const Id& id, size_t value_bytes, uint64_t max_client_size,
                          const std::vector<std::array<uint8_t, 16>>& sorted_values);
size_t DirBytesFor(uint64_t n);

}  // namespace consort::psi::internal::upsi
