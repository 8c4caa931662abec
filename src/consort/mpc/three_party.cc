#include "consort/crypto/random.h"
#include "consort/mpc/three_party.h"


#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace consort::mpc {

namespace {
constexpr uint64_t kOffset = uint64_t{1} << 62;  // x' = x + 2^62 lies in [0, 2^63)
constexpr uint64_t kLow = ~uint64_t{0} >> 1;     // the 63 low bits
constexpr uint64_t kTop = ~kLow;

StatusOr<crypto::SecretBytes> SeedFrom(Bytes m, const std::string& peer) {
  crypto::SecretBytes seed(m.data(), m.size());
  crypto::SecureWipe(m.data(), m.size());
  if (seed.size() != crypto::kPrgSeedBytes) {
    return absl::InvalidArgumentError("mpc 3pc setup: peer " + peer + " sent a " +
                                      std::to_string(seed.size()) + "-byte seed, expected " +
                                      std::to_string(crypto::kPrgSeedBytes));
  }
  return seed;
}

// Words per element of one pipelined round's messages (0 = no message that way).
struct Words {
  size_t to_next = 0, to_prev = 0, from_next = 0, from_prev = 0;
};

Status CheckSize(const Bytes& m, size_t want_words, const net::Link& link, const char* op) {
  if (m.size() != 8 * want_words) {
    return absl::InvalidArgumentError(std::string("mpc ") + op + ": peer " + link.peer() +
                                      " sent " + std::to_string(m.size()) + " bytes, expected " +
                                      std::to_string(8 * want_words));
  }
  return OkStatus();
}

// One round over n elements in blocks of kThreePartyBlock, pipelined. A sender thread calls
// prepare(off, len, slot, to_next, to_prev) to fill block j's outgoing words (w.to_next * len
// and w.to_prev * len) and what finish needs in `slot` (slot_per * kThreePartyBlock words), then
// sends them; this thread receives block j from both neighbours first, then (once block j is
// prepared) calls finish(off, len, slot, from_next, from_prev) -> Status. At most kSlots blocks
// are in flight. Receiving before waiting on the own sender means no party's receiver waits
// on its own sender, so parties blocked on full buffers cannot form a cycle as long as no
// party sends to both neighbours while both of them do the same. On the first error (a
// failed send, a failed or malformed receive, finish) both links are closed and that error
// is returned.
template <typename Prepare, typename Finish>
Status BlockedRound(net::Link& next, net::Link& prev, std::vector<uint64_t>& scratch, size_t n,
                    Words w, size_t slot_per, const char* op, Prepare prepare, Finish finish) {
  constexpr size_t kSlots = 4;
  constexpr size_t B = kThreePartyBlock;
  const size_t slot_words = (slot_per + w.to_next + w.to_prev) * B;
  const size_t blocks = (n + B - 1) / B;
  if (scratch.size() < kSlots * slot_words) scratch.resize(kSlots * slot_words);
  auto slot = [&](size_t j) { return scratch.data() + (j % kSlots) * slot_words; };
  auto out_next = [&](size_t j) { return slot(j) + slot_per * B; };
  auto out_prev = [&](size_t j) { return slot(j) + (slot_per + w.to_next) * B; };
  auto block_len = [&](size_t j) { return std::min(B, n - j * B); };
  auto bytes = [](const uint64_t* p, size_t words) {
    return ByteSpan(reinterpret_cast<const uint8_t*>(p), 8 * words);
  };

  std::mutex mu;
  std::condition_variable cv;
  size_t produced = 0, consumed = 0;
  bool abort = false;
  Status first_error;  // the first failure on either side; the other side's is a consequence
  // Records a failure and closes both links (the parties are out of step), which unblocks
  // the other side of this round and tells the neighbours.
  auto fail = [&](Status st) {
    {
      std::lock_guard<std::mutex> l(mu);
      if (abort) return;
      abort = true;
      first_error = std::move(st);
      cv.notify_all();
    }
    next.Close();
    prev.Close();
  };
  std::thread sender([&] {
    for (size_t j = 0; j < blocks; ++j) {
      {
        std::unique_lock<std::mutex> l(mu);
        cv.wait(l, [&] { return abort || produced - consumed < kSlots; });
        if (abort) return;
      }
      const size_t len = block_len(j);
      prepare(j * B, len, slot(j), out_next(j), out_prev(j));
      Status st;
      if (w.to_next > 0) st = next.Send(bytes(out_next(j), w.to_next * len));
      if (st.ok() && w.to_prev > 0) st = prev.Send(bytes(out_prev(j), w.to_prev * len));
      if (!st.ok()) return fail(std::move(st));
      std::lock_guard<std::mutex> l(mu);
      ++produced;
      cv.notify_all();
    }
  });

  Status recv_status = [&]() -> Status {
    Bytes from_next, from_prev;
    for (size_t j = 0; j < blocks; ++j) {
      const size_t len = block_len(j);
      if (w.from_next > 0) {
        CONSORT_ASSIGN_OR_RETURN(from_next, next.Recv());
        CONSORT_RETURN_IF_ERROR(CheckSize(from_next, w.from_next * len, next, op));
      }
      if (w.from_prev > 0) {
        CONSORT_ASSIGN_OR_RETURN(from_prev, prev.Recv());
        CONSORT_RETURN_IF_ERROR(CheckSize(from_prev, w.from_prev * len, prev, op));
      }
      {
        std::unique_lock<std::mutex> l(mu);
        cv.wait(l, [&] { return abort || produced > j; });
        if (abort) return OkStatus();  // first_error has the sender's failure
      }
      CONSORT_RETURN_IF_ERROR(finish(j * B, len, slot(j),
                                     reinterpret_cast<const uint64_t*>(from_next.data()),
                                     reinterpret_cast<const uint64_t*>(from_prev.data())));
      std::lock_guard<std::mutex> l(mu);
      ++consumed;
      cv.notify_all();
    }
    return OkStatus();
  }();
  if (!recv_status.ok()) fail(recv_status);
  sender.join();
  std::lock_guard<std::mutex> l(mu);
  return first_error;
}
}  // namespace

StatusOr<std::unique_ptr<ThreePartyBackend>> ThreePartyBackend::Create(int party, net::Link& next,
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

ThreePartyBackend::ThreePartyBackend(int party, net::Link& next, net::Link& prev, FixedPoint fxp,
                                     crypto::SecretBytes own_seed, crypto::SecretBytes next_seed)
    : Backend(fxp),
      party_(party),
      next_(next),
      prev_(prev),
      own_prg_(own_seed),
      next_prg_(next_seed) {
  CountRounds(1);
}

Status ThreePartyBackend::Round(size_t n, std::span<const uint64_t> to_next,
                                std::span<const uint64_t> to_prev, std::span<uint64_t> from_next,
                                std::span<uint64_t> from_prev, const char* op) {
  if (n == 0) return OkStatus();
  for (size_t s : {to_next.size(), to_prev.size(), from_next.size(), from_prev.size()}) {
    CONSORT_CHECK(s % n == 0);
  }
  // Element-major spans: element i's words are [w i, w (i + 1)) for w words per element.
  const Words w{to_next.size() / n, to_prev.size() / n, from_next.size() / n, from_prev.size() / n};
  auto prepare = [&](size_t off, size_t len, uint64_t*, uint64_t* out_next, uint64_t* out_prev) {
    std::copy_n(to_next.data() + w.to_next * off, w.to_next * len, out_next);
    std::copy_n(to_prev.data() + w.to_prev * off, w.to_prev * len, out_prev);
  };
  auto finish = [&](size_t off, size_t len, uint64_t*, const uint64_t* in_next,
                    const uint64_t* in_prev) -> Status {
    std::copy_n(in_next, w.from_next * len, from_next.data() + w.from_next * off);
    std::copy_n(in_prev, w.from_prev * len, from_prev.data() + w.from_prev * off);
    return OkStatus();
  };
  return BlockedRound(next_, prev_, scratch_, n, w, 0, op, prepare, finish);
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
  CONSORT_RETURN_IF_ERROR(Round(shape.numel(), {}, out.s0, out.s1, {}, "matmul"));
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
    CONSORT_RETURN_IF_ERROR(Round(n, rest, rest, {}, {}, "input"));
  } else if (party_ == (owner + 1) % 3) {
    own_prg_.Fill(out.s0);  // x_{o+1}
    CONSORT_RETURN_IF_ERROR(Round(n, {}, {}, {}, out.s1, "input"));
  } else {
    next_prg_.Fill(out.s1);  // x_o
    CONSORT_RETURN_IF_ERROR(Round(n, {}, {}, out.s0, {}, "input"));
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
  Shared out{x.shape, std::vector<uint64_t>(n), std::vector<uint64_t>(n)};
  // Block: z_i (cross terms + zero share) to prev; z_{i+1} from next.
  auto prepare = [&](size_t off, size_t len, uint64_t*, uint64_t*, uint64_t* z) {
    const uint64_t *x0 = x.s0.data() + off, *x1 = x.s1.data() + off;
    const uint64_t *y0 = y.s0.data() + off, *y1 = y.s1.data() + off;
    if (binary) {
      for (size_t i = 0; i < len; ++i) z[i] = (x0[i] & (y0[i] ^ y1[i])) ^ (x1[i] & y0[i]);
    } else {
      for (size_t i = 0; i < len; ++i) z[i] = x0[i] * (y0[i] + y1[i]) + x1[i] * y0[i];
    }
    AddZeroShare({z, len}, binary);
    std::copy(z, z + len, out.s0.data() + off);
  };
  auto finish = [&](size_t off, size_t len, uint64_t*, const uint64_t* from_next,
                    const uint64_t*) -> Status {
    std::copy(from_next, from_next + len, out.s1.data() + off);
    return OkStatus();
  };
  CONSORT_RETURN_IF_ERROR(BlockedRound(next_, prev_, scratch_, n, Words{0, 1, 1, 0}, 0,
                                       binary ? "and" : "mul", prepare, finish));
  CountRounds(1);
  return out;
}

StatusOr<Shared> ThreePartyBackend::Mul(const Shared& x, const Shared& y) {
  return MulImpl(x, y, false);
}

StatusOr<Shared> ThreePartyBackend::MulFxp(const Shared& x, const Shared& y) {
  CONSORT_RETURN_IF_ERROR(CheckSameShape(x, y, "mul"));
  CONSORT_RETURN_IF_ERROR(CheckShares(x, "mul"));
  CONSORT_RETURN_IF_ERROR(CheckShares(y, "mul"));
  const int d = fxp().frac_bits();
  if (x.shape.numel() == 0 || d == 0) return Mul(x, y);
  // The product's 3-out-of-3 shares, block by block (the zero share drawn in block order).
  return TruncImpl(
      x.shape,
      [&](size_t off, size_t len, uint64_t* z) {
        const uint64_t *x0 = x.s0.data() + off, *x1 = x.s1.data() + off;
        const uint64_t *y0 = y.s0.data() + off, *y1 = y.s1.data() + off;
        for (size_t i = 0; i < len; ++i) z[i] = x0[i] * (y0[i] + y1[i]) + x1[i] * y0[i];
        AddZeroShare({z, len}, false);
      },
      d, /*fused=*/true);
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

StatusOr<Shared> ThreePartyBackend::MatMulFxp(const Shared& x, const Shared& y) {
  CONSORT_RETURN_IF_ERROR(CheckMatMulShapes(x, y));
  CONSORT_RETURN_IF_ERROR(CheckShares(x, "matmul"));
  CONSORT_RETURN_IF_ERROR(CheckShares(y, "matmul"));
  const int d = fxp().frac_bits();
  if (d == 0) return MatMul(x, y);
  const size_t m = x.shape.rows, k = x.shape.cols, n = y.shape.cols;
  // This party's 3-out-of-3 share of the product, computed whole (a matrix product does not
  // split into elementwise blocks); the zero share is drawn before the truncation's PRG words
  // at every party, so the pairwise streams stay aligned.
  std::vector<uint64_t> ysum(k * n), z(m * n, 0);
  RingAdd(y.s0, y.s1, ysum);
  RingMatMulAdd(x.s0.data(), ysum.data(), z.data(), m, k, n);  // X_i (Y_i + Y_{i+1})
  RingMatMulAdd(x.s1.data(), y.s0.data(), z.data(), m, k, n);  // + X_{i+1} Y_i
  AddZeroShare(z, false);
  return TruncImpl(
      Shape{m, n},
      [&](size_t off, size_t len, uint64_t* out) { std::copy_n(z.data() + off, len, out); }, d,
      /*fused=*/true);
}

StatusOr<Shared> ThreePartyBackend::Trunc(const Shared& a, int bits) {
  if (bits < 0 || bits > kMaxThreePartyTruncBits) {
    return absl::InvalidArgumentError("mpc trunc: bad shift " + std::to_string(bits) + " (0 to " +
                                      std::to_string(kMaxThreePartyTruncBits) + ")");
  }
  CONSORT_RETURN_IF_ERROR(CheckShares(a, "trunc"));
  if (bits == 0 || a.shape.numel() == 0) return a;
  // 3-out-of-3 view: party 1 takes x1, party 2 x2 + x0 (it holds both); party 0's x0 is
  // already counted by party 2 and is not sent.
  const bool p2 = party_ == 2;
  return TruncImpl(
      a.shape,
      [&](size_t off, size_t len, uint64_t* z) {
        for (size_t i = 0; i < len; ++i) z[i] = a.s0[off + i] + (p2 ? a.s1[off + i] : 0);
      },
      bits, /*fused=*/false);
}

StatusOr<Shared> ThreePartyBackend::TruncImpl(Shape shape, const BlockFn& zfn, int d, bool fused) {
  const size_t n = shape.numel();
  const size_t z0_words = fused ? 1 : 0;  // party 0's share, sent ahead of its correction
  Shared out{shape, std::vector<uint64_t>(n), std::vector<uint64_t>(n)};
  // PRG draws, per block in round 1: k1 (parties 0, 1): r_a, m_1; k0 (parties 0, 2): r_b, h_2
  // (after the block's zero share when fused); then, for all elements: k1: y_1, k0: y_0.
  // r = r_a + r_b is the mask, h = r >> d, m = msb(r); y_0, y_1 are the output's components
  // 0 and 1.
  if (party_ == 0) {
    // Block: to party 1 [z_0 | h - h_2], to party 2 [z_0 | m - m_1]; nothing received.
    auto prepare = [&](size_t off, size_t len, uint64_t* s, uint64_t* to1, uint64_t* to2) {
      constexpr size_t B = kThreePartyBlock;
      uint64_t *z = s, *r_a = s + B, *m1 = s + 2 * B, *r_b = s + 3 * B, *h2 = s + 4 * B;
      if (fused) zfn(off, len, z);
      next_prg_.Fill({r_a, len});
      next_prg_.Fill({m1, len});
      own_prg_.Fill({r_b, len});
      own_prg_.Fill({h2, len});
      if (fused) {
        std::copy(z, z + len, to1);
        std::copy(z, z + len, to2);
      }
      uint64_t *c1 = to1 + z0_words * len, *c2 = to2 + z0_words * len;
      for (size_t i = 0; i < len; ++i) {
        const uint64_t r = r_a[i] + r_b[i];
        c1[i] = (r >> d) - h2[i];
        c2[i] = (r >> 63) - m1[i];
      }
    };
    auto finish = [](size_t, size_t, uint64_t*, const uint64_t*, const uint64_t*) {
      return OkStatus();
    };
    const size_t w = 1 + z0_words;
    CONSORT_RETURN_IF_ERROR(
        BlockedRound(next_, prev_, scratch_, n, Words{w, w, 0, 0}, 5, "trunc", prepare, finish));
    next_prg_.Fill(out.s1);  // y_1
    own_prg_.Fill(out.s0);   // y_0
    CountRounds(2);          // party 0 is idle in the second round
    return out;
  }
  const bool p1 = party_ == 1;
  crypto::Prg& prg = p1 ? own_prg_ : next_prg_;  // k1 at party 1, k0 at party 2
  // Round 1, block: [mine | corr] kept in the slot; mine = z + mask (+ 2^62 at party 1) goes to
  // the other computing party; party 0's words come in. Each party ends with its 2-out-of-2
  // share t of the result, kept in `t` until round 2.
  std::vector<uint64_t> t(n);
  auto prepare = [&](size_t off, size_t len, uint64_t* s, uint64_t* to_next, uint64_t* to_prev) {
    uint64_t *mine = s, *corr = s + kThreePartyBlock;
    zfn(off, len, mine);
    uint64_t* mask = p1 ? to_next : to_prev;  // scratch until overwritten below
    prg.Fill({mask, len});                    // r_a | r_b
    prg.Fill({corr, len});                    // m_1 | h_2
    const uint64_t add = p1 ? kOffset : 0;
    for (size_t i = 0; i < len; ++i) mine[i] += mask[i] + add;
    std::copy(mine, mine + len, mask);
  };
  const uint64_t sub = p1 ? kOffset >> d : 0;
  auto finish = [&](size_t off, size_t len, uint64_t* s, const uint64_t* from_next,
                    const uint64_t* from_prev) -> Status {
    const uint64_t *mine = s, *corr = s + kThreePartyBlock;
    const uint64_t* theirs = p1 ? from_next : from_prev;
    const uint64_t* from0 = p1 ? from_prev : from_next;
    const uint64_t* recv = from0 + z0_words * len;  // h_1 at party 1, m_2 at party 2
    for (size_t i = 0; i < len; ++i) {
      const uint64_t c = mine[i] + theirs[i] + (fused ? from0[i] : 0);  // x' + r, opened
      const uint64_t h = p1 ? recv[i] : corr[i];
      const uint64_t m = p1 ? corr[i] : recv[i];
      // wrap = msb(r) (1 - msb(c)): linear in the shared msb(r) since c is known here.
      const uint64_t wrap = (c >> 63) ? 0 : m << (64 - d);
      t[off + i] = (p1 ? c >> d : 0) - h + wrap - sub;
    }
    return OkStatus();
  };
  const size_t w0 = 1 + z0_words;
  const Words round1 = p1 ? Words{1, 0, 1, w0} : Words{0, 1, w0, 1};
  CONSORT_RETURN_IF_ERROR(
      BlockedRound(next_, prev_, scratch_, n, round1, 2, "trunc", prepare, finish));
  // Round 2: component 2 = (t_1 - y_1) + (t_2 - y_0); this party keeps y and sends t - y.
  std::vector<uint64_t>& y = p1 ? out.s0 : out.s1;  // y_1 | y_0
  std::vector<uint64_t>& comp2 = p1 ? out.s1 : out.s0;
  auto prepare2 = [&](size_t off, size_t len, uint64_t* s, uint64_t* to_next, uint64_t* to_prev) {
    uint64_t* msg = p1 ? to_next : to_prev;
    prg.Fill({y.data() + off, len});
    for (size_t i = 0; i < len; ++i) msg[i] = t[off + i] - y[off + i];
    std::copy(msg, msg + len, s);
  };
  auto finish2 = [&](size_t off, size_t len, uint64_t* s, const uint64_t* from_next,
                     const uint64_t* from_prev) -> Status {
    const uint64_t* theirs = p1 ? from_next : from_prev;
    for (size_t i = 0; i < len; ++i) comp2[off + i] = s[i] + theirs[i];
    return OkStatus();
  };
  const Words round2 = p1 ? Words{1, 0, 1, 0} : Words{0, 1, 0, 1};
  CONSORT_RETURN_IF_ERROR(
      BlockedRound(next_, prev_, scratch_, n, round2, 1, "trunc", prepare2, finish2));
  CountRounds(2);
  return out;
}

StatusOr<Shared> ThreePartyBackend::InputFromParty0(Shape shape, std::vector<uint64_t> u) {
  const size_t n = shape.numel();
  Shared out{shape, std::vector<uint64_t>(n, 0), std::vector<uint64_t>(n, 0)};
  if (party_ == 0) {
    own_prg_.Fill(out.s0);  // component 0 = F(k0), shared with party 2
    for (size_t i = 0; i < n; ++i) out.s1[i] = u[i] ^ out.s0[i];
    CONSORT_RETURN_IF_ERROR(Round(n, out.s1, {}, {}, {}, "compare"));
  } else if (party_ == 1) {
    CONSORT_RETURN_IF_ERROR(Round(n, {}, {}, {}, out.s0, "compare"));  // component 1
  } else {
    next_prg_.Fill(out.s1);  // component 0
    CONSORT_RETURN_IF_ERROR(Round(n, {}, {}, {}, {}, "compare"));
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
  return InputFromParty0(x.shape, std::move(u));
}

StatusOr<Shared> ThreePartyBackend::BitInject(const Shared& bits) {
  // b = b0 ^ b1 ^ b2 (bit 0). Output components: comp1 = s (PRG k1: parties 0, 1), comp2 = w
  // (PRG k2: parties 1, 2), comp0 = b - w - s, which parties 0 and 2 obtain by two 3-party OTs
  // with party 1 (knows b1, b2, s, w) as sender and the choice bit b0 known to both others:
  // party 1 sends comp0(beta) = (beta ^ b1 ^ b2) - w - s for beta = 0, 1 to party 2 masked by
  // rho_beta (k1, unknown to party 2) and to party 0 masked by sigma_beta (k2, unknown to
  // party 0); party 0 sends party 2 rho_{b0}, party 2 sends party 0 sigma_{b0}. One round.
  const size_t n = bits.shape.numel();
  Shared out{bits.shape, std::vector<uint64_t>(n), std::vector<uint64_t>(n)};
  if (party_ == 0) {
    next_prg_.Fill(out.s1);  // s
    std::vector<uint64_t> rho = next_prg_.Next(2 * n), to2(n), from1(2 * n), from2(n);
    for (size_t i = 0; i < n; ++i) to2[i] = rho[2 * i + (bits.s0[i] & 1)];
    CONSORT_RETURN_IF_ERROR(Round(n, {}, to2, from1, from2, "compare"));
    for (size_t i = 0; i < n; ++i) out.s0[i] = from1[2 * i + (bits.s0[i] & 1)] - from2[i];
  } else if (party_ == 1) {
    own_prg_.Fill(out.s0);   // s
    next_prg_.Fill(out.s1);  // w
    std::vector<uint64_t> rho = own_prg_.Next(2 * n), sigma = next_prg_.Next(2 * n);
    std::vector<uint64_t> to2(2 * n), to0(2 * n);
    for (size_t i = 0; i < n; ++i) {
      const uint64_t e = (bits.s0[i] ^ bits.s1[i]) & 1;  // b1 ^ b2
      for (uint64_t beta = 0; beta < 2; ++beta) {
        const uint64_t comp0 = (beta ^ e) - out.s0[i] - out.s1[i];
        to2[2 * i + beta] = comp0 + rho[2 * i + beta];
        to0[2 * i + beta] = comp0 + sigma[2 * i + beta];
      }
    }
    CONSORT_RETURN_IF_ERROR(Round(n, to2, to0, {}, {}, "compare"));
  } else {
    own_prg_.Fill(out.s0);  // w
    std::vector<uint64_t> sigma = own_prg_.Next(2 * n), to0(n), from0(n), from1(2 * n);
    for (size_t i = 0; i < n; ++i) to0[i] = sigma[2 * i + (bits.s1[i] & 1)];
    CONSORT_RETURN_IF_ERROR(Round(n, to0, {}, from0, from1, "compare"));
    for (size_t i = 0; i < n; ++i) out.s1[i] = from1[2 * i + (bits.s1[i] & 1)] - from0[i];
  }
  CountRounds(1);
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
  const size_t n = a.s0.size();
  RingTensor out{a.shape, std::vector<uint64_t>(n)};
  if (n == 0) return out;
  CONSORT_RETURN_IF_ERROR(Round(n, a.s0, {}, {}, out.data, "reveal"));  // x_{i-1} from prev
  CountRounds(1);
  for (size_t i = 0; i < out.data.size(); ++i) out.data[i] += a.s0[i] + a.s1[i];
  return out;
}

StatusOr<RingTensor> ThreePartyBackend::RevealTo(const Shared& a, int receiver) {
  if (receiver < 0 || receiver > 2) {
    return absl::InvalidArgumentError("mpc reveal_to: no party " + std::to_string(receiver));
  }
  CONSORT_RETURN_IF_ERROR(CheckShares(a, "reveal_to"));
  const size_t n = a.s0.size();
  RingTensor out{a.shape, {}};
  if (n == 0) return out;
  CountRounds(1);
  if (party_ == (receiver + 2) % 3) {  // prev of the receiver sends its x_{r-1}
    CONSORT_RETURN_IF_ERROR(Round(n, a.s0, {}, {}, {}, "reveal_to"));
  } else if (party_ == receiver) {
    out.data.resize(a.s0.size());
    CONSORT_RETURN_IF_ERROR(Round(n, {}, {}, {}, out.data, "reveal_to"));
    for (size_t i = 0; i < out.data.size(); ++i) out.data[i] += a.s0[i] + a.s1[i];
  }
  return out;
}

Cost ThreePartyBackend::CostOf(Op op, Shape a, Shape b) const {
  if (fxp().frac_bits() == 0) {
    if (op == Op::kMulFxp) op = Op::kMul;
    if (op == Op::kMatMulFxp) op = Op::kMatMul;
  }
  return Costs(op, a, b);
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
    case Op::kMulFxp:
      return MulFxpCost(a);
    case Op::kMatMulFxp:
      if (a.cols != b.rows || b.numel() == 0) return Cost{};
      return Cost{2, 64 * uint64_t{a.rows} * b.cols, 0};
    case Op::kReveal:
      return Cost{1, 24 * n, 0};
    case Op::kRevealTo:
      return Cost{1, 8 * n, 0};
    case Op::kLessThanZero:
    case Op::kLessThan:
      return Cost{9, 344 * n, 0};
    case Op::kEqualZero:
    case Op::kEqual:
      return Cost{8, 200 * n, 0};
    default:
      return Cost{};  // add, sub, neg, add/mul public: local
  }
}

Cost ThreePartyBackend::MulFxpCost(Shape a) {
  return a.numel() == 0 ? Cost{} : Cost{2, 64 * a.numel(), 0};
}

}  // namespace consort::mpc
