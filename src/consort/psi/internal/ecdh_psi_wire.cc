#include "consort/psi/internal/ecdh_psi_wire.h"

#include <cstring>

namespace consort::psi::internal {

Bytes EncodeHandshake(const Handshake& h) {
  Bytes out;
  out.reserve(kHandshakeBytes);
  out.push_back(kMsgHandshake);
  AppendU32(out, h.version);
  AppendU64(out, h.set_size);
  out.push_back(static_cast<uint8_t>(h.my_output));
  out.push_back(static_cast<uint8_t>(h.peer_output));
  AppendU32(out, h.batch_size);
  out.insert(out.end(), h.domain_hash.begin(), h.domain_hash.end());
  return out;
}

namespace {
StatusOr<PsiOutput> DecodeOutput(uint8_t v, const char* field) {
  if (v > static_cast<uint8_t>(PsiOutput::kIntersection)) {
    return absl::InvalidArgumentError(std::string("handshake: invalid ") + field + " value " +
                                      std::to_string(v));
  }
  return static_cast<PsiOutput>(v);
}
}  // namespace

StatusOr<Handshake> DecodeHandshake(ByteSpan msg) {
  if (msg.size() != kHandshakeBytes || msg[0] != kMsgHandshake) {
    return absl::InvalidArgumentError("malformed ECDH-PSI handshake (" +
                                      std::to_string(msg.size()) + " bytes, expected " +
                                      std::to_string(kHandshakeBytes) + " starting with 'H')");
  }
  Handshake h;
  const uint8_t* p = msg.data() + 1;
  h.version = ReadU32(p);
  h.set_size = ReadU64(p + 4);
  CONSORT_ASSIGN_OR_RETURN(h.my_output, DecodeOutput(p[12], "sender output"));
  CONSORT_ASSIGN_OR_RETURN(h.peer_output, DecodeOutput(p[13], "receiver output"));
  h.batch_size = ReadU32(p + 14);
  std::memcpy(h.domain_hash.data(), p + 18, 32);
  return h;
}

Bytes EncodeBatch(uint8_t type, uint32_t index, uint32_t count, ByteSpan payload) {
  Bytes out;
  out.reserve(kBatchHeaderBytes + payload.size());
  out.push_back(type);
  AppendU32(out, index);
  AppendU32(out, count);
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

StatusOr<BatchView> DecodeBatch(ByteSpan msg) {
  if (msg.size() < kBatchHeaderBytes) {
    return absl::InvalidArgumentError("ECDH-PSI message of " + std::to_string(msg.size()) +
                                      " bytes is shorter than a batch header");
  }
  BatchView v;
  v.type = msg[0];
  v.index = ReadU32(msg.data() + 1);
  v.count = ReadU32(msg.data() + 5);
  v.payload = msg.subspan(kBatchHeaderBytes);
  return v;
}

}  // namespace consort::psi::internal
