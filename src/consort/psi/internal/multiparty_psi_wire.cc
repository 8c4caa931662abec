#include "consort/psi/internal/multiparty_psi_wire.h"

#include <cstring>

namespace consort::psi::internal::mp {

Bytes EncodeHello(const Hello& h) {
  Bytes out;
  out.reserve(kHelloBytes);
  out.push_back(kHello);
  AppendU32(out, h.version);
  AppendU32(out, h.parties);
  AppendU32(out, h.sender);
  AppendU32(out, h.leader);
  AppendU64(out, h.set_size);
  AppendU32(out, h.batch_size);
  out.insert(out.end(), h.config.begin(), h.config.end());
  return out;
}

StatusOr<Hello> DecodeHello(ByteSpan msg) {
  if (msg.size() != kHelloBytes || msg[0] != kHello) {
    return absl::InvalidArgumentError("malformed multi-party PSI hello (" +
                                      std::to_string(msg.size()) + " bytes, expected " +
                                      std::to_string(kHelloBytes) + " starting with 'h')");
  }
  Hello h;
  const uint8_t* p = msg.data() + 1;
  h.version = ReadU32(p);
  h.parties = ReadU32(p + 4);
  h.sender = ReadU32(p + 8);
  h.leader = ReadU32(p + 12);
  h.set_size = ReadU64(p + 16);
  h.batch_size = ReadU32(p + 24);
  std::memcpy(h.config.data(), p + 28, 32);
  return h;
}

Bytes EncodeSizes(const std::vector<uint64_t>& sizes) {
  Bytes out{kSizes};
  AppendU32(out, static_cast<uint32_t>(sizes.size()));
  for (uint64_t s : sizes) AppendU64(out, s);
  return out;
}

StatusOr<std::vector<uint64_t>> DecodeSizes(ByteSpan msg) {
  if (msg.size() < 5 || msg[0] != kSizes) {
    return absl::InvalidArgumentError("malformed multi-party PSI sizes message (" +
                                      std::to_string(msg.size()) + " bytes)");
  }
  const uint32_t n = ReadU32(msg.data() + 1);
  if (n > 16 || msg.size() != 5 + 8 * size_t{n}) {
    return absl::InvalidArgumentError(
        "malformed multi-party PSI sizes message: " + std::to_string(n) + " sizes in " +
        std::to_string(msg.size()) + " bytes");
  }
  std::vector<uint64_t> sizes(n);
  for (uint32_t i = 0; i < n; ++i) sizes[i] = ReadU64(msg.data() + 5 + 8 * i);
  return sizes;
}

Bytes EncodeBatch(uint8_t type, uint32_t owner, uint32_t index, uint32_t count, ByteSpan payload) {
  Bytes out;
  out.reserve(kBatchHeaderBytes + payload.size());
  out.push_back(type);
  AppendU32(out, owner);
  AppendU32(out, index);
  AppendU32(out, count);
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

StatusOr<BatchView> DecodeBatch(ByteSpan msg) {
  if (msg.size() < kBatchHeaderBytes) {
    return absl::InvalidArgumentError("multi-party PSI batch of " + std::to_string(msg.size()) +
                                      " bytes is shorter than its header");
  }
  BatchView v;
  v.type = msg[0];
  v.owner = ReadU32(msg.data() + 1);
  v.index = ReadU32(msg.data() + 5);
  v.count = ReadU32(msg.data() + 9);
  v.payload = msg.subspan(kBatchHeaderBytes);
  return v;
}

Bytes EncodeResult(uint64_t intersection_size, uint32_t chunk, std::span<const uint32_t> positions) {
  Bytes out{kResult};
  out.reserve(kResultHeaderBytes + 4 * positions.size());
  AppendU64(out, intersection_size);
  AppendU32(out, chunk);
  AppendU32(out, static_cast<uint32_t>(positions.size()));
  for (uint32_t p : positions) AppendU32(out, p);
  return out;
}

StatusOr<ResultView> DecodeResult(ByteSpan msg) {
  if (msg.size() < kResultHeaderBytes || msg[0] != kResult ||
      msg.size() != kResultHeaderBytes + 4 * size_t{ReadU32(msg.data() + 13)}) {
    return absl::InvalidArgumentError("malformed multi-party PSI result (" +
                                      std::to_string(msg.size()) + " bytes)");
  }
  ResultView r;
  r.intersection_size = ReadU64(msg.data() + 1);
  r.chunk = ReadU32(msg.data() + 9);
  const uint32_t n = ReadU32(msg.data() + 13);
  r.positions.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    r.positions[i] = ReadU32(msg.data() + kResultHeaderBytes + 4 * i);
  }
  return r;
}

}  // namespace consort::psi::internal::mp
