#include "consort/crypto/random.h"
#include "consort/mpc/dealer.h"


#include <algorithm>
#include <string>

#include "consort/common/bytes.h"
#include "consort/mpc/internal/wire.h"
#include "consort/mpc/ring.h"

namespace consort::mpc {
namespace {

constexpr uint8_t kMsgSeed = 1;
constexpr uint8_t kMsgRequest = 2;
constexpr uint8_t kMsgDone = 3;
constexpr size_t kSeedMessageBytes = 2 + crypto::kPrgSeedBytes;
constexpr size_t kRequestMessageBytes = 2 + 3 * 8;

Status Bad(const std::string& what) { return absl::InvalidArgumentError("mpc dealer: " + what); }

}  // namespace

Status ValidateTripleShape(const TripleShape& s) {
  auto check_words = [](uint64_t x, uint64_t y, const char* name) -> Status {
    if (x == 0 || y == 0) return Bad(std::string(name) + " has a zero dimension");
    if (x > kMaxMatrixWords / y) {
      return Bad(std::string(name) + " exceeds " + std::to_string(kMaxMatrixWords) + " words");
    }
    return OkStatus();
  };
  switch (s.kind) {
    case TripleKind::kElementwise:
    case TripleKind::kBinary:
    case TripleKind::kMaskBits:
    case TripleKind::kDaBit:
      if (s.k != 0 || s.n != 0) return Bad("elementwise request with k or n set");
      if (s.m == 0 || s.m > kMaxElementwiseTriples) {
        return Bad("elementwise batch of " + std::to_string(s.m) + " triples (1 to " +
                   std::to_string(kMaxElementwiseTriples) + ")");
      }
      return OkStatus();
    case TripleKind::kTruncPair:
      if (s.n != 0) return Bad("truncation pair request with n set");
      if (s.k < 1 || s.k > 62) return Bad("truncation by " + std::to_string(s.k) + " bits (1 to 62)");
      if (s.m == 0 || s.m > kMaxElementwiseTriples) {
        return Bad("batch of " + std::to_string(s.m) + " truncation pairs (1 to " +
                   std::to_string(kMaxElementwiseTriples) + ")");
      }
      return OkStatus();
    case TripleKind::kMatMul: {
      CONSORT_RETURN_IF_ERROR(check_words(s.m, s.k, "matmul A"));
      CONSORT_RETURN_IF_ERROR(check_words(s.k, s.n, "matmul B"));
      CONSORT_RETURN_IF_ERROR(check_words(s.m, s.n, "matmul C"));
      if (s.m * s.k > kMaxMatMulWork / s.n) return Bad("matmul exceeds the work limit");
      return OkStatus();
    }
  }
  return Bad("unknown triple kind " + std::to_string(static_cast<int>(s.kind)));
}

Dealer::Dealer() : seed0_(crypto::RandomSeed()), seed1_(crypto::RandomSeed()), prg0_(seed0_), prg1_(seed1_) {}

Status Dealer::Start(const TripleShape& shape) {
  CONSORT_RETURN_IF_ERROR(ValidateTripleShape(shape));
  shape_ = shape;
  return OkStatus();
}

void Dealer::NextCorrection(std::span<uint64_t> c1) {
  if (shape_.kind == TripleKind::kTruncPair) {
    CONSORT_CHECK(c1.size() % 2 == 0 && c1.size() <= 2 * kTripleBlock);
    const size_t len = c1.size() / 2;
    const int d = static_cast<int>(shape_.k);
    // The parties' order: r0, h0, m0 from prg0; r1 from prg1.
    a0_.resize(len);
    a1_.resize(len);
    std::span<uint64_t> h(c1.data(), len), msb(c1.data() + len, len);
    prg0_.Fill(a0_);
    prg0_.Fill(h);
    prg0_.Fill(msb);
    prg1_.Fill(a1_);
    for (size_t i = 0; i < len; ++i) {
      const uint64_t r = a0_[i] + a1_[i];
      h[i] = (r >> d) - h[i];
      msb[i] = (r >> 63) - msb[i];
    }
    return;
  }
  if (shape_.kind == TripleKind::kBinary || shape_.kind == TripleKind::kMaskBits ||
      shape_.kind == TripleKind::kDaBit) {
    CONSORT_CHECK(c1.size() <= kTripleBlock);
    const size_t len = c1.size();
    // The parties' order (dealer.h): party 0's words, then party 1's.
    a0_.resize(len);
    a1_.resize(len);
    if (shape_.kind == TripleKind::kBinary) {
      b0_.resize(len);
      b1_.resize(len);
      prg0_.Fill(a0_);
      prg0_.Fill(b0_);
      prg0_.Fill(c1);  // c0
      prg1_.Fill(a1_);
      prg1_.Fill(b1_);
      for (size_t i = 0; i < len; ++i) c1[i] ^= (a0_[i] ^ a1_[i]) & (b0_[i] ^ b1_[i]);
    } else {
      prg0_.Fill(a0_);  // r0 / u0
      prg0_.Fill(c1);   // q0 / s0
      prg1_.Fill(a1_);  // r1 / u1
      if (shape_.kind == TripleKind::kMaskBits) {
        for (size_t i = 0; i < len; ++i) c1[i] ^= a0_[i] + a1_[i];
      } else {
        for (size_t i = 0; i < len; ++i) c1[i] = ((a0_[i] ^ a1_[i]) & 1) - c1[i];
      }
    }
    return;
  }
  const bool ew = shape_.kind == TripleKind::kElementwise;
  const size_t na = ew ? c1.size() : shape_.a_words();
  const size_t nb = ew ? c1.size() : shape_.b_words();
  CONSORT_CHECK(ew ? c1.size() <= kTripleBlock : c1.size() == shape_.c_words());
  // The same order as the parties: a, b, c from prg0; a, b from prg1.
  a0_.resize(na);
  b0_.resize(nb);
  c0_.resize(c1.size());
  a1_.resize(na);
  b1_.resize(nb);
  prg0_.Fill(a0_);
  prg0_.Fill(b0_);
  prg0_.Fill(c0_);
  prg1_.Fill(a1_);
  prg1_.Fill(b1_);
  RingAdd(a0_, a1_, a0_);
  RingAdd(b0_, b1_, b0_);
  if (ew) {
    RingMul(a0_, b0_, c1);
  } else {
    std::fill(c1.begin(), c1.end(), 0);
    RingMatMulAdd(a0_.data(), b0_.data(), c1.data(), shape_.m, shape_.k, shape_.n);
  }
  RingSub(c1, c0_, c1);
  if (!ew) {  // release the big matrices; elementwise blocks keep their buffers for reuse
    for (auto* v : {&a0_, &b0_, &c0_, &a1_, &b1_}) std::vector<uint64_t>().swap(*v);
  }
}

Status RunDealer(Dealer& dealer, net::Link& to_party0, net::Link& to_party1) {
  for (int p = 0; p < 2; ++p) {
    Bytes m;
    m.reserve(kSeedMessageBytes);
    m.push_back(kMsgSeed);
    m.push_back(static_cast<uint8_t>(p));
    m.insert(m.end(), dealer.seed(p).data(), dealer.seed(p).data() + crypto::kPrgSeedBytes);
    Status st = (p == 0 ? to_party0 : to_party1).Send(m);
    crypto::SecureWipe(m.data(), m.size());
    CONSORT_RETURN_IF_ERROR(st);
  }
  std::vector<uint64_t> c1;
  for (;;) {
    CONSORT_ASSIGN_OR_RETURN(Bytes m, to_party1.Recv());
    if (m.size() == 1 && m[0] == kMsgDone) return OkStatus();
    if (m.empty() || m[0] != kMsgRequest) {
      return Bad("unexpected message type " + (m.empty() ? std::string("(empty)")
                                                         : std::to_string(m[0])));
    }
    if (m.size() != kRequestMessageBytes) {
      return Bad("request of " + std::to_string(m.size()) + " bytes, expected " +
                 std::to_string(kRequestMessageBytes));
    }
    TripleShape shape{static_cast<TripleKind>(m[1]), ReadU64(&m[2]), ReadU64(&m[10]),
                      ReadU64(&m[18])};
    CONSORT_RETURN_IF_ERROR(dealer.Start(shape));
    if (shape.streamed()) {
      const uint64_t per = shape.kind == TripleKind::kTruncPair ? 2 : 1;  // words per item
      c1.resize(per * std::min(shape.m, kTripleBlock));
      for (uint64_t off = 0; off < shape.m; off += kTripleBlock) {
        std::span<uint64_t> block(c1.data(), per * std::min(kTripleBlock, shape.m - off));
        dealer.NextCorrection(block);
        CONSORT_RETURN_IF_ERROR(internal::SendWords(to_party1, block));
      }
    } else {
      std::vector<uint64_t> c(shape.c_words());
      dealer.NextCorrection(c);
      CONSORT_RETURN_IF_ERROR(internal::SendWords(to_party1, c));
    }
  }
}

namespace {

class SeededTripleSource : public TripleSource {
 public:
  SeededTripleSource(int party, crypto::SecretBytes seed, net::Link* link, Dealer* dealer)
      : party_(party), prg_(seed), link_(link), dealer_(dealer) {}

  int party() const override { return party_; }

  Status Start(const TripleShape& shape) override {
    CONSORT_RETURN_IF_ERROR(ValidateTripleShape(shape));
    if (closed_) return absl::FailedPreconditionError("mpc: triple source already closed");
    if (party_ == 1 && link_ != nullptr) {
      // Ask first, so the dealer computes c1 while this party expands a1, b1 and exchanges
      // its masked inputs with party 0.
      Bytes req;
      req.push_back(kMsgRequest);
      req.push_back(static_cast<uint8_t>(shape.kind));
      AppendU64(req, shape.m);
      AppendU64(req, shape.k);
      AppendU64(req, shape.n);
      CONSORT_RETURN_IF_ERROR(link_->Send(req));
    }
    if (party_ == 1 && link_ == nullptr) CONSORT_RETURN_IF_ERROR(dealer_->Start(shape));
    return OkStatus();
  }

  void Expand(std::span<uint64_t> a, std::span<uint64_t> b, std::span<uint64_t> c) override {
    CONSORT_CHECK(party_ == 0 || c.empty());
    prg_.Fill(a);
    prg_.Fill(b);
    prg_.Fill(c);
  }

  Status Correct(std::span<uint64_t> c) override {
    if (party_ == 0) return OkStatus();
    if (link_ == nullptr) {
      dealer_->NextCorrection(c);
      return OkStatus();
    }
    return internal::RecvWords(*link_, c);
  }

  Status Close() override {
    if (closed_) return OkStatus();
    closed_ = true;
    if (party_ == 1 && link_ != nullptr) return link_->Send(Bytes{kMsgDone});
    return OkStatus();
  }

 private:
  int party_;
  crypto::Prg prg_;
  net::Link* link_;
  Dealer* dealer_;
  bool closed_ = false;
};

}  // namespace

StatusOr<std::unique_ptr<TripleSource>> ConnectToDealer(int party, net::Link& dealer) {
  CONSORT_CHECK(party == 0 || party == 1);
  CONSORT_ASSIGN_OR_RETURN(Bytes m, dealer.Recv());
  crypto::SecretBytes msg(m.data(), m.size());
  crypto::SecureWipe(m.data(), m.size());
  if (msg.size() != kSeedMessageBytes || msg.data()[0] != kMsgSeed) {
    return Bad("malformed seed message (" + std::to_string(msg.size()) + " bytes)");
  }
  if (msg.data()[1] != party) {
    return Bad("seed message addressed to party " + std::to_string(msg.data()[1]) +
               ", this is party " + std::to_string(party));
  }
  crypto::SecretBytes seed(msg.data() + 2, crypto::kPrgSeedBytes);
  return std::unique_ptr<TripleSource>(
      new SeededTripleSource(party, std::move(seed), &dealer, nullptr));
}

std::unique_ptr<TripleSource> InProcessTripleSource(int party, Dealer& dealer) {
  CONSORT_CHECK(party == 0 || party == 1);
  return std::make_unique<SeededTripleSource>(party, crypto::CopySeed(dealer.seed(party)), nullptr,
                                              &dealer);
}

}  // namespace consort::mpc
