#include "consort/mpc/three_party.h"

#include <sodium.h>

#include <algorithm>
#include <string>
#include <thread>

#include "consort/mpc/internal/wire.h"

namespace consort::mpc {

namespace {
constexpr uint64_t kOffset = uint64_t{1} << 62;  // x' = x + 2^62 lies in [0, 2^63)
constexpr uint64_t kLow = ~uint64_t{0} >> 1;     // the 63 low bits
constexpr uint64_t kTop = ~kLow;

StatusOr<crypto::SecretBytes> SeedFrom(Bytes m, const std::string& peer) {
  crypto::SecretBytes seed(m.data(), m.size());
  sodium_memzero(m.data(), m.size());
  if (seed.size() != crypto::kPrgSeedBytes) {
    return absl::InvalidArgumentError("mpc 3pc setup: peer " + peer + " sent a " +
                                      std::to_string(seed.size()) + "-byte seed, expected " +
                                      std::to_string(crypto::kPrgSeedBytes));
  }
  return seed;
}
}  // namespace

StatusOr<std::unique_ptr<ThreePartyBackend>> ThreePartyBackend::Create(int party,
                                                                       net::Link& next,
                                                                       net::Link& prev,
                                                                       FixedPoint fxp) {
  CONSORT_CHECK(party >= 0 && party <= 2 && &next != &prev);
  crypto::SecretBytes own = crypto::RandomSeed();
  // 32 bytes: the send never blocks on a link's buffer, so send first, then receive.
  CONSORT_RETURN_IF_ERROR(prev.Send(own.span()));
  CONSORT_ASSIGN_OR_RETURN(Bytes m, next.Recv());
  CONSORT_ASSIGN_OR_RETURN(crypto::SecretBytes theirs, SeedFrom(std::move(m), next.peer()));
  return std::unique_ptr<ThreePartyBackend>(
      new ThreePartyBackend(party, next, prev, fxp, std::move(own), std::move(theirs)));
}

ThreePartyBackend::ThreePartyBackend(int party, net::Link& next, net::Link& prev,
                                     FixedPoint fxp, crypto::SecretBytes own_seed,
                                     crypto::SecretBytes next_seed)
    : Backend(fxp), party_(party), next_(next), prev_(prev), own_prg_(own_seed),
      next_prg_(next_seed) {
  CountRounds(1);
}

Status ThreePartyBackend::Round(std::span<const uint64_t> to_next,
                                std::span<const uint64_t> to_prev,
                                std::span<uint64_t> from_next, std::span<uint64_t> from_prev) {
  // Small messages fit any link's buffer and are sent inline; large ones from one thread per
  // link, so that no cycle of parties blocked on full buffers can form (a Link allows one
  // sender and one receiver at a time).
  constexpr size_t kInlineWords = 4096;
  Status sent[2];
  std::thread senders[2];
  net::Link* links[2] = {&next_, &prev_};
  std::span<const uint64_t> out[2] = {to_next, to_prev};
  for (int k = 0; k < 2; ++k) {
    if (out[k].empty()) continue;
    if (out[k].size() <= kInlineWords) {
      sent[k] = internal::SendWords(*links[k], out[k]);
    } else {
      senders[k] = std::thread([&, k] { sent[k] = internal::SendWords(*links[k], out[k]); });
    }
  }
  Status received = internal::RecvWords(next_, from_next);
  if (received.ok()) received = internal::RecvWords(prev_, from_prev);
  if (!received.ok()) {
    // Out of step with the peers: stop our senders instead of letting them block.
    next_.Close();
    prev_.Close();
  }
  for (auto& t : senders) {
    if (t.joinable()) t.join();
  }
  CONSORT_RETURN_IF_ERROR(received);
  CONSORT_RETURN_IF_ERROR(sent[0]);
  return sent[1];
}

void ThreePartyBackend::AddZeroShare(std::span<uint64_t> z, bool binary) {
  constexpr size_t kChunk = 8192;
  uint64_t a[kChunk], b[kChunk];
  for (size_t off = 0; off < z.size(); off += kChunk) {
    const size_t len = std::min(kChunk, z.size() - off);
    own_prg_.Fill({a, len});
    next_prg_.Fill({b, len});
    uint64_t* p = z.data() + off;
    if (binary) {
      for (size_t i = 0; i < len; ++i) p[i] ^= a[i] ^ b[i];
    } else {
      for (size_t i = 0; i < len; ++i) p[i] += a[i] - b[i];
    }
  }
}

StatusOr<Shared> ThreePartyBackend::Reshare(Shape shape, std::vector<uint64_t> z) {
  Shared out{shape, std::move(z), std::vector<uint64_t>(shape.numel())};
  CONSORT_RETURN_IF_ERROR(Round({}, out.s0, out.s1, {}));
  CountRounds(1);
  return out;
}

Status ThreePartyBackend::CheckShares(const Shared& a, const char* op) const {
  const size_t n = a.shape.numel();
  if (a.s0.size() != n || a.s1.size() != n) {
    return absl::InvalidArgumentError(std::string("mpc ") + op +
                                      ": not a 3-party replicated sharing of shape " +
                                      a.shape.ToString());
  }
  return OkStatus();
}

StatusOr<Shared> ThreePartyBackend::Input(int owner, Shape shape,
                                          std::span<const uint64_t> values) {
  CONSORT_RETURN_IF_ERROR(CheckInput(owner, shape, values));
  const size_t n = shape.numel();
  Shared out{shape, std::vector<uint64_t>(n), std::vector<uint64_t>(n)};
  if (n == 0) return out;
  if (party_ == owner) {
    // x_o = F(k_o) (with party o-1), x_{o+1} = F(k_{o+1}) (with o+1), x_{o+2} sent to both.
    own_prg_.Fill(out.s0);
    next_prg_.Fill(out.s1);
    std::vector<uint64_t> rest(n);
    for (size_t i = 0; i < n; ++i) rest[i] = values[i] - out.s0[i] - out.s1[i];
    CONSORT_RETURN_IF_ERROR(Round(rest, rest, {}, {}));
  } else if (party_ == (owner + 1) % 3) {
    own_prg_.Fill(out.s0);  // x_{o+1}
    CONSORT_RETURN_IF_ERROR(Round({}, {}, {}, out.s1));
  } else {
    next_prg_.Fill(out.s1);  // x_o
    CONSORT_RETURN_IF_ERROR(Round({}, {}, out.s0, {}));
  }
  CountRounds(1);
  return out;
}

StatusOr<Shared> ThreePartyBackend::AddPublic(const Shared& a, const RingTensor& c) {
  CONSORT_RETURN_IF_ERROR(CheckShares(a, "add_public"));
  if (c.shape != a.shape || c.data.size() != a.shape.numel()) {
    return absl::InvalidArgumentError("mpc add_public: constant of shape " + c.shape.ToString() +
                                      " for a value of shape " + a.shape.ToString());
  }
  Shared out = a;
  if (party_ == 0) RingAdd(a.s0, c.data, out.s0);  // component 0: parties 0 and 2
  if (party_ == 2) RingAdd(a.s1, c.data, out.s1);
  return out;
}

StatusOr<Shared> ThreePartyBackend::MulImpl(const Shared& x, const Shared& y, bool binary) {
  CONSORT_RETURN_IF_ERROR(CheckSameShape(x, y, binary ? "and" : "mul"));
  CONSORT_RETURN_IF_ERROR(CheckShares(x, "mul"));
  CONSORT_RETURN_IF_ERROR(CheckShares(y, "mul"));
  const size_t n = x.shape.numel();
  if (n == 0) return Shared{x.shape, {}, {}};
  std::vector<uint64_t> z(n);
  const uint64_t *x0 = x.s0.data(), *x1 = x.s1.data(), *y0 = y.s0.data(), *y1 = y.s1.data();
  if (binary) {
    for (size_t i = 0; i < n; ++i) z[i] = (x0[i] & (y0[i] ^ y1[i])) ^ (x1[i] & y0[i]);
  } else {
    for (size_t i = 0; i < n; ++i) z[i] = x0[i] * (y0[i] + y1[i]) + x1[i] * y0[i];
  }
  AddZeroShare(z, binary);
  return Reshare(x.shape, std::move(z));
}

StatusOr<Shared> ThreePartyBackend::Mul(const Shared& x, const Shared& y) {
  return MulImpl(x, y, false);
}

StatusOr<Shared> ThreePartyBackend::MulFxp(const Shared& x, const Shared& y) {
  CONSORT_RETURN_IF_ERROR(CheckSameShape(x, y, "mul"));
  CONSORT_RETURN_IF_ERROR(CheckShares(x, "mul"));
  CONSORT_RETURN_IF_ERROR(CheckShares(y, "mul"));
  const size_t n = x.shape.numel();
  const int d = fxp().frac_bits();
  if (n == 0 || d == 0) return Mul(x, y);
  std::vector<uint64_t> z(n);
  for (size_t i = 0; i < n; ++i) z[i] = x.s0[i] * (y.s0[i] + y.s1[i]) + x.s1[i] * y.s0[i];
  AddZeroShare(z, false);
  return TruncImpl(x.shape, std::move(z), d, /*fused=*/true);
}

StatusOr<Shared> ThreePartyBackend::MatMul(const Shared& x, const Shared& y) {
  CONSORT_RETURN_IF_ERROR(CheckMatMulShapes(x, y));
  CONSORT_RETURN_IF_ERROR(CheckShares(x, "matmul"));
  CONSORT_RETURN_IF_ERROR(CheckShares(y, "matmul"));
  const size_t m = x.shape.rows, k = x.shape.cols, n = y.shape.cols;
  std::vector<uint64_t> ysum(k * n), z(m * n, 0);
  RingAdd(y.s0, y.s1, ysum);
  RingMatMulAdd(x.s0.data(), ysum.data(), z.data(), m, k, n);  // X_i (Y_i + Y_{i+1})
  RingMatMulAdd(x.s1.data(), y.s0.data(), z.data(), m, k, n);  // + X_{i+1} Y_i
  AddZeroShare(z, false);
  return Reshare(Shape{m, n}, std::move(z));
}

StatusOr<Shared> ThreePartyBackend::Trunc(const Shared& a, int bits) {
  if (bits < 0 || bits > kMaxThreePartyTruncBits) {
    return absl::InvalidArgumentError("mpc trunc: bad shift " + std::to_string(bits) +
                                      " (0 to " + std::to_string(kMaxThreePartyTruncBits) + ")");
  }
  CONSORT_RETURN_IF_ERROR(CheckShares(a, "trunc"));
  if (bits == 0 || a.shape.numel() == 0) return a;
  // 3-out-of-3 view: party 1 takes x1, party 2 x2 + x0 (it holds both); party 0's x0 is
  // already counted by party 2 and is not sent.
  std::vector<uint64_t> z = a.s0;
  if (party_ == 2) RingAdd(z, a.s1, z);
  return TruncImpl(a.shape, std::move(z), bits, /*fused=*/false);
}

StatusOr<Shared> ThreePartyBackend::TruncImpl(Shape shape, std::vector<uint64_t> z, int d,
                                              bool fused) {
  const size_t n = shape.numel();
  Shared out{shape, std::vector<uint64_t>(n), std::vector<uint64_t>(n)};
  // PRG draws, in this order: k1 (parties 0, 1): r_a, m_1, y_1; k0 (parties 0, 2): r_b,
  // h_2, y_0. r = r_a + r_b is the mask, h = r >> d, m = msb(r); y_0, y_1 are the output's
  // components 0 and 1.
  if (party_ == 0) {
    std::vector<uint64_t> r_a = next_prg_.Next(n), m1 = next_prg_.Next(n);
    next_prg_.Fill(out.s1);  // y_1
    std::vector<uint64_t> r_b = own_prg_.Next(n), h2 = own_prg_.Next(n);
    own_prg_.Fill(out.s0);  // y_0
    // To party 1: [z_0 |] h - h_2; to party 2: [z_0 |] m - m_1.
    const size_t off = fused ? n : 0;
    std::vector<uint64_t> to1(off + n), to2(off + n);
    if (fused) {
      std::copy(z.begin(), z.end(), to1.begin());
      std::copy(z.begin(), z.end(), to2.begin());
    }
    for (size_t i = 0; i < n; ++i) {
      const uint64_t r = r_a[i] + r_b[i];
      to1[off + i] = (r >> d) - h2[i];
      to2[off + i] = (r >> 63) - m1[i];
    }
    CONSORT_RETURN_IF_ERROR(Round(to1, to2, {}, {}));
    CountRounds(2);  // party 0 is idle in the second round
    return out;
  }
  const bool p1 = party_ == 1;
  crypto::Prg& prg = p1 ? own_prg_ : next_prg_;  // k1 at party 1, k0 at party 2
  std::vector<uint64_t> mask = prg.Next(n), corr = prg.Next(n);  // r_a, m_1 | r_b, h_2
  std::vector<uint64_t> y = prg.Next(n);                           // y_1 | y_0
  // Round 1: exchange masked shares with the other computing party, receive party 0's words.
  std::vector<uint64_t> mine(n), theirs(n), from0((fused ? 2 : 1) * n);
  for (size_t i = 0; i < n; ++i) mine[i] = z[i] + mask[i] + (p1 ? kOffset : 0);
  if (p1) {
    CONSORT_RETURN_IF_ERROR(Round(mine, {}, theirs, from0));  // party 2 = next, 0 = prev
  } else {
    CONSORT_RETURN_IF_ERROR(Round({}, mine, from0, theirs));  // party 0 = next, 1 = prev
  }
  const uint64_t* z0 = from0.data();
  const uint64_t* recv = from0.data() + (fused ? n : 0);  // h_1 at party 1, m_2 at party 2
  const uint64_t sub = p1 ? kOffset >> d : 0;
  for (size_t i = 0; i < n; ++i) {
    const uint64_t c = mine[i] + theirs[i] + (fused ? z0[i] : 0);  // x' + r, opened
    const uint64_t h = p1 ? recv[i] : corr[i];
    const uint64_t m = p1 ? corr[i] : recv[i];
    // wrap = msb(r) (1 - msb(c)): linear in the shared msb(r) since c is known here.
    const uint64_t wrap = (c >> 63) ? 0 : m << (64 - d);
    const uint64_t t = (p1 ? c >> d : 0) - h + wrap - sub;  // 2-out-of-2 share of the result
    mine[i] = t - y[i];
  }
  // Round 2: component 2 = (t_1 - y_1) + (t_2 - y_0).
  if (p1) {
    CONSORT_RETURN_IF_ERROR(Round(mine, {}, theirs, {}));
    out.s0 = std::move(y);  // y_1
    RingAdd(mine, theirs, out.s1);
  } else {
    CONSORT_RETURN_IF_ERROR(Round({}, mine, {}, theirs));
    out.s1 = std::move(y);  // y_0
    RingAdd(mine, theirs, out.s0);
  }
  CountRounds(2);
  return out;
}

StatusOr<Shared> ThreePartyBackend::InputFromParty0(Shape shape, std::vector<uint64_t> u,
                                                    bool binary) {
  const size_t n = shape.numel();
  Shared out{shape, std::vector<uint64_t>(n, 0), std::vector<uint64_t>(n, 0)};
  if (party_ == 0) {
    own_prg_.Fill(out.s0);  // component 0 = F(k0), shared with party 2
    for (size_t i = 0; i < n; ++i) out.s1[i] = binary ? u[i] ^ out.s0[i] : u[i] - out.s0[i];
    CONSORT_RETURN_IF_ERROR(Round(out.s1, {}, {}, {}));
  } else if (party_ == 1) {
    CONSORT_RETURN_IF_ERROR(Round({}, {}, {}, out.s0));  // component 1; component 2 = 0
  } else {
    next_prg_.Fill(out.s1);  // component 0
    CONSORT_RETURN_IF_ERROR(Round({}, {}, {}, {}));
  }
  CountRounds(1);
  return out;
}

Shared ThreePartyBackend::Component2(const Shared& x, uint64_t (*f)(uint64_t)) const {
  const size_t n = x.shape.numel();
  Shared out{x.shape, std::vector<uint64_t>(n, 0), std::vector<uint64_t>(n, 0)};
  if (party_ == 1) {
    for (size_t i = 0; i < n; ++i) out.s1[i] = f(x.s1[i]);
  } else if (party_ == 2) {
    for (size_t i = 0; i < n; ++i) out.s0[i] = f(x.s0[i]);
  }
  return out;
}

StatusOr<Shared> ThreePartyBackend::BinaryU(const Shared& x) {
  std::vector<uint64_t> u;
  if (party_ == 0) {
    u.resize(x.shape.numel());
    RingAdd(x.s0, x.s1, u);  // x0 + x1
  }
  return InputFromParty0(x.shape, std::move(u), /*binary=*/true);
}

StatusOr<Shared> ThreePartyBackend::BitInject(const Shared& b) {
  const size_t n = b.shape.numel();
  std::vector<uint64_t> a;
  if (party_ == 0) {
    a.resize(n);
    for (size_t i = 0; i < n; ++i) a[i] = (b.s0[i] ^ b.s1[i]) & 1;  // b0 ^ b1
  }
  CONSORT_ASSIGN_OR_RETURN(Shared A, InputFromParty0(b.shape, std::move(a), /*binary=*/false));
  Shared C = Component2(b, [](uint64_t v) { return v & 1; });  // b2, at parties 1 and 2
  CONSORT_ASSIGN_OR_RETURN(Shared AC, MulImpl(A, C, false));
  // b = a ^ c = a + c - 2 a c.
  Shared out{b.shape, std::vector<uint64_t>(n), std::vector<uint64_t>(n)};
  for (size_t i = 0; i < n; ++i) {
    out.s0[i] = A.s0[i] + C.s0[i] - 2 * AC.s0[i];
    out.s1[i] = A.s1[i] + C.s1[i] - 2 * AC.s1[i];
  }
  return out;
}

StatusOr<Shared> ThreePartyBackend::LessThanZero(const Shared& x) {
  CONSORT_RETURN_IF_ERROR(CheckShares(x, "less_than_zero"));
  const size_t n = x.shape.numel();
  if (n == 0) return Shared{x.shape, {}, {}};
  CONSORT_ASSIGN_OR_RETURN(Shared u, BinaryU(x));
  Shared v = Component2(x, [](uint64_t w) { return w; });
  // msb(u + v) = msb(u ^ v) ^ carry into bit 63; generate g = u & v, propagate p = u ^ v.
  CONSORT_ASSIGN_OR_RETURN(Shared g, MulImpl(u, v, true));
  Shared p{x.shape, std::vector<uint64_t>(n), std::vector<uint64_t>(n)};
  Shared top = p;
  for (size_t i = 0; i < n; ++i) {
    const uint64_t p0 = u.s0[i] ^ v.s0[i], p1 = u.s1[i] ^ v.s1[i];
    top.s0[i] = p0 >> 63;
    top.s1[i] = p1 >> 63;
    // Bit 63 is made neutral (g = 0, p = 1): XOR the public 1 into component 0.
    p.s0[i] = (p0 & kLow) | (party_ == 0 ? kTop : 0);
    p.s1[i] = (p1 & kLow) | (party_ == 2 ? kTop : 0);
    g.s0[i] &= kLow;
    g.s1[i] &= kLow;
  }
  // Carry into bit 63 = bit 0 of G after the prefix tree over bits [0, 63) (two_party.cc).
  Shared lhs{Shape::Vector(2 * n), std::vector<uint64_t>(2 * n), std::vector<uint64_t>(2 * n)};
  Shared rhs = lhs;
  for (int s = 1; s < 64; s <<= 1) {
    const bool last = s == 32;  // only G is needed after the last level
    const size_t m = last ? n : 2 * n;
    for (auto* t : {&lhs, &rhs}) {
      t->shape = Shape::Vector(m);
      t->s0.resize(m);
      t->s1.resize(m);
    }
    for (size_t i = 0; i < n; ++i) {
      lhs.s0[i] = p.s0[i] >> s;
      lhs.s1[i] = p.s1[i] >> s;
      rhs.s0[i] = g.s0[i];
      rhs.s1[i] = g.s1[i];
      if (!last) {
        lhs.s0[n + i] = lhs.s0[i];
        lhs.s1[n + i] = lhs.s1[i];
        rhs.s0[n + i] = p.s0[i];
        rhs.s1[n + i] = p.s1[i];
      }
    }
    CONSORT_ASSIGN_OR_RETURN(Shared z, MulImpl(lhs, rhs, true));
    for (size_t i = 0; i < n; ++i) {
      g.s0[i] = (g.s0[i] >> s) ^ z.s0[i];
      g.s1[i] = (g.s1[i] >> s) ^ z.s1[i];
      if (!last) {
        p.s0[i] = z.s0[n + i];
        p.s1[i] = z.s1[n + i];
      }
    }
  }
  for (size_t i = 0; i < n; ++i) {
    g.s0[i] = (g.s0[i] ^ top.s0[i]) & 1;
    g.s1[i] = (g.s1[i] ^ top.s1[i]) & 1;
  }
  return BitInject(g);
}

StatusOr<Shared> ThreePartyBackend::EqualZero(const Shared& x) {
  CONSORT_RETURN_IF_ERROR(CheckShares(x, "equal_zero"));
  const size_t n = x.shape.numel();
  if (n == 0) return Shared{x.shape, {}, {}};
  CONSORT_ASSIGN_OR_RETURN(Shared p, BinaryU(x));
  // x == 0 iff u == -x2 iff every bit of ~(u ^ -x2) is 1 (NOT: flip component 0).
  Shared v = Component2(x, [](uint64_t w) { return 0 - w; });
  for (size_t i = 0; i < n; ++i) {
    p.s0[i] ^= v.s0[i] ^ (party_ == 0 ? ~uint64_t{0} : 0);
    p.s1[i] ^= v.s1[i] ^ (party_ == 2 ? ~uint64_t{0} : 0);
  }
  Shared shifted{x.shape, std::vector<uint64_t>(n), std::vector<uint64_t>(n)};
  for (int s = 1; s < 64; s <<= 1) {
    for (size_t i = 0; i < n; ++i) {
      shifted.s0[i] = p.s0[i] >> s;
      shifted.s1[i] = p.s1[i] >> s;
    }
    CONSORT_ASSIGN_OR_RETURN(p, MulImpl(shifted, p, true));
  }
  return BitInject(p);
}

StatusOr<RingTensor> ThreePartyBackend::Reveal(const Shared& a) {
  CONSORT_RETURN_IF_ERROR(CheckShares(a, "reveal"));
  RingTensor out{a.shape, std::vector<uint64_t>(a.s0.size())};
  if (a.s0.empty()) return out;
  CONSORT_RETURN_IF_ERROR(Round(a.s0, {}, {}, out.data));  // x_{i-1} from prev
  CountRounds(1);
  for (size_t i = 0; i < out.data.size(); ++i) out.data[i] += a.s0[i] + a.s1[i];
  return out;
}

StatusOr<RingTensor> ThreePartyBackend::RevealTo(const Shared& a, int receiver) {
  if (receiver < 0 || receiver > 2) {
    return absl::InvalidArgumentError("mpc reveal_to: no party " + std::to_string(receiver));
  }
  CONSORT_RETURN_IF_ERROR(CheckShares(a, "reveal_to"));
  RingTensor out{a.shape, {}};
  if (a.s0.empty()) return out;
  CountRounds(1);
  if (party_ == (receiver + 2) % 3) {  // prev of the receiver sends its x_{r-1}
    CONSORT_RETURN_IF_ERROR(Round(a.s0, {}, {}, {}));
  } else if (party_ == receiver) {
    out.data.resize(a.s0.size());
    CONSORT_RETURN_IF_ERROR(Round({}, {}, {}, out.data));
    for (size_t i = 0; i < out.data.size(); ++i) out.data[i] += a.s0[i] + a.s1[i];
  }
  return out;
}

Cost ThreePartyBackend::Costs(Op op, Shape a, Shape b) {
  const uint64_t n = a.numel();
  if (n == 0) return Cost{};
  switch (op) {
    case Op::kInput:
      return Cost{1, 16 * n, 0};
    case Op::kMul:
    case Op::kSelect:
      return Cost{1, 24 * n, 0};
    case Op::kMatMul:
      return Cost{1, 24 * uint64_t{a.rows} * b.cols, 0};
    case Op::kTrunc:
      return Cost{2, 48 * n, 0};
    case Op::kReveal:
      return Cost{1, 24 * n, 0};
    case Op::kRevealTo:
      return Cost{1, 8 * n, 0};
    case Op::kLessThanZero:
    case Op::kLessThan:
      return Cost{10, 328 * n, 0};
    case Op::kEqualZero:
    case Op::kEqual:
      return Cost{9, 184 * n, 0};
    default:
      return Cost{};  // add, sub, neg, add/mul public: local
  }
}

Cost ThreePartyBackend::MulFxpCost(Shape a) {
  return a.numel() == 0 ? Cost{} : Cost{2, 64 * a.numel(), 0};
}

}  // namespace consort::mpc
