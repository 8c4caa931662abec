#include "consort/mpc/internal/wire.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <string>
#include <thread>

namespace consort::mpc::internal {

static_assert(std::endian::native == std::endian::little,
              "wire format is little-endian u64; add byte swapping for big-endian hosts");

Status SendWords(net::Link& link, std::span<const uint64_t> words) {
  for (size_t off = 0; off < words.size(); off += kChunkWords) {
    const size_t w = std::min(kChunkWords, words.size() - off);
    CONSORT_RETURN_IF_ERROR(
        link.Send(ByteSpan(reinterpret_cast<const uint8_t*>(words.data() + off), w * 8)));
  }
  return OkStatus();
}

Status RecvWords(net::Link& link, std::span<uint64_t> in) {
  for (size_t off = 0; off < in.size(); off += kChunkWords) {
    const size_t w = std::min(kChunkWords, in.size() - off);
    CONSORT_ASSIGN_OR_RETURN(Bytes m, link.Recv());
    if (m.size() != w * 8) {
      return absl::InvalidArgumentError("mpc: peer " + link.peer() + " sent a message of " +
                                        std::to_string(m.size()) + " bytes, expected " +
                                        std::to_string(w * 8));
    }
    std::memcpy(in.data() + off, m.data(), m.size());
  }
  return OkStatus();
}

Status ExchangeWords(net::Link& link, std::span<const uint64_t> out, std::span<uint64_t> in) {
  // Small payloads fit in any link's buffer: send, then receive. Large ones are sent from a
  // helper thread (a Link allows one sender and one receiver at a time).
  constexpr size_t kInlineWords = 4096;
  if (out.size() <= kInlineWords) {
    CONSORT_RETURN_IF_ERROR(SendWords(link, out));
    return RecvWords(link, in);
  }
  Status sent;
  std::thread sender([&] { sent = SendWords(link, out); });
  Status received = RecvWords(link, in);
  sender.join();
  CONSORT_RETURN_IF_ERROR(received);
  return sent;
}

}  // namespace consort::mpc::internal
