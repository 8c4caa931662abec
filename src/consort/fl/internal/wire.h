#pragma once
// Messages of the hetero LR protocols: vectors of doubles, small JSON, one control byte, and
// Paillier ciphertext/plaintext vectors in chunks. Every received message is validated
// (exact lengths, counts, finite values): InvalidArgument naming the message otherwise.

#include <string>
#include <vector>

#include "consort/common/json.h"
#include "consort/common/status.h"
#include "consort/crypto/paillier.h"
#include "consort/net/link.h"

namespace consort::fl::internal {

Status SendDoubles(net::Link& link, std::span<const double> v);
// InvalidArgument unless the message holds exactly `expected` finite doubles.
StatusOr<std::vector<double>> RecvDoubles(net::Link& link, size_t expected, const char* what);

Status SendJson(net::Link& link, const Json& j);
StatusOr<Json> RecvJson(net::Link& link, const char* what);

Status SendByte(net::Link& link, uint8_t b);
StatusOr<uint8_t> RecvByte(net::Link& link, const char* what);

// Ciphertexts in messages of at most kCiphertextsPerMessage.
inline constexpr size_t kCiphertextsPerMessage = 4096;
Status SendCiphertexts(net::Link& link, const crypto::PaillierPublicKey& pk,
                       const std::vector<crypto::PaillierCiphertext>& cts);
StatusOr<std::vector<crypto::PaillierCiphertext>> RecvCiphertexts(
    net::Link& link, const crypto::PaillierPublicKey& pk, size_t expected, const char* what);
Status SendPlaintexts(net::Link& link, const crypto::PaillierPublicKey& pk,
                      const std::vector<crypto::PaillierPlaintext>& pts);
StatusOr<std::vector<crypto::PaillierPlaintext>> RecvPlaintexts(
    net::Link& link, const crypto::PaillierPublicKey& pk, size_t expected, const char* what);

}  // namespace consort::fl::internal
