#include "consort/psi/psi_sum.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <span>
#include <string_view>
#include <thread>
#include <unordered_set>

#include "consort/common/parallel.h"
#include "consort/crypto/curve25519.h"
#include "consort/crypto/hash.h"
#include "consort/crypto/random.h"
#include "consort/psi/ecdh_psi.h"
#include "consort/psi/internal/ecdh_psi_wire.h"
#include "consort/psi/internal/psi_sum_wire.h"

namespace consort::psi {
namespace {

using crypto::PaillierCiphertext;
using crypto::X25519Point;
using internal::kBatchHeaderBytes;

constexpr size_t kPointBytes = 32;
constexpr std::string_view kDstPrefix = "CONSORT-V01-PSI-SUM-with-";
constexpr int kMaxThreads = 256;
// B's Paillier noise computed ahead: at most this much held (128Ki values at 2048 bits).
constexpr size_t kNoiseAheadBytes = size_t{64} << 20;
// B's DJN fixed-base table window: 256-bit exponents in 8-bit windows, 31 multiplications mod
// p^2 and q^2 per noise value; tables 2 x 32 x 256 half-size values (4 MiB at 2048 bits).
constexpr int kNoiseWindowBits = 8;
using Key = std::array<uint8_t, 16>;

uint64_t NumBatches(uint64_t n, uint64_t batch) { return (n + batch - 1) / batch; }
uint64_t BatchCount(uint64_t n, uint64_t batch, uint64_t i) {
  return std::min<uint64_t>(batch, n - i * batch);
}

// State and steps both roles share.
class SumParty {
 public:
  SumParty(net::Link& link, const std::vector<std::string>& items, const PsiSumOptions& opts)
      : link_(link), items_(items), opts_(opts) {}

 protected:
  Status CheckOptions() const {
    if (opts_.batch_size < 1 || opts_.batch_size > kPsiSumMaxBatch) {
      return absl::InvalidArgumentError("PSI-sum: batch_size must be in [1, " +
                                        std::to_string(kPsiSumMaxBatch) + "]");
    }
    if (opts_.threads < 1 || opts_.threads > kMaxThreads) {
      return absl::InvalidArgumentError("PSI-sum: threads must be in [1, 256]");
    }
    if (items_.size() > kPsiSumMaxSetSize) {
      return absl::InvalidArgumentError("PSI-sum: more than 2^32 items");
    }
    std::unordered_set<std::string_view> seen(items_.begin(), items_.end());
    if (seen.size() != items_.size()) {
      return absl::InvalidArgumentError("PSI-sum: items must be distinct");
    }
    return OkStatus();
  }

  internal::SumHello MyHello() const {
    internal::SumHello h;
    h.version = kPsiSumVersion;
    h.set_size = items_.size();
    h.batch_size = static_cast<uint32_t>(opts_.batch_size);
    h.b_learns_size = opts_.b_learns_size;
    h.domain_hash = crypto::Sha256(std::string_view(opts_.domain));
    return h;
  }

  Status CheckPeerHello(const internal::SumHello& peer) {
    if (peer.version != kPsiSumVersion) {
      return absl::FailedPreconditionError("PSI-sum hello: protocol version mismatch (mine " +
                                           std::to_string(kPsiSumVersion) + ", peer's " +
                                           std::to_string(peer.version) + ")");
    }
    if (peer.domain_hash != crypto::Sha256(std::string_view(opts_.domain))) {
      return absl::FailedPreconditionError("PSI-sum hello: the peer runs a different domain");
    }
    if (peer.b_learns_size != opts_.b_learns_size) {
      return absl::FailedPreconditionError(
          "PSI-sum hello: the parties disagree on whether B learns the intersection size");
    }
    if (peer.set_size > kPsiSumMaxSetSize) {
      return absl::InvalidArgumentError("PSI-sum hello: peer announced " +
                                        std::to_string(peer.set_size) + " items (limit 2^32)");
    }
    if (peer.batch_size < 1 || peer.batch_size > kPsiSumMaxBatch) {
      return absl::InvalidArgumentError("PSI-sum hello: peer batch size " +
                                        std::to_string(peer.batch_size) + " out of range");
    }
    peer_size_ = peer.set_size;
    peer_batch_ = peer.batch_size;
    return OkStatus();
  }

  Status Setup() {
    std::string dst(kDstPrefix);
    dst += crypto::kCurve25519NuSuite;
    dst += ":";
    dst += opts_.domain;
    for (int w = 0; w < opts_.threads; ++w) {
      CONSORT_ASSIGN_OR_RETURN(auto enc, crypto::Curve25519Encoder::Create(AsBytes(dst)));
      encoders_.push_back(std::move(enc));
    }
    scalar_.emplace(crypto::X25519Scalar::Generate());
    perm_ = crypto::RandomPermutation(items_.size());
    return OkStatus();
  }

  // H(items_[perm_[begin + k]])^s for k < count, on `threads` workers.
  Status MaskOwn(size_t begin, size_t count, std::vector<X25519Point>& out) {
    out.resize(count);
    std::vector<std::string_view> msgs(count);
    for (size_t k = 0; k < count; ++k) msgs[k] = items_[perm_[begin + k]];
    std::atomic<size_t> next_encoder{0};  // one encoder per worker (they keep scratch space)
    return ParallelFor(count, opts_.threads, [&](size_t b, size_t e, int) {
      auto& enc = encoders_[next_encoder++ % encoders_.size()];
      auto m = std::span<const std::string_view>(msgs).subspan(b, e - b);
      auto p = std::span<X25519Point>(out).subspan(b, e - b);
      enc.Encode(m, p);
      Status st = scalar_->Multiply(p, p);
      if (!st.ok()) return absl::InternalError("PSI-sum: masking own items: " +
                                               std::string(st.message()));
      return OkStatus();
    });
  }

  // Raises peer points to our scalar in place; InvalidArgument naming the batch if one is
  // non-canonical or of low order.
  Status MaskPeer(std::span<X25519Point> points, const char* what, uint64_t index) {
    return ParallelFor(points.size(), opts_.threads, [&](size_t b, size_t e, int) {
      auto p = points.subspan(b, e - b);
      Status st = scalar_->Multiply(p, p);
      if (!st.ok()) {
        return absl::InvalidArgumentError(std::string("PSI-sum: ") + what + " batch " +
                                          std::to_string(index) + ": " +
                                          std::string(st.message()));
      }
      return OkStatus();
    });
  }

  // Receives the next batch of `type` and checks index, count and payload size.
  StatusOr<Bytes> RecvBatch(uint8_t type, const char* what, uint64_t index, uint64_t total,
                            uint64_t batch, size_t elem_bytes, internal::BatchView& view) {
    CONSORT_RETURN_IF_ERROR(CheckCancelled());
    CONSORT_ASSIGN_OR_RETURN(Bytes raw, link_.Recv());
    CONSORT_ASSIGN_OR_RETURN(view, internal::DecodeBatch(raw));
    const uint64_t want = BatchCount(total, batch, index);
    if (view.type != type) {
      return absl::InvalidArgumentError(std::string("PSI-sum: expected a ") + what +
                                        " batch, got message type " + std::to_string(view.type));
    }
    if (view.index != index) {
      return absl::InvalidArgumentError(std::string("PSI-sum: ") + what + " batch " +
                                        std::to_string(view.index) + " out of order, expected " +
                                        std::to_string(index));
    }
    if (view.count != want || view.payload.size() != want * elem_bytes) {
      return absl::InvalidArgumentError(
          std::string("PSI-sum: ") + what + " batch " + std::to_string(index) + " has " +
          std::to_string(view.count) + " elements in " + std::to_string(view.payload.size()) +
          " bytes, expected " + std::to_string(want) + " x " + std::to_string(elem_bytes));
    }
    // `view.payload` points into raw's heap buffer, which moving `raw` out keeps alive.
    return raw;
  }

  Status CheckCancelled() const {
    if (opts_.cancelled != nullptr && opts_.cancelled->load()) {
      return absl::CancelledError("PSI-sum cancelled");
    }
    return OkStatus();
  }

  void Progress(double f) const {
    if (opts_.progress) opts_.progress(std::min(1.0, f));
  }

  net::Link& link_;
  const std::vector<std::string>& items_;
  const PsiSumOptions& opts_;
  uint64_t peer_size_ = 0, peer_batch_ = 1;
  std::vector<crypto::Curve25519Encoder> encoders_;
  std::optional<crypto::X25519Scalar> scalar_;
  std::vector<size_t> perm_;
};

Key ToKey(const uint8_t* p, size_t t) {
  Key k{};
  std::memcpy(k.data(), p, t);
  return k;
}

class PartyA : public SumParty {
 public:
  using SumParty::SumParty;

  StatusOr<PsiSumResult> Run() {
    auto r = RunInternal();
    if (!r.ok()) link_.Close();
    return r;
  }

 private:
  StatusOr<PsiSumResult> RunInternal() {
    CONSORT_RETURN_IF_ERROR(CheckOptions());
    CONSORT_RETURN_IF_ERROR(link_.Send(internal::EncodeSumHello(MyHello())));
    CONSORT_ASSIGN_OR_RETURN(Bytes raw, link_.Recv());
    CONSORT_ASSIGN_OR_RETURN(internal::SumHello peer, internal::DecodeSumHello(raw));
    CONSORT_RETURN_IF_ERROR(CheckPeerHello(peer));
    const int min_bits = opts_.allow_small_keys_for_testing ? 512 : crypto::kPaillierMinBits;
    auto pk = crypto::PaillierPublicKey::FromBytes(peer.public_key, min_bits);
    if (!pk.ok()) {
      return absl::InvalidArgumentError("PSI-sum hello: peer's " + std::string(pk.status().message()));
    }
    CONSORT_RETURN_IF_ERROR(Setup());
    const uint64_t n = items_.size(), batch = opts_.batch_size;
    const size_t t = EcdhPsiReturnBytes(n, peer_size_);
    const double total = static_cast<double>(n + peer_size_ + 1);

    // 1. Our masked items, in our secret order.
    std::vector<X25519Point> pts;
    for (uint64_t i = 0; i < NumBatches(n, batch); ++i) {
      CONSORT_RETURN_IF_ERROR(CheckCancelled());
      const size_t count = BatchCount(n, batch, i);
      CONSORT_RETURN_IF_ERROR(MaskOwn(i * batch, count, pts));
      CONSORT_RETURN_IF_ERROR(link_.Send(internal::EncodeBatch(
          internal::kSumMasked, static_cast<uint32_t>(i), static_cast<uint32_t>(count),
          ByteSpan(pts[0].data(), count * kPointBytes))));
      Progress(0.5 * (i * batch + count) / total);
    }
    // 2. H(x)^ab back, shuffled by B: a set of truncated values.
    std::vector<Key> returned;
    returned.reserve(n);
    for (uint64_t i = 0; i < NumBatches(n, batch); ++i) {
      internal::BatchView v;
      CONSORT_ASSIGN_OR_RETURN(Bytes keep, RecvBatch(internal::kSumReturned, "returned", i, n,
                                                      batch, t, v));
      for (size_t k = 0; k < v.count; ++k) returned.push_back(ToKey(&v.payload[k * t], t));
    }
    std::sort(returned.begin(), returned.end());
    // 3. B's (H(y)^b, Enc(v)) pairs: sum the ciphertexts whose H(y)^ab is in `returned`.
    const size_t ct_bytes = pk->ciphertext_bytes();
    const size_t elem = kPointBytes + ct_bytes;
    PaillierCiphertext acc = pk->Zero();
    uint64_t matches = 0;
    for (uint64_t i = 0; i < NumBatches(peer_size_, peer_batch_); ++i) {
      internal::BatchView v;
      CONSORT_ASSIGN_OR_RETURN(Bytes keep, RecvBatch(internal::kSumValues, "values", i,
                                                      peer_size_, peer_batch_, elem, v));
      std::vector<X25519Point> peer_pts(v.count);
      for (size_t k = 0; k < v.count; ++k) {
        std::memcpy(peer_pts[k].data(), &v.payload[k * elem], kPointBytes);
      }
      CONSORT_RETURN_IF_ERROR(MaskPeer(peer_pts, "values", i));
      for (size_t k = 0; k < v.count; ++k) {
        // Every ciphertext is validated, matched or not.
        auto ct = pk->ParseCiphertext(v.payload.subspan(k * elem + kPointBytes, ct_bytes));
        if (!ct.ok()) {
          return absl::InvalidArgumentError("PSI-sum: values batch " + std::to_string(i) +
                                            " element " + std::to_string(k) + ": " +
                                            std::string(ct.status().message()));
        }
        if (std::binary_search(returned.begin(), returned.end(), ToKey(peer_pts[k].data(), t))) {
          pk->AddInPlace(acc, *ct);
          ++matches;
        }
      }
      Progress(0.5 + 0.5 * (n + i * peer_batch_ + v.count) / total);
    }
    // 4. Enc(S + r), re-randomized so that B cannot tell which of its ciphertexts went in.
    // Full-domain noise r^n (r uniform in Z_n^*), not DJN: B owns the factorization and knows
    // the randomness of every ciphertext it sent, so only a uniform n-th residue makes C's
    // randomness independent of J against B. DJN noise would not: h = -x^2 confines h^a to a
    // subgroup (its Legendre symbols mod p and q depend only on a's parity), which B can test,
    // and the DJN short-exponent assumption is about parties who do not know the factorization.
    // It is one exponentiation per run, so nothing is lost.
    crypto::PaillierPlaintext mask = pk->RandomPlaintext();
    PaillierCiphertext masked = pk->Rerandomize(pk->AddPlaintext(acc, mask));
    Bytes msg{internal::kSumSum};
    Bytes ct = pk->SerializeCiphertext(masked);
    msg.insert(msg.end(), ct.begin(), ct.end());
    if (opts_.b_learns_size) AppendU64(msg, matches);
    CONSORT_RETURN_IF_ERROR(link_.Send(msg));
    // 5. S + r mod n back.
    CONSORT_ASSIGN_OR_RETURN(Bytes dec, link_.Recv());
    if (dec.size() != 1 + pk->plaintext_bytes() || dec[0] != internal::kSumDecrypted) {
      return absl::InvalidArgumentError("PSI-sum: malformed decryption message (" +
                                        std::to_string(dec.size()) + " bytes, expected " +
                                        std::to_string(1 + pk->plaintext_bytes()) + ")");
    }
    auto sr = pk->PlaintextFromBytes(ByteSpan(dec).subspan(1));
    if (!sr.ok()) return absl::InvalidArgumentError("PSI-sum: decryption message: " +
                                                    std::string(sr.status().message()));
    crypto::PaillierPlaintext sum = pk->SubPlaintexts(*sr, mask);
    PsiSumResult r;
    r.peer_size = peer_size_;
    r.intersection_size = matches;
    r.sum_decimal = pk->DecodeDecimal(sum);
    auto as_int = pk->DecodeInt64(sum);
    if (as_int.ok()) r.sum = *as_int;
    Progress(1.0);
    return r;
  }
};

class PartyB : public SumParty {
 public:
  PartyB(net::Link& link, const std::vector<std::string>& items,
         const std::vector<int64_t>& values, const PsiSumOptions& opts)
      : SumParty(link, items, opts), values_(values) {}

  StatusOr<PsiSumResult> Run() {
    auto r = RunInternal();
    if (!r.ok()) link_.Close();
    return r;
  }

 private:

  StatusOr<PsiSumResult> RunInternal() {
    CONSORT_RETURN_IF_ERROR(CheckOptions());
    if (values_.size() != items_.size()) {
      return absl::InvalidArgumentError("PSI-sum: " + std::to_string(items_.size()) +
                                        " items but " + std::to_string(values_.size()) +
                                        " values");
    }
    auto sk = opts_.allow_small_keys_for_testing
                  ? crypto::PaillierSecretKey::GenerateForTesting(opts_.paillier_bits)
                  : crypto::PaillierSecretKey::Generate(opts_.paillier_bits);
    if (!sk.ok()) return sk.status();
    const crypto::PaillierPublicKey& pk = sk->public_key();
    // Noise for our encryptions: DJN fixed-base short-exponent noise h_s^a (crypto/paillier.h,
    // PaillierFastNoise; mod p^2 and q^2 since we own the key), computed by `threads` workers
    // from now on, i.e. also while we wait for A; at most kNoiseAheadBytes held ready. During
    // encryption the encrypting threads generate inline whatever is not ready yet. `fast` is
    // immutable (Generate is thread-safe) and never leaves this party. Declaration order:
    // `pool` (workers joined) is destroyed before `fast`, and both before `sk`.
    auto fast = crypto::PaillierFastNoise::Create(*sk, crypto::kPaillierDjnExponentBits,
                                                  kNoiseWindowBits);
    if (!fast.ok()) {
      return absl::InternalError("PSI-sum: DJN noise setup: " +
                                 std::string(fast.status().message()));
    }
    const size_t n = items_.size();
    crypto::PaillierNoiseProducer pool(*fast, n, opts_.threads,
                                       kNoiseAheadBytes / pk.ciphertext_bytes());

    CONSORT_ASSIGN_OR_RETURN(Bytes raw, link_.Recv());
    CONSORT_ASSIGN_OR_RETURN(internal::SumHello peer, internal::DecodeSumHello(raw));
    if (!peer.public_key.empty()) {
      return absl::InvalidArgumentError("PSI-sum hello: party A must not send a public key");
    }
    CONSORT_RETURN_IF_ERROR(CheckPeerHello(peer));
    internal::SumHello mine = MyHello();
    mine.public_key = pk.ToBytes();
    CONSORT_RETURN_IF_ERROR(link_.Send(internal::EncodeSumHello(mine)));
    CONSORT_RETURN_IF_ERROR(Setup());
    const size_t t = EcdhPsiReturnBytes(peer_size_, n);
    const double total = static_cast<double>(peer_size_ + n + 1);

    // 1. A's masked items -> H(x)^ab, truncated, kept for one global shuffle.
    Bytes pending(peer_size_ * t);
    uint64_t done = 0;
    for (uint64_t i = 0; i < NumBatches(peer_size_, peer_batch_); ++i) {
      internal::BatchView v;
      CONSORT_ASSIGN_OR_RETURN(Bytes keep, RecvBatch(internal::kSumMasked, "masked", i,
                                                      peer_size_, peer_batch_, kPointBytes, v));
      std::vector<X25519Point> pts(v.count);
      if (v.count > 0) std::memcpy(pts.data(), v.payload.data(), v.count * kPointBytes);
      CONSORT_RETURN_IF_ERROR(MaskPeer(pts, "masked", i));
      for (size_t k = 0; k < v.count; ++k) std::memcpy(&pending[(done + k) * t], pts[k].data(), t);
      done += v.count;
      Progress(0.3 * done / total);
    }
    // 2. Returned in one global random order, in A's batch layout.
    const auto shuffle = crypto::RandomPermutation(peer_size_);
    for (uint64_t i = 0; i < NumBatches(peer_size_, peer_batch_); ++i) {
      CONSORT_RETURN_IF_ERROR(CheckCancelled());
      const size_t count = BatchCount(peer_size_, peer_batch_, i);
      Bytes payload(count * t);
      for (size_t k = 0; k < count; ++k) {
        std::memcpy(&payload[k * t], &pending[shuffle[i * peer_batch_ + k] * t], t);
      }
      CONSORT_RETURN_IF_ERROR(link_.Send(internal::EncodeBatch(
          internal::kSumReturned, static_cast<uint32_t>(i), static_cast<uint32_t>(count),
          payload)));
    }
    // 3. Our (H(y)^b, Enc(v_y)) pairs in our secret order.
    const size_t ct_bytes = pk.ciphertext_bytes(), elem = kPointBytes + ct_bytes;
    const uint64_t batch = opts_.batch_size;
    std::vector<X25519Point> pts;
    for (uint64_t i = 0; i < NumBatches(n, batch); ++i) {
      CONSORT_RETURN_IF_ERROR(CheckCancelled());
      const size_t count = BatchCount(n, batch, i);
      CONSORT_RETURN_IF_ERROR(MaskOwn(i * batch, count, pts));
      Bytes payload(count * elem);
      CONSORT_RETURN_IF_ERROR(ParallelFor(count, opts_.threads, [&](size_t b, size_t e, int) {
        for (size_t k = b; k < e; ++k) {
          std::memcpy(&payload[k * elem], pts[k].data(), kPointBytes);
          PaillierCiphertext c =
              pk.Encrypt(pk.Encode(values_[perm_[i * batch + k]]), pool.Take());
          pk.SerializeCiphertextTo(c, &payload[k * elem + kPointBytes]);
        }
        return OkStatus();
      }));
      CONSORT_RETURN_IF_ERROR(link_.Send(internal::EncodeBatch(
          internal::kSumValues, static_cast<uint32_t>(i), static_cast<uint32_t>(count),
          payload)));
      Progress((0.3 * peer_size_ + i * batch + count) / total);
    }
    pool.Stop();
    // 4. Enc(S + r) -> S + r mod n.
    CONSORT_ASSIGN_OR_RETURN(Bytes sum_msg, link_.Recv());
    const size_t want = 1 + ct_bytes + (opts_.b_learns_size ? 8 : 0);
    if (sum_msg.size() != want || sum_msg[0] != internal::kSumSum) {
      return absl::InvalidArgumentError("PSI-sum: malformed sum message (" +
                                        std::to_string(sum_msg.size()) + " bytes, expected " +
                                        std::to_string(want) + ")");
    }
    auto c = pk.ParseCiphertext(ByteSpan(sum_msg).subspan(1, ct_bytes));
    if (!c.ok()) return absl::InvalidArgumentError("PSI-sum: sum message: " +
                                                   std::string(c.status().message()));
    PsiSumResult r;
    r.peer_size = peer_size_;
    if (opts_.b_learns_size) {
      const uint64_t size = ReadU64(&sum_msg[1 + ct_bytes]);
      if (size > std::min<uint64_t>(peer_size_, n)) {
        return absl::InvalidArgumentError("PSI-sum: peer reported an intersection of " +
                                          std::to_string(size) + ", larger than either set");
      }
      r.intersection_size = size;
    }
    Bytes reply{internal::kSumDecrypted};
    Bytes plain = pk.PlaintextToBytes(sk->Decrypt(*c));
    reply.insert(reply.end(), plain.begin(), plain.end());
    CONSORT_RETURN_IF_ERROR(link_.Send(reply));
    Progress(1.0);
    return r;
  }

  const std::vector<int64_t>& values_;
};

}  // namespace

StatusOr<PsiSumResult> RunPsiSumA(net::Link& link, const std::vector<std::string>& items,
                                  const PsiSumOptions& opts) {
  crypto::InitCrypto();
  PartyA party(link, items, opts);
  return party.Run();
}

StatusOr<PsiSumResult> RunPsiSumB(net::Link& link, const std::vector<std::string>& items,
                                  const std::vector<int64_t>& values, const PsiSumOptions& opts) {
  crypto::InitCrypto();
  PartyB party(link, items, values, opts);
  return party.Run();
}

}  // namespace consort::psi
