#include "consort/crypto/random.h"
#include "consort/mpc/two_party.h"


#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "consort/mpc/internal/wire.h"

namespace consort::mpc {

StatusOr<std::unique_ptr<TwoPartyBackend>> TwoPartyBackend::Create(
    int party, net::Link& peer, std::unique_ptr<TripleSource> triples, FixedPoint fxp) {
  CONSORT_CHECK((party == 0 || party == 1) && triples != nullptr && triples->party() == party);
  crypto::SecretBytes seed;
  if (party == 0) {
    seed = crypto::RandomSeed();
    CONSORT_RETURN_IF_ERROR(peer.Send(seed.span()));
  } else {
    CONSORT_ASSIGN_OR_RETURN(Bytes m, peer.Recv());
    seed = crypto::SecretBytes(m.data(), m.size());
    crypto::SecureWipe(m.data(), m.size());
    if (seed.size() != crypto::kPrgSeedBytes) {
      return absl::InvalidArgumentError("mpc setup: peer " + peer.peer() + " sent a " +
                                        std::to_string(seed.size()) + "-byte seed, expected " +
                                        std::to_string(crypto::kPrgSeedBytes));
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
  return MulImpl(x, y, -1);
}

StatusOr<Shared> TwoPartyBackend::MulFxp(const Shared& x, const Shared& y) {
  if (trunc_mode_ == TruncMode::kLocal) return MulImpl(x, y, fxp().frac_bits());
  CONSORT_ASSIGN_OR_RETURN(Shared z, MulImpl(x, y, -1));
  return TruncPair(z, fxp().frac_bits());
}

namespace {
// SecureML local truncation of one share (see two_party.h).
inline uint64_t TruncShare(uint64_t v, int bits, bool party0) {
  return party0 ? v >> bits : 0 - ((0 - v) >> bits);
}

// One round over n elements in blocks of kTripleBlock, pipelined: a sender thread calls
// prepare(off, len, slot, msg) to fill block j's outgoing message (msg_per * len words) and
// whatever finish needs in `slot` (slot_per * kTripleBlock words), then sends msg; this thread
// receives the peer's block j and calls finish(off, len, slot, msg, theirs) -> Status. kSlots
// blocks are in flight, so memory stays bounded and compute overlaps communication (one
// sender and one receiver per link, as Link requires).
template <typename Prepare, typename Finish>
Status RunBlocked(net::Link& peer, std::vector<uint64_t>& scratch, size_t n, size_t msg_per,
                  size_t slot_per, const char* op, Prepare prepare, Finish finish) {
  constexpr size_t kSlots = 4;
  constexpr size_t B = kTripleBlock;
  const size_t slot_words = (msg_per + slot_per) * B;
  const size_t blocks = (n + B - 1) / B;
  if (scratch.size() < kSlots * slot_words) scratch.resize(kSlots * slot_words);
  auto slot = [&](size_t j) { return scratch.data() + (j % kSlots) * slot_words; };
  auto msg = [&](size_t j) { return slot(j) + slot_per * B; };
  auto block_len = [&](size_t j) { return std::min(B, n - j * B); };

  std::mutex mu;
  std::condition_variable cv;
  size_t produced = 0, consumed = 0;
  bool abort = false;
  Status send_status;
  std::thread sender([&] {
    for (size_t j = 0; j < blocks; ++j) {
      {
        std::unique_lock<std::mutex> l(mu);
        cv.wait(l, [&] { return abort || produced - consumed < kSlots; });
        if (abort) return;
      }
      const size_t len = block_len(j);
      prepare(j * B, len, slot(j), msg(j));
      Status st = peer.Send(
          ByteSpan(reinterpret_cast<const uint8_t*>(msg(j)), 8 * msg_per * len));
      std::lock_guard<std::mutex> l(mu);
      if (!st.ok()) {
        send_status = st;
        abort = true;
      } else {
        ++produced;
      }
      cv.notify_all();
      if (abort) return;
    }
  });

  Status recv_status = [&]() -> Status {
    for (size_t j = 0; j < blocks; ++j) {
      const size_t len = block_len(j);
      CONSORT_ASSIGN_OR_RETURN(Bytes m, peer.Recv());
      if (m.size() != 8 * msg_per * len) {
        return absl::InvalidArgumentError(std::string("mpc ") + op + ": peer " + peer.peer() +
                                          " sent " + std::to_string(m.size()) +
                                          " bytes, expected " +
                                          std::to_string(8 * msg_per * len));
      }
      {
        std::unique_lock<std::mutex> l(mu);
        cv.wait(l, [&] { return abort || produced > j; });
        if (abort) return OkStatus();  // the sender's status is reported
      }
      CONSORT_RETURN_IF_ERROR(finish(j * B, len, slot(j), msg(j),
                                     reinterpret_cast<const uint64_t*>(m.data())));
      std::lock_guard<std::mutex> l(mu);
      ++consumed;
      cv.notify_all();
    }
    return OkStatus();
  }();
  if (!recv_status.ok()) {
    std::lock_guard<std::mutex> l(mu);
    abort = true;
    cv.notify_all();
  }
  sender.join();
  CONSORT_RETURN_IF_ERROR(recv_status);
  return send_status;
}
}  // namespace

StatusOr<Shared> TwoPartyBackend::MulImpl(const Shared& x, const Shared& y, int trunc_bits) {
  CONSORT_RETURN_IF_ERROR(CheckSameShape(x, y, "mul"));
  const size_t n = x.shape.numel();
  if (n == 0) return Shared{x.shape, {}, {}};
  CONSORT_RETURN_IF_ERROR(triples_->Start(TripleShape::Elementwise(n)));
  constexpr size_t B = kTripleBlock;
  const bool p0 = party_ == 0;
  Shared z{x.shape, std::vector<uint64_t>(n), {}};
  // Slot: a, b, c; message [x - a | y - b].
  auto prepare = [&](size_t off, size_t len, uint64_t* s, uint64_t* ef) {
    uint64_t *a = s, *b = s + B, *c = s + 2 * B;
    triples_->Expand({a, len}, {b, len}, p0 ? std::span<uint64_t>(c, len)
                                            : std::span<uint64_t>());
    const uint64_t* xs = x.s0.data() + off;
    const uint64_t* ys = y.s0.data() + off;
    for (size_t i = 0; i < len; ++i) {
      ef[i] = xs[i] - a[i];
      ef[len + i] = ys[i] - b[i];
    }
  };
  auto finish = [&](size_t off, size_t len, uint64_t* s, const uint64_t* ef,
                    const uint64_t* theirs) -> Status {
    const uint64_t *a = s, *b = s + B;
    uint64_t* c = s + 2 * B;
    CONSORT_RETURN_IF_ERROR(triples_->Correct({c, len}));
    uint64_t* out = z.s0.data() + off;
    for (size_t i = 0; i < len; ++i) {
      const uint64_t e = ef[i] + theirs[i];
      const uint64_t f = ef[len + i] + theirs[len + i];
      out[i] = c[i] + e * b[i] + f * a[i] + (p0 ? e * f : 0);
    }
    if (trunc_bits >= 0) {
      for (size_t i = 0; i < len; ++i) out[i] = TruncShare(out[i], trunc_bits, p0);
    }
    return OkStatus();
  };
  CONSORT_RETURN_IF_ERROR(RunBlocked(peer_, scratch_, n, 2, 3, "mul", prepare, finish));
  CountRounds(1);
  return z;
}

StatusOr<Shared> TwoPartyBackend::TruncPair(const Shared& x, int d) {
  const size_t n = x.shape.numel();
  if (n == 0 || d == 0) return x;
  CONSORT_RETURN_IF_ERROR(triples_->Start(TripleShape::TruncPairs(n, d)));
  const bool p0 = party_ == 0;
  constexpr uint64_t kOffset = uint64_t{1} << 62;  // x' = x + 2^62 lies in [0, 2^63)
  Shared z{x.shape, std::vector<uint64_t>(n), {}};
  // Slot: [h | m] (len words each); message x_i (+ 2^62 at party 0) + r_i.
  auto prepare = [&](size_t off, size_t len, uint64_t* s, uint64_t* masked) {
    triples_->Expand({masked, len}, p0 ? std::span<uint64_t>(s, len) : std::span<uint64_t>(),
                     p0 ? std::span<uint64_t>(s + len, len) : std::span<uint64_t>());
    const uint64_t* xs = x.s0.data() + off;
    const uint64_t add = p0 ? kOffset : 0;
    for (size_t i = 0; i < len; ++i) masked[i] += xs[i] + add;
  };
  auto finish = [&](size_t off, size_t len, uint64_t* s, const uint64_t* masked,
                    const uint64_t* theirs) -> Status {
    CONSORT_RETURN_IF_ERROR(triples_->Correct({s, 2 * len}));  // party 1: [h1 | m1]
    const uint64_t *h = s, *m = s + len;
    uint64_t* out = z.s0.data() + off;
    const uint64_t sub = p0 ? kOffset >> d : 0;
    for (size_t i = 0; i < len; ++i) {
      const uint64_t c = masked[i] + theirs[i];  // x' + r mod 2^64, opened
      // wrap = msb(r) * (1 - msb(c)): linear in the shared msb(r) since c is public.
      const uint64_t wrap_share = (c >> 63) ? 0 : m[i] << (64 - d);
      out[i] = (p0 ? c >> d : 0) - h[i] + wrap_share - sub;
    }
    return OkStatus();
  };
  CONSORT_RETURN_IF_ERROR(RunBlocked(peer_, scratch_, n, 1, 2, "trunc", prepare, finish));
  CountRounds(1);
  return z;
}

Status TwoPartyBackend::OpenMasked(const Shared& x, std::vector<uint64_t>& c,
                                   std::vector<uint64_t>& q) {
  const size_t n = x.shape.numel();
  c.resize(n);
  q.resize(n);
  CONSORT_RETURN_IF_ERROR(triples_->Start(TripleShape::Of(TripleKind::kMaskBits, n)));
  const bool p0 = party_ == 0;
  // Slot: q_i; message x_i + r_i.
  auto prepare = [&](size_t off, size_t len, uint64_t* s, uint64_t* masked) {
    triples_->Expand({masked, len}, p0 ? std::span<uint64_t>(s, len) : std::span<uint64_t>(),
                     {});
    const uint64_t* xs = x.s0.data() + off;
    for (size_t i = 0; i < len; ++i) masked[i] += xs[i];
  };
  auto finish = [&](size_t off, size_t len, uint64_t* s, const uint64_t* masked,
                    const uint64_t* theirs) -> Status {
    CONSORT_RETURN_IF_ERROR(triples_->Correct({s, len}));  // party 1: q1
    for (size_t i = 0; i < len; ++i) {
      c[off + i] = masked[i] + theirs[i];
      q[off + i] = s[i];
    }
    return OkStatus();
  };
  CONSORT_RETURN_IF_ERROR(RunBlocked(peer_, scratch_, n, 1, 1, "compare", prepare, finish));
  CountRounds(1);
  return OkStatus();
}

StatusOr<std::vector<uint64_t>> TwoPartyBackend::AndWords(std::span<const uint64_t> x,
                                                          std::span<const uint64_t> y) {
  CONSORT_CHECK(x.size() == y.size());
  const size_t n = x.size();
  std::vector<uint64_t> z(n);
  CONSORT_RETURN_IF_ERROR(triples_->Start(TripleShape::Of(TripleKind::kBinary, n)));
  constexpr size_t B = kTripleBlock;
  const bool p0 = party_ == 0;
  // Slot: a, b, c; message [x ^ a | y ^ b].
  auto prepare = [&](size_t off, size_t len, uint64_t* s, uint64_t* de) {
    uint64_t *a = s, *b = s + B, *c = s + 2 * B;
    triples_->Expand({a, len}, {b, len}, p0 ? std::span<uint64_t>(c, len)
                                            : std::span<uint64_t>());
    for (size_t i = 0; i < len; ++i) {
      de[i] = x[off + i] ^ a[i];
      de[len + i] = y[off + i] ^ b[i];
    }
  };
  auto finish = [&](size_t off, size_t len, uint64_t* s, const uint64_t* de,
                    const uint64_t* theirs) -> Status {
    const uint64_t *a = s, *b = s + B;
    uint64_t* c = s + 2 * B;
    CONSORT_RETURN_IF_ERROR(triples_->Correct({c, len}));
    for (size_t i = 0; i < len; ++i) {
      const uint64_t d = de[i] ^ theirs[i];
      const uint64_t e = de[len + i] ^ theirs[len + i];
      z[off + i] = c[i] ^ (d & b[i]) ^ (e & a[i]) ^ (p0 ? d & e : 0);
    }
    return OkStatus();
  };
  CONSORT_RETURN_IF_ERROR(RunBlocked(peer_, scratch_, n, 2, 3, "and", prepare, finish));
  CountRounds(1);
  return z;
}

StatusOr<Shared> TwoPartyBackend::BitToArith(Shape shape, std::span<const uint64_t> bits) {
  const size_t n = bits.size();
  Shared out{shape, std::vector<uint64_t>(n), {}};
  CONSORT_RETURN_IF_ERROR(triples_->Start(TripleShape::Of(TripleKind::kDaBit, n)));
  const bool p0 = party_ == 0;
  // Slot: s_i (additive share of the daBit); message (b ^ u) & 1, u the XOR share of it.
  auto prepare = [&](size_t off, size_t len, uint64_t* s, uint64_t* t) {
    triples_->Expand({t, len}, p0 ? std::span<uint64_t>(s, len) : std::span<uint64_t>(), {});
    for (size_t i = 0; i < len; ++i) t[i] = (t[i] ^ bits[off + i]) & 1;
  };
  auto finish = [&](size_t off, size_t len, uint64_t* s, const uint64_t* t,
                    const uint64_t* theirs) -> Status {
    CONSORT_RETURN_IF_ERROR(triples_->Correct({s, len}));  // party 1: s1
    for (size_t i = 0; i < len; ++i) {
      if (theirs[i] > 1) {
        return absl::InvalidArgumentError("mpc compare: peer " + peer_.peer() +
                                          " sent a bit that is not 0 or 1");
      }
      // b = t ^ s = t + s - 2 t s: t = 0 -> [s]; t = 1 -> 1 - [s].
      const bool t_open = (t[i] ^ theirs[i]) != 0;
      out.s0[off + i] = t_open ? (p0 ? 1 : 0) - s[i] : s[i];
    }
    return OkStatus();
  };
  CONSORT_RETURN_IF_ERROR(RunBlocked(peer_, scratch_, n, 1, 1, "compare", prepare, finish));
  CountRounds(1);
  return out;
}

StatusOr<Shared> TwoPartyBackend::LessThanZero(const Shared& x) {
  const size_t n = x.shape.numel();
  if (n == 0) return Shared{x.shape, {}, {}};
  std::vector<uint64_t> c, q;
  CONSORT_RETURN_IF_ERROR(OpenMasked(x, c, q));
  const bool p0 = party_ == 0;
  constexpr uint64_t kLow = ~uint64_t{0} >> 1;  // the 63 low bits
  constexpr uint64_t kTop = ~kLow;
  // borrow = [c_low < r_low] = [r_low > c_low]: per bit g = r & ~c (r bigger here), p =
  // ~(r ^ c) (equal here); bit 63 is made neutral (g = 0, p = 1).
  std::vector<uint64_t> g(n), p(n);
  for (size_t i = 0; i < n; ++i) {
    g[i] = q[i] & ~c[i] & kLow;
    p[i] = p0 ? ((q[i] ^ ~c[i]) & kLow) | kTop : q[i] & kLow;
  }
  std::vector<uint64_t> lhs(2 * n), rhs(2 * n);
  for (int s = 1; s < 64; s <<= 1) {
    const bool last = s == 32;  // only G is needed after the last level
    const size_t m = last ? n : 2 * n;
    lhs.resize(m);
    rhs.resize(m);
    for (size_t i = 0; i < n; ++i) {
      lhs[i] = p[i] >> s;
      rhs[i] = g[i];
      if (!last) {
        lhs[n + i] = p[i] >> s;
        rhs[n + i] = p[i];
      }
    }
    CONSORT_ASSIGN_OR_RETURN(std::vector<uint64_t> z, AndWords(lhs, rhs));
    for (size_t i = 0; i < n; ++i) {
      g[i] = (g[i] >> s) ^ z[i];
      if (!last) p[i] = z[n + i];
    }
  }
  // msb(x) = msb(c) ^ msb(r) ^ borrow (bit 0 of g), XOR-shared.
  for (size_t i = 0; i < n; ++i) {
    g[i] = ((p0 ? c[i] >> 63 : 0) ^ (q[i] >> 63) ^ g[i]) & 1;
  }
  return BitToArith(x.shape, g);
}

StatusOr<Shared> TwoPartyBackend::EqualZero(const Shared& x) {
  const size_t n = x.shape.numel();
  if (n == 0) return Shared{x.shape, {}, {}};
  std::vector<uint64_t> c, q;
  CONSORT_RETURN_IF_ERROR(OpenMasked(x, c, q));
  const bool p0 = party_ == 0;
  // x == 0 iff c == r iff every bit of p = ~(r ^ c) is 1.
  std::vector<uint64_t> p(n), shifted(n);
  for (size_t i = 0; i < n; ++i) p[i] = p0 ? q[i] ^ ~c[i] : q[i];
  for (int s = 1; s < 64; s <<= 1) {
    for (size_t i = 0; i < n; ++i) shifted[i] = p[i] >> s;
    CONSORT_ASSIGN_OR_RETURN(p, AndWords(shifted, p));
  }
  return BitToArith(x.shape, p);
}

StatusOr<Shared> TwoPartyBackend::MatMul(const Shared& x, const Shared& y) {
  CONSORT_RETURN_IF_ERROR(CheckMatMulShapes(x, y));
  const size_t m = x.shape.rows, k = x.shape.cols, n = y.shape.cols;
  CONSORT_RETURN_IF_ERROR(triples_->Start(TripleShape::MatMul(m, k, n)));
  const size_t mk = m * k, kn = k * n;
  std::vector<uint64_t> a(mk), b(kn), c(m * n);
  triples_->Expand(a, b, party_ == 0 ? std::span<uint64_t>(c) : std::span<uint64_t>());
  std::vector<uint64_t> mine(mk + kn), theirs(mk + kn);
  RingSub(x.s0, a, std::span(mine).first(mk));
  RingSub(y.s0, b, std::span(mine).subspan(mk));
  CONSORT_RETURN_IF_ERROR(internal::ExchangeWords(peer_, mine, theirs));
  CountRounds(1);
  RingAdd(mine, theirs, mine);  // mine = [E | F], opened
  const uint64_t* e = mine.data();
  const uint64_t* f = mine.data() + mk;
  Shared z{Shape{m, n}, std::vector<uint64_t>(m * n, 0), {}};
  // z_i = c_i + E b_i + a_i F (+ E F at party 0) = c_i + E (b_i [+ F]) + a_i F.
  if (party_ == 0) RingAdd(b, std::span<const uint64_t>(f, kn), b);
  RingMatMulAdd(e, b.data(), z.s0.data(), m, k, n);
  RingMatMulAdd(a.data(), f, z.s0.data(), m, k, n);
  CONSORT_RETURN_IF_ERROR(triples_->Correct(c));
  RingAdd(z.s0, c, z.s0);
  return z;
}

StatusOr<Shared> TwoPartyBackend::Trunc(const Shared& a, int bits) {
  if (trunc_mode_ == TruncMode::kDealerPair) {
    if (bits < 0 || bits > kMaxTruncBits) {
      return absl::InvalidArgumentError("mpc trunc: bad shift " + std::to_string(bits) +
                                        " (0 to " + std::to_string(kMaxTruncBits) + ")");
    }
    return TruncPair(a, bits);
  }
  if (bits < 0 || bits >= kRingBits) {
    return absl::InvalidArgumentError("mpc trunc: bad shift " + std::to_string(bits));
  }
  Shared out = a;
  const bool p0 = party_ == 0;
  for (auto& v : out.s0) v = TruncShare(v, bits, p0);
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

Cost TwoPartyBackend::CostOf(Op op, Shape a, Shape b) const {
  if (fxp().frac_bits() == 0) {
    if (op == Op::kMulFxp) op = Op::kMul;
    if (op == Op::kMatMulFxp) op = Op::kMatMul;
  }
  return Costs(op, a, b, trunc_mode_);
}

Cost TwoPartyBackend::Costs(Op op, Shape a, Shape b, TruncMode trunc) {
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
    case Op::kLessThanZero:
    case Op::kLessThan:
      return Cost{8, 2 * 192 * n, 8 * kTripleRequestBytes + 104 * n};
    case Op::kEqualZero:
    case Op::kEqual:
      return Cost{8, 2 * 112 * n, 8 * kTripleRequestBytes + 64 * n};
    case Op::kSelect:
      return Costs(Op::kMul, a, a);
    case Op::kTrunc:
      if (trunc == TruncMode::kLocal) return Cost{};
      return Cost{1, 2 * 8 * n, kTripleRequestBytes + 16 * n};
    case Op::kMulFxp:  // kLocal: truncation fused into the Beaver round (free)
      return Costs(Op::kMul, a, a) + Costs(Op::kTrunc, a, {}, trunc);
    case Op::kMatMulFxp:  // MatMul, then Trunc of the m x n product
      if (a.cols != b.rows || b.numel() == 0) return Cost{};
      return Costs(Op::kMatMul, a, b) + Costs(Op::kTrunc, Shape{a.rows, b.cols}, {}, trunc);
    default:
      return Cost{};  // input, add, sub, neg, add/mul public: local
  }
}

}  // namespace consort::mpc
