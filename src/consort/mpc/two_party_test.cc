// Two-party backend specifics: costs against the links' counters, the truncation error
// bound, uniformity of shares, and malformed dealer / peer messages.

#include "consort/mpc/two_party.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <mutex>
#include <random>
#include <thread>

#include "consort/common/bytes.h"
#include "consort/mpc/dealer.h"
#include "consort/mpc/internal/wire.h"
#include "consort/mpc/testing.h"

namespace consort::mpc {
namespace {

using testing::RandomRing;

using testing::InputOf;
using testing::Mode;
using testing::Program;
using testing::RunResult;

FixedPoint Fxp() { return FixedPoint::Create().value(); }

// Runs `op` once on fresh inputs of shapes a, b (input sharing costs nothing) and checks the
// measured bytes and rounds against CostOf.
void ExpectCostMatches(Op op, Shape sa, Shape sb) {
  auto x = RandomRing(sa.numel(), 1), y = RandomRing(sb.numel(), 2);
  std::mutex mu;
  Cost expected;
  Program prog = [&](Backend& be) -> StatusOr<std::vector<uint64_t>> {
    CONSORT_ASSIGN_OR_RETURN(Shared a, be.Input(0, sa, InputOf(be, 0, x)));
    CONSORT_ASSIGN_OR_RETURN(Shared b, be.Input(1, sb, InputOf(be, 1, y)));
    {
      std::lock_guard<std::mutex> l(mu);
      expected = be.CostOf(op, sa, sb);
    }
    switch (op) {
      case Op::kMul: CONSORT_RETURN_IF_ERROR(be.Mul(a, b).status()); break;
      case Op::kMatMul: CONSORT_RETURN_IF_ERROR(be.MatMul(a, b).status()); break;
      case Op::kMulFxp: CONSORT_RETURN_IF_ERROR(be.MulFxp(a, b).status()); break;
      case Op::kMatMulFxp: CONSORT_RETURN_IF_ERROR(be.MatMulFxp(a, b).status()); break;
      case Op::kReveal: CONSORT_RETURN_IF_ERROR(be.Reveal(a).status()); break;
      case Op::kRevealTo: CONSORT_RETURN_IF_ERROR(be.RevealTo(a, 1).status()); break;
      case Op::kTrunc: CONSORT_RETURN_IF_ERROR(be.Trunc(a, 18).status()); break;
      case Op::kAdd: CONSORT_RETURN_IF_ERROR(be.Add(a, b).status()); break;
      case Op::kLessThanZero: CONSORT_RETURN_IF_ERROR(be.LessThanZero(a).status()); break;
      case Op::kLessThan: CONSORT_RETURN_IF_ERROR(be.LessThan(a, b).status()); break;
      case Op::kEqualZero: CONSORT_RETURN_IF_ERROR(be.EqualZero(a).status()); break;
      case Op::kEqual: CONSORT_RETURN_IF_ERROR(be.Equal(a, b).status()); break;
      case Op::kSelect: CONSORT_RETURN_IF_ERROR(be.Select(a, a, b).status()); break;
      default: break;
    }
    return std::vector<uint64_t>{};
  };
  RunResult r = testing::Run(Mode::kTwoPartyLinkDealer, prog);
  for (auto& o : r.outputs) ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(r.peer_bytes, expected.peer_bytes) << OpName(op) << " " << sa.ToString();
  EXPECT_EQ(r.dealer_bytes, expected.dealer_bytes) << OpName(op) << " " << sa.ToString();
  EXPECT_EQ(r.rounds, expected.rounds) << OpName(op) << " " << sa.ToString();
}

TEST(TwoPartyCost, MatchesLinkCounters) {
  ExpectCostMatches(Op::kMul, Shape::Vector(3000), Shape::Vector(3000));
  // More than one message per direction (2^20 words per message).
  ExpectCostMatches(Op::kMul, Shape::Vector((1 << 19) + 7), Shape::Vector((1 << 19) + 7));
  ExpectCostMatches(Op::kMatMul, Shape{20, 30}, Shape{30, 10});
  ExpectCostMatches(Op::kMulFxp, Shape::Vector(3000), Shape::Vector(3000));
  ExpectCostMatches(Op::kMatMulFxp, Shape{20, 30}, Shape{30, 10});
  ExpectCostMatches(Op::kReveal, Shape::Vector(5000), Shape::Vector(1));
  ExpectCostMatches(Op::kRevealTo, Shape::Vector(5000), Shape::Vector(1));
  ExpectCostMatches(Op::kTrunc, Shape::Vector(100), Shape::Vector(1));
  ExpectCostMatches(Op::kTrunc, Shape::Vector(2 * kTripleBlock + 3), Shape::Vector(1));
  ExpectCostMatches(Op::kAdd, Shape::Vector(100), Shape::Vector(100));
  ExpectCostMatches(Op::kInput, Shape::Vector(100), Shape::Vector(100));
  for (Op op : {Op::kLessThanZero, Op::kLessThan, Op::kEqualZero, Op::kEqual, Op::kSelect}) {
    ExpectCostMatches(op, Shape::Vector(100), Shape::Vector(100));
    ExpectCostMatches(op, Shape::Vector(kTripleBlock + 9), Shape::Vector(kTripleBlock + 9));
  }
  EXPECT_EQ(TwoPartyBackend::Costs(Op::kLessThanZero, Shape::Vector(1000)),
            (Cost{8, 2 * 192 * 1000, 8 * 26 + 104 * 1000}));
  EXPECT_EQ(TwoPartyBackend::Costs(Op::kEqual, Shape::Vector(1000), Shape::Vector(1000)),
            (Cost{8, 2 * 112 * 1000, 8 * 26 + 64 * 1000}));
  EXPECT_EQ(TwoPartyBackend::Costs(Op::kMul, Shape::Vector(1000), Shape::Vector(1000)),
            (Cost{1, 32 * 1000, 26 + 8000}));
  EXPECT_EQ(TwoPartyBackend::Costs(Op::kTrunc, Shape::Vector(1000)),
            (Cost{1, 16 * 1000, 26 + 16000}));
  EXPECT_EQ(TwoPartyBackend::Costs(Op::kTrunc, Shape::Vector(1000), {}, TruncMode::kLocal),
            Cost{});
}

// The local (SecureML) truncation costs nothing on the links, and MulFxp fuses it (1 round).
TEST(TwoPartyCost, LocalTruncAndMulFxpMatchLinkCounters) {
  for (TruncMode mode : {TruncMode::kLocal, TruncMode::kDealerPair}) {
    const size_t n = kTripleBlock + 9;
    auto x = RandomRing(n, 1);
    Program prog = [&](Backend& be) -> StatusOr<std::vector<uint64_t>> {
      dynamic_cast<TwoPartyBackend&>(be).set_trunc_mode(mode);
      CONSORT_ASSIGN_OR_RETURN(Shared a, be.Input(0, Shape::Vector(n), InputOf(be, 0, x)));
      CONSORT_RETURN_IF_ERROR(be.MulFxp(a, a).status());
      CONSORT_RETURN_IF_ERROR(be.Trunc(a, 18).status());
      return std::vector<uint64_t>{};
    };
    RunResult r = testing::Run(Mode::kTwoPartyLinkDealer, prog);
    for (auto& o : r.outputs) ASSERT_TRUE(o.ok()) << o.status();
    const Shape s = Shape::Vector(n);
    Cost want = TwoPartyBackend::Costs(Op::kMul, s, s);
    Cost t = TwoPartyBackend::Costs(Op::kTrunc, s, {}, mode);
    // MulFxp (mul, then trunc in kDealerPair) and one more Trunc.
    const uint64_t truncs = mode == TruncMode::kLocal ? 0 : 2;
    want.rounds += truncs * t.rounds;
    want.peer_bytes += truncs * t.peer_bytes;
    want.dealer_bytes += truncs * t.dealer_bytes;
    EXPECT_EQ(r.rounds, want.rounds);
    EXPECT_EQ(r.peer_bytes, want.peer_bytes);
    EXPECT_EQ(r.dealer_bytes, want.dealer_bytes);
    EXPECT_EQ(TwoPartyBackend::Costs(Op::kMulFxp, s, s, mode) + t, want);
    EXPECT_EQ(TwoPartyBackend::Costs(Op::kMulFxp, s, s, mode).rounds,
              mode == TruncMode::kLocal ? 1u : 2u);
  }
}

// MatMulFxp under both truncation modes: CostOf(kMatMulFxp) equals the counters and
// rounds(), and the result is floor or floor + 1 of the plaintext one (kLocal: except with
// the SecureML failure probability, negligible for these small products).
TEST(TwoPartyCost, MatMulFxpMatchesLinkCountersAndPlaintext) {
  const size_t m = 12, k = 30, n = 9;
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> d(-20, 20);
  std::vector<double> fx(m * k), fy(k * n);
  for (auto& v : fx) v = d(rng);
  for (auto& v : fy) v = d(rng);
  for (TruncMode mode : {TruncMode::kLocal, TruncMode::kDealerPair}) {
    std::mutex mu;
    Cost cost;
    uint64_t rounds = 0;
    Program prog = [&](Backend& be) -> StatusOr<std::vector<uint64_t>> {
      if (auto* tp = dynamic_cast<TwoPartyBackend*>(&be)) tp->set_trunc_mode(mode);
      CONSORT_ASSIGN_OR_RETURN(Shared a, be.InputFixed(0, Shape{m, k}, InputOf(be, 0, fx)));
      CONSORT_ASSIGN_OR_RETURN(Shared b, be.InputFixed(1, Shape{k, n}, InputOf(be, 1, fy)));
      const uint64_t r0 = be.rounds();
      CONSORT_ASSIGN_OR_RETURN(Shared z, be.MatMulFxp(a, b));
      {
        std::lock_guard<std::mutex> l(mu);
        cost = be.CostOf(Op::kMatMulFxp, a.shape, b.shape);
        rounds = be.rounds() - r0;
      }
      CONSORT_ASSIGN_OR_RETURN(RingTensor r, be.RevealTo(z, 0));
      return r.data;
    };
    RunResult ref = testing::Run(Mode::kPlaintext, prog);
    ASSERT_TRUE(ref.outputs[0].ok());
    RunResult r = testing::Run(Mode::kTwoPartyLinkDealer, prog);
    for (auto& o : r.outputs) ASSERT_TRUE(o.ok()) << o.status();
    const Cost reveal = TwoPartyBackend::Costs(Op::kRevealTo, Shape{m, n});
    EXPECT_EQ(cost, TwoPartyBackend::Costs(Op::kMatMulFxp, Shape{m, k}, Shape{k, n}, mode));
    EXPECT_EQ(r.peer_bytes, cost.peer_bytes + reveal.peer_bytes);
    EXPECT_EQ(r.dealer_bytes, cost.dealer_bytes);
    EXPECT_EQ(rounds, cost.rounds);
    EXPECT_EQ(cost.rounds, mode == TruncMode::kLocal ? 1u : 2u);
    const auto& got = *r.outputs[0];
    const auto& want = *ref.outputs[0];
    ASSERT_EQ(got.size(), m * n);
    for (size_t i = 0; i < m * n; ++i) {
      const int64_t diff = static_cast<int64_t>(got[i] - want[i]);
      EXPECT_TRUE(diff == 0 || diff == 1) << i << " " << diff;
    }
  }
}

// SecureML truncation: for |z| < 2^lx the result is floor(z / 2^f) or +1, except with
// probability <= 2^(lx + 1 - 64). Measured on n random values per lx.
struct TruncStats {
  size_t failures = 0;
  size_t off_by_one = 0;
  size_t n = 0;
};

TruncStats MeasureTrunc(int lx, size_t n, uint64_t seed, TruncMode mode = TruncMode::kLocal,
                        std::vector<uint64_t> extra = {}) {
  std::mt19937_64 rng(seed);
  std::vector<uint64_t> z(n);
  const uint64_t mask = (uint64_t{1} << lx) - 1;
  for (auto& v : z) {
    v = rng() & mask;  // |z| < 2^lx, both signs
    if (rng() & 1) v = 0 - v;
  }
  std::copy(extra.begin(), extra.end(), z.begin());
  Program prog = [&](Backend& be) -> StatusOr<std::vector<uint64_t>> {
    dynamic_cast<TwoPartyBackend&>(be).set_trunc_mode(mode);
    CONSORT_ASSIGN_OR_RETURN(Shared a, be.Input(0, Shape::Vector(n), InputOf(be, 0, z)));
    CONSORT_ASSIGN_OR_RETURN(Shared t, be.Trunc(a, 18));
    CONSORT_ASSIGN_OR_RETURN(RingTensor out, be.Reveal(t));
    return out.data;
  };
  RunResult r = testing::Run(Mode::kTwoPartyInProcessDealer, prog);
  EXPECT_TRUE(r.outputs[0].ok());
  TruncStats s;
  s.n = n;
  for (size_t i = 0; i < n; ++i) {
    const int64_t d = static_cast<int64_t>((*r.outputs[0])[i] - ArithmeticShiftRight(z[i], 18));
    if (d == 1) ++s.off_by_one;
    if (d != 0 && d != 1) {
      ++s.failures;
      // A failure is off by about 2^(64 - 18), never a small error.
      EXPECT_GT(std::abs(static_cast<double>(d)), std::ldexp(1.0, 40));
    }
  }
  return s;
}

TEST(TwoPartyTrunc, ErrorBoundHoldsEmpirically) {
  // lx = 40: bound 2^-23; 10^6 values -> 0.12 expected failures.
  TruncStats small = MeasureTrunc(40, 1'000'000, 3);
  EXPECT_LE(small.failures, 3u);
  EXPECT_GT(small.off_by_one, 0u);  // the +1 case does occur
  // lx = 60: bound 2^-3; the failure rate is measurable and must stay under the bound.
  TruncStats big = MeasureTrunc(60, 200'000, 4);
  const double rate = static_cast<double>(big.failures) / big.n;
  std::printf("trunc lx=60: failure rate %.4f (bound %.4f); lx=40: %zu failures in 1e6\n",
              rate, std::ldexp(1.0, 60 + 1 - 64), small.failures);
  EXPECT_GT(big.failures, 0u);  // the test can see failures when they are likely
  EXPECT_LE(rate, std::ldexp(1.0, 60 + 1 - 64));
}

// Dealer-pair truncation: floor or floor + 1 with certainty for -2^62 <= z < 2^62, at the
// magnitude where the local truncation fails on ~3% of values, and at the exact limits.
TEST(TwoPartyTrunc, DealerPairNeverFails) {
  const uint64_t lim = uint64_t{1} << 62;
  std::vector<uint64_t> edges = {0, 1, 0 - uint64_t{1}, lim - 1, 0 - lim, 0 - lim + 1,
                                 lim - (1 << 18), (1 << 18) - 1, uint64_t{1} << 18,
                                 0 - (uint64_t{1} << 18), 0 - (uint64_t{1} << 18) - 1};
  // lx = 62 covers the whole accepted range [-2^62, 2^62).
  TruncStats full = MeasureTrunc(62, 1'000'000, 5, TruncMode::kDealerPair, edges);
  EXPECT_EQ(full.failures, 0u);
  EXPECT_GT(full.off_by_one, 0u);
  TruncStats at60 = MeasureTrunc(60, 1'000'000, 4, TruncMode::kDealerPair);
  EXPECT_EQ(at60.failures, 0u);
  // The same magnitude with the local truncation: failures are frequent.
  TruncStats local60 = MeasureTrunc(60, 1'000'000, 4, TruncMode::kLocal);
  std::printf("trunc 1e6 values: dealer pair lx=62: %zu failures, lx=60: %zu; local lx=60: "
              "%zu\n", full.failures, at60.failures, local60.failures);
  EXPECT_GT(local60.failures, 10'000u);
}

// The +1 is stochastic rounding: P(+1) = (z mod 2^d) / 2^d, so the mean error is zero.
TEST(TwoPartyTrunc, DealerPairRoundingIsUnbiased) {
  const size_t n = 200'000;
  const int d = 18;
  std::mt19937_64 rng(9);
  std::vector<uint64_t> z(n);
  for (auto& v : z) v = (rng() & ((uint64_t{1} << 50) - 1)) - (uint64_t{1} << 49);
  Program prog = [&](Backend& be) -> StatusOr<std::vector<uint64_t>> {
    CONSORT_ASSIGN_OR_RETURN(Shared a, be.Input(1, Shape::Vector(n), InputOf(be, 1, z)));
    CONSORT_ASSIGN_OR_RETURN(Shared t, be.Trunc(a, d));
    CONSORT_ASSIGN_OR_RETURN(RingTensor out, be.Reveal(t));
    return out.data;
  };
  RunResult r = testing::Run(Mode::kTwoPartyLinkDealer, prog);
  ASSERT_TRUE(r.outputs[0].ok()) << r.outputs[0].status();
  double ups = 0, expected = 0, var = 0;
  for (size_t i = 0; i < n; ++i) {
    const int64_t diff = static_cast<int64_t>((*r.outputs[0])[i] - ArithmeticShiftRight(z[i], d));
    ASSERT_TRUE(diff == 0 || diff == 1) << i;
    const double p = std::ldexp(static_cast<double>(z[i] & ((1 << d) - 1)), -d);
    ups += diff;
    expected += p;
    var += p * (1 - p);
  }
  EXPECT_NEAR(ups, expected, 6 * std::sqrt(var));
}

TEST(TwoPartyTrunc, DealerPairRejectsBadShifts) {
  Program prog = [&](Backend& be) -> StatusOr<std::vector<uint64_t>> {
    std::vector<uint64_t> x = {5};
    CONSORT_ASSIGN_OR_RETURN(Shared a, be.Input(0, Shape::Vector(1), InputOf(be, 0, x)));
    for (int bits : {-1, 63, 64}) {
      if (be.Trunc(a, bits).status().code() != absl::StatusCode::kInvalidArgument) {
        return absl::InternalError("shift " + std::to_string(bits) + " accepted");
      }
    }
    CONSORT_ASSIGN_OR_RETURN(Shared t0, be.Trunc(a, 0));  // identity, no traffic
    CONSORT_ASSIGN_OR_RETURN(Shared t, be.Trunc(a, 62));
    CONSORT_ASSIGN_OR_RETURN(Shared both, be.Add(t0, t));
    CONSORT_ASSIGN_OR_RETURN(RingTensor out, be.Reveal(both));
    return out.data;
  };
  RunResult r = testing::Run(Mode::kTwoPartyLinkDealer, prog);
  ASSERT_TRUE(r.outputs[0].ok()) << r.outputs[0].status();
  // 5 + (floor(5 / 2^62) + b) = 5 or 6.
  EXPECT_TRUE((*r.outputs[0])[0] == 5 || (*r.outputs[0])[0] == 6);
  EXPECT_EQ(r.rounds, 2u);
}

// Bit balance (every bit position) and chi-square on the low and high bytes. Returns false
// when a test would reject uniformity at about 6 sigma.
bool LooksUniform(const std::vector<uint64_t>& v) {
  const double n = static_cast<double>(v.size());
  for (int bit = 0; bit < 64; ++bit) {
    double ones = 0;
    for (uint64_t x : v) ones += (x >> bit) & 1;
    if (std::fabs(ones - n / 2) > 6 * std::sqrt(n) / 2) return false;
  }
  for (int shift : {0, 56}) {
    std::vector<double> bins(256, 0);
    for (uint64_t x : v) bins[(x >> shift) & 0xff] += 1;
    double chi2 = 0;
    for (double b : bins) chi2 += (b - n / 256) * (b - n / 256) / (n / 256);
    // 255 degrees of freedom: mean 255, sd sqrt(510) ~ 22.6.
    if (chi2 > 255 + 6 * 22.6) return false;
  }
  return true;
}

TEST(TwoPartyShares, AreUniformForAConstantSecret) {
  const size_t n = 1 << 16;
  std::vector<uint64_t> constant(n, Fxp().EncodeInt(std::vector<int64_t>{5}).value()[0]);
  ASSERT_FALSE(LooksUniform(constant));  // the check can fail
  std::vector<uint64_t> biased = RandomRing(n, 5);
  for (auto& x : biased) x |= uint64_t{1} << 37;
  ASSERT_FALSE(LooksUniform(biased));
  ASSERT_TRUE(LooksUniform(RandomRing(n, 6)));

  for (Mode mode : {Mode::kTwoPartyInProcessDealer, Mode::kTwoPartyLinkDealer}) {
    Program prog = [&](Backend& be) -> StatusOr<std::vector<uint64_t>> {
      CONSORT_ASSIGN_OR_RETURN(Shared a, be.Input(0, Shape::Vector(n), InputOf(be, 0, constant)));
      CONSORT_ASSIGN_OR_RETURN(Shared b, be.Input(1, Shape::Vector(n), InputOf(be, 1, constant)));
      CONSORT_ASSIGN_OR_RETURN(Shared z, be.Mul(a, b));
      // The dealer-pair truncation and the comparisons give fresh uniform shares too.
      CONSORT_ASSIGN_OR_RETURN(Shared t, be.Trunc(z, 18));
      CONSORT_ASSIGN_OR_RETURN(Shared lt, be.LessThan(a, b));
      CONSORT_ASSIGN_OR_RETURN(Shared eq, be.Equal(a, b));
      std::vector<uint64_t> views = a.s0;  // this party's share of each secret
      for (const Shared* x : {&z, &t, &lt, &eq}) {
        views.insert(views.end(), x->s0.begin(), x->s0.end());
      }
      return views;
    };
    RunResult r = testing::Run(mode, prog);
    const char* what[] = {"input", "product", "truncated product", "less_than", "equal"};
    for (int p = 0; p < 2; ++p) {
      ASSERT_TRUE(r.outputs[p].ok());
      const auto& v = *r.outputs[p];
      ASSERT_EQ(v.size(), 5 * n);
      for (size_t k = 0; k < 5; ++k) {
        EXPECT_TRUE(LooksUniform({v.begin() + k * n, v.begin() + (k + 1) * n}))
            << what[k] << " share, party " << p;
      }
    }
    const uint64_t prod = constant[0] * constant[0];
    for (size_t i = 0; i < n; ++i) {
      const uint64_t t = (*r.outputs[0])[2 * n + i] + (*r.outputs[1])[2 * n + i];
      ASSERT_TRUE(t == ArithmeticShiftRight(prod, 18) || t == ArithmeticShiftRight(prod, 18) + 1);
      ASSERT_EQ((*r.outputs[0])[3 * n + i] + (*r.outputs[1])[3 * n + i], 0u);  // 5 < 5: no
      ASSERT_EQ((*r.outputs[0])[4 * n + i] + (*r.outputs[1])[4 * n + i], 1u);  // 5 == 5
    }
    // The shares do add up to the secrets.
    for (size_t i = 0; i < 10; ++i) {
      EXPECT_EQ((*r.outputs[0])[i] + (*r.outputs[1])[i], constant[i]);
      EXPECT_EQ((*r.outputs[0])[n + i] + (*r.outputs[1])[n + i], constant[i] * constant[i]);
    }
  }
}

// ---- malformed messages ---------------------------------------------------------------

Bytes SeedMessage(uint8_t party, size_t seed_bytes = 32, uint8_t type = 1) {
  Bytes m(2 + seed_bytes, 0x42);
  m[0] = type;
  m[1] = party;
  return m;
}

TEST(TwoPartyDealer, PartyRejectsMalformedSeedMessages) {
  struct Case {
    Bytes msg;
    const char* what;
  } cases[] = {{SeedMessage(1, 31), "short"},
               {SeedMessage(1, 33), "long"},
               {SeedMessage(1, 32, 2), "wrong type"},
               {SeedMessage(0), "addressed to party 0"},
               {Bytes{}, "empty"}};
  for (auto& c : cases) {
    auto [d, p] = net::CreateInMemoryLinkPair("dealer", "p1");
    ASSERT_TRUE(d->Send(c.msg).ok());
    auto src = ConnectToDealer(1, *p);
    EXPECT_EQ(src.status().code(), absl::StatusCode::kInvalidArgument) << c.what;
  }
  auto [d, p] = net::CreateInMemoryLinkPair("dealer", "p1");
  ASSERT_TRUE(d->Send(SeedMessage(1)).ok());
  EXPECT_TRUE(ConnectToDealer(1, *p).ok());
}

Bytes Request(uint8_t kind, uint64_t m, uint64_t k, uint64_t n) {
  Bytes r = {2, kind};
  AppendU64(r, m);
  AppendU64(r, k);
  AppendU64(r, n);
  return r;
}

TEST(TwoPartyDealer, DealerRejectsMalformedRequests) {
  struct Case {
    Bytes msg;
    const char* what;
  } cases[] = {
      {Bytes{9}, "unknown type"},
      {Bytes{}, "empty"},
      {Bytes{2, 1, 0}, "truncated request"},
      {Request(7, 5, 0, 0), "unknown kind"},
      {Request(1, 0, 0, 0), "zero elementwise"},
      {Request(1, 5, 1, 0), "elementwise with k"},
      {Request(1, uint64_t{1} << 40, 0, 0), "too many triples"},
      {Request(2, 3, 0, 4), "zero inner dimension"},
      {Request(2, uint64_t{1} << 33, uint64_t{1} << 33, 1), "overflowing matmul"},
      {Request(2, 1 << 13, 1 << 13, 1), "matmul A over the matrix limit"},
      {Request(2, 1 << 12, 1 << 12, 1 << 13), "matmul over the work limit"},
      {Request(3, 5, 0, 0), "truncation by 0 bits"},
      {Request(3, 5, 63, 0), "truncation by 63 bits"},
      {Request(3, 5, 18, 1), "truncation with n"},
      {Request(3, 0, 18, 0), "zero truncation pairs"},
      {Request(3, uint64_t{1} << 40, 18, 0), "too many truncation pairs"},
      {Request(4, 5, 1, 0), "binary triples with k"},
      {Request(5, 0, 0, 0), "zero masks"},
      {Request(6, uint64_t{1} << 40, 0, 0), "too many dabits"},
  };
  for (auto& c : cases) {
    auto [d0, p0] = net::CreateInMemoryLinkPair("dealer", "p0");
    auto [d1, p1] = net::CreateInMemoryLinkPair("dealer", "p1");
    ASSERT_TRUE(p1->Send(c.msg).ok());
    Dealer dealer;
    Status st = RunDealer(dealer, *d0, *d1);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << c.what << ": " << st;
    if (std::string(c.what).find("limit") != std::string::npos) {
      EXPECT_NE(st.message().find(std::string(c.what).find("work") != std::string::npos
                                      ? "work limit"
                                      : "matmul A exceeds"),
                std::string::npos)
          << st;
    }
  }
  // A well-formed request followed by kDone ends cleanly, with c1 of the right size.
  auto [d0, p0] = net::CreateInMemoryLinkPair("dealer", "p0");
  auto [d1, p1] = net::CreateInMemoryLinkPair("dealer", "p1");
  ASSERT_TRUE(p1->Send(Request(2, 3, 4, 5)).ok());
  ASSERT_TRUE(p1->Send(Bytes{3}).ok());
  Dealer dealer;
  EXPECT_TRUE(RunDealer(dealer, *d0, *d1).ok());
  ASSERT_TRUE(p1->Recv().ok());  // seed
  EXPECT_EQ(p1->Recv()->size(), 8u * 15);
  // Truncation pairs: [h1 | m1] per block of 2^16 pairs.
  auto [e0, q0] = net::CreateInMemoryLinkPair("dealer", "p0");
  auto [e1, q1] = net::CreateInMemoryLinkPair("dealer", "p1");
  ASSERT_TRUE(q1->Send(Request(3, kTripleBlock + 3, 18, 0)).ok());
  ASSERT_TRUE(q1->Send(Bytes{3}).ok());
  Dealer dealer2;
  EXPECT_TRUE(RunDealer(dealer2, *e0, *e1).ok());
  ASSERT_TRUE(q1->Recv().ok());  // seed
  EXPECT_EQ(q1->Recv()->size(), 16u * kTripleBlock);
  EXPECT_EQ(q1->Recv()->size(), 16u * 3);
}

TEST(TwoPartyDealer, ShortCorrectionIsInvalidArgument) {
  auto [d, p] = net::CreateInMemoryLinkPair("dealer", "p1");
  ASSERT_TRUE(d->Send(SeedMessage(1)).ok());
  auto src = ConnectToDealer(1, *p);
  ASSERT_TRUE(src.ok());
  ASSERT_TRUE((*src)->Start(TripleShape::Elementwise(10)).ok());
  std::vector<uint64_t> a(10), b(10), c(10);
  (*src)->Expand(a, b, {});
  ASSERT_EQ(d->Recv()->size(), 26u);       // the request
  ASSERT_TRUE(d->Send(Bytes(79, 0)).ok());  // 79 bytes instead of 80
  EXPECT_EQ((*src)->Correct(c).code(), absl::StatusCode::kInvalidArgument);
}

// Party 1 runs the real backend against a scripted party 0.
Status RunAgainstScriptedPeer(const std::function<void(net::Link&)>& script, size_t n = 10) {
  auto [fake, real] = net::CreateInMemoryLinkPair("p0", "p1");
  Dealer dealer;
  std::thread t([&, f = fake.get()] { script(*f); });
  Status st = [&]() -> Status {
    CONSORT_ASSIGN_OR_RETURN(auto be, TwoPartyBackend::Create(1, *real,
                                                              InProcessTripleSource(1, dealer),
                                                              Fxp()));
    std::vector<uint64_t> y(n, 7);
    CONSORT_ASSIGN_OR_RETURN(Shared a, be->Input(0, Shape::Vector(n), {}));
    CONSORT_ASSIGN_OR_RETURN(Shared b, be->Input(1, Shape::Vector(n), y));
    CONSORT_ASSIGN_OR_RETURN(Shared z, be->Mul(a, b));
    return be->Reveal(z).status();
  }();
  real->Close();
  t.join();
  return st;
}

// Party 1 runs LessThanZero on n values against a scripted party 0.
Status RunComparisonAgainstScriptedPeer(const std::function<void(net::Link&)>& script,
                                        size_t n) {
  auto [fake, real] = net::CreateInMemoryLinkPair("p0", "p1");
  Dealer dealer;
  std::thread t([&, f = fake.get()] { script(*f); });
  Status st = [&]() -> Status {
    CONSORT_ASSIGN_OR_RETURN(auto be, TwoPartyBackend::Create(1, *real,
                                                              InProcessTripleSource(1, dealer),
                                                              Fxp()));
    CONSORT_ASSIGN_OR_RETURN(Shared a, be->Input(0, Shape::Vector(n), {}));
    return be->LessThanZero(a).status();
  }();
  real->Close();
  t.join();
  return st;
}

TEST(TwoPartyPeer, MalformedComparisonMessagesAreInvalidArgument) {
  const size_t n = 10;
  Bytes seed(32, 1);
  // Messages of a well-formed run: the masked value, 5 levels of 2n ANDs and one of n (two
  // words per AND), the daBit bit. `bit` is what the daBit message carries.
  auto script = [&](size_t short_message, uint64_t bit) {
    return [=, &seed](net::Link& l) {
      (void)l.Send(seed);
      std::vector<size_t> sizes = {8 * n};
      for (int level = 0; level < 5; ++level) sizes.push_back(32 * n);
      sizes.push_back(16 * n);
      for (size_t k = 0; k < sizes.size(); ++k) {
        (void)l.Send(Bytes(sizes[k] - (k == short_message ? 8 : 0), 0));
        (void)l.Recv();
      }
      Bytes last;
      for (size_t i = 0; i < n; ++i) AppendU64(last, bit);
      (void)l.Send(last);
      (void)l.Recv();
    };
  };
  EXPECT_TRUE(RunComparisonAgainstScriptedPeer(script(99, 1), n).ok());
  EXPECT_EQ(RunComparisonAgainstScriptedPeer(script(0, 1), n).code(),
            absl::StatusCode::kInvalidArgument);  // short masked value
  EXPECT_EQ(RunComparisonAgainstScriptedPeer(script(3, 1), n).code(),
            absl::StatusCode::kInvalidArgument);  // short AND level
  EXPECT_EQ(RunComparisonAgainstScriptedPeer(script(99, 2), n).code(),
            absl::StatusCode::kInvalidArgument);  // a "bit" of 2
}

TEST(TwoPartyPeer, MalformedPeerMessagesAreInvalidArgument) {
  Bytes seed(32, 1);
  EXPECT_EQ(RunAgainstScriptedPeer([](net::Link& l) { (void)l.Send(Bytes(31, 1)); }).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RunAgainstScriptedPeer([&](net::Link& l) {
              (void)l.Send(seed);
              (void)l.Send(Bytes(8 * 20 - 1, 0));  // e|f one byte short
            }).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RunAgainstScriptedPeer([&](net::Link& l) {
              (void)l.Send(seed);
              (void)l.Send(Bytes(8 * 20, 0));
              (void)l.Send(Bytes(8 * 10 + 8, 0));  // reveal: one word too many
            }).code(),
            absl::StatusCode::kInvalidArgument);
  // A peer that goes away is Unavailable, not a hang.
  EXPECT_EQ(RunAgainstScriptedPeer([&](net::Link& l) {
              (void)l.Send(seed);
              l.Close();
            }).code(),
            absl::StatusCode::kUnavailable);
  // Multi-block Mul (3 blocks of 2^16): a bad second block, and a peer that leaves after the
  // first, end the pipeline with the right code instead of a hang.
  const size_t n3 = 2 * kTripleBlock + 5;
  EXPECT_EQ(RunAgainstScriptedPeer([&](net::Link& l) {
              (void)l.Send(seed);
              (void)l.Send(Bytes(16 * kTripleBlock, 0));
              (void)l.Send(Bytes(16 * kTripleBlock - 8, 0));
            }, n3).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RunAgainstScriptedPeer([&](net::Link& l) {
              (void)l.Send(seed);
              (void)l.Send(Bytes(16 * kTripleBlock, 0));
              l.Close();
            }, n3).code(),
            absl::StatusCode::kUnavailable);
  // The script that follows the protocol passes (the checks above are not vacuous).
  EXPECT_TRUE(RunAgainstScriptedPeer([&](net::Link& l) {
                (void)l.Send(seed);
                (void)l.Send(Bytes(8 * 20, 0));
                (void)l.Recv();
                (void)l.Send(Bytes(8 * 10, 0));
                (void)l.Recv();
              }).ok());
}

}  // namespace
}  // namespace consort::mpc
