#include "consort/fl/internal/shared_ops.h"

#include <cmath>

#include "consort/fl/internal/lr_loop.h"

namespace consort::fl::internal {
namespace {

template <typename F>
mpc::Shared MapShares(const mpc::Shared& a, mpc::Shape shape, F f) {
  mpc::Shared out;
  out.shape = shape;
  out.s0 = f(a.s0);
  if (!a.s1.empty()) out.s1 = f(a.s1);
  return out;
}

constexpr size_t kKnots = sizeof(kSigmoidKnots) / sizeof(kSigmoidKnots[0]);

// Hinge form: f(z) = sigmoid(c_0) + sum_k dm_k * max(z - c_k, 0), dm_k the slope change at c_k.
struct Hinges {
  double v0;
  double dm[kKnots];
};
Hinges MakeHinges() {
  Hinges h;
  h.v0 = Sigmoid(kSigmoidKnots[0]);
  double prev = 0;
  for (size_t k = 0; k < kKnots; ++k) {
    double slope = 0;
    if (k + 1 < kKnots) {
      slope = (Sigmoid(kSigmoidKnots[k + 1]) - Sigmoid(kSigmoidKnots[k])) /
              (kSigmoidKnots[k + 1] - kSigmoidKnots[k]);
    }
    h.dm[k] = slope - prev;
    prev = slope;
  }
  return h;
}
const Hinges& TheHinges() {
  static const Hinges h = MakeHinges();
  return h;
}

}  // namespace

mpc::Shared GatherRows(const mpc::Shared& a, std::span<const size_t> rows) {
  const size_t cols = a.shape.cols;
  return MapShares(a, mpc::Shape{rows.size(), cols}, [&](const std::vector<uint64_t>& s) {
    std::vector<uint64_t> o;
    o.reserve(rows.size() * cols);
    for (size_t r : rows) {
      CONSORT_CHECK(r < a.shape.rows);
      o.insert(o.end(), s.begin() + static_cast<std::ptrdiff_t>(r * cols),
               s.begin() + static_cast<std::ptrdiff_t>((r + 1) * cols));
    }
    return o;
  });
}

mpc::Shared ConcatCols(const mpc::Shared& a, const mpc::Shared& b) {
  CONSORT_CHECK(a.shape.rows == b.shape.rows);
  CONSORT_CHECK(a.s1.empty() == b.s1.empty());
  const size_t rows = a.shape.rows, ca = a.shape.cols, cb = b.shape.cols;
  auto cat = [&](const std::vector<uint64_t>& x, const std::vector<uint64_t>& y) {
    std::vector<uint64_t> o;
    o.reserve(rows * (ca + cb));
    for (size_t r = 0; r < rows; ++r) {
      o.insert(o.end(), x.begin() + static_cast<std::ptrdiff_t>(r * ca),
               x.begin() + static_cast<std::ptrdiff_t>((r + 1) * ca));
      o.insert(o.end(), y.begin() + static_cast<std::ptrdiff_t>(r * cb),
               y.begin() + static_cast<std::ptrdiff_t>((r + 1) * cb));
    }
    return o;
  };
  mpc::Shared out;
  out.shape = mpc::Shape{rows, ca + cb};
  out.s0 = cat(a.s0, b.s0);
  if (!a.s1.empty()) out.s1 = cat(a.s1, b.s1);
  return out;
}

mpc::Shared Transpose(const mpc::Shared& a) {
  const size_t rows = a.shape.rows, cols = a.shape.cols;
  return MapShares(a, mpc::Shape{cols, rows}, [&](const std::vector<uint64_t>& s) {
    std::vector<uint64_t> o(s.size());
    for (size_t r = 0; r < rows; ++r) {
      for (size_t c = 0; c < cols; ++c) o[c * rows + r] = s[r * cols + c];
    }
    return o;
  });
}

mpc::Shared SliceRows(const mpc::Shared& a, size_t begin, size_t end) {
  CONSORT_CHECK(begin <= end && end <= a.shape.rows);
  const size_t cols = a.shape.cols;
  return MapShares(a, mpc::Shape{end - begin, cols}, [&](const std::vector<uint64_t>& s) {
    return std::vector<uint64_t>(s.begin() + static_cast<std::ptrdiff_t>(begin * cols),
                                 s.begin() + static_cast<std::ptrdiff_t>(end * cols));
  });
}

mpc::Shared Tile(const mpc::Shared& a, size_t times) {
  CONSORT_CHECK(a.shape.cols == 1);
  return MapShares(a, mpc::Shape{a.shape.rows * times, 1}, [&](const std::vector<uint64_t>& s) {
    std::vector<uint64_t> o;
    o.reserve(s.size() * times);
    for (size_t t = 0; t < times; ++t) o.insert(o.end(), s.begin(), s.end());
    return o;
  });
}

double PiecewiseSigmoid(double z) {
  const Hinges& h = TheHinges();
  double f = h.v0;
  for (size_t k = 0; k < kKnots; ++k) f += h.dm[k] * std::max(z - kSigmoidKnots[k], 0.0);
  return f;
}

StatusOr<mpc::Shared> PiecewiseSigmoidShared(mpc::Backend& be, const mpc::Shared& z) {
  if (z.shape.cols != 1) return absl::InvalidArgumentError("sigmoid: expected a column vector");
  const size_t n = z.shape.rows;
  const Hinges& h = TheHinges();
  const mpc::FixedPoint& fxp = be.fxp();
  // D = z - c_k for every knot k (block k of n values).
  std::vector<double> minus_c(n * kKnots), dm(n * kKnots);
  for (size_t k = 0; k < kKnots; ++k) {
    for (size_t i = 0; i < n; ++i) {
      minus_c[k * n + i] = -kSigmoidKnots[k];
      dm[k * n + i] = h.dm[k];
    }
  }
  CONSORT_ASSIGN_OR_RETURN(std::vector<uint64_t> minus_c_enc, fxp.Encode(minus_c));
  CONSORT_ASSIGN_OR_RETURN(std::vector<uint64_t> dm_enc, fxp.Encode(dm));
  const mpc::Shape shape{n * kKnots, 1};
  CONSORT_ASSIGN_OR_RETURN(mpc::Shared d,
                           be.AddPublic(Tile(z, kKnots), mpc::RingTensor{shape, minus_c_enc}));
  CONSORT_ASSIGN_OR_RETURN(mpc::Shared below, be.LessThanZero(d));  // 1 where z < c_k
  // above = 1 - below (ring integers, not fixed point).
  CONSORT_ASSIGN_OR_RETURN(
      mpc::Shared above,
      be.AddPublic(be.Neg(below), mpc::RingTensor{shape, std::vector<uint64_t>(shape.numel(), 1)}));
  // dm_k * (z - c_k): 2f fractional bits; times the 0/1 bit keeps the scale.
  CONSORT_ASSIGN_OR_RETURN(mpc::Shared scaled, be.MulPublic(d, mpc::RingTensor{shape, dm_enc}));
  CONSORT_ASSIGN_OR_RETURN(mpc::Shared hinge, be.Mul(above, scaled));
  mpc::Shared sum = SliceRows(hinge, 0, n);
  for (size_t k = 1; k < kKnots; ++k) {
    CONSORT_ASSIGN_OR_RETURN(sum, be.Add(sum, SliceRows(hinge, k * n, (k + 1) * n)));
  }
  CONSORT_ASSIGN_OR_RETURN(mpc::Shared p, be.Trunc(sum, fxp.frac_bits()));
  std::vector<double> v0(n, h.v0);
  CONSORT_ASSIGN_OR_RETURN(std::vector<uint64_t> v0_enc, fxp.Encode(v0));
  return be.AddPublic(p, mpc::RingTensor{z.shape, v0_enc});
}

}  // namespace consort::fl::internal
