// The MPC program API under every mode, against the plaintext reference backend.

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "consort/mpc/backend.h"
#include "consort/mpc/testing.h"
#include "consort/mpc/two_party.h"

namespace consort::mpc {
namespace {

using testing::Uniform;
using testing::RandomRing;

using testing::InputOf;
using testing::Mode;
using testing::Program;
using testing::RunResult;

FixedPoint Fxp() { return FixedPoint::Create().value(); }

// Signed distance of two ring elements.
int64_t Diff(uint64_t a, uint64_t b) { return static_cast<int64_t>(a - b); }

class MpcTest : public ::testing::TestWithParam<Mode> {
 protected:
  // Runs under the parameter's mode and under plaintext with as many parties; returns (mpc
  // outputs, reference).
  std::pair<RunResult, std::vector<uint64_t>> RunBoth(const Program& p) {
    RunResult ref = testing::Run(Mode::kPlaintext, p, {}, Parties());
    EXPECT_TRUE(ref.outputs[0].ok()) << ref.outputs[0].status();
    RunResult got = testing::Run(GetParam(), p);
    for (auto& o : got.outputs) EXPECT_TRUE(o.ok()) << o.status();
    return {std::move(got), ref.outputs[0].ok() ? *ref.outputs[0] : std::vector<uint64_t>{}};
  }
  bool Mpc() const { return GetParam() != Mode::kPlaintext; }
  // Parties of the mode (the plaintext reference is run with the same number).
  int Parties() const { return GetParam() == Mode::kThreeParty ? 3 : 2; }
  // The output of `party` (the plaintext backend's single output stands for every party).
  const std::vector<uint64_t>& OutputOf(const RunResult& r, int party) const {
    return *r.outputs[Mpc() ? party : 0];
  }
};

// Linear operations, incl. negatives and values next to the range limit, are exact.
TEST_P(MpcTest, LinearOperationsMatchPlaintextExactly) {
  const size_t n = 5000;
  const double lim = Fxp().limit();
  auto x = Uniform(n, -lim / 4, lim / 4, 1);
  auto y = Uniform(n, -lim / 4, lim / 4, 2);
  x[0] = lim - 1e-3;
  x[1] = -(lim - 1e-3);
  y[0] = -(lim - 1e-3);
  auto c = Fxp().Encode(Uniform(n, -100, 100, 3)).value();
  Program prog = [&](Backend& be) -> StatusOr<std::vector<uint64_t>> {
    CONSORT_ASSIGN_OR_RETURN(Shared a, be.InputFixed(0, Shape::Vector(n), InputOf(be, 0, x)));
    CONSORT_ASSIGN_OR_RETURN(Shared b, be.InputFixed(1, Shape::Vector(n), InputOf(be, 1, y)));
    CONSORT_ASSIGN_OR_RETURN(Shared s, be.Add(a, b));
    CONSORT_ASSIGN_OR_RETURN(Shared d, be.Sub(a, b));
    CONSORT_ASSIGN_OR_RETURN(Shared e, be.AddPublic(be.Neg(d), RingTensor::Vector(c)));
    CONSORT_ASSIGN_OR_RETURN(Shared f, be.MulPublic(s, RingTensor{{1, 1}, {uint64_t(-3)}}));
    CONSORT_ASSIGN_OR_RETURN(Shared g, be.Add(e, f));
    CONSORT_ASSIGN_OR_RETURN(RingTensor out, be.Reveal(g));
    return out.data;
  };
  auto [got, want] = RunBoth(prog);
  ASSERT_EQ(want.size(), n);
  for (auto& o : got.outputs) ASSERT_EQ(*o, want);
  // And the reference itself is right: -(x - y) + c - 3 (x + y).
  auto fx = Fxp().Encode(x).value(), fy = Fxp().Encode(y).value();
  for (size_t i = 0; i < n; ++i) EXPECT_EQ(want[i], c[i] - (fx[i] - fy[i]) - 3 * (fx[i] + fy[i]));
  // Only the Reveal communicates, plus (3PC) one round per Input; 2PC inputs are free.
  const uint64_t want_rounds = !Mpc() ? 0 : GetParam() == Mode::kThreeParty ? 3 : 1;
  EXPECT_EQ(got.rounds, want_rounds);
}

TEST_P(MpcTest, RingMulIsExactOnArbitraryRingElements) {
  const size_t n = 3001;
  auto x = RandomRing(n, 4), y = RandomRing(n, 5);
  Program prog = [&](Backend& be) -> StatusOr<std::vector<uint64_t>> {
    CONSORT_ASSIGN_OR_RETURN(Shared a, be.Input(0, Shape::Vector(n), InputOf(be, 0, x)));
    CONSORT_ASSIGN_OR_RETURN(Shared b, be.Input(1, Shape::Vector(n), InputOf(be, 1, y)));
    CONSORT_ASSIGN_OR_RETURN(Shared z, be.Mul(a, b));
    CONSORT_ASSIGN_OR_RETURN(Shared w, be.Mul(z, a));  // a second round on a product
    CONSORT_ASSIGN_OR_RETURN(RingTensor out, be.Reveal(w));
    return out.data;
  };
  auto [got, want] = RunBoth(prog);
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(want[i], x[i] * y[i] * x[i]);
  for (auto& o : got.outputs) EXPECT_EQ(*o, want);
}

// Counts results more than 1 ulp from the reference (truncation failures) and checks the
// rest are within 1 ulp.
size_t CountTruncFailures(const std::vector<uint64_t>& got, const std::vector<uint64_t>& want) {
  EXPECT_EQ(got.size(), want.size());
  size_t bad = 0;
  for (size_t i = 0; i < got.size() && i < want.size(); ++i) {
    const int64_t d = Diff(got[i], want[i]);
    if (d < 0 || d > 1) ++bad;  // floor or floor + 1 (two_party.h)
  }
  return bad;
}

TEST_P(MpcTest, FixedPointMulIsWithinOneUlp) {
  // The default (dealer-pair) truncation is floor or floor + 1 with certainty.
  const size_t n = 20000;
  auto x = Uniform(n, -5.6, 5.6, 6), y = Uniform(n, -5.6, 5.6, 7);
  Program prog = [&](Backend& be) -> StatusOr<std::vector<uint64_t>> {
    CONSORT_ASSIGN_OR_RETURN(Shared a, be.InputFixed(0, Shape::Vector(n), InputOf(be, 0, x)));
    CONSORT_ASSIGN_OR_RETURN(Shared b, be.InputFixed(1, Shape::Vector(n), InputOf(be, 1, y)));
    CONSORT_ASSIGN_OR_RETURN(Shared z, be.MulFxp(a, b));
    CONSORT_ASSIGN_OR_RETURN(RingTensor out, be.RevealTo(z, 1));
    return out.data;
  };
  auto [got, want] = RunBoth(prog);
  ASSERT_EQ(want.size(), n);
  if (Mpc()) {
    ASSERT_EQ(got.outputs.size(), static_cast<size_t>(Parties()));
    for (int p = 0; p < Parties(); ++p) {
      if (p != 1) {
        EXPECT_TRUE(got.outputs[p]->empty()) << "party " << p << " learns nothing";
      }
    }
  }
  const std::vector<uint64_t>& out = OutputOf(got, 1);
  EXPECT_EQ(CountTruncFailures(out, want), 0u);
  auto fp = Fxp();
  for (size_t i = 0; i < n; ++i) {
    // Input rounding (2^-19 each, scaled by the other factor) plus the floor (2^-18).
    const double tol = (std::fabs(x[i]) + std::fabs(y[i]) + 2.01) * std::ldexp(1.0, -19);
    EXPECT_NEAR(fp.DecodeOne(want[i]), x[i] * y[i], tol) << i;
  }
}

TEST_P(MpcTest, FixedPointMulNearTheRangeLimit) {
  // |x| just below 2^26 times |y| < 2^-12: pre-truncation |z| < 2^50 (the local SecureML
  // truncation would fail with probability up to 2^-13 per element; the default never does).
  const size_t n = 2000;
  const double lim = Fxp().limit();
  auto x = Uniform(n, lim * 0.99, lim * 0.999, 8);
  for (size_t i = 0; i < n; i += 2) x[i] = -x[i];
  auto y = Uniform(n, -std::ldexp(1, -12), std::ldexp(1, -12), 9);
  Program prog = [&](Backend& be) -> StatusOr<std::vector<uint64_t>> {
    CONSORT_ASSIGN_OR_RETURN(Shared a, be.InputFixed(1, Shape::Vector(n), InputOf(be, 1, x)));
    CONSORT_ASSIGN_OR_RETURN(Shared b, be.InputFixed(0, Shape::Vector(n), InputOf(be, 0, y)));
    CONSORT_ASSIGN_OR_RETURN(Shared z, be.MulFxp(a, b));
    CONSORT_ASSIGN_OR_RETURN(RingTensor out, be.Reveal(z));
    return out.data;
  };
  auto [got, want] = RunBoth(prog);
  for (auto& o : got.outputs) EXPECT_EQ(CountTruncFailures(*o, want), 0u);
}

TEST_P(MpcTest, MatMulMatchesPlaintext) {
  const size_t m = 13, k = 40, n = 7;
  auto x = RandomRing(m * k, 10), y = RandomRing(k * n, 11);
  auto fx = Uniform(m * k, -3, 3, 12), fy = Uniform(k * n, -3, 3, 13);
  std::vector<uint64_t> fxp_want;
  Program prog = [&](Backend& be) -> StatusOr<std::vector<uint64_t>> {
    CONSORT_ASSIGN_OR_RETURN(Shared a, be.Input(0, Shape{m, k}, InputOf(be, 0, x)));
    CONSORT_ASSIGN_OR_RETURN(Shared b, be.Input(1, Shape{k, n}, InputOf(be, 1, y)));
    CONSORT_ASSIGN_OR_RETURN(Shared z, be.MatMul(a, b));
    CONSORT_ASSIGN_OR_RETURN(Shared fa, be.InputFixed(1, Shape{m, k}, InputOf(be, 1, fx)));
    CONSORT_ASSIGN_OR_RETURN(Shared fb, be.InputFixed(0, Shape{k, n}, InputOf(be, 0, fy)));
    CONSORT_ASSIGN_OR_RETURN(Shared fz, be.MatMulFxp(fa, fb));
    CONSORT_ASSIGN_OR_RETURN(RingTensor r1, be.Reveal(z));
    CONSORT_ASSIGN_OR_RETURN(RingTensor r2, be.Reveal(fz));
    EXPECT_EQ(r1.shape, (Shape{m, n}));
    r1.data.insert(r1.data.end(), r2.data.begin(), r2.data.end());
    return r1.data;
  };
  auto [got, want] = RunBoth(prog);
  ASSERT_EQ(want.size(), 2 * m * n);
  for (size_t i = 0; i < m; ++i)
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
  for (auto& o : got.outputs) {
    ASSERT_EQ(o->size(), want.size());
    for (size_t i = 0; i < m * n; ++i) EXPECT_EQ((*o)[i], want[i]);
    std::vector<uint64_t> a(o->begin() + m * n, o->end()), b(want.begin() + m * n, want.end());
    EXPECT_EQ(CountTruncFailures(a, b), 0u);
  }
}

TEST_P(MpcTest, ShapeAndInputErrorsAreInvalidArgument) {
  Program prog = [&](Backend& be) -> StatusOr<std::vector<uint64_t>> {
    std::vector<uint64_t> three = {1, 2, 3};
    CONSORT_ASSIGN_OR_RETURN(Shared a, be.Input(0, Shape::Vector(3), InputOf(be, 0, three)));
    CONSORT_ASSIGN_OR_RETURN(Shared b, be.Input(1, Shape::Vector(3), InputOf(be, 1, three)));
    Shared c = a;
    c.shape = Shape{1, 3};
    EXPECT_EQ(be.Add(a, c).status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(be.Mul(a, c).status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(be.MatMul(a, b).status().code(), absl::StatusCode::kInvalidArgument);
    if (be.HoldsInputOf(0)) {  // wrong value count at the owner, caught before any draw
      EXPECT_EQ(be.Input(0, Shape::Vector(4), three).status().code(),
                absl::StatusCode::kInvalidArgument);
    } else {  // values for another party's input
      EXPECT_EQ(be.Input(0, Shape::Vector(3), three).status().code(),
                absl::StatusCode::kInvalidArgument);
    }
    EXPECT_EQ(be.Input(5, Shape::Vector(3), {}).status().code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(be.RevealTo(a, be.num_parties()).status().code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(be.RevealTo(a, -1).status().code(), absl::StatusCode::kInvalidArgument);
    // Out of range at the owner, before anything is shared: the error names the index.
    std::vector<double> bad = {1.0, -2.0, 1e12};
    if (be.HoldsInputOf(0)) {
      auto st = be.InputFixed(0, Shape::Vector(3), bad).status();
      EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
      EXPECT_NE(st.message().find("index 2"), std::string::npos) << st.message();
    }
    // The parties are still in step afterwards.
    CONSORT_ASSIGN_OR_RETURN(Shared z, be.Mul(a, b));
    CONSORT_ASSIGN_OR_RETURN(RingTensor out, be.Reveal(z));
    return out.data;
  };
  auto [got, want] = RunBoth(prog);
  EXPECT_EQ(want, (std::vector<uint64_t>{1, 4, 9}));
  for (auto& o : got.outputs) EXPECT_EQ(*o, want);
}

// Comparisons and Select on random data (more than one block of 2^16), equal and adjacent
// values, zero, the fixed-point range limits, the edges of LessThan's domain [-2^62, 2^62)
// and, for the comparisons with zero, every ring element (INT64_MIN, INT64_MAX, ...).
TEST_P(MpcTest, ComparisonsMatchPlaintextExactly) {
  const size_t n = (1 << 16) + 4000;
  const int64_t lim = (int64_t{1} << 44) - 1;  // largest encoded fixed-point magnitude
  const int64_t e62 = int64_t{1} << 62;
  std::mt19937_64 rng(21);
  std::uniform_int_distribution<int64_t> fx(-lim, lim);
  std::vector<uint64_t> a(n), b(n), c(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t v = fx(rng);
    const int64_t w[] = {v, v + 1, v - 1, 0, fx(rng), fx(rng)};
    a[i] = static_cast<uint64_t>(v);
    b[i] = static_cast<uint64_t>(w[i % 6]);
    c[i] = i % 2 ? rng() : a[i];
  }
  const std::vector<std::pair<int64_t, int64_t>> pairs = {
      {0, 0}, {0, 1}, {1, 0}, {-1, 0}, {0, -1}, {lim, -lim}, {-lim, lim}, {lim, lim},
      {-lim, -lim}, {e62 - 1, -e62}, {-e62, e62 - 1}, {-e62, -e62}, {e62 - 1, e62 - 1}};
  for (size_t i = 0; i < pairs.size(); ++i) {
    a[i] = static_cast<uint64_t>(pairs[i].first);
    b[i] = static_cast<uint64_t>(pairs[i].second);
  }
  const uint64_t ring_edges[] = {0, 1, ~uint64_t{0}, uint64_t{1} << 63, (uint64_t{1} << 63) - 1,
                                 (uint64_t{1} << 63) + 1, uint64_t{1} << 62, 0 - (uint64_t{1} << 62)};
  std::copy(std::begin(ring_edges), std::end(ring_edges), c.begin() + 100);

  Program prog = [&](Backend& be) -> StatusOr<std::vector<uint64_t>> {
    const Shape s = Shape::Vector(n);
    CONSORT_ASSIGN_OR_RETURN(Shared x, be.Input(0, s, InputOf(be, 0, a)));
    CONSORT_ASSIGN_OR_RETURN(Shared y, be.Input(1, s, InputOf(be, 1, b)));
    CONSORT_ASSIGN_OR_RETURN(Shared z, be.Input(0, s, InputOf(be, 0, c)));
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
  // The reference itself against direct computation.
  size_t lt = 0, eq = 0;
  for (size_t i = 0; i < n; ++i) {
    const int64_t ai = static_cast<int64_t>(a[i]), bi = static_cast<int64_t>(b[i]);
    ASSERT_EQ(want[i], static_cast<int64_t>(c[i]) < 0 ? 1u : 0u) << i;
    ASSERT_EQ(want[n + i], c[i] == 0 ? 1u : 0u) << i;
    ASSERT_EQ(want[2 * n + i], ai < bi ? 1u : 0u) << i;
    ASSERT_EQ(want[3 * n + i], ai == bi ? 1u : 0u) << i;
    ASSERT_EQ(want[4 * n + i], static_cast<uint64_t>(std::min(ai, bi))) << i;
    lt += ai < bi;
    eq += ai == bi;
  }
  EXPECT_GT(lt, n / 4);  // the data exercises both outcomes
  EXPECT_GT(eq, n / 8);
  for (auto& o : got.outputs) {
    ASSERT_EQ(o->size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ((*o)[i], want[i]) << i;
  }
}

TEST_P(MpcTest, ComparisonsOnFixedPointAndShapeErrors) {
  const std::vector<double> x = {-2.5, 0, 3.25, -0.0001, 7}, y = {-2.5, 0.5, 3, 0, -7};
  Program prog = [&](Backend& be) -> StatusOr<std::vector<uint64_t>> {
    const Shape s = Shape::Vector(x.size());
    CONSORT_ASSIGN_OR_RETURN(Shared a, be.InputFixed(0, s, InputOf(be, 0, x)));
    CONSORT_ASSIGN_OR_RETURN(Shared b, be.InputFixed(1, s, InputOf(be, 1, y)));
    CONSORT_ASSIGN_OR_RETURN(Shared one, be.Input(0, Shape::Vector(1), InputOf(be, 0, std::vector<uint64_t>{1})));
    if (be.LessThan(a, one).status().code() != absl::StatusCode::kInvalidArgument ||
        be.Select(one, a, b).status().code() != absl::StatusCode::kInvalidArgument) {
      return absl::InternalError("shape mismatch accepted");
    }
    CONSORT_ASSIGN_OR_RETURN(Shared lt, be.LessThan(a, b));
    CONSORT_ASSIGN_OR_RETURN(Shared eq, be.Equal(a, b));
    CONSORT_ASSIGN_OR_RETURN(Shared both, be.Add(lt, eq));  // a <= b
    CONSORT_ASSIGN_OR_RETURN(RingTensor r, be.Reveal(both));
    return r.data;
  };
  auto [got, want] = RunBoth(prog);
  EXPECT_EQ(want, (std::vector<uint64_t>{1, 1, 0, 1, 0}));
  for (auto& o : got.outputs) EXPECT_EQ(*o, want);
}

INSTANTIATE_TEST_SUITE_P(Modes, MpcTest,
                         ::testing::Values(Mode::kPlaintext, Mode::kTwoPartyInProcessDealer,
                                           Mode::kTwoPartyLinkDealer, Mode::kThreeParty),
                         [](const auto& info) { return testing::ModeName(info.param); });

}  // namespace
}  // namespace consort::mpc
