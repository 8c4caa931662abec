#include "consort/fl/internal/wire.h"

#include <cmath>
#include <cstring>

namespace consort::fl::internal {
namespace {

Status Malformed(const char* what, const std::string& why) {
  return absl::InvalidArgumentError(std::string("hetero lr: malformed ") + what + " from peer: " +
                                    why);
}

}  // namespace

Status SendDoubles(net::Link& link, std::span<const double> v) {
  Bytes msg;
  msg.reserve(8 + 8 * v.size());
  AppendU64(msg, v.size());
  for (double d : v) {
    uint64_t bits;
    std::memcpy(&bits, &d, 8);
    AppendU64(msg, bits);
  }
  return link.Send(msg);
}

StatusOr<std::vector<double>> RecvDoubles(net::Link& link, size_t expected, const char* what) {
  CONSORT_ASSIGN_OR_RETURN(Bytes msg, link.Recv());
  if (msg.size() < 8) return Malformed(what, "short message");
  const uint64_t n = ReadU64(msg.data());
  if (n != expected) {
    return absl::FailedPreconditionError(std::string("hetero lr: peer sent ") +
                                         std::to_string(n) + " values for " + what +
                                         ", expected " + std::to_string(expected));
  }
  if (msg.size() != 8 + 8 * n) return Malformed(what, "length does not match the count");
  std::vector<double> v(n);
  for (size_t i = 0; i < n; ++i) {
    uint64_t bits = ReadU64(msg.data() + 8 + 8 * i);
    std::memcpy(&v[i], &bits, 8);
    if (!std::isfinite(v[i])) return Malformed(what, "non-finite value");
  }
  return v;
}

Status SendJson(net::Link& link, const Json& j) { return link.Send(AsBytes(j.dump())); }

StatusOr<Json> RecvJson(net::Link& link, const char* what) {
  CONSORT_ASSIGN_OR_RETURN(Bytes msg, link.Recv());
  if (msg.size() > 65536) return Malformed(what, "too large");
  auto j = ParseJson(ToString(msg), what);
  if (!j.ok()) return Malformed(what, std::string(j.status().message()));
  if (!j->is_object()) return Malformed(what, "not an object");
  return *j;
}

Status SendByte(net::Link& link, uint8_t b) { return link.Send(ByteSpan(&b, 1)); }

StatusOr<uint8_t> RecvByte(net::Link& link, const char* what) {
  CONSORT_ASSIGN_OR_RETURN(Bytes msg, link.Recv());
  if (msg.size() != 1) return Malformed(what, "expected one byte");
  return msg[0];
}

Status SendCiphertexts(net::Link& link, const crypto::PaillierPublicKey& pk,
                       const std::vector<crypto::PaillierCiphertext>& cts) {
  const size_t w = pk.ciphertext_bytes();
  for (size_t i = 0; i < cts.size() || i == 0; i += kCiphertextsPerMessage) {
    const size_t n = std::min(kCiphertextsPerMessage, cts.size() - i);
    Bytes msg(n * w);
    for (size_t j = 0; j < n; ++j) pk.SerializeCiphertextTo(cts[i + j], msg.data() + j * w);
    CONSORT_RETURN_IF_ERROR(link.Send(msg));
    if (cts.empty()) break;
  }
  return OkStatus();
}

StatusOr<std::vector<crypto::PaillierCiphertext>> RecvCiphertexts(
    net::Link& link, const crypto::PaillierPublicKey& pk, size_t expected, const char* what) {
  const size_t w = pk.ciphertext_bytes();
  std::vector<crypto::PaillierCiphertext> out;
  out.reserve(expected);
  do {
    const size_t n = std::min(kCiphertextsPerMessage, expected - out.size());
    CONSORT_ASSIGN_OR_RETURN(Bytes msg, link.Recv());
    if (msg.size() != n * w) return Malformed(what, "wrong ciphertext message length");
    for (size_t j = 0; j < n; ++j) {
      auto ct = pk.ParseCiphertext(ByteSpan(msg.data() + j * w, w));
      if (!ct.ok()) return Malformed(what, std::string(ct.status().message()));
      out.push_back(std::move(*ct));
    }
  } while (out.size() < expected);
  return out;
}

Status SendPlaintexts(net::Link& link, const crypto::PaillierPublicKey& pk,
                      const std::vector<crypto::PaillierPlaintext>& pts) {
  Bytes msg;
  for (const auto& p : pts) {
    Bytes b = pk.PlaintextToBytes(p);
    msg.insert(msg.end(), b.begin(), b.end());
  }
  return link.Send(msg);
}

StatusOr<std::vector<crypto::PaillierPlaintext>> RecvPlaintexts(
    net::Link& link, const crypto::PaillierPublicKey& pk, size_t expected, const char* what) {
  const size_t w = pk.plaintext_bytes();
  CONSORT_ASSIGN_OR_RETURN(Bytes msg, link.Recv());
  if (msg.size() != expected * w) return Malformed(what, "wrong plaintext message length");
  std::vector<crypto::PaillierPlaintext> out;
  for (size_t j = 0; j < expected; ++j) {
    auto p = pk.PlaintextFromBytes(ByteSpan(msg.data() + j * w, w));
    if (!p.ok()) return Malformed(what, std::string(p.status().message()));
    out.push_back(std::move(*p));
  }
  return out;
}

}  // namespace consort::fl::internal
