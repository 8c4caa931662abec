#include "consort/psi/internal/size_only_psi_wire.h"

#include <cstring>
#include <string>

namespace consort::psi::internal::so {

Bytes EncodeHello(const Hello& h) {
  Bytes out;
  out.push_back(kMsgSizeHello);
  AppendU32(out, h.version);
  AppendU64(out, h.keys);
  AppendU32(out, h.budget_mb);
  out.insert(out.end(), h.mask_id.begin(), h.mask_id.end());
  out.insert(out.end(), h.peer_mask_id.begin(), h.peer_mask_id.end());
  AppendU32(out, h.peer_done);
  AppendU32(out, h.pd);
  out.push_back(h.t);
  AppendU32(out, h.pm);
  return out;
}

StatusOr<Hello> DecodeHello(ByteSpan m) {
  if (m.size() != kSizeHelloBytes || m[0] != kMsgSizeHello) {
    return absl::InvalidArgumentError("size-only PSI: malformed hello (" +
                                      std::to_string(m.size()) + " bytes, expected " +
                                      std::to_string(kSizeHelloBytes) + " starting with 'S')");
  }
  const uint8_t* p = m.data() + 1;
  Hello h;
  h.version = ReadU32(p);
  h.keys = ReadU64(p + 4);
  h.budget_mb = ReadU32(p + 12);
  std::memcpy(h.mask_id.data(), p + 16, 16);
  std::memcpy(h.peer_mask_id.data(), p + 32, 16);
  h.peer_done = ReadU32(p + 48);
  h.pd = ReadU32(p + 52);
  h.t = p[56];
  h.pm = ReadU32(p + 57);
  return h;
}

Bytes EncodeBatch(uint8_t type, uint32_t part, uint32_t count, bool last, const uint8_t* data,
                  size_t bytes) {
  Bytes out;
  out.reserve(kSizeBatchHeader + bytes);
  out.push_back(type);
  AppendU32(out, part);
  AppendU32(out, count);
  out.push_back(last ? 1 : 0);
  out.insert(out.end(), data, data + bytes);
  return out;
}


StatusOr<BatchView> DecodeBatch(const Bytes& m, uint8_t type, uint32_t part, size_t width) {
  const char* what = type == kMsgSizeMasked ? "masked" : "doubled";
  if (m.size() < kSizeBatchHeader || m[0] != type) {
    return absl::InvalidArgumentError(std::string("size-only PSI: expected a ") + what +
                                      " batch, got a message of " + std::to_string(m.size()) +
                                      " bytes" + (m.empty() ? "" : " of type " +
                                      std::to_string(m[0])));
  }
  BatchView b;
  b.part = ReadU32(m.data() + 1);
  b.count = ReadU32(m.data() + 5);
  if (m[9] > 1) {
    return absl::InvalidArgumentError(std::string("size-only PSI: ") + what +
                                      " batch with a bad last flag");
  }
  b.last = m[9] == 1;
  b.data = m.data() + kSizeBatchHeader;
  if (b.part != part) {
    return absl::InvalidArgumentError(std::string("size-only PSI: ") + what +
                                      " batch for partition " + std::to_string(b.part) +
                                      ", expected " + std::to_string(part));
  }
  if (m.size() - kSizeBatchHeader != uint64_t{b.count} * width) {
    return absl::InvalidArgumentError(std::string("size-only PSI: ") + what + " batch of " +
                                      std::to_string(b.count) + " values carries " +
                                      std::to_string(m.size() - kSizeBatchHeader) +
                                      " bytes, expected " +
                                      std::to_string(uint64_t{b.count} * width));
  }
  return b;
}

}  // namespace consort::psi::internal::so
