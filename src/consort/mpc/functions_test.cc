// functions.h under every mode: results against double math (max error below the documented
// bound, incl. negatives and range edges), and rounds / link bytes against the cost functions.

#include "consort/mpc/functions.h"

#include <gtest/gtest.h>

#include <cmath>
#include <mutex>
#include <random>

#include "consort/mpc/testing.h"
#include "consort/mpc/two_party.h"

namespace consort::mpc {
namespace {

using testing::Uniform;

using testing::InputOf;
using testing::Mode;
using testing::Program;
using testing::RunResult;

FixedPoint Fxp() { return FixedPoint::Create().value(); }
constexpr double kUlp = 1.0 / (1 << 18);

uint64_t Enc(double x) {
  return static_cast<uint64_t>(static_cast<int64_t>(std::llround(std::ldexp(x, 18))));
}
double Dec(uint64_t v) { return Fxp().DecodeOne(v); }

// 2^u for u uniform in [lo, hi), rounded to the encoding (so the reference sees what the
// backend sees).
std::vector<double> LogUniform(size_t n, double lo, double hi, uint64_t seed) {
  auto e = Uniform(n, lo, hi, seed);
  for (auto& x : e) x = Dec(Enc(std::exp2(x)));
  return e;
}

Cost Plus(Cost a, const Cost& b) {
  a.rounds += b.rounds;
  a.peer_bytes += b.peer_bytes;
  a.dealer_bytes += b.dealer_bytes;
  return a;
}

struct Outcome {
  RunResult run;
  std::vector<uint64_t> out;  // revealed result (party 0's, or plaintext's)
  Cost expected;              // inputs + function (FooCost) + reveal, by party 0's backend
  uint64_t fn_rounds = 0;     // rounds counted by party 0's backend during the function
  Cost fn_cost;
};

using Fn = std::function<StatusOr<Shared>(Backend&, const Shared&, const Shared&)>;
using CostFn = std::function<Cost(const Backend&, Shape)>;

// a from party 0, b from party 1 (both ring values of `shape`); reveals fn(a, b).
Outcome RunFn(Mode mode, Shape shape, const std::vector<uint64_t>& a,
              const std::vector<uint64_t>& b, const Fn& fn, const CostFn& cost) {
  Outcome o;
  std::mutex mu;
  Program prog = [&](Backend& be) -> StatusOr<std::vector<uint64_t>> {
    CONSORT_ASSIGN_OR_RETURN(Shared x, be.Input(0, shape, InputOf(be, 0, a)));
    CONSORT_ASSIGN_OR_RETURN(Shared y, be.Input(1, shape, InputOf(be, 1, b)));
    const uint64_t r0 = be.rounds();
    CONSORT_ASSIGN_OR_RETURN(Shared z, fn(be, x, y));
    const uint64_t r1 = be.rounds();
    const bool reporter = be.HoldsInputOf(0);  // party 0 (or the plaintext backend)
    if (reporter) {
      std::lock_guard<std::mutex> l(mu);
      o.fn_rounds = r1 - r0;
      o.fn_cost = cost(be, shape);
      o.expected = Plus(Plus(be.CostOf(Op::kInput, shape), be.CostOf(Op::kInput, shape)),
                        Plus(o.fn_cost, be.CostOf(Op::kReveal, z.shape)));
    }
    CONSORT_ASSIGN_OR_RETURN(RingTensor out, be.Reveal(z));
    return out.data;
  };
  o.run = testing::Run(mode, prog);
  for (auto& r : o.run.outputs) EXPECT_TRUE(r.ok()) << r.status();
  if (o.run.outputs[0].ok()) o.out = *o.run.outputs[0];
  for (auto& r : o.run.outputs) {
    if (r.ok()) {
      EXPECT_EQ(*r, o.out);  // every party learns the same
    }
  }
  return o;
}

class FunctionsTest : public ::testing::TestWithParam<Mode> {
 protected:
  // The backend counted exactly what the cost function says: rounds always; bytes on the
  // modes whose links are counted.
  void CheckCost(const Outcome& o) {
    EXPECT_EQ(o.fn_rounds, o.fn_cost.rounds);
    if (GetParam() == Mode::kPlaintext) {
      EXPECT_EQ(o.fn_cost, Cost{});
      return;
    }
    EXPECT_EQ(o.run.rounds, o.expected.rounds);
    EXPECT_EQ(o.run.peer_bytes, o.expected.peer_bytes);
    if (GetParam() == Mode::kTwoPartyLinkDealer) {
      EXPECT_EQ(o.run.dealer_bytes, o.expected.dealer_bytes);
    }
  }
  bool TwoParty() const { return GetParam() == Mode::kTwoPartyLinkDealer; }
};

template <typename F>
Fn Unary(F f) {
  return [f](Backend& be, const Shared& x, const Shared&) { return f(be, x); };
}

std::vector<uint64_t> EncAll(const std::vector<double>& v) {
  std::vector<uint64_t> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = Enc(v[i]);
  return out;
}

// Max |got - want| / (rel |want| + abs) over all elements; <= 1 means within the bound.
double WorstRatio(const std::vector<uint64_t>& got, const std::vector<double>& want, double rel,
                  double abs_ulps, size_t* worst_i = nullptr) {
  EXPECT_EQ(got.size(), want.size());
  double worst = 0;
  for (size_t i = 0; i < got.size() && i < want.size(); ++i) {
    const double err = std::fabs(Dec(got[i]) - want[i]);
    const double r = err / (rel * std::fabs(want[i]) + abs_ulps * kUlp);
    if (r > worst) {
      worst = r;
      if (worst_i) *worst_i = i;
    }
  }
  if (getenv("FN_VERBOSE")) fprintf(stderr, "worst ratio %.4f\n", worst);
  return worst;
}

TEST_P(FunctionsTest, SigmoidWithinBoundEverywhere) {
  auto x = Uniform(3000, -20, 20, 1);
  for (double s :
       {0.0, 1e-6, 4.0, 8.0, 16.0, 3.99999, 7.99999, 15.9999, 16.0001, 30.0, 1e4, 67108863.0}) {
    x.push_back(s);
    x.push_back(-s);
  }
  for (auto& v : x) v = Dec(Enc(v));
  const Shape sh = Shape::Vector(x.size());
  Outcome o = RunFn(GetParam(), sh, EncAll(x), EncAll(x), Unary(Sigmoid), SigmoidCost);
  std::vector<double> want;
  for (double v : x) want.push_back(1 / (1 + std::exp(-v)));
  size_t wi = 0;
  const double worst = WorstRatio(o.out, want, 0, 4e-5 / kUlp, &wi);
  EXPECT_LE(worst, 1.0) << "x = " << x[wi] << " got " << Dec(o.out[wi]);
  CheckCost(o);
  if (TwoParty()) {
    EXPECT_EQ(o.fn_cost.rounds, 26u);
  }
}

TEST_P(FunctionsTest, ReciprocalWithinBoundOverTheRange) {
  // x in [2^-18, 2^43], plus the range ends and exact powers of two.
  auto x = LogUniform(2000, -18, 43.99, 2);
  for (int e = -18; e <= 43; ++e) x.push_back(std::ldexp(1.0, e));
  x.push_back(std::ldexp(1.0, 44) - kUlp);
  x.push_back(3 * kUlp);
  const Shape sh = Shape::Vector(x.size());
  Outcome o = RunFn(GetParam(), sh, EncAll(x), EncAll(x), Unary(Reciprocal), ReciprocalCost);
  std::vector<double> want;
  for (double v : x) want.push_back(1 / v);
  size_t wi = 0;
  const double worst = WorstRatio(o.out, want, std::ldexp(1.0, -19), 3, &wi);
  EXPECT_LE(worst, 1.0) << "x = " << x[wi] << " got " << Dec(o.out[wi]) << " want " << want[wi];
  CheckCost(o);
  if (TwoParty()) {
    EXPECT_EQ(o.fn_cost.rounds, 39u);
  }
}

TEST_P(FunctionsTest, DivideFixedPointByFixedPoint) {
  auto b = LogUniform(1500, -12, 25.9, 3);
  auto a = Uniform(b.size(), -3000, 3000, 4);
  for (size_t i = 0; i < b.size(); ++i) {
    if (std::fabs(a[i] / b[i]) >= 65536) a[i] = std::copysign(65535, a[i]) * b[i] * 0.999;
    a[i] = Dec(Enc(a[i]));
  }
  const Shape sh = Shape::Vector(b.size());
  Fn fn = [](Backend& be, const Shared& x, const Shared& y) { return Divide(be, x, y); };
  CostFn cost = [](const Backend& be, Shape s) { return DivideCost(be, s); };
  Outcome o = RunFn(GetParam(), sh, EncAll(a), EncAll(b), fn, cost);
  std::vector<double> want;
  for (size_t i = 0; i < a.size(); ++i) want.push_back(a[i] / b[i]);
  size_t wi = 0;
  // F = min(28, 57 - 18 - 16) = 23: relative 2^-21.
  const double worst = WorstRatio(o.out, want, std::ldexp(1.0, -21), 3, &wi);
  EXPECT_LE(worst, 1.0) << a[wi] << " / " << b[wi] << " got " << Dec(o.out[wi]);
  CheckCost(o);
}

TEST_P(FunctionsTest, DivideBySecretCountsUpTo2To40) {
  // Sums of count values with mean in [-10, 10] divided by integer counts in [1, 2^40]: 1/b
  // would underflow 18 fractional bits; the quotient must not.
  auto lc = Uniform(1500, 0, 40, 5);
  auto mean = Uniform(lc.size(), -10, 10, 6);
  std::vector<uint64_t> A, B;
  std::vector<double> want;
  for (size_t i = 0; i < lc.size(); ++i) {
    const uint64_t cnt = static_cast<uint64_t>(std::llround(std::exp2(lc[i])));
    const double a = mean[i] * static_cast<double>(cnt);
    A.push_back(Enc(a));
    B.push_back(cnt);
    want.push_back(Dec(Enc(a)) / static_cast<double>(cnt));
  }
  A.push_back(Enc(-7)), B.push_back(1), want.push_back(-7);
  A.push_back(Enc(9.5 * 1099511627776.0)), B.push_back(1099511627776ull), want.push_back(9.5);
  const Shape sh = Shape::Vector(A.size());
  DivideOptions opt{.b_frac_bits = 0, .quotient_int_bits = 8};
  Fn fn = [&](Backend& be, const Shared& x, const Shared& y) { return Divide(be, x, y, opt); };
  CostFn cost = [&](const Backend& be, Shape s) { return DivideCost(be, s, opt); };
  Outcome o = RunFn(GetParam(), sh, A, B, fn, cost);
  size_t wi = 0;
  // F = min(28, 57 - 18 - 8) = 28: relative 2^-26.
  const double worst = WorstRatio(o.out, want, std::ldexp(1.0, -26), 3, &wi);
  EXPECT_LE(worst, 1.0) << Dec(A[wi]) << " / " << B[wi] << " got " << Dec(o.out[wi]);
  CheckCost(o);
}

TEST_P(FunctionsTest, RsqrtAndSqrtWithinBound) {
  auto x = LogUniform(1500, -18, 43.99, 7);
  for (int e = -18; e <= 43; ++e) x.push_back(std::ldexp(1.0, e));
  x.push_back(std::ldexp(1.0, 44) - kUlp);
  const Shape sh = Shape::Vector(x.size());
  Outcome o = RunFn(GetParam(), sh, EncAll(x), EncAll(x), Unary(Rsqrt), RsqrtCost);
  std::vector<double> want;
  for (double v : x) want.push_back(1 / std::sqrt(v));
  size_t wi = 0;
  double worst = WorstRatio(o.out, want, std::ldexp(1.0, -20), 2, &wi);
  EXPECT_LE(worst, 1.0) << "x = " << x[wi] << " got " << Dec(o.out[wi]) << " want " << want[wi];
  CheckCost(o);
  if (TwoParty()) {
    EXPECT_EQ(o.fn_cost.rounds, 42u);
  }

  x.push_back(0);
  const Shape sh2 = Shape::Vector(x.size());
  Outcome s = RunFn(GetParam(), sh2, EncAll(x), EncAll(x), Unary(Sqrt), SqrtCost);
  want.clear();
  for (double v : x) want.push_back(std::sqrt(v));
  worst = WorstRatio(s.out, want, std::ldexp(1.0, -20), 2, &wi);
  EXPECT_LE(worst, 1.0) << "x = " << x[wi] << " got " << Dec(s.out[wi]) << " want " << want[wi];
  CheckCost(s);
  if (TwoParty()) {
    EXPECT_EQ(s.fn_cost.rounds, 44u);
  }
}

TEST_P(FunctionsTest, LogWithinBound) {
  auto x = LogUniform(2000, -18, 43.99, 14);
  for (int e = -18; e <= 43; ++e) x.push_back(std::ldexp(1.0, e));
  x.push_back(std::ldexp(1.0, 44) - kUlp);
  x.push_back(1 + kUlp);
  x.push_back(1 - kUlp);
  x.push_back(2.718281828);
  for (auto& v : x) v = Dec(Enc(v));
  const Shape sh = Shape::Vector(x.size());
  Outcome o = RunFn(GetParam(), sh, EncAll(x), EncAll(x), Unary(Log), LogCost);
  std::vector<double> want;
  for (double v : x) want.push_back(std::log(v));
  size_t wi = 0;
  const double worst = WorstRatio(o.out, want, 0, 2, &wi);
  EXPECT_LE(worst, 1.0) << "x = " << x[wi] << " got " << Dec(o.out[wi]) << " want " << want[wi];
  CheckCost(o);
  if (TwoParty()) {
    EXPECT_EQ(o.fn_cost.rounds, 35u);
  }
}

TEST_P(FunctionsTest, ExpWithinBoundAndClampedBelow) {
  auto x = Uniform(2000, -40, 16, 8);
  for (double s : {0.0, 16.0, -32.0, -31.9, 1e-5, -1e-5, -1e3, -67108863.0, 12.3}) x.push_back(s);
  for (auto& v : x) v = Dec(Enc(v));
  const Shape sh = Shape::Vector(x.size());
  Outcome o = RunFn(GetParam(), sh, EncAll(x), EncAll(x), Unary(Exp), ExpCost);
  std::vector<double> want;
  for (double v : x) want.push_back(std::exp(v));
  size_t wi = 0;
  const double worst = WorstRatio(o.out, want, std::ldexp(1.0, -15), 2, &wi);
  EXPECT_LE(worst, 1.0) << "x = " << x[wi] << " got " << Dec(o.out[wi]) << " want " << want[wi];
  CheckCost(o);
  if (TwoParty()) {
    EXPECT_EQ(o.fn_cost.rounds, 26u);
  }
}

TEST_P(FunctionsTest, MaxMinArgmaxAreExact) {
  // 37 x 11 matrix with ties; reductions over everything, rows and columns.
  const size_t R = 37, C = 11;
  auto v = Uniform(R * C, -1000, 1000, 9);
  for (size_t i = 0; i < v.size(); i += 7) v[i] = 500;  // ties
  v[5] = 67108863;
  v[6] = -67108863;
  auto enc = EncAll(v);
  for (Axis axis : {Axis::kAll, Axis::kEachRow, Axis::kEachCol}) {
    const Shape sh{R, C};
    Fn fn = [&](Backend& be, const Shared& x, const Shared&) -> StatusOr<Shared> {
      CONSORT_ASSIGN_OR_RETURN(ArgmaxResult am, Argmax(be, x, axis));
      CONSORT_ASSIGN_OR_RETURN(Shared mn, Min(be, x, axis));
      Shared out = am.max;
      for (const Shared* p : {&am.index, &mn, &am.one_hot}) {
        out.s0.insert(out.s0.end(), p->s0.begin(), p->s0.end());
        out.s1.insert(out.s1.end(), p->s1.begin(), p->s1.end());
      }
      out.shape = Shape::Vector(out.s0.size());
      return out;
    };
    CostFn cost = [&](const Backend& be, Shape s) {
      return Plus(ArgmaxCost(be, s, axis), MaxCost(be, s, axis));  // Min costs as Max
    };
    Outcome o = RunFn(GetParam(), sh, enc, enc, fn, cost);
    // Reference.
    std::vector<std::vector<size_t>> groups;
    if (axis == Axis::kAll) {
      groups.emplace_back();
      for (size_t i = 0; i < R * C; ++i) groups[0].push_back(i);
    } else if (axis == Axis::kEachRow) {
      for (size_t r = 0; r < R; ++r) {
        groups.emplace_back();
        for (size_t c = 0; c < C; ++c) groups.back().push_back(r * C + c);
      }
    } else {
      for (size_t c = 0; c < C; ++c) {
        groups.emplace_back();
        for (size_t r = 0; r < R; ++r) groups.back().push_back(r * C + c);
      }
    }
    const size_t G = groups.size();
    ASSERT_EQ(o.out.size(), 3 * G + R * C);
    std::vector<uint64_t> onehot(R * C, 0);
    for (size_t g = 0; g < G; ++g) {
      size_t best = 0, worst = 0;
      for (size_t k = 1; k < groups[g].size(); ++k) {
        if (v[groups[g][k]] > v[groups[g][best]]) best = k;
        if (v[groups[g][k]] < v[groups[g][worst]]) worst = k;
      }
      EXPECT_EQ(o.out[g], enc[groups[g][best]]) << g;
      EXPECT_EQ(o.out[G + g], best) << g;
      EXPECT_EQ(o.out[2 * G + g], enc[groups[g][worst]]) << g;
      onehot[groups[g][best]] = 1;
    }
    EXPECT_EQ(std::vector<uint64_t>(o.out.begin() + 3 * G, o.out.end()), onehot);
    CheckCost(o);
  }
}

TEST_P(FunctionsTest, ReductionsOverGroupsOfOneAreTheIdentity) {
  auto v = EncAll(Uniform(5, -10, 10, 16));
  Fn fn = [&](Backend& be, const Shared& x, const Shared&) -> StatusOr<Shared> {
    CONSORT_ASSIGN_OR_RETURN(ArgmaxResult am, Argmax(be, x, Axis::kEachRow));
    CONSORT_ASSIGN_OR_RETURN(Shared mean, Mean(be, x, Axis::kEachRow));
    Shared out = am.max;
    for (const Shared* p : {&am.index, &am.one_hot, &mean}) {
      out.s0.insert(out.s0.end(), p->s0.begin(), p->s0.end());
      out.s1.insert(out.s1.end(), p->s1.begin(), p->s1.end());
    }
    out.shape = Shape::Vector(out.s0.size());
    return out;
  };
  CostFn cost = [](const Backend& be, Shape s) {
    return Plus(ArgmaxCost(be, s, Axis::kEachRow), MeanCost(be, s, Axis::kEachRow));
  };
  Outcome o = RunFn(GetParam(), Shape{5, 1}, v, v, fn, cost);
  std::vector<uint64_t> want = v;
  want.insert(want.end(), 5, 0);
  want.insert(want.end(), 5, 1);
  want.insert(want.end(), v.begin(), v.end());
  EXPECT_EQ(o.out, want);
  EXPECT_EQ(o.fn_cost, Cost{});
  CheckCost(o);
}

TEST_P(FunctionsTest, ElementwiseMaxMinAreExact) {
  auto a = Uniform(1000, -67108863, 67108863, 10), b = Uniform(1000, -67108863, 67108863, 11);
  b[0] = a[0];
  auto ea = EncAll(a), eb = EncAll(b);
  Fn fn = [](Backend& be, const Shared& x, const Shared& y) -> StatusOr<Shared> {
    CONSORT_ASSIGN_OR_RETURN(Shared mx, ElementwiseMax(be, x, y));
    CONSORT_ASSIGN_OR_RETURN(Shared mn, ElementwiseMin(be, x, y));
    mx.s0.insert(mx.s0.end(), mn.s0.begin(), mn.s0.end());
    mx.s1.insert(mx.s1.end(), mn.s1.begin(), mn.s1.end());
    mx.shape = Shape::Vector(mx.s0.size());
    return mx;
  };
  CostFn cost = [](const Backend& be, Shape s) {
    return Plus(ElementwiseMaxCost(be, s), ElementwiseMaxCost(be, s));
  };
  Outcome o = RunFn(GetParam(), Shape::Vector(a.size()), ea, eb, fn, cost);
  ASSERT_EQ(o.out.size(), 2 * a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(o.out[i], a[i] > b[i] ? ea[i] : eb[i]);
    EXPECT_EQ(o.out[a.size() + i], a[i] < b[i] ? ea[i] : eb[i]);
  }
  CheckCost(o);
  if (TwoParty()) {
    EXPECT_EQ(o.fn_cost.rounds, 18u);
  }
}

TEST_P(FunctionsTest, SumMeanVarianceDotProduct) {
  const size_t R = 300, C = 7;
  auto v = Uniform(R * C, -4000, 4000, 12);
  v[0] = 67108863;  // a value at the encoding limit (deviation above 2^12 only in its column)
  auto w = Uniform(R * C, -2, 2, 13);
  v[0] = 4000;
  for (auto& x : v) x = Dec(Enc(x));
  for (auto& x : w) x = Dec(Enc(x));
  for (Axis axis : {Axis::kAll, Axis::kEachRow, Axis::kEachCol}) {
    Fn fn = [&](Backend& be, const Shared& x, const Shared& y) -> StatusOr<Shared> {
      CONSORT_ASSIGN_OR_RETURN(Shared s, Sum(be, x, axis));
      CONSORT_ASSIGN_OR_RETURN(Shared m, Mean(be, x, axis));
      CONSORT_ASSIGN_OR_RETURN(Shared var, Variance(be, x, axis, 1));
      CONSORT_ASSIGN_OR_RETURN(Shared d, DotProduct(be, x, y));
      Shared out = s;
      for (const Shared* p : {&m, &var, &d}) {
        out.s0.insert(out.s0.end(), p->s0.begin(), p->s0.end());
        out.s1.insert(out.s1.end(), p->s1.begin(), p->s1.end());
      }
      out.shape = Shape::Vector(out.s0.size());
      return out;
    };
    CostFn cost = [&](const Backend& be, Shape s) {
      return Plus(Plus(SumCost(be, s, axis), MeanCost(be, s, axis)),
                  Plus(VarianceCost(be, s, axis, 1), DotProductCost(be, s)));
    };
    Outcome o = RunFn(GetParam(), Shape{R, C}, EncAll(v), EncAll(w), fn, cost);
    std::vector<std::vector<size_t>> groups;
    if (axis == Axis::kAll) {
      groups.emplace_back();
      for (size_t i = 0; i < R * C; ++i) groups[0].push_back(i);
    } else if (axis == Axis::kEachRow) {
      for (size_t r = 0; r < R; ++r) {
        groups.emplace_back();
        for (size_t c = 0; c < C; ++c) groups.back().push_back(r * C + c);
      }
    } else {
      for (size_t c = 0; c < C; ++c) {
        groups.emplace_back();
        for (size_t r = 0; r < R; ++r) groups.back().push_back(r * C + c);
      }
    }
    const size_t G = groups.size();
    ASSERT_EQ(o.out.size(), 3 * G + 1);
    for (size_t g = 0; g < G; ++g) {
      const double k = static_cast<double>(groups[g].size());
      double s = 0, ss = 0, mad = 0;
      for (size_t i : groups[g]) s += v[i];
      const double mean = s / k;
      for (size_t i : groups[g]) {
        ss += (v[i] - mean) * (v[i] - mean);
        mad += std::fabs(v[i] - mean);
      }
      EXPECT_NEAR(Dec(o.out[g]), s, 1e-6);
      EXPECT_NEAR(Dec(o.out[G + g]), mean, 3 * kUlp + std::fabs(mean) * 0x1p-32) << g;
      const double var = ss / (k - 1);
      EXPECT_NEAR(Dec(o.out[2 * G + g]), var,
                  var * 0x1p-31 + (5 + 6 * mad / k) * kUlp * k / (k - 1))
          << g;
    }
    double dot = 0;
    for (size_t i = 0; i < R * C; ++i) dot += v[i] * w[i];
    EXPECT_NEAR(Dec(o.out[3 * G]), dot, 1.01 * kUlp);
    CheckCost(o);
  }
}

TEST_P(FunctionsTest, DividePublicWithinBound) {
  // x / d for d from 1 to beyond 2^40 (powers of two take the one-shift path).
  for (uint64_t d : {uint64_t{1}, uint64_t{2}, uint64_t{3}, uint64_t{1024}, uint64_t{1000003},
                     (uint64_t{1} << 40) + 7, uint64_t{1} << 41}) {
    // x = q d with |q| < 2^26 and |X| < 2^61.
    const double qmax = std::min(67108863.0, std::ldexp(1.0, 61 - 18) / static_cast<double>(d));
    auto q = Uniform(500, -qmax, qmax, 15 + d);
    q[0] = qmax;
    q[1] = -qmax;
    std::vector<uint64_t> X;
    std::vector<double> want;
    for (double v : q) {
      const long double xv = std::ldexp(static_cast<long double>(v), 18) * d;
      const int64_t xi = static_cast<int64_t>(std::llroundl(xv));
      X.push_back(static_cast<uint64_t>(xi));
      want.push_back(static_cast<double>(std::ldexp(static_cast<long double>(xi), -18) / d));
    }
    Fn fn = [d](Backend& be, const Shared& x, const Shared&) { return DividePublic(be, x, d); };
    CostFn cost = [d](const Backend& be, Shape s) { return DividePublicCost(be, s, d); };
    Outcome o = RunFn(GetParam(), Shape::Vector(X.size()), X, X, fn, cost);
    size_t wi = 0;
    const double worst = WorstRatio(o.out, want, 0x1p-32, 3, &wi);
    EXPECT_LE(worst, 1.0) << "d = " << d << " want " << want[wi] << " got " << Dec(o.out[wi]);
    CheckCost(o);
    if (TwoParty()) {
      const bool pow2 = (d & (d - 1)) == 0;
      if (d == 1 || pow2) {
        EXPECT_EQ(o.fn_cost.rounds, d == 1 ? 0u : 1u) << d;
      } else {  // 2 when the factor's low 16 bits round to 0 (d just above a power of two)
        EXPECT_GE(o.fn_cost.rounds, 2u) << d;
        EXPECT_LE(o.fn_cost.rounds, 3u) << d;
      }
    }
  }
}

TEST_P(FunctionsTest, BadArgumentsAreInvalidArgument) {
  Program prog = [&](Backend& be) -> StatusOr<std::vector<uint64_t>> {
    std::vector<uint64_t> three = {1, 2, 3};
    CONSORT_ASSIGN_OR_RETURN(Shared a, be.Input(0, Shape::Vector(3), InputOf(be, 0, three)));
    CONSORT_ASSIGN_OR_RETURN(
        Shared b, be.Input(0, Shape::Vector(2), InputOf(be, 0, std::vector<uint64_t>{1, 2})));
    const uint64_t r0 = be.rounds();
    EXPECT_EQ(Divide(be, a, b).status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(Divide(be, a, a, {.b_frac_bits = 41}).status().code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(Divide(be, a, a, {.quotient_int_bits = 26}).status().code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(Divide(be, a, a, {.quotient_int_bits = 0}).status().code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(DividePublic(be, a, 0).status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(Variance(be, a, Axis::kAll, 3).status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(DotProduct(be, a, b).status().code(), absl::StatusCode::kInvalidArgument);
    Shared empty{Shape{0, 1}, {}, {}};
    EXPECT_EQ(Sum(be, empty).status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(Max(be, empty).status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(ElementwiseMax(be, a, b).status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(be.rounds(), r0);  // rejected before any communication
    // The cost functions agree (and do not abort): a rejected call costs nothing.
    EXPECT_EQ(DivideCost(be, Shape::Vector(3), {.quotient_int_bits = 26}), Cost{});
    EXPECT_EQ(MaxCost(be, Shape{0, 1}), Cost{});
    EXPECT_EQ(VarianceCost(be, Shape::Vector(3), Axis::kAll, 3), Cost{});
    return std::vector<uint64_t>{};
  };
  RunResult r = testing::Run(GetParam(), prog);
  for (auto& o : r.outputs) EXPECT_TRUE(o.ok()) << o.status();
}

// The same functions at f = 14 and f = 20 (shifts and internal precisions are derived from f):
// plaintext and 2PC, bounds in that f's ulps.
TEST(FunctionsConfig, OtherFractionalBitsStayWithinTheirBounds) {
  for (int f : {14, 20}) {
    const FixedPoint fp = FixedPoint::Create({.frac_bits = f, .int_bits = 26}).value();
    const double ulp = std::ldexp(1.0, -f);
    auto enc = [&](double v) {
      return static_cast<uint64_t>(static_cast<int64_t>(std::llround(std::ldexp(v, f))));
    };
    auto pos = Uniform(400, -f, 60 - f - 0.01, 20 + f);
    for (auto& v : pos) v = fp.DecodeOne(enc(std::exp2(v)));
    auto sym = Uniform(400, -20, 16, 30 + f);
    for (auto& v : sym) v = fp.DecodeOne(enc(v));
    struct Case {
      const char* name;
      std::function<StatusOr<Shared>(Backend&, const Shared&)> fn;
      const std::vector<double>* in;
      std::function<double(double)> exact;
      double rel, abs_ulps;
    };
    const std::vector<Case> cases = {
        {"sigmoid", Sigmoid, &sym, [](double v) { return 1 / (1 + std::exp(-v)); }, 0,
         2.5e-5 / ulp + 2},
        {"exp", Exp, &sym, [](double v) { return std::exp(v); }, std::ldexp(1.0, -15), 2},
        {"reciprocal", Reciprocal, &pos, [](double v) { return 1 / v; },
         std::ldexp(1.0, -(57 - 2 * f - 2)), 3},
        {"rsqrt", Rsqrt, &pos, [](double v) { return 1 / std::sqrt(v); }, std::ldexp(1.0, -20), 2},
        {"sqrt", Sqrt, &pos, [](double v) { return std::sqrt(v); }, std::ldexp(1.0, -20), 2},
        {"log", Log, &pos, [](double v) { return std::log(v); }, 0, 2},
    };
    for (const Case& c : cases) {
      std::vector<uint64_t> in;
      for (double v : *c.in) in.push_back(enc(v));
      Program prog = [&](Backend& be) -> StatusOr<std::vector<uint64_t>> {
        CONSORT_ASSIGN_OR_RETURN(Shared x,
                                 be.Input(0, Shape::Vector(in.size()), InputOf(be, 0, in)));
        CONSORT_ASSIGN_OR_RETURN(Shared y, c.fn(be, x));
        CONSORT_ASSIGN_OR_RETURN(RingTensor out, be.Reveal(y));
        return out.data;
      };
      for (Mode mode : {Mode::kPlaintext, Mode::kTwoPartyLinkDealer}) {
        RunResult r = testing::Run(mode, prog, fp.config());
        ASSERT_TRUE(r.outputs[0].ok()) << r.outputs[0].status();
        const auto& got = *r.outputs[0];
        ASSERT_EQ(got.size(), in.size());
        for (size_t i = 0; i < in.size(); ++i) {
          const double x = (*c.in)[i], want = c.exact(x);
          ASSERT_LE(std::fabs(fp.DecodeOne(got[i]) - want),
                    c.rel * std::fabs(want) + c.abs_ulps * ulp)
              << c.name << " f=" << f << " x=" << x << " mode " << testing::ModeName(mode);
        }
      }
    }
  }
}

TEST(FunctionsConfig, UnsupportedFractionalBitsAreInvalidArgument) {
  Program prog = [&](Backend& be) -> StatusOr<std::vector<uint64_t>> {
    std::vector<uint64_t> one = {1};
    CONSORT_ASSIGN_OR_RETURN(Shared a, be.Input(0, Shape::Vector(1), InputOf(be, 0, one)));
    EXPECT_EQ(Reciprocal(be, a).status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(Sigmoid(be, a).status().code(), absl::StatusCode::kInvalidArgument);
    return std::vector<uint64_t>{};
  };
  RunResult r =
      testing::Run(Mode::kPlaintext, prog, FixedPointConfig{.frac_bits = 30, .int_bits = 20});
  EXPECT_TRUE(r.outputs[0].ok());
  // f = 22: the reciprocal's internal precision would be too low; the others run.
  Program prog22 = [&](Backend& be) -> StatusOr<std::vector<uint64_t>> {
    std::vector<uint64_t> one = {uint64_t{1} << 22};
    CONSORT_ASSIGN_OR_RETURN(Shared a, be.Input(0, Shape::Vector(1), InputOf(be, 0, one)));
    EXPECT_EQ(Reciprocal(be, a).status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(Divide(be, a, a, {.quotient_int_bits = 8}).ok());
    EXPECT_TRUE(Sigmoid(be, a).ok());
    return std::vector<uint64_t>{};
  };
  r = testing::Run(Mode::kPlaintext, prog22, FixedPointConfig{.frac_bits = 22, .int_bits = 26});
  EXPECT_TRUE(r.outputs[0].ok());
}

INSTANTIATE_TEST_SUITE_P(Modes, FunctionsTest,
                         ::testing::Values(Mode::kPlaintext, Mode::kTwoPartyLinkDealer,
                                           Mode::kThreeParty),
                         [](const auto& info) { return testing::ModeName(info.param); });

}  // namespace
}  // namespace consort::mpc
