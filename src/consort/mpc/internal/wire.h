#pragma once
// Moving vectors of ring elements over a Link: little-endian u64 words, split into messages
// of at most kChunkWords words (the link caps a message at 16 MiB). Message sizes are fixed
// by the protocol, so receivers check every message's exact length before use.

#include <cstdint>
#include <span>

#include "consort/common/status.h"
#include "consort/net/link.h"

namespace consort::mpc::internal {

inline constexpr size_t kChunkWords = size_t{1} << 20;  // 8 MiB messages

// Number of messages SendWords uses for n words (0 for n == 0).
inline uint64_t ChunkCount(uint64_t n) { return (n + kChunkWords - 1) / kChunkWords; }

Status SendWords(net::Link& link, std::span<const uint64_t> words);
// Receives exactly in.size() words in ChunkCount(in.size()) messages; InvalidArgument naming
// the expected and received sizes if the peer deviates.
Status RecvWords(net::Link& link, std::span<uint64_t> in);
// Sends `out` and receives `in` at the same time (both parties call it in the same round), so
// that neither side blocks on a full buffer while the other is also sending.
Status ExchangeWords(net::Link& link, std::span<const uint64_t> out, std::span<uint64_t> in);

}  // namespace consort::mpc::internal
