#include "consort/ot/base_ot.h"

#include <cstring>
#include <utility>

#include "consort/crypto/hash.h"
#include "consort/crypto/random.h"
#include "consort/crypto/ristretto.h"
#include "consort/crypto/wipe.h"

namespace consort::ot {
namespace {

using crypto::RistrettoPoint;
using crypto::WipeOnExit;

constexpr char kTag[4] = {'C', 'O', '1', '5'};
constexpr size_t kPoint = crypto::kRistrettoBytes;

Block DeriveKey(std::string_view domain, uint64_t i, const crypto::RistrettoPoint& a,
                const uint8_t* b, const crypto::RistrettoPoint& shared) {
  crypto::Sha256Hasher h;
  h.Update(std::string_view("consort/ot/co15-key/v1"));
  uint8_t len[8], idx[8];
  for (int k = 0; k < 8; ++k) {
    len[k] = static_cast<uint8_t>(static_cast<uint64_t>(domain.size()) >> (8 * k));
    idx[k] = static_cast<uint8_t>(i >> (8 * k));
  }
  h.Update(ByteSpan(len, 8));
  h.Update(domain);
  h.Update(ByteSpan(idx, 8));
  h.Update(ByteSpan(a.bytes().data(), kPoint));
  h.Update(ByteSpan(b, kPoint));
  h.Update(ByteSpan(shared.bytes().data(), kPoint));
  crypto::Digest256 d = h.Finish();  // Finish leaves no trace of the inputs in h
  WipeOnExit wipe_d(d);
  return Block::FromBytes(d.data());
}

}  // namespace

StatusOr<std::vector<std::array<Block, 2>>> BaseOtSendRandom(net::Link& link, size_t n,
                                                             std::string_view domain) {
  if (n == 0 || n > kMaxBaseOts) return absl::InvalidArgumentError("base OT count out of range");
  crypto::RistrettoScalar a = crypto::RistrettoScalar::Random();
  CONSORT_ASSIGN_OR_RETURN(crypto::RistrettoPoint big_a, crypto::RistrettoPoint::BaseMul(a));
  // a*A, so a(B-A) = aB - aA. Secret-derived points are wiped in place inside their StatusOr
  // (no copy left behind) on every return path.
  StatusOr<RistrettoPoint> aa_or = big_a.Mul(a);
  if (!aa_or.ok()) return aa_or.status();
  const RistrettoPoint& aa = *aa_or;
  WipeOnExit wipe_aa(*aa_or);
  Bytes msg(4 + 4 + kPoint);
  std::memcpy(msg.data(), kTag, 4);
  for (int k = 0; k < 4; ++k) msg[4 + k] = static_cast<uint8_t>(n >> (8 * k));
  std::memcpy(msg.data() + 8, big_a.bytes().data(), kPoint);
  CONSORT_RETURN_IF_ERROR(link.Send(msg));

  CONSORT_ASSIGN_OR_RETURN(Bytes reply, link.Recv());
  if (reply.size() != n * kPoint) {
    return absl::InvalidArgumentError("base OT: receiver reply has " +
                                      std::to_string(reply.size()) + " bytes, expected " +
                                      std::to_string(n * kPoint));
  }
  std::vector<std::array<Block, 2>> keys(n);
  WipeOnExit wipe_keys(keys);  // a partial batch on an error path; empty once returned
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* b = reply.data() + i * kPoint;
    CONSORT_ASSIGN_OR_RETURN(RistrettoPoint big_b, RistrettoPoint::Decode(ByteSpan(b, kPoint)));
    // a*B is the identity only if B is; reject it (Mul returns InvalidArgument).
    StatusOr<RistrettoPoint> ab_or = big_b.Mul(a);
    if (!ab_or.ok()) return ab_or.status();
    WipeOnExit wipe_ab(*ab_or);
    RistrettoPoint ab_minus_aa = ab_or->Sub(aa);
    WipeOnExit wipe_ab_minus_aa(ab_minus_aa);
    keys[i][0] = DeriveKey(domain, i, big_a, b, *ab_or);
    keys[i][1] = DeriveKey(domain, i, big_a, b, ab_minus_aa);
  }
  return keys;
}

StatusOr<std::vector<Block>> BaseOtReceiveRandom(net::Link& link, const std::vector<bool>& choices,
                                                 std::string_view domain) {
  const size_t n = choices.size();
  if (n == 0 || n > kMaxBaseOts) return absl::InvalidArgumentError("base OT count out of range");
  CONSORT_ASSIGN_OR_RETURN(Bytes first, link.Recv());
  if (first.size() != 8 + kPoint || std::memcmp(first.data(), kTag, 4) != 0) {
    return absl::InvalidArgumentError("base OT: malformed sender message");
  }
  uint32_t count = 0;
  for (int k = 0; k < 4; ++k) count |= static_cast<uint32_t>(first[4 + k]) << (8 * k);
  if (count != n) {
    return absl::InvalidArgumentError("base OT: sender runs " + std::to_string(count) +
                                      " OTs, receiver expects " + std::to_string(n));
  }
  CONSORT_ASSIGN_OR_RETURN(crypto::RistrettoPoint big_a,
                           crypto::RistrettoPoint::Decode(ByteSpan(first.data() + 8, kPoint)));
  if (big_a == crypto::RistrettoPoint()) {
    return absl::InvalidArgumentError("base OT: sender point is the identity");
  }
  Bytes reply(n * kPoint);
  std::vector<Block> keys(n);
  WipeOnExit wipe_keys(keys);  // e.g. when the Send fails; empty once returned
  for (size_t i = 0; i < n; ++i) {
    crypto::RistrettoScalar b = crypto::RistrettoScalar::Random();  // wiped by its destructor
    // b*G reveals the choice bit next to B; b*A is the shared point. Both wiped in place.
    StatusOr<RistrettoPoint> bg_or = RistrettoPoint::BaseMul(b);
    if (!bg_or.ok()) return bg_or.status();
    WipeOnExit wipe_bg(*bg_or);
    const RistrettoPoint big_b = choices[i] ? bg_or->Add(big_a) : *bg_or;
    std::memcpy(reply.data() + i * kPoint, big_b.bytes().data(), kPoint);
    StatusOr<RistrettoPoint> ba_or = big_a.Mul(b);
    if (!ba_or.ok()) return ba_or.status();
    WipeOnExit wipe_ba(*ba_or);
    keys[i] = DeriveKey(domain, i, big_a, reply.data() + i * kPoint, *ba_or);
  }
  CONSORT_RETURN_IF_ERROR(link.Send(reply));
  return keys;
}

Status BaseOtSend(net::Link& link, const std::vector<std::array<Block, 2>>& messages,
                  std::string_view domain) {
  StatusOr<std::vector<std::array<Block, 2>>> keys = BaseOtSendRandom(link, messages.size(), domain);
  if (!keys.ok()) return keys.status();
  WipeOnExit wipe_keys(*keys);
  Bytes out(messages.size() * 32);
  for (size_t i = 0; i < messages.size(); ++i) {
    (messages[i][0] ^ (*keys)[i][0]).ToBytes(out.data() + 32 * i);
    (messages[i][1] ^ (*keys)[i][1]).ToBytes(out.data() + 32 * i + 16);
  }
  return link.Send(out);
}

StatusOr<std::vector<Block>> BaseOtReceive(net::Link& link, const std::vector<bool>& choices,
                                           std::string_view domain) {
  StatusOr<std::vector<Block>> keys_or = BaseOtReceiveRandom(link, choices, domain);
  if (!keys_or.ok()) return keys_or.status();
  std::vector<Block>& keys = *keys_or;
  WipeOnExit wipe_keys(keys);  // the random-OT keys if the ciphertexts never come
  CONSORT_ASSIGN_OR_RETURN(Bytes ct, link.Recv());
  if (ct.size() != choices.size() * 32) {
    return absl::InvalidArgumentError("base OT: ciphertext message has the wrong size");
  }
  for (size_t i = 0; i < choices.size(); ++i) {
    keys[i] ^= Block::FromBytes(ct.data() + 32 * i + (choices[i] ? 16 : 0));
  }
  return std::move(keys);  // the chosen messages now; the moved-from vector is empty
}

}  // namespace consort::ot
