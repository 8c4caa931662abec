#include "consort/psi/internal/psi_sum_wire.h"

#include <cstring>

namespace consort::psi::internal {

Bytes EncodeSumHello(const SumHello& h) {
  Bytes out;
  out.reserve(kSumHelloBytes + h.public_key.size());
  out.push_back(kSumHello);
  AppendU32(out, h.version);
  AppendU64(out, h.set_size);
  AppendU32(out, h.batch_size);
  out.push_back(h.b_learns_size ? 1 : 0);
  out.insert(out.end(), h.domain_hash.begin(), h.domain_hash.end());
  out.insert(out.end(), h.public_key.begin(), h.public_key.end());
  return out;
}

StatusOr<SumHello> DecodeSumHello(ByteSpan msg) {
  if (msg.size() < kSumHelloBytes || msg[0] != kSumHello) {
    return absl::InvalidArgumentError("PSI-sum: malformed hello (" + std::to_string(msg.size()) +
                                      " bytes)");
  }
  SumHello h;
  const uint8_t* p = msg.data() + 1;
  h.version = ReadU32(p);
  h.set_size = ReadU64(p + 4);
  h.batch_size = ReadU32(p + 12);
  if (p[16] > 1) return absl::InvalidArgumentError("PSI-sum: malformed hello flag");
  h.b_learns_size = p[16] == 1;
  std::memcpy(h.domain_hash.data(), p + 17, 32);
  h.public_key.assign(msg.begin() + kSumHelloBytes, msg.end());
  return h;
}

}  // namespace consort::psi::internal
