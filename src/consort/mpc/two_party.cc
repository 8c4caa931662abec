#include "consort/mpc/two_party.h"

#include <sodium.h>

#include <string>

#include "consort/mpc/internal/wire.h"

namespace consort::mpc {

StatusOr<std::unique_ptr<TwoPartyBackend>> TwoPartyBackend::Create(
    int party, net::Link& peer, std::unique_ptr<TripleSource> triples, FixedPoint fxp) {
  CONSORT_CHECK((party == 0 || party == 1) && triples != nullptr && triples->party() == party);
  crypto::SecretBytes seed;
  if (party == 0) {
    seed = RandomSeed();
    CONSORT_RETURN_IF_ERROR(peer.Send(seed.span()));
  } else {
    CONSORT_ASSIGN_OR_RETURN(Bytes m, peer.Recv());
    seed = crypto::SecretBytes(m.data(), m.size());
    sodium_memzero(m.data(), m.size());
    if (seed.size() != kSeedBytes) {
      return absl::InvalidArgumentError("mpc setup: peer " + peer.peer() + " sent a " +
                                        std::to_string(seed.size()) + "-byte seed, expected " +
                                        std::to_string(kSeedBytes));
    }
  }
  return std::unique_ptr<TwoPartyBackend>(
      new TwoPartyBackend(party, peer, std::move(triples), fxp, std::move(seed)));
}

TwoPartyBackend::TwoPartyBackend(int party, net::Link& peer,
                                 std::unique_ptr<TripleSource> triples, FixedPoint fxp,
                                 crypto::SecretBytes pair_seed)
    : Backend(fxp), party_(party), peer_(peer), triples_(std::move(triples)),
      pair_prg_(pair_seed) {
  CountRounds(1);
}

Status TwoPartyBackend::Close() { return triples_->Close(); }

StatusOr<Shared> TwoPartyBackend::Input(int owner, Shape shape,
                                        std::span<const uint64_t> values) {
  CONSORT_RETURN_IF_ERROR(CheckInput(owner, shape, values));
  Shared out{shape, pair_prg_.Next(shape.numel()), {}};
  if (owner == party_) RingSub(values, out.s0, out.s0);  // x - r; the peer holds r
  return out;
}

StatusOr<Shared> TwoPartyBackend::AddPublic(const Shared& a, const RingTensor& c) {
  if (c.shape != a.shape || c.data.size() != a.shape.numel()) {
    return absl::InvalidArgumentError("mpc add_public: constant of shape " + c.shape.ToString() +
                                      " for a value of shape " + a.shape.ToString());
  }
  Shared out = a;
  if (party_ == 0) RingAdd(a.s0, c.data, out.s0);
  return out;
}

StatusOr<Shared> TwoPartyBackend::Mul(const Shared& x, const Shared& y) {
  CONSORT_RETURN_IF_ERROR(CheckSameShape(x, y, "mul"));
  const size_t n = x.shape.numel();
  if (n == 0) return Shared{x.shape, {}, {}};
  CONSORT_ASSIGN_OR_RETURN(TripleShares t, triples_->Begin(TripleShape::Elementwise(n)));
  // [e_i | f_i] in one buffer so that one exchange carries both.
  std::vector<uint64_t> mine(2 * n), theirs(2 * n);
  for (size_t i = 0; i < n; ++i) {
    mine[i] = x.s0[i] - t.a[i];
    mine[n + i] = y.s0[i] - t.b[i];
  }
  CONSORT_RETURN_IF_ERROR(internal::ExchangeWords(peer_, mine, theirs));
  CONSORT_RETURN_IF_ERROR(triples_->Finish(t));
  CountRounds(1);
  Shared z{x.shape, std::vector<uint64_t>(n), {}};
  const bool p0 = party_ == 0;
  for (size_t i = 0; i < n; ++i) {
    const uint64_t e = mine[i] + theirs[i];
    const uint64_t f = mine[n + i] + theirs[n + i];
    z.s0[i] = t.c[i] + e * t.b[i] + f * t.a[i] + (p0 ? e * f : 0);
  }
  return z;
}

StatusOr<Shared> TwoPartyBackend::MatMul(const Shared& x, const Shared& y) {
  CONSORT_RETURN_IF_ERROR(CheckMatMulShapes(x, y));
  const size_t m = x.shape.rows, k = x.shape.cols, n = y.shape.cols;
  CONSORT_ASSIGN_OR_RETURN(TripleShares t, triples_->Begin(TripleShape::MatMul(m, k, n)));
  const size_t mk = m * k, kn = k * n;
  std::vector<uint64_t> mine(mk + kn), theirs(mk + kn);
  RingSub(x.s0, t.a, std::span(mine).first(mk));
  RingSub(y.s0, t.b, std::span(mine).subspan(mk));
  CONSORT_RETURN_IF_ERROR(internal::ExchangeWords(peer_, mine, theirs));
  CountRounds(1);
  RingAdd(mine, theirs, mine);  // mine = [E | F], opened
  const uint64_t* e = mine.data();
  const uint64_t* f = mine.data() + mk;
  Shared z{Shape{m, n}, std::vector<uint64_t>(m * n, 0), {}};
  // z_i = c_i + E b_i + a_i F (+ E F at party 0) = c_i + E (b_i [+ F]) + a_i F.
  if (party_ == 0) RingAdd(t.b, std::span<const uint64_t>(f, kn), t.b);
  RingMatMulAdd(e, t.b.data(), z.s0.data(), m, k, n);
  RingMatMulAdd(t.a.data(), f, z.s0.data(), m, k, n);
  CONSORT_RETURN_IF_ERROR(triples_->Finish(t));
  RingAdd(z.s0, t.c, z.s0);
  return z;
}

StatusOr<Shared> TwoPartyBackend::Trunc(const Shared& a, int bits) {
  if (bits < 0 || bits >= kRingBits) {
    return absl::InvalidArgumentError("mpc trunc: bad shift " + std::to_string(bits));
  }
  Shared out = a;
  if (party_ == 0) {
    for (auto& v : out.s0) v >>= bits;
  } else {
    for (auto& v : out.s0) v = 0 - ((0 - v) >> bits);
  }
  return out;
}

StatusOr<RingTensor> TwoPartyBackend::Reveal(const Shared& a) {
  RingTensor out{a.shape, std::vector<uint64_t>(a.s0.size())};
  if (a.s0.empty()) return out;
  CONSORT_RETURN_IF_ERROR(internal::ExchangeWords(peer_, a.s0, out.data));
  CountRounds(1);
  RingAdd(out.data, a.s0, out.data);
  return out;
}

StatusOr<RingTensor> TwoPartyBackend::RevealTo(const Shared& a, int receiver) {
  if (receiver != 0 && receiver != 1) {
    return absl::InvalidArgumentError("mpc reveal_to: no party " + std::to_string(receiver));
  }
  RingTensor out{a.shape, {}};
  if (a.s0.empty()) return out;
  CountRounds(1);
  if (receiver != party_) {
    CONSORT_RETURN_IF_ERROR(internal::SendWords(peer_, a.s0));
    return out;
  }
  out.data.resize(a.s0.size());
  CONSORT_RETURN_IF_ERROR(internal::RecvWords(peer_, out.data));
  RingAdd(out.data, a.s0, out.data);
  return out;
}

Cost TwoPartyBackend::Costs(Op op, Shape a, Shape b) {
  const uint64_t n = a.numel();
  if (n == 0) return Cost{};
  switch (op) {
    case Op::kMul:
      return Cost{1, 2 * 16 * n, kTripleRequestBytes + 8 * n};
    case Op::kMatMul:
      return Cost{1, 2 * 8 * (a.numel() + b.numel()),
                  kTripleRequestBytes + 8 * uint64_t{a.rows} * b.cols};
    case Op::kReveal:
      return Cost{1, 2 * 8 * n, 0};
    case Op::kRevealTo:
      return Cost{1, 8 * n, 0};
    default:
      return Cost{};  // input, add, sub, neg, add/mul public, trunc: local
  }
}

}  // namespace consort::mpc
