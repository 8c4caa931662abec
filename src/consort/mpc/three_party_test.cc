// Three-party replicated backend: every op against the plaintext backend, exact comparisons at
// the ring extremes, the truncation bound, uniformity of each party's shares, costs against
// the link counters, and malformed / vanished peers.

#include "consort/mpc/three_party.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <functional>
#include <mutex>
#include <random>
#include <thread>

#include "consort/mpc/plaintext_backend.h"
#include "consort/mpc/testing.h"

namespace consort::mpc {
namespace {

using testing::Uniform;
using testing::RandomRing;

using testing::InputOf;
using testing::Mode;
using testing::Program;
using testing::RunResult;

FixedPoint Fxp() { return FixedPoint::Create().value(); }

// Runs `p` on the 3PC backend and on the plaintext backend (3 parties); every party's output
// must be ok. Returns (3PC run, plaintext output).
std::pair<RunResult, std::vector<uint64_t>> RunBoth(const Program& p) {
  RunResult ref = testing::Run(Mode::kPlaintext, p, {}, 3);
  EXPECT_TRUE(ref.outputs[0].ok()) << ref.outputs[0].status();
  RunResult got = testing::Run(Mode::kThreeParty, p);
  EXPECT_EQ(got.outputs.size(), 3u);
  for (auto& o : got.outputs) EXPECT_TRUE(o.ok()) << o.status();
  return {std::move(got), ref.outputs[0].ok() ? *ref.outputs[0] : std::vector<uint64_t>{}};
}

// Results that are not floor or floor + 1 of the reference (the truncation bound).
size_t CountOutsideOneUlp(const std::vector<uint64_t>& got, const std::vector<uint64_t>& want,
                          size_t from = 0, size_t to = SIZE_MAX) {
  EXPECT_EQ(got.size(), want.size());
  size_t bad = 0;
  for (size_t i = from; i < std::min({to, got.size(), want.size()}); ++i) {
    const int64_t d = static_cast<int64_t>(got[i] - want[i]);
    if (d < 0 || d > 1) ++bad;
  }
  return bad;
}

TEST(ThreeParty, LinearOpsAndRingMulMatchPlaintextExactly) {
  const size_t n = 5000;
  const double lim = Fxp().limit();
  auto x = Uniform(n, -lim / 4, lim / 4, 1), y = Uniform(n, -lim / 4, lim / 4, 2);
  x[0] = lim - 1e-3;
  x[1] = -(lim - 1e-3);
  y[0] = -(lim - 1e-3);
  auto c = Fxp().Encode(Uniform(n, -100, 100, 3)).value();
  auto r0 = RandomRing(n, 4), r1 = RandomRing(n, 5);
  Program prog = [&](Backend& be) -> StatusOr<std::vector<uint64_t>> {
    const Shape s = Shape::Vector(n);
    CONSORT_ASSIGN_OR_RETURN(Shared a, be.InputFixed(0, s, InputOf(be, 0, x)));
    CONSORT_ASSIGN_OR_RETURN(Shared b, be.InputFixed(2, s, InputOf(be, 2, y)));
    CONSORT_ASSIGN_OR_RETURN(Shared sum, be.Add(a, b));
    CONSORT_ASSIGN_OR_RETURN(Shared diff, be.Sub(a, b));
    CONSORT_ASSIGN_OR_RETURN(Shared e, be.AddPublic(be.Neg(diff), RingTensor::Vector(c)));
    CONSORT_ASSIGN_OR_RETURN(Shared f, be.MulPublic(sum, RingTensor{{1, 1}, {uint64_t(-3)}}));
    CONSORT_ASSIGN_OR_RETURN(Shared g, be.Add(e, f));
    // Ring products of arbitrary ring elements, twice in a row (a product times an input).
    CONSORT_ASSIGN_OR_RETURN(Shared u, be.Input(1, s, InputOf(be, 1, r0)));
    CONSORT_ASSIGN_OR_RETURN(Shared v, be.Input(2, s, InputOf(be, 2, r1)));
    CONSORT_ASSIGN_OR_RETURN(Shared uv, be.Mul(u, v));
    CONSORT_ASSIGN_OR_RETURN(Shared uvu, be.Mul(uv, u));
    CONSORT_ASSIGN_OR_RETURN(RingTensor o1, be.Reveal(g));
    CONSORT_ASSIGN_OR_RETURN(RingTensor o2, be.Reveal(uvu));
    o1.data.insert(o1.data.end(), o2.data.begin(), o2.data.end());
    return o1.data;
  };
  auto [got, want] = RunBoth(prog);
  ASSERT_EQ(want.size(), 2 * n);
  auto fx = Fxp().Encode(x).value(), fy = Fxp().Encode(y).value();
  for (size_t i = 0; i < n; ++i) {
    ASSERT_EQ(want[i], c[i] - (fx[i] - fy[i]) - 3 * (fx[i] + fy[i]));
    ASSERT_EQ(want[n + i], r0[i] * r1[i] * r0[i]);
  }
  for (auto& o : got.outputs) ASSERT_EQ(*o, want);
  // Inputs (4 x 1 round), two Muls, two Reveals.
  EXPECT_EQ(got.rounds, 8u);
}

TEST(ThreeParty, FixedPointMulAndTruncWithinOneUlpIncludingTheRangeLimits) {
  const size_t n = kThreePartyBlock + 4000;  // two pipelined blocks
  const double lim = Fxp().limit();
  auto x = Uniform(n, -5.6, 5.6, 6), y = Uniform(n, -5.6, 5.6, 7);
  // Near the range limit: |x| just below 2^26 times |y| < 2^-12.
  auto bx = Uniform(n, lim * 0.99, lim * 0.999, 8);
  for (size_t i = 0; i < n; i += 2) bx[i] = -bx[i];
  auto by = Uniform(n, -std::ldexp(1, -12), std::ldexp(1, -12), 9);
  Program prog = [&](Backend& be) -> StatusOr<std::vector<uint64_t>> {
    const Shape s = Shape::Vector(n);
    CONSORT_ASSIGN_OR_RETURN(Shared a, be.InputFixed(0, s, InputOf(be, 0, x)));
    CONSORT_ASSIGN_OR_RETURN(Shared b, be.InputFixed(1, s, InputOf(be, 1, y)));
    CONSORT_ASSIGN_OR_RETURN(Shared ba, be.InputFixed(2, s, InputOf(be, 2, bx)));
    CONSORT_ASSIGN_OR_RETURN(Shared bb, be.InputFixed(0, s, InputOf(be, 0, by)));
    CONSORT_ASSIGN_OR_RETURN(Shared z1, be.MulFxp(a, b));  // fused
    CONSORT_ASSIGN_OR_RETURN(Shared p2, be.Mul(ba, bb));   // separate
    CONSORT_ASSIGN_OR_RETURN(Shared z2, be.Trunc(p2, 18));
    CONSORT_ASSIGN_OR_RETURN(Shared z3, be.MulFxp(ba, bb));
    std::vector<uint64_t> all;
    int receiver = 0;
    for (const Shared* z : {&z1, &z2, &z3}) {
      CONSORT_ASSIGN_OR_RETURN(RingTensor r, be.RevealTo(*z, receiver++));
      if (!be.HoldsInputOf(0) || !be.HoldsInputOf(1)) {  // MPC: only the receiver learns it
        if (!r.data.empty() != be.HoldsInputOf(receiver - 1)) {
          return absl::InternalError("RevealTo delivered to the wrong party");
        }
        if (r.data.empty()) r.data.assign(n, 0);
      }
      all.insert(all.end(), r.data.begin(), r.data.end());
    }
    return all;
  };
  auto [got, want] = RunBoth(prog);
  ASSERT_EQ(want.size(), 3 * n);
  for (int p = 0; p < 3; ++p) {
    // Party p received block p.
    EXPECT_EQ(CountOutsideOneUlp(*got.outputs[p], want, p * n, (p + 1) * n), 0u) << p;
  }
  auto fp = Fxp();
  for (size_t i = 0; i < n; ++i) {
    const double tol = (std::fabs(x[i]) + std::fabs(y[i]) + 2.01) * std::ldexp(1.0, -19);
    ASSERT_NEAR(fp.DecodeOne(want[i]), x[i] * y[i], tol) << i;
  }
}

TEST(ThreeParty, MatMulMatchesPlaintext) {
  const size_t m = 13, k = 40, n = 7;
  auto x = RandomRing(m * k, 10), y = RandomRing(k * n, 11);
  auto fx = Uniform(m * k, -3, 3, 12), fy = Uniform(k * n, -3, 3, 13);
  Program prog = [&](Backend& be) -> StatusOr<std::vector<uint64_t>> {
    CONSORT_ASSIGN_OR_RETURN(Shared a, be.Input(0, Shape{m, k}, InputOf(be, 0, x)));
    CONSORT_ASSIGN_OR_RETURN(Shared b, be.Input(2, Shape{k, n}, InputOf(be, 2, y)));
    CONSORT_ASSIGN_OR_RETURN(Shared z, be.MatMul(a, b));
    CONSORT_ASSIGN_OR_RETURN(Shared fa, be.InputFixed(1, Shape{m, k}, InputOf(be, 1, fx)));
    CONSORT_ASSIGN_OR_RETURN(Shared fb, be.InputFixed(0, Shape{k, n}, InputOf(be, 0, fy)));
    CONSORT_ASSIGN_OR_RETURN(Shared fz, be.MatMulFxp(fa, fb));
    CONSORT_ASSIGN_OR_RETURN(RingTensor r1, be.Reveal(z));
    CONSORT_ASSIGN_OR_RETURN(RingTensor r2, be.Reveal(fz));
    if (r1.shape != (Shape{m, n})) return absl::InternalError("wrong shape");
    r1.data.insert(r1.data.end(), r2.data.begin(), r2.data.end());
    return r1.data;
  };
  auto [got, want] = RunBoth(prog);
  ASSERT_EQ(want.size(), 2 * m * n);
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = 0; j < n; ++j) {
      uint64_t s = 0;
      double d = 0;
      for (size_t p = 0; p < k; ++p) {
        s += x[i * k + p] * y[p * n + j];
        d += fx[i * k + p] * fy[p * n + j];
      }
      ASSERT_EQ(want[i * n + j], s);
      EXPECT_NEAR(Fxp().DecodeOne(want[m * n + i * n + j]), d, 1e-3);
    }
  }
  for (auto& o : got.outputs) {
    ASSERT_EQ(o->size(), want.size());
    for (size_t i = 0; i < m * n; ++i) ASSERT_EQ((*o)[i], want[i]);
    EXPECT_EQ(CountOutsideOneUlp(*o, want, m * n), 0u);
  }
}

// Comparisons and Select on random data, equal and adjacent values, zero, the fixed-point range
// limits, the edges of LessThan's domain and, for the comparisons with zero, every ring extreme.
TEST(ThreeParty, ComparisonsMatchPlaintextExactly) {
  const size_t n = kThreePartyBlock + 5000;  // every round has two pipelined blocks
  const int64_t lim = (int64_t{1} << 44) - 1;
  const int64_t e62 = int64_t{1} << 62;
  std::mt19937_64 rng(21);
  std::uniform_int_distribution<int64_t> fx(-lim, lim);
  std::vector<uint64_t> a(n), b(n), c(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t v = fx(rng);
    const int64_t w[] = {v, v + 1, v - 1, 0, fx(rng), fx(rng)};
    a[i] = static_cast<uint64_t>(v);
    b[i] = static_cast<uint64_t>(w[i % 6]);
    c[i] = i % 3 == 0 ? rng() : i % 3 == 1 ? a[i] : 0;
  }
  const std::vector<std::pair<int64_t, int64_t>> pairs = {{0, 0},
                                                          {0, 1},
                                                          {1, 0},
                                                          {-1, 0},
                                                          {0, -1},
                                                          {lim, -lim},
                                                          {-lim, lim},
                                                          {lim, lim},
                                                          {-lim, -lim},
                                                          {e62 - 1, -e62},
                                                          {-e62, e62 - 1},
                                                          {-e62, -e62},
                                                          {e62 - 1, e62 - 1}};
  for (size_t i = 0; i < pairs.size(); ++i) {
    a[i] = static_cast<uint64_t>(pairs[i].first);
    b[i] = static_cast<uint64_t>(pairs[i].second);
  }
  const uint64_t edges[] = {0,
                            1,
                            ~uint64_t{0},
                            uint64_t{1} << 63,
                            (uint64_t{1} << 63) - 1,
                            (uint64_t{1} << 63) + 1,
                            uint64_t{1} << 62,
                            0 - (uint64_t{1} << 62),
                            2,
                            0 - uint64_t{2},
                            (uint64_t{1} << 63) - 2,
                            uint64_t{1} << 32};
  std::copy(std::begin(edges), std::end(edges), c.begin() + 100);
  Program prog = [&](Backend& be) -> StatusOr<std::vector<uint64_t>> {
    const Shape s = Shape::Vector(n);
    CONSORT_ASSIGN_OR_RETURN(Shared x, be.Input(0, s, InputOf(be, 0, a)));
    CONSORT_ASSIGN_OR_RETURN(Shared y, be.Input(1, s, InputOf(be, 1, b)));
    CONSORT_ASSIGN_OR_RETURN(Shared z, be.Input(2, s, InputOf(be, 2, c)));
    std::vector<Shared> outs(5);
    CONSORT_ASSIGN_OR_RETURN(outs[0], be.LessThanZero(z));
    CONSORT_ASSIGN_OR_RETURN(outs[1], be.EqualZero(z));
    CONSORT_ASSIGN_OR_RETURN(outs[2], be.LessThan(x, y));
    CONSORT_ASSIGN_OR_RETURN(outs[3], be.Equal(x, y));
    CONSORT_ASSIGN_OR_RETURN(outs[4], be.Select(outs[2], x, y));  // min(x, y)
    std::vector<uint64_t> all;
    for (auto& o : outs) {
      CONSORT_ASSIGN_OR_RETURN(RingTensor r, be.Reveal(o));
      all.insert(all.end(), r.data.begin(), r.data.end());
    }
    return all;
  };
  auto [got, want] = RunBoth(prog);
  ASSERT_EQ(want.size(), 5 * n);
  size_t lt = 0, eq = 0, neg = 0, zero = 0;
  for (size_t i = 0; i < n; ++i) {
    const int64_t ai = static_cast<int64_t>(a[i]), bi = static_cast<int64_t>(b[i]);
    ASSERT_EQ(want[i], static_cast<int64_t>(c[i]) < 0 ? 1u : 0u) << i;
    ASSERT_EQ(want[n + i], c[i] == 0 ? 1u : 0u) << i;
    ASSERT_EQ(want[2 * n + i], ai < bi ? 1u : 0u) << i;
    ASSERT_EQ(want[3 * n + i], ai == bi ? 1u : 0u) << i;
    ASSERT_EQ(want[4 * n + i], static_cast<uint64_t>(std::min(ai, bi))) << i;
    lt += ai < bi;
    eq += ai == bi;
    neg += static_cast<int64_t>(c[i]) < 0;
    zero += c[i] == 0;
  }
  EXPECT_GT(lt, n / 4);  // the data exercises both outcomes
  EXPECT_GT(eq, n / 8);
  EXPECT_GT(neg, n / 4);
  EXPECT_GT(zero, n / 4);
  for (auto& o : got.outputs) {
    ASSERT_EQ(o->size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ((*o)[i], want[i]) << i;
  }
}

// Trunc: floor or floor + 1 with certainty over the whole accepted range [-2^62, 2^62),
// incl. its edges; the +1 is unbiased stochastic rounding; bad shifts are rejected.
TEST(ThreePartyTrunc, NeverFailsAndRoundsWithoutBias) {
  const size_t n = 200'000;
  const int d = 18;
  const uint64_t lim = uint64_t{1} << 62;
  std::mt19937_64 rng(5);
  std::vector<uint64_t> z(n);
  for (auto& v : z) {
    v = rng() & (lim - 1);
    if (rng() & 1) v = 0 - v;
  }
  const std::vector<uint64_t> edges = {0,
                                       1,
                                       0 - uint64_t{1},
                                       lim - 1,
                                       0 - lim,
                                       0 - lim + 1,
                                       lim - (1 << 18),
                                       (1 << 18) - 1,
                                       uint64_t{1} << 18,
                                       0 - (uint64_t{1} << 18),
                                       0 - (uint64_t{1} << 18) - 1};
  std::copy(edges.begin(), edges.end(), z.begin());
  Program prog = [&](Backend& be) -> StatusOr<std::vector<uint64_t>> {
    CONSORT_ASSIGN_OR_RETURN(Shared a, be.Input(1, Shape::Vector(n), InputOf(be, 1, z)));
    for (int bits : {-1, 63, 64}) {
      if (be.Trunc(a, bits).status().code() != absl::StatusCode::kInvalidArgument) {
        return absl::InternalError("shift " + std::to_string(bits) + " accepted");
      }
    }
    CONSORT_ASSIGN_OR_RETURN(Shared t, be.Trunc(a, d));
    CONSORT_ASSIGN_OR_RETURN(Shared t0, be.Trunc(a, 0));  // identity, no traffic
    CONSORT_ASSIGN_OR_RETURN(Shared t62, be.Trunc(a, 62));
    CONSORT_ASSIGN_OR_RETURN(RingTensor out, be.Reveal(t));
    CONSORT_ASSIGN_OR_RETURN(RingTensor o0, be.Reveal(t0));
    CONSORT_ASSIGN_OR_RETURN(RingTensor o62, be.Reveal(t62));
    out.data.insert(out.data.end(), o0.data.begin(), o0.data.end());
    out.data.insert(out.data.end(), o62.data.begin(), o62.data.end());
    return out.data;
  };
  RunResult r = testing::Run(Mode::kThreeParty, prog);
  for (auto& o : r.outputs) ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(r.rounds, 1u + 2 + 2 + 3);  // input, two truncations, three reveals
  const auto& out = *r.outputs[2];
  ASSERT_EQ(out.size(), 3 * n);
  double ups = 0, expected = 0, var = 0;
  size_t up62 = 0;
  for (size_t i = 0; i < n; ++i) {
    const int64_t diff = static_cast<int64_t>(out[i] - ArithmeticShiftRight(z[i], d));
    ASSERT_TRUE(diff == 0 || diff == 1) << i << " " << z[i];
    ASSERT_EQ(out[n + i], z[i]);
    const int64_t diff62 = static_cast<int64_t>(out[2 * n + i] - ArithmeticShiftRight(z[i], 62));
    ASSERT_TRUE(diff62 == 0 || diff62 == 1) << i;
    up62 += diff62;
    const double p = std::ldexp(static_cast<double>(z[i] & ((1 << d) - 1)), -d);
    ups += diff;
    expected += p;
    var += p * (1 - p);
  }
  EXPECT_NEAR(ups, expected, 6 * std::sqrt(var));
  EXPECT_GT(ups, n / 4.0);  // the +1 does occur
  EXPECT_GT(up62, 0u);
}

// Bit balance (every bit position) and chi-square on the low and high bytes; false when a test
// rejects uniformity at about 6 sigma.
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
    if (chi2 > 255 + 6 * 22.6) return false;  // 255 dof: sd ~ 22.6
  }
  return true;
}

// Each party's two share components of a constant secret look uniform, after every op that
// makes shares (input, product, fused and separate truncation, matmul, both comparisons), and
// they reconstruct the right values.
TEST(ThreePartyShares, EachPartysViewIsUniformForAConstantSecret) {
  const size_t n = 1 << 15;
  const uint64_t five = Fxp().EncodeInt(std::vector<int64_t>{5}).value()[0];
  std::vector<uint64_t> constant(n, five);
  ASSERT_FALSE(LooksUniform(constant));  // the check can fail
  std::vector<uint64_t> biased = RandomRing(n, 5);
  for (auto& x : biased) x |= uint64_t{1} << 37;
  ASSERT_FALSE(LooksUniform(biased));
  ASSERT_TRUE(LooksUniform(RandomRing(n, 6)));
  constexpr size_t kKinds = 7;
  Program prog = [&](Backend& be) -> StatusOr<std::vector<uint64_t>> {
    const Shape s = Shape::Vector(n);
    CONSORT_ASSIGN_OR_RETURN(Shared a, be.Input(0, s, InputOf(be, 0, constant)));
    CONSORT_ASSIGN_OR_RETURN(Shared b, be.Input(2, s, InputOf(be, 2, constant)));
    CONSORT_ASSIGN_OR_RETURN(Shared prod, be.Mul(a, b));
    CONSORT_ASSIGN_OR_RETURN(Shared fused, be.MulFxp(a, b));
    CONSORT_ASSIGN_OR_RETURN(Shared trunc, be.Trunc(prod, 18));
    Shared am = a, bm = b;
    am.shape = Shape{n / 128, 128};
    bm.shape = Shape{128, n / 128};
    CONSORT_ASSIGN_OR_RETURN(Shared mm, be.MatMul(am, bm));  // (n/128)^2 = n/16 outputs
    CONSORT_ASSIGN_OR_RETURN(Shared lt, be.LessThan(a, b));
    CONSORT_ASSIGN_OR_RETURN(Shared eq, be.Equal(a, b));
    std::vector<uint64_t> views;
    for (const Shared* x : {&a, &prod, &fused, &trunc, &lt, &eq}) {
      views.insert(views.end(), x->s0.begin(), x->s0.end());
      views.insert(views.end(), x->s1.begin(), x->s1.end());
    }
    views.insert(views.end(), mm.s0.begin(), mm.s0.end());
    views.insert(views.end(), mm.s1.begin(), mm.s1.end());
    return views;
  };
  RunResult r = testing::Run(Mode::kThreeParty, prog);
  const char* what[kKinds] = {"input",     "product", "fused mul+trunc", "trunc",
                              "less_than", "equal",   "matmul"};
  const size_t mm = (n / 128) * (n / 128);
  for (int p = 0; p < 3; ++p) {
    ASSERT_TRUE(r.outputs[p].ok()) << r.outputs[p].status();
    const auto& v = *r.outputs[p];
    ASSERT_EQ(v.size(), 12 * n + 2 * mm);
    for (size_t k = 0; k < 2 * (kKinds - 1); ++k) {
      EXPECT_TRUE(LooksUniform({v.begin() + k * n, v.begin() + (k + 1) * n}))
          << what[k / 2] << " share s" << k % 2 << ", party " << p;
    }
    EXPECT_TRUE(LooksUniform({v.end() - 2 * mm, v.end() - mm})) << "matmul s0, party " << p;
    EXPECT_TRUE(LooksUniform({v.end() - mm, v.end()})) << "matmul s1, party " << p;
  }
  // The components are consistent (party i's s1 is party i+1's s0) and add up.
  const auto &v0 = *r.outputs[0], &v1 = *r.outputs[1], &v2 = *r.outputs[2];
  const uint64_t prod = five * five;
  const uint64_t want[6] = {
      five, prod, ArithmeticShiftRight(prod, 18), ArithmeticShiftRight(prod, 18), 0, 1};
  for (size_t k = 0; k < 6; ++k) {
    for (size_t i = 0; i < n; i += 7) {
      const size_t s0 = 2 * k * n + i, s1 = (2 * k + 1) * n + i;
      ASSERT_EQ(v0[s1], v1[s0]) << what[k];
      ASSERT_EQ(v1[s1], v2[s0]) << what[k];
      ASSERT_EQ(v2[s1], v0[s0]) << what[k];
      const uint64_t sum = v0[s0] + v1[s0] + v2[s0];
      if (k == 2 || k == 3) {
        ASSERT_TRUE(sum == want[k] || sum == want[k] + 1) << what[k];
      } else {
        ASSERT_EQ(sum, want[k]) << what[k] << " " << i;
      }
    }
  }
}

// ---- costs -------------------------------------------------------------------------------

// Runs `op` on inputs of shapes a, b and checks the bytes and rounds (inputs subtracted)
// against CostOf.
void ExpectCostMatches(Op op, Shape sa, Shape sb) {
  auto x = RandomRing(sa.numel(), 1), y = RandomRing(sb.numel(), 2);
  for (auto& v : x) v >>= 8;  // inside Trunc's domain
  std::mutex mu;
  Cost expected;
  Program prog = [&](Backend& be) -> StatusOr<std::vector<uint64_t>> {
    CONSORT_ASSIGN_OR_RETURN(Shared a, be.Input(0, sa, InputOf(be, 0, x)));
    CONSORT_ASSIGN_OR_RETURN(Shared b, be.Input(1, sb, InputOf(be, 1, y)));
    {
      std::lock_guard<std::mutex> l(mu);
      expected = op == Op::kInput ? Cost{} : be.CostOf(op, sa, sb);
      Cost ia = be.CostOf(Op::kInput, sa), ib = be.CostOf(Op::kInput, sb);
      expected.rounds += ia.rounds + ib.rounds;
      expected.peer_bytes += ia.peer_bytes + ib.peer_bytes;
    }
    switch (op) {
      case Op::kMul:
        CONSORT_RETURN_IF_ERROR(be.Mul(a, b).status());
        break;
      case Op::kMatMul:
        CONSORT_RETURN_IF_ERROR(be.MatMul(a, b).status());
        break;
      case Op::kMulFxp:
        CONSORT_RETURN_IF_ERROR(be.MulFxp(a, b).status());
        break;
      case Op::kMatMulFxp:
        CONSORT_RETURN_IF_ERROR(be.MatMulFxp(a, b).status());
        break;
      case Op::kReveal:
        CONSORT_RETURN_IF_ERROR(be.Reveal(a).status());
        break;
      case Op::kRevealTo:
        CONSORT_RETURN_IF_ERROR(be.RevealTo(a, 2).status());
        break;
      case Op::kTrunc:
        CONSORT_RETURN_IF_ERROR(be.Trunc(a, 18).status());
        break;
      case Op::kAdd:
        CONSORT_RETURN_IF_ERROR(be.Add(a, b).status());
        break;
      case Op::kAddPublic:
        CONSORT_RETURN_IF_ERROR(be.AddPublic(a, RingTensor{sa, x}).status());
        break;
      case Op::kLessThanZero:
        CONSORT_RETURN_IF_ERROR(be.LessThanZero(a).status());
        break;
      case Op::kLessThan:
        CONSORT_RETURN_IF_ERROR(be.LessThan(a, b).status());
        break;
      case Op::kEqualZero:
        CONSORT_RETURN_IF_ERROR(be.EqualZero(a).status());
        break;
      case Op::kEqual:
        CONSORT_RETURN_IF_ERROR(be.Equal(a, b).status());
        break;
      case Op::kSelect:
        CONSORT_RETURN_IF_ERROR(be.Select(a, a, b).status());
        break;
      default:
        break;
    }
    return std::vector<uint64_t>{};
  };
  RunResult r = testing::Run(Mode::kThreeParty, prog);
  for (auto& o : r.outputs) ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(r.peer_bytes, expected.peer_bytes) << OpName(op) << " " << sa.ToString();
  EXPECT_EQ(r.rounds, expected.rounds) << OpName(op) << " " << sa.ToString();
  EXPECT_EQ(expected.dealer_bytes, 0u);
}

TEST(ThreePartyCost, MatchesLinkCounters) {
  ExpectCostMatches(Op::kMul, Shape::Vector(3000), Shape::Vector(3000));
  // More than one message per direction (2^20 words per message) and threaded sends.
  ExpectCostMatches(Op::kMul, Shape::Vector((1 << 20) + 7), Shape::Vector((1 << 20) + 7));
  ExpectCostMatches(Op::kMatMul, Shape{20, 30}, Shape{30, 10});
  // Fused: 2 rounds, 64 bytes per output element; the matmul output spans two blocks.
  ExpectCostMatches(Op::kMulFxp, Shape::Vector(3000), Shape::Vector(3000));
  ExpectCostMatches(Op::kMulFxp, Shape::Vector(70000), Shape::Vector(70000));
  ExpectCostMatches(Op::kMatMulFxp, Shape{20, 30}, Shape{30, 10});
  ExpectCostMatches(Op::kMatMulFxp, Shape{300, 4}, Shape{4, 250});
  ExpectCostMatches(Op::kReveal, Shape::Vector(5000), Shape::Vector(1));
  ExpectCostMatches(Op::kRevealTo, Shape::Vector(5000), Shape::Vector(1));
  ExpectCostMatches(Op::kTrunc, Shape::Vector(100), Shape::Vector(1));
  ExpectCostMatches(Op::kTrunc, Shape::Vector(70000), Shape::Vector(1));
  ExpectCostMatches(Op::kAdd, Shape::Vector(100), Shape::Vector(100));
  ExpectCostMatches(Op::kAddPublic, Shape::Vector(100), Shape::Vector(100));
  ExpectCostMatches(Op::kInput, Shape::Vector(100), Shape::Vector(100));
  for (Op op : {Op::kLessThanZero, Op::kLessThan, Op::kEqualZero, Op::kEqual, Op::kSelect}) {
    ExpectCostMatches(op, Shape::Vector(100), Shape::Vector(100));
    ExpectCostMatches(op, Shape::Vector(9000), Shape::Vector(9000));
  }
  EXPECT_EQ(ThreePartyBackend::Costs(Op::kMul, Shape::Vector(1000), Shape::Vector(1000)),
            (Cost{1, 24 * 1000, 0}));
  EXPECT_EQ(ThreePartyBackend::Costs(Op::kLessThanZero, Shape::Vector(1000)),
            (Cost{9, 344 * 1000, 0}));
  EXPECT_EQ(ThreePartyBackend::Costs(Op::kEqual, Shape::Vector(10), Shape::Vector(10)),
            (Cost{8, 200 * 10, 0}));
  EXPECT_EQ(ThreePartyBackend::Costs(Op::kMul, Shape::Vector(0), Shape::Vector(0)), Cost{});
  EXPECT_EQ(ThreePartyBackend::Costs(Op::kMulFxp, Shape::Vector(1000), Shape::Vector(1000)),
            (Cost{2, 64 * 1000, 0}));
  EXPECT_EQ(ThreePartyBackend::Costs(Op::kMatMulFxp, Shape{20, 30}, Shape{30, 10}),
            (Cost{2, 64 * 200, 0}));
}

// With frac_bits 0 there is nothing to truncate: MulFxp / MatMulFxp are Mul / MatMul, and
// CostOf says so.
TEST(ThreePartyCost, FxpOpsWithoutFractionCostAsProducts) {
  auto x = RandomRing(200, 1);
  Program prog = [&](Backend& be) -> StatusOr<std::vector<uint64_t>> {
    const Shape s{10, 20}, t{20, 10};
    if (be.CostOf(Op::kMulFxp, s, s) != be.CostOf(Op::kMul, s, s) ||
        be.CostOf(Op::kMatMulFxp, s, t) != be.CostOf(Op::kMatMul, s, t)) {
      return absl::InternalError("CostOf with f = 0 is not the product's");
    }
    CONSORT_ASSIGN_OR_RETURN(Shared a, be.Input(0, s, InputOf(be, 0, x)));
    CONSORT_ASSIGN_OR_RETURN(Shared b, be.Input(1, t, InputOf(be, 1, x)));
    const uint64_t r0 = be.rounds();
    CONSORT_ASSIGN_OR_RETURN(Shared p, be.MulFxp(a, a));
    CONSORT_ASSIGN_OR_RETURN(Shared q, be.MatMulFxp(a, b));
    const uint64_t want = be.CostOf(Op::kMul, s, s).rounds + be.CostOf(Op::kMatMul, s, t).rounds;
    if (be.rounds() - r0 != want) {
      return absl::InternalError("rounds");
    }
    CONSORT_ASSIGN_OR_RETURN(RingTensor o1, be.Reveal(p));
    CONSORT_ASSIGN_OR_RETURN(RingTensor o2, be.Reveal(q));
    o1.data.insert(o1.data.end(), o2.data.begin(), o2.data.end());
    return o1.data;
  };
  FixedPointConfig f0;
  f0.frac_bits = 0;
  RunResult ref = testing::Run(Mode::kPlaintext, prog, f0, 3);
  ASSERT_TRUE(ref.outputs[0].ok()) << ref.outputs[0].status();
  RunResult got = testing::Run(Mode::kThreeParty, prog, f0);
  for (auto& o : got.outputs) {
    ASSERT_TRUE(o.ok()) << o.status();
    EXPECT_EQ(*o, *ref.outputs[0]);  // exact ring products
  }
}

// Fused MatMulFxp (and MulFxp) against MatMul + Trunc and the plaintext floor: every result
// is floor or floor + 1 of the exact product / 2^f, and within one ulp of the unfused one.
TEST(ThreeParty, FusedFxpProductsMatchUnfusedWithinTruncBound) {
  const size_t m = 70, k = 9, n = 1000;  // 70000 outputs: two pipeline blocks
  auto fx = Uniform(m * k, -50, 50, 21), fy = Uniform(k * n, -50, 50, 22);
  auto fu = Uniform(m * k, -1000, 1000, 23);
  Program prog = [&](Backend& be) -> StatusOr<std::vector<uint64_t>> {
    CONSORT_ASSIGN_OR_RETURN(Shared a, be.InputFixed(0, Shape{m, k}, InputOf(be, 0, fx)));
    CONSORT_ASSIGN_OR_RETURN(Shared b, be.InputFixed(1, Shape{k, n}, InputOf(be, 1, fy)));
    CONSORT_ASSIGN_OR_RETURN(Shared u, be.InputFixed(2, Shape{m, k}, InputOf(be, 2, fu)));
    CONSORT_ASSIGN_OR_RETURN(Shared fused, be.MatMulFxp(a, b));
    CONSORT_ASSIGN_OR_RETURN(Shared prod, be.MatMul(a, b));
    CONSORT_ASSIGN_OR_RETURN(Shared unfused, be.Trunc(prod, be.fxp().frac_bits()));
    CONSORT_ASSIGN_OR_RETURN(Shared efused, be.MulFxp(a, u));
    CONSORT_ASSIGN_OR_RETURN(Shared eprod, be.Mul(a, u));
    CONSORT_ASSIGN_OR_RETURN(Shared eunfused, be.Trunc(eprod, be.fxp().frac_bits()));
    std::vector<uint64_t> out;
    for (const Shared* v : {&fused, &unfused, &efused, &eunfused}) {
      CONSORT_ASSIGN_OR_RETURN(RingTensor r, be.Reveal(*v));
      out.insert(out.end(), r.data.begin(), r.data.end());
    }
    return out;
  };
  auto [got, want] = RunBoth(prog);
  const size_t mn = m * n, mk = m * k;
  ASSERT_EQ(want.size(), 2 * mn + 2 * mk);
  // The plaintext backend's fused and unfused results are both the exact floor.
  for (size_t i = 0; i < mn; ++i) ASSERT_EQ(want[i], want[mn + i]);
  for (size_t i = 0; i < mk; ++i) ASSERT_EQ(want[2 * mn + i], want[2 * mn + mk + i]);
  for (int p = 0; p < 3; ++p) {
    const std::vector<uint64_t>& o = *got.outputs[p];
    EXPECT_EQ(CountOutsideOneUlp(o, want), 0u) << p;
    for (size_t i = 0; i < mn + mk; ++i) {
      const size_t f = i < mn ? i : mn + i, u = i < mn ? mn + i : 2 * mn + mk + (i - mn);
      const int64_t d = static_cast<int64_t>(o[f] - o[u]);
      ASSERT_TRUE(d >= -1 && d <= 1) << p << " " << i;
    }
  }
  // And against double math: the floor is within 2^-f (+ encoding error) of x y.
  const FixedPoint fp = Fxp();
  for (size_t i = 0; i < m; i += 7) {
    for (size_t j = 0; j < n; j += 13) {
      double d = 0;
      for (size_t p = 0; p < k; ++p) d += fx[i * k + p] * fy[p * n + j];
      EXPECT_NEAR(fp.DecodeOne((*got.outputs[0])[i * n + j]), d, 1e-3);
    }
  }
}

TEST(ThreePartyCost, FusedMulFxpMatchesLinkCounters) {
  for (size_t n : {size_t{10}, size_t{50'000}}) {
    auto x = RandomRing(n, 1);
    for (auto& v : x) v >>= 40;
    Program prog = [&](Backend& be) -> StatusOr<std::vector<uint64_t>> {
      CONSORT_ASSIGN_OR_RETURN(Shared a, be.Input(2, Shape::Vector(n), InputOf(be, 2, x)));
      CONSORT_RETURN_IF_ERROR(be.MulFxp(a, a).status());
      return std::vector<uint64_t>{};
    };
    RunResult r = testing::Run(Mode::kThreeParty, prog);
    for (auto& o : r.outputs) ASSERT_TRUE(o.ok()) << o.status();
    const Shape s = Shape::Vector(n);
    Cost want = ThreePartyBackend::MulFxpCost(s);
    EXPECT_EQ(want, (Cost{2, 64 * n, 0}));
    EXPECT_EQ(r.rounds, 1 + want.rounds);
    EXPECT_EQ(r.peer_bytes, 16 * n + want.peer_bytes);
  }
}

// ---- malformed and vanished peers --------------------------------------------------------

// Party 1 runs the real backend; parties 0 (its prev) and 2 (its next) are scripts.
// Program: Input from party 0, Mul, Trunc, Reveal on n elements.
Status RunParty1Against(const std::function<void(net::Link&)>& party0,
                        const std::function<void(net::Link&)>& party2, size_t n = 10) {
  auto [fake0, prev] = net::CreateInMemoryLinkPair("p0", "p1");
  auto [next, fake2] = net::CreateInMemoryLinkPair("p1", "p2");
  std::thread t0([&, f = fake0.get()] { party0(*f); });
  std::thread t2([&, f = fake2.get()] { party2(*f); });
  Status st = [&]() -> Status {
    CONSORT_ASSIGN_OR_RETURN(auto be, ThreePartyBackend::Create(1, *next, *prev, Fxp()));
    CONSORT_ASSIGN_OR_RETURN(Shared a, be->Input(0, Shape::Vector(n), {}));
    CONSORT_ASSIGN_OR_RETURN(Shared z, be->Mul(a, a));
    CONSORT_ASSIGN_OR_RETURN(Shared t, be->Trunc(z, 18));
    return be->Reveal(t).status();
  }();
  next->Close();
  prev->Close();
  t0.join();
  t2.join();
  return st;
}

// Well-formed scripts with one message cut short (`short_k`-th message of that party) or
// replaced by a close.
struct Script {
  int short0 = -1, short2 = -1;  // index of the message sent 8 bytes short
  int close2_at = -1;            // party 2 closes instead of sending its k-th message
  size_t seed2 = 32;
};

// `words` zero words in messages of `per_message` words (the last one word short if
// `short_one`), as the pipelined rounds frame them.
Status SendZeros(net::Link& l, size_t words, bool short_one, size_t per_message) {
  for (size_t off = 0; off < words; off += per_message) {
    const bool last = off + per_message >= words;
    const size_t len = std::min(per_message, words - off) - (short_one && last ? 1 : 0);
    CONSORT_RETURN_IF_ERROR(l.Send(Bytes(8 * len, 0)));
  }
  return OkStatus();
}

Status RunScript(const Script& s, size_t n = 10) {
  // Party 0 -> 1: input x_2 (n), trunc h_1 (n), reveal x_0 (n). Party 2 -> 1: seed, mul z_2
  // (n), trunc c_2 (n), trunc round 2 (n).
  auto party0 = [&](net::Link& l) {
    (void)l.Recv();  // party 1's seed
    for (int k = 0; k < 3; ++k) {
      if (!SendZeros(l, n, k == s.short0, kThreePartyBlock).ok()) return;
    }
  };
  auto party2 = [&](net::Link& l) {
    for (int k = 0; k < 4; ++k) {
      if (k == s.close2_at) {
        l.Close();
        return;
      }
      Status st =
          k == 0 ? l.Send(Bytes(s.seed2, 7)) : SendZeros(l, n, k == s.short2, kThreePartyBlock);
      if (!st.ok()) return;
    }
  };
  return RunParty1Against(party0, party2, n);
}

TEST(ThreePartyPeer, MalformedMessagesAreInvalidArgument) {
  EXPECT_TRUE(RunScript({}).ok()) << RunScript({});  // the checks below are not vacuous
  Script bad_seed;
  bad_seed.seed2 = 31;
  EXPECT_EQ(RunScript(bad_seed).code(), absl::StatusCode::kInvalidArgument);
  for (int k = 0; k < 3; ++k) {  // input share, trunc correction, reveal share
    Script s;
    s.short0 = k;
    EXPECT_EQ(RunScript(s).code(), absl::StatusCode::kInvalidArgument) << "party 0 msg " << k;
  }
  for (int k = 1; k < 4; ++k) {  // mul re-share, trunc opening, trunc re-share
    Script s;
    s.short2 = k;
    EXPECT_EQ(RunScript(s).code(), absl::StatusCode::kInvalidArgument) << "party 2 msg " << k;
    // The last of three pipelined blocks short.
    EXPECT_EQ(RunScript(s, 2 * kThreePartyBlock + 5).code(), absl::StatusCode::kInvalidArgument)
        << "party 2 msg " << k << ", 3 blocks";
  }
  const size_t n3 = 2 * kThreePartyBlock + 5;
  EXPECT_TRUE(RunScript({}, n3).ok()) << RunScript({}, n3);
}

TEST(ThreePartyPeer, ClosedPeerIsUnavailable) {
  for (int k = 0; k < 4; ++k) {
    Script s;
    s.close2_at = k;
    EXPECT_EQ(RunScript(s).code(), absl::StatusCode::kUnavailable) << "closed at " << k;
  }
  // Large messages (threaded sends, several chunks) end with the right code, not a hang.
  Script s;
  s.close2_at = 2;
  EXPECT_EQ(RunScript(s, (1 << 20) + 5).code(), absl::StatusCode::kUnavailable);
}

// Comparison messages: party 1 against scripts, one AND level cut short.
TEST(ThreePartyPeer, MalformedComparisonMessageIsInvalidArgument) {
  const size_t n = 10;
  // -1: well-formed; 0: party 0's input; 1: g; 4: a middle tree level; 7: the last level.
  for (int short_level : {-1, 0, 1, 4, 7}) {
    auto [fake0, prev] = net::CreateInMemoryLinkPair("p0", "p1");
    auto [next, fake2] = net::CreateInMemoryLinkPair("p1", "p2");
    // LessThanZero at party 1: from party 0 the binary input u (n); from party 2 the AND
    // re-shares: g (n), 5 levels of 2n, 1 of n. The bit injection sends only (party 1 is the
    // OT sender).
    std::thread t0([&, f = fake0.get()] {
      (void)f->Recv();
      (void)f->Send(Bytes(8 * n - (short_level == 0 ? 8 : 0), 0));
    });
    std::thread t2([&, f = fake2.get()] {
      (void)f->Send(Bytes(32, 7));
      std::vector<size_t> sizes = {n};
      for (int l = 0; l < 5; ++l) sizes.push_back(2 * n);
      sizes.push_back(n);
      for (size_t k = 0; k < sizes.size(); ++k) {
        const bool cut = static_cast<int>(k) + 1 == short_level;
        if (!f->Send(Bytes(8 * sizes[k] - (cut ? 8 : 0), 0)).ok()) return;
      }
    });
    Status st = [&]() -> Status {
      CONSORT_ASSIGN_OR_RETURN(auto be, ThreePartyBackend::Create(1, *next, *prev, Fxp()));
      Shared a{Shape::Vector(n), std::vector<uint64_t>(n, 3), std::vector<uint64_t>(n, 4)};
      return be->LessThanZero(a).status();
    }();
    next->Close();
    prev->Close();
    t0.join();
    t2.join();
    if (short_level < 0) {
      EXPECT_TRUE(st.ok()) << st;
    } else {
      EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << short_level << " " << st;
    }
  }
}

TEST(ThreePartyPeer, BadSharesAndReceiversAreInvalidArgument) {
  Program prog = [&](Backend& be) -> StatusOr<std::vector<uint64_t>> {
    std::vector<uint64_t> three = {1, 2, 3};
    CONSORT_ASSIGN_OR_RETURN(Shared a, be.Input(2, Shape::Vector(3), InputOf(be, 2, three)));
    Shared broken = a;
    broken.s1.pop_back();
    for (auto st :
         {be.Mul(a, broken).status(), be.Trunc(broken, 3).status(),
          be.LessThanZero(broken).status(), be.Reveal(broken).status(), be.RevealTo(a, 3).status(),
          be.RevealTo(a, -1).status(), be.Input(3, Shape::Vector(3), {}).status()}) {
      if (st.code() != absl::StatusCode::kInvalidArgument) {
        return absl::InternalError("accepted: " + st.ToString());
      }
    }
    // Still in step afterwards.
    CONSORT_ASSIGN_OR_RETURN(Shared z, be.Mul(a, a));
    CONSORT_ASSIGN_OR_RETURN(RingTensor out, be.Reveal(z));
    return out.data;
  };
  RunResult r = testing::Run(Mode::kThreeParty, prog);
  for (auto& o : r.outputs) {
    ASSERT_TRUE(o.ok()) << o.status();
    EXPECT_EQ(*o, (std::vector<uint64_t>{1, 4, 9}));
  }
}

}  // namespace
}  // namespace consort::mpc

namespace consort::mpc {
namespace {

// The harness: a party whose program fails closes its links, so the others end with
// Unavailable / Cancelled instead of waiting for the link timeout.
TEST(ThreePartyHarness, AFailingPartyDoesNotHangTheOthers) {
  const size_t n = 3 * kThreePartyBlock;
  std::vector<uint64_t> x(n, 7);
  Program prog = [&](Backend& be) -> StatusOr<std::vector<uint64_t>> {
    CONSORT_ASSIGN_OR_RETURN(Shared a, be.Input(0, Shape::Vector(n), InputOf(be, 0, x)));
    if (be.HoldsInputOf(1)) return absl::InternalError("party 1 gives up");
    CONSORT_ASSIGN_OR_RETURN(Shared z, be.MulFxp(a, a));
    CONSORT_ASSIGN_OR_RETURN(RingTensor r, be.Reveal(z));
    return r.data;
  };
  const auto t0 = std::chrono::steady_clock::now();
  RunResult r = testing::Run(Mode::kThreeParty, prog);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(20));
  ASSERT_EQ(r.outputs.size(), 3u);
  EXPECT_EQ(r.outputs[1].status().code(), absl::StatusCode::kInternal);
  for (int p : {0, 2}) {
    const auto code = r.outputs[p].status().code();
    EXPECT_TRUE(code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kCancelled)
        << p << ": " << r.outputs[p].status();
  }
}

}  // namespace
}  // namespace consort::mpc
