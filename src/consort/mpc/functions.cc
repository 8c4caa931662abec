#include "consort/mpc/functions.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "consort/mpc/internal/functions_cost.h"

namespace consort::mpc {
namespace {

using internal::DryRunCost;

// ---- Share plumbing (local; Shared is elementwise: s0[i], s1[i] belong to element i) --------

// The elements of `parts` one after the other, as a vector.
Shared CatPtrs(const std::vector<const Shared*>& parts) {
  Shared out;
  size_t n = 0;
  bool two = false;
  for (const Shared* p : parts) {
    n += p->s0.size();
    two = two || !p->s1.empty();
  }
  out.shape = Shape::Vector(n);
  out.s0.reserve(n);
  if (two) out.s1.reserve(n);
  for (const Shared* p : parts) {
    out.s0.insert(out.s0.end(), p->s0.begin(), p->s0.end());
    if (two) out.s1.insert(out.s1.end(), p->s1.begin(), p->s1.end());
  }
  return out;
}

Shared Cat(std::initializer_list<const Shared*> parts) { return CatPtrs(parts); }

Shared Cat(const std::vector<Shared>& parts) {
  std::vector<const Shared*> p;
  for (const Shared& s : parts) p.push_back(&s);
  return CatPtrs(p);
}

// Elements [off, off + shape.numel()) of x, as `shape`.
Shared Part(const Shared& x, size_t off, Shape shape) {
  const size_t n = shape.numel();
  Shared out{shape, std::vector<uint64_t>(x.s0.begin() + off, x.s0.begin() + off + n), {}};
  if (!x.s1.empty()) out.s1.assign(x.s1.begin() + off, x.s1.begin() + off + n);
  return out;
}

Shared Gather(const Shared& x, const std::vector<size_t>& idx, Shape shape) {
  Shared out{shape, std::vector<uint64_t>(idx.size()), {}};
  for (size_t i = 0; i < idx.size(); ++i) out.s0[i] = x.s0[idx[i]];
  if (!x.s1.empty()) {
    out.s1.resize(idx.size());
    for (size_t i = 0; i < idx.size(); ++i) out.s1[i] = x.s1[idx[i]];
  }
  return out;
}

Shared WithShape(Shared x, Shape s) {
  x.shape = s;
  return x;
}

RingTensor Fill(Shape s, uint64_t v) { return RingTensor{s, std::vector<uint64_t>(s.numel(), v)}; }

StatusOr<Shared> AddConst(Backend& be, const Shared& x, uint64_t c) {
  return be.AddPublic(x, Fill(x.shape, c));
}

StatusOr<Shared> MulConst(Backend& be, const Shared& x, uint64_t c) {
  return be.MulPublic(x, RingTensor{Shape{1, 1}, {c}});
}

// sum_i c_i x_i + k (all local).
StatusOr<Shared> Lin(Backend& be, const std::vector<std::pair<uint64_t, const Shared*>>& terms,
                     uint64_t k) {
  CONSORT_CHECK(!terms.empty());
  CONSORT_ASSIGN_OR_RETURN(Shared acc, MulConst(be, *terms[0].second, terms[0].first));
  for (size_t i = 1; i < terms.size(); ++i) {
    CONSORT_ASSIGN_OR_RETURN(Shared t, MulConst(be, *terms[i].second, terms[i].first));
    CONSORT_ASSIGN_OR_RETURN(acc, be.Add(acc, t));
  }
  if (k != 0) return AddConst(be, acc, k);
  return acc;
}

uint64_t Pow2(int e) {
  CONSORT_CHECK(e >= 0 && e < 64);
  return uint64_t{1} << e;
}

uint64_t EncodeConst(double v, int frac) {
  return static_cast<uint64_t>(static_cast<int64_t>(std::llround(std::ldexp(v, frac))));
}

// [x < thr_k] for each public threshold, as one LessThanZero on the concatenation; part k is
// elements [k n, (k + 1) n).
StatusOr<Shared> BelowThresholds(Backend& be, const Shared& x, const std::vector<uint64_t>& thr) {
  std::vector<Shared> parts;
  parts.reserve(thr.size());
  for (uint64_t t : thr) {
    CONSORT_ASSIGN_OR_RETURN(Shared d, AddConst(be, x, 0 - t));
    parts.push_back(std::move(d));
  }
  return be.LessThanZero(Cat(parts));
}

// Mul then Trunc(bits); a shift by fxp().frac_bits() is one MulFxp, which a backend may fuse
// (3PC: 2 rounds instead of 3) with the same error bound.
StatusOr<Shared> MulThenTrunc(Backend& be, const Shared& a, const Shared& b, int bits) {
  if (bits == be.fxp().frac_bits()) return be.MulFxp(a, b);
  CONSORT_ASSIGN_OR_RETURN(Shared z, be.Mul(a, b));
  return be.Trunc(z, bits);
}

// a[i] * b[i] for every i as one Mul call on the concatenations, then (trunc_bits > 0) one
// Trunc of the whole batch (one MulFxp if trunc_bits = f); the products are returned with
// a[i]'s shapes.
StatusOr<std::vector<Shared>> MulMany(Backend& be, const std::vector<const Shared*>& a,
                                      const std::vector<const Shared*>& b, int trunc_bits = 0) {
  CONSORT_CHECK(a.size() == b.size() && !a.empty());
  for (size_t i = 0; i < a.size(); ++i) CONSORT_CHECK(a[i]->s0.size() == b[i]->s0.size());
  Shared z;
  if (trunc_bits > 0) {
    CONSORT_ASSIGN_OR_RETURN(z, MulThenTrunc(be, CatPtrs(a), CatPtrs(b), trunc_bits));
  } else {
    CONSORT_ASSIGN_OR_RETURN(z, be.Mul(CatPtrs(a), CatPtrs(b)));
  }
  std::vector<Shared> out;
  size_t off = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    out.push_back(Part(z, off, a[i]->shape));
    off += a[i]->shape.numel();
  }
  return out;
}

StatusOr<std::vector<Shared>> MulTruncMany(Backend& be, const std::vector<const Shared*>& a,
                                           const std::vector<const Shared*>& b, int bits) {
  CONSORT_CHECK(bits > 0);
  return MulMany(be, a, b, bits);
}

StatusOr<Shared> MulTrunc(Backend& be, const Shared& a, const Shared& b, int bits) {
  return MulThenTrunc(be, a, b, bits);
}

// ---- Normalization ----------------------------------------------------------------------------

struct Step {
  int unit;   // shift granularity
  int count;  // shift in {0, unit, ..., count * unit}
};

// Multiplier tables of an accumulator: mult[step][k] for shift index k in [0, count].
using Table = std::vector<std::vector<uint64_t>>;

struct Normalized {
  Shared n;                 // X 2^S
  std::vector<Shared> acc;  // each accumulator: product over steps of mult[step][k_step]
  Shared cand_acc;          // sum_a e_a cand_a, times 2^(shift) of the later steps
  Shared shift;             // S as a ring integer (if requested)
};

// Scales X in [1, 2^T) by 2^S, S = sum of the chosen shifts, so that X 2^S lands in
// [2^(T - unit_last), 2^T). Accumulators start at 1; `cand` (secret, one per step-0 shift
// index) or `cand_public` seed cand_acc with the step-0 one-hot (then scaled by the later
// steps' shifts).
StatusOr<Normalized> Normalize(Backend& be, const Shared& x, int T, const std::vector<Step>& steps,
                               const std::vector<Table>& tables, const std::vector<Shared>* cand,
                               const std::vector<uint64_t>* cand_public, bool want_shift = false) {
  const size_t n = x.shape.numel();
  const Shape vs = Shape::Vector(n);
  Normalized out;
  out.n = WithShape(x, vs);
  const bool with_cand = cand != nullptr || cand_public != nullptr;
  for (size_t s = 0; s < steps.size(); ++s) {
    const Step st = steps[s];
    std::vector<uint64_t> thr;
    for (int k = 1; k <= st.count; ++k) thr.push_back(Pow2(T - st.unit * k));
    CONSORT_ASSIGN_OR_RETURN(Shared bits, BelowThresholds(be, out.n, thr));
    std::vector<Shared> c;  // c[k-1] = [shift index >= k]
    for (int k = 0; k < st.count; ++k) c.push_back(Part(bits, k * n, vs));
    if (want_shift) {
      std::vector<std::pair<uint64_t, const Shared*>> terms;
      for (int k = 0; k < st.count; ++k) terms.push_back({uint64_t(st.unit), &c[k]});
      CONSORT_ASSIGN_OR_RETURN(Shared sh, Lin(be, terms, 0));
      if (s == 0) {
        out.shift = std::move(sh);
      } else {
        CONSORT_ASSIGN_OR_RETURN(out.shift, be.Add(out.shift, sh));
      }
    }
    // Multiplier of a table: m[0] + sum_k c_k (m[k] - m[k-1]).
    auto mult = [&](const std::vector<uint64_t>& m) -> StatusOr<Shared> {
      std::vector<std::pair<uint64_t, const Shared*>> terms;
      for (int k = 1; k <= st.count; ++k) terms.push_back({m[k] - m[k - 1], &c[k - 1]});
      return Lin(be, terms, m[0]);
    };
    std::vector<uint64_t> xm;
    for (int k = 0; k <= st.count; ++k) xm.push_back(Pow2(st.unit * k));
    CONSORT_ASSIGN_OR_RETURN(Shared mx, mult(xm));
    std::vector<Shared> acc_m;
    for (const Table& t : tables) {
      CONSORT_ASSIGN_OR_RETURN(Shared m, mult(t[s]));
      acc_m.push_back(std::move(m));
    }
    std::vector<const Shared*> lhs{&out.n}, rhs{&mx};
    std::vector<Shared> onehot;
    if (s == 0) {
      out.acc = acc_m;  // accumulators start at 1: no product needed
      if (with_cand) {
        // e_k = c_k - c_{k+1} (c_0 = 1, c_{count+1} = 0).
        for (int k = 0; k <= st.count; ++k) {
          Shared e;
          if (k == 0) {
            CONSORT_ASSIGN_OR_RETURN(Shared one_minus, AddConst(be, be.Neg(c[0]), 1));
            e = std::move(one_minus);
          } else if (k == st.count) {
            e = c[k - 1];
          } else {
            CONSORT_ASSIGN_OR_RETURN(e, be.Sub(c[k - 1], c[k]));
          }
          onehot.push_back(std::move(e));
        }
        if (cand_public != nullptr) {
          std::vector<std::pair<uint64_t, const Shared*>> terms;
          for (int k = 0; k <= st.count; ++k) terms.push_back({(*cand_public)[k], &onehot[k]});
          CONSORT_ASSIGN_OR_RETURN(out.cand_acc, Lin(be, terms, 0));
        } else {
          for (int k = 0; k <= st.count; ++k) {
            lhs.push_back(&(*cand)[k]);
            rhs.push_back(&onehot[k]);
          }
        }
      }
    } else {
      for (size_t i = 0; i < out.acc.size(); ++i) {
        lhs.push_back(&out.acc[i]);
        rhs.push_back(&acc_m[i]);
      }
      if (with_cand) {
        lhs.push_back(&out.cand_acc);
        rhs.push_back(&mx);
      }
    }
    CONSORT_ASSIGN_OR_RETURN(std::vector<Shared> prod, MulMany(be, lhs, rhs));
    out.n = std::move(prod[0]);
    if (s == 0) {
      if (cand != nullptr) {
        Shared sum = std::move(prod[1]);
        for (int k = 1; k <= st.count; ++k) {
          CONSORT_ASSIGN_OR_RETURN(sum, be.Add(sum, prod[1 + k]));
        }
        out.cand_acc = std::move(sum);
      }
    } else {
      for (size_t i = 0; i < out.acc.size(); ++i) out.acc[i] = std::move(prod[1 + i]);
      if (with_cand) out.cand_acc = std::move(prod[1 + out.acc.size()]);
    }
  }
  return out;
}

const std::vector<Step> kRecipSteps = {{16, 3}, {4, 3}, {1, 3}};
const std::vector<Step> kEvenSteps = {{16, 3}, {4, 3}, {2, 1}};
constexpr int kRecipT = 62;

// 1 / v for V = v 2^F, v in [0.5, 1]: Goldschmidt, 4 Mul+Trunc levels (8 rounds).
StatusOr<Shared> InvertMantissa(Backend& be, const Shared& v, int F) {
  const uint64_t one = Pow2(F);
  // w0 = (1.5 + sqrt 2) - 2 v: |1 - v w0| <= 3 - 2 sqrt 2 = 0.0858 on [0.5, 1].
  CONSORT_ASSIGN_OR_RETURN(Shared w0,
                           Lin(be, {{0 - uint64_t{2}, &v}}, EncodeConst(2.9142135623730951, F)));
  CONSORT_ASSIGN_OR_RETURN(Shared vw, MulTrunc(be, v, w0, F));
  CONSORT_ASSIGN_OR_RETURN(Shared e, AddConst(be, be.Neg(vw), one));  // e = 1 - v w0
  Shared w = std::move(w0);
  for (int level = 0; level < 3; ++level) {
    CONSORT_ASSIGN_OR_RETURN(Shared one_plus_e, AddConst(be, e, one));
    if (level < 2) {
      CONSORT_ASSIGN_OR_RETURN(auto r, MulTruncMany(be, {&w, &e}, {&one_plus_e, &e}, F));
      w = std::move(r[0]);
      e = std::move(r[1]);
    } else {
      CONSORT_ASSIGN_OR_RETURN(w, MulTrunc(be, w, one_plus_e, F));
    }
  }
  return w;
}

// 1 / sqrt(u) for U = u 2^F, u in [0.25, 1]: 3 Newton steps y <- y (3 - u y^2) / 2 from
// y0 = 2.018 - u (|1 - u y0^2| <= 0.219 -> 0.038 -> 1.1e-3 -> 9e-7), 4 rounds each.
StatusOr<Shared> RsqrtMantissa(Backend& be, const Shared& u, int F) {
  CONSORT_ASSIGN_OR_RETURN(Shared y, AddConst(be, be.Neg(u), EncodeConst(2.018, F)));
  for (int it = 0; it < 3; ++it) {
    CONSORT_ASSIGN_OR_RETURN(auto r, MulTruncMany(be, {&u, &y}, {&y, &y}, F));  // u y, y^2
    CONSORT_ASSIGN_OR_RETURN(Shared p, be.Mul(r[0], r[1]));                     // u y^3, 2F bits
    CONSORT_ASSIGN_OR_RETURN(Shared t, MulConst(be, y, 3 * Pow2(F)));
    CONSORT_ASSIGN_OR_RETURN(t, be.Sub(t, p));
    CONSORT_ASSIGN_OR_RETURN(y, be.Trunc(t, F + 1));
  }
  return y;
}

Status CheckFrac(const Backend& be, const char* fn) {
  const int f = be.fxp().frac_bits();
  if (f < 8 || f > 24) {
    return absl::InvalidArgumentError(std::string("mpc ") + fn +
                                      ": needs 8 <= frac_bits <= 24, have " + std::to_string(f));
  }
  return OkStatus();
}

// a / b with a either secret (`a`) or the public ring value `a_public` (a == nullptr).
// With j = floor(log2 B) and S = 61 - j the normalization shift, 1/B = W 2^-F 2^-(j+1) for the
// mantissa inverse W, so R = A 2^fb / B = A' W 2^-(F + 2) with A' = A 2^(c - j), c = fb + 1.
// A' is built without ever holding the too-large A 2^S: A 2^(c - T + 16 + 16 k) per step-0
// shift index k (a Trunc or a public multiple), selected by that step's one-hot, then
// multiplied by the later steps' shift 2^(4 k1 + k2) <= 2^15 and truncated by 15. For the
// selected k, |A'| < 2^(Q + 2) (|R| < 2^Q), so A' 2^15 < 2^(Q + 17) and A' W < 2^(Q + F + 3)
// stay below 2^62 (F <= 58 - Q); A''s rounding (2 ulp) costs 1 ulp of R since c = fb + 1.
// Unselected candidates may wrap; they are multiplied by 0.
StatusOr<Shared> DivideImpl(Backend& be, const Shared* a, uint64_t a_public, const Shared& b,
                            int fb, int q_bits) {
  const int f = be.fxp().frac_bits();
  const int Q = f + q_bits + 1;  // |R| < 2^Q
  const int F = std::min(28, 58 - Q);
  const int T = kRecipT;
  const int c = fb + 1;
  const size_t n = b.shape.numel();
  const Shape vs = Shape::Vector(n);
  // Candidates A * 2^(e1_k), e1_k = c - T + 16 + 16 k, for the step-0 shift index k.
  std::vector<Shared> cand;
  std::vector<uint64_t> cand_public;
  Shared av;
  if (a != nullptr) av = WithShape(*a, vs);
  for (int k = 0; k <= 3; ++k) {
    const int e1 = c - T + 16 + 16 * k;
    if (a == nullptr) {
      const int64_t A = static_cast<int64_t>(a_public);
      cand_public.push_back(e1 >= 0 ? a_public << e1 : static_cast<uint64_t>(A >> -e1));
    } else if (e1 >= 0) {
      CONSORT_ASSIGN_OR_RETURN(Shared s, MulConst(be, av, Pow2(e1)));
      cand.push_back(std::move(s));
    } else {
      CONSORT_ASSIGN_OR_RETURN(Shared s, be.Trunc(av, -e1));
      cand.push_back(std::move(s));
    }
  }
  CONSORT_ASSIGN_OR_RETURN(Normalized nb,
                           Normalize(be, b, T, kRecipSteps, {}, a != nullptr ? &cand : nullptr,
                                     a == nullptr ? &cand_public : nullptr));
  CONSORT_ASSIGN_OR_RETURN(Shared v, be.Trunc(nb.n, T - F));
  CONSORT_ASSIGN_OR_RETURN(Shared w, InvertMantissa(be, v, F));
  // cand_acc = A 2^(c - j) 2^15 with j = floor(log2 B).
  CONSORT_ASSIGN_OR_RETURN(Shared ap, be.Trunc(nb.cand_acc, 15));
  CONSORT_ASSIGN_OR_RETURN(Shared r, MulTrunc(be, ap, w, F + 2));
  return WithShape(std::move(r), b.shape);
}

Status CheckDivideOptions(const Backend& be, const DivideOptions& o, int* fb) {
  const int f = be.fxp().frac_bits();
  *fb = o.b_frac_bits < 0 ? f : o.b_frac_bits;
  if (*fb > 40) {
    return absl::InvalidArgumentError("mpc divide: b_frac_bits " + std::to_string(*fb) +
                                      " above 40");
  }
  if (o.quotient_int_bits < 1 || f + o.quotient_int_bits > 43) {
    return absl::InvalidArgumentError("mpc divide: quotient_int_bits " +
                                      std::to_string(o.quotient_int_bits) +
                                      " outside [1, 43 - frac_bits]");
  }
  return OkStatus();
}

// Group structure of a reduction: groups[g] lists the flat indices of group g in order.
StatusOr<std::vector<std::vector<size_t>>> Groups(const Shared& x, Axis axis, const char* fn) {
  const size_t rows = x.shape.rows, cols = x.shape.cols;
  if (x.shape.numel() == 0) {
    return absl::InvalidArgumentError(std::string("mpc ") + fn + ": empty tensor");
  }
  std::vector<std::vector<size_t>> g;
  switch (axis) {
    case Axis::kAll:
      g.emplace_back(x.shape.numel());
      for (size_t i = 0; i < x.shape.numel(); ++i) g[0][i] = i;
      break;
    case Axis::kEachRow:
      g.resize(rows);
      for (size_t r = 0; r < rows; ++r)
        for (size_t c = 0; c < cols; ++c) g[r].push_back(r * cols + c);
      break;
    case Axis::kEachCol:
      g.resize(cols);
      for (size_t c = 0; c < cols; ++c)
        for (size_t r = 0; r < rows; ++r) g[c].push_back(r * cols + c);
      break;
  }
  return g;
}

Shape ReducedShape(Shape s, Axis axis) {
  switch (axis) {
    case Axis::kAll:
      return Shape{1, 1};
    case Axis::kEachRow:
      return Shape{s.rows, 1};
    case Axis::kEachCol:
      return Shape{1, s.cols};
  }
  return Shape{1, 1};
}

size_t GroupSize(Shape s, Axis axis) {
  switch (axis) {
    case Axis::kAll:
      return s.numel();
    case Axis::kEachRow:
      return s.cols;
    case Axis::kEachCol:
      return s.rows;
  }
  return 0;
}

// Tree reduction shared by Max, Min and Argmax.
struct TreeResult {
  Shared best;
  Shared index;
  Shared one_hot;
};

StatusOr<TreeResult> TreeReduce(Backend& be, const Shared& x, Axis axis, bool want_max,
                                bool want_index, bool want_one_hot, const char* fn) {
  CONSORT_ASSIGN_OR_RETURN(auto groups, Groups(x, axis, fn));
  const Shape out_shape = ReducedShape(x.shape, axis);
  const size_t G = groups.size();
  // Current candidates: flat vector `cur`, group g occupying [start[g], start[g] + len[g]).
  std::vector<size_t> flat;
  for (auto& g : groups) flat.insert(flat.end(), g.begin(), g.end());
  Shared cur = Gather(x, flat, Shape::Vector(flat.size()));
  std::vector<size_t> len(G, groups[0].size());
  Shared idx;
  if (want_index) {
    std::vector<uint64_t> pos;
    for (auto& g : groups)
      for (size_t i = 0; i < g.size(); ++i) pos.push_back(i);
    CONSORT_ASSIGN_OR_RETURN(Shared zero, be.Sub(cur, cur));
    CONSORT_ASSIGN_OR_RETURN(idx, be.AddPublic(zero, RingTensor::Vector(pos)));
  }
  // Per level: the comparison bits (pairs of all groups, in order) and the lengths before.
  std::vector<Shared> level_bits;
  std::vector<std::vector<size_t>> level_len;
  while (len[0] > 1) {
    std::vector<size_t> left, right, carry_pos;
    std::vector<size_t> new_len(G);
    size_t start = 0;
    for (size_t g = 0; g < G; ++g) {
      const size_t L = len[g];
      for (size_t p = 0; p + 1 < L; p += 2) {
        left.push_back(start + p);
        right.push_back(start + p + 1);
      }
      new_len[g] = (L + 1) / 2;
      start += L;
    }
    const Shape ps = Shape::Vector(left.size());
    Shared l = Gather(cur, left, ps), r = Gather(cur, right, ps);
    // c = [l < r] (max: take r) or [r < l] (min: take r).
    CONSORT_ASSIGN_OR_RETURN(Shared c, want_max ? be.LessThan(l, r) : be.LessThan(r, l));
    Shared chosen, chosen_idx;
    if (want_index) {
      Shared li = Gather(idx, left, ps), ri = Gather(idx, right, ps);
      CONSORT_ASSIGN_OR_RETURN(Shared sel,
                               be.Select(Cat({&c, &c}), Cat({&r, &ri}), Cat({&l, &li})));
      chosen = Part(sel, 0, ps);
      chosen_idx = Part(sel, left.size(), ps);
    } else {
      CONSORT_ASSIGN_OR_RETURN(chosen, be.Select(c, r, l));
    }
    // Next level: per group, the chosen pair winners then the odd element (carried).
    std::vector<size_t> order;  // index into [chosen | cur] (cur offset by pairs)
    const size_t P = left.size();
    size_t pair = 0;
    start = 0;
    for (size_t g = 0; g < G; ++g) {
      const size_t L = len[g];
      for (size_t p = 0; p + 1 < L; p += 2) order.push_back(pair++);
      if (L % 2 == 1) order.push_back(P + start + L - 1);
      start += L;
    }
    const Shape ns = Shape::Vector(order.size());
    cur = Gather(Cat({&chosen, &cur}), order, ns);
    if (want_index) idx = Gather(Cat({&chosen_idx, &idx}), order, ns);
    level_bits.push_back(std::move(c));
    level_len.push_back(len);
    len = new_len;
  }
  TreeResult out;
  out.best = WithShape(std::move(cur), out_shape);
  if (want_index) out.index = WithShape(std::move(idx), out_shape);
  if (want_one_hot) {
    // Push a one-hot down the tree: o_right = o_parent c, o_left = o_parent - o_right.
    Shared o;  // one-hot over the current level's candidates (starts: a 1 per group)
    bool top = true;
    for (size_t lv = level_bits.size(); lv-- > 0;) {
      const std::vector<size_t>& L = level_len[lv];
      const Shared& c = level_bits[lv];
      // Parent of each pair p: position in the next level = pairs first within each group.
      std::vector<size_t> parent_of_pair, carried_parent;
      size_t next_start = 0;
      for (size_t g = 0; g < G; ++g) {
        const size_t pairs = L[g] / 2;
        for (size_t p = 0; p < pairs; ++p) parent_of_pair.push_back(next_start + p);
        next_start += (L[g] + 1) / 2;
      }
      const Shape ps = Shape::Vector(parent_of_pair.size());
      Shared right;
      if (top) {
        right = c;  // the parent one-hot is the constant 1
      } else {
        Shared par = Gather(o, parent_of_pair, ps);
        CONSORT_ASSIGN_OR_RETURN(right, be.Mul(par, c));
      }
      Shared par_val;
      if (top) {
        CONSORT_ASSIGN_OR_RETURN(Shared zero, be.Sub(c, c));
        CONSORT_ASSIGN_OR_RETURN(par_val, AddConst(be, zero, 1));
      } else {
        par_val = Gather(o, parent_of_pair, ps);
      }
      CONSORT_ASSIGN_OR_RETURN(Shared left, be.Sub(par_val, right));
      // Assemble this level's one-hot: [left | right | o (carried elements; none at the top,
      // where every group has exactly one pair)].
      const Shared& prev = top ? c : o;
      Shared pool = Cat({&left, &right, &prev});
      const size_t P = parent_of_pair.size();
      std::vector<size_t> order;
      size_t pair = 0;
      next_start = 0;
      for (size_t g = 0; g < G; ++g) {
        for (size_t p = 0; p < L[g] / 2; ++p) {
          order.push_back(pair);
          order.push_back(P + pair);
          ++pair;
        }
        if (L[g] % 2 == 1) order.push_back(2 * P + next_start + (L[g] + 1) / 2 - 1);
        next_start += (L[g] + 1) / 2;
      }
      o = Gather(pool, order, Shape::Vector(order.size()));
      top = false;
    }
    if (level_bits.empty()) {  // groups of one element
      CONSORT_ASSIGN_OR_RETURN(Shared zero, be.Sub(x, x));
      CONSORT_ASSIGN_OR_RETURN(o, AddConst(be, WithShape(zero, Shape::Vector(x.shape.numel())), 1));
    }
    // o is in group order (flat); scatter back to x's layout.
    Shared back{x.shape, std::vector<uint64_t>(x.shape.numel()), {}};
    if (!o.s1.empty()) back.s1.resize(x.shape.numel());
    for (size_t i = 0; i < flat.size(); ++i) {
      back.s0[flat[i]] = o.s0[i];
      if (!o.s1.empty()) back.s1[flat[i]] = o.s1[i];
    }
    out.one_hot = std::move(back);
  }
  return out;
}

}  // namespace

// ---- Reductions --------------------------------------------------------------------------------

StatusOr<Shared> Sum(Backend& be, const Shared& x, Axis axis) {
  CONSORT_ASSIGN_OR_RETURN(auto groups, Groups(x, axis, "sum"));
  Shared out{ReducedShape(x.shape, axis), std::vector<uint64_t>(groups.size(), 0), {}};
  if (!x.s1.empty()) out.s1.assign(groups.size(), 0);
  for (size_t g = 0; g < groups.size(); ++g) {
    for (size_t i : groups[g]) {
      out.s0[g] += x.s0[i];
      if (!x.s1.empty()) out.s1[g] += x.s1[i];
    }
  }
  return out;
}

Cost SumCost(const Backend& be, Shape x, Axis axis) {
  return DryRunCost(be, x, [&](Backend& b, const Shared& in) { return Sum(b, in, axis).status(); });
}

StatusOr<Shared> DividePublic(Backend& be, const Shared& x, uint64_t d) {
  if (d == 0) return absl::InvalidArgumentError("mpc divide_public: division by zero");
  if (d > (uint64_t{1} << 62)) {
    return absl::InvalidArgumentError("mpc divide_public: divisor above 2^62");
  }
  if (d == 1) return x;
  int p = 63 - __builtin_clzll(d);                // 2^p <= d < 2^(p+1)
  if ((d & (d - 1)) == 0) return be.Trunc(x, p);  // a power of two: one exact shift
  Shared xs = x;
  if (p > 0) {
    CONSORT_ASSIGN_OR_RETURN(xs, be.Trunc(x, p));
  }
  // mu = 2^p / d in (0.5, 1]; M = round(mu 2^32) = M_hi 2^16 + M_lo.
  const long double mu = std::ldexp(1.0L, p) / static_cast<long double>(d);
  const uint64_t M = static_cast<uint64_t>(std::llround(std::ldexp(mu, 32)));
  const uint64_t m_hi = M >> 16, m_lo = M & 0xffff;
  CONSORT_ASSIGN_OR_RETURN(Shared hi, MulConst(be, xs, m_hi));
  CONSORT_ASSIGN_OR_RETURN(hi, be.Trunc(hi, 16));
  if (m_lo == 0) return hi;
  CONSORT_ASSIGN_OR_RETURN(Shared lo, MulConst(be, xs, m_lo));
  CONSORT_ASSIGN_OR_RETURN(lo, be.Trunc(lo, 32));
  return be.Add(hi, lo);
}

Cost DividePublicCost(const Backend& be, Shape x, uint64_t d) {
  return DryRunCost(be, x,
                    [&](Backend& b, const Shared& in) { return DividePublic(b, in, d).status(); });
}

StatusOr<Shared> Mean(Backend& be, const Shared& x, Axis axis) {
  CONSORT_ASSIGN_OR_RETURN(Shared s, Sum(be, x, axis));
  return DividePublic(be, s, GroupSize(x.shape, axis));
}

Cost MeanCost(const Backend& be, Shape x, Axis axis) {
  return DryRunCost(be, x,
                    [&](Backend& b, const Shared& in) { return Mean(b, in, axis).status(); });
}

StatusOr<Shared> Variance(Backend& be, const Shared& x, Axis axis, int ddof) {
  CONSORT_ASSIGN_OR_RETURN(auto groups, Groups(x, axis, "variance"));
  const size_t k = groups[0].size();
  if (ddof < 0 || static_cast<size_t>(ddof) >= k) {
    return absl::InvalidArgumentError("mpc variance: ddof " + std::to_string(ddof) + " for " +
                                      std::to_string(k) + " elements per group");
  }
  CONSORT_ASSIGN_OR_RETURN(Shared m, Mean(be, x, axis));
  // Broadcast the group means back to x's layout.
  std::vector<size_t> which(x.shape.numel());
  for (size_t g = 0; g < groups.size(); ++g)
    for (size_t i : groups[g]) which[i] = g;
  Shared mb = Gather(m, which, x.shape);
  CONSORT_ASSIGN_OR_RETURN(Shared d, be.Sub(x, mb));
  CONSORT_ASSIGN_OR_RETURN(Shared d2, MulTrunc(be, d, d, be.fxp().frac_bits()));
  CONSORT_ASSIGN_OR_RETURN(Shared s, Sum(be, d2, axis));
  return DividePublic(be, s, k - ddof);
}

Cost VarianceCost(const Backend& be, Shape x, Axis axis, int ddof) {
  return DryRunCost(
      be, x, [&](Backend& b, const Shared& in) { return Variance(b, in, axis, ddof).status(); });
}

StatusOr<Shared> DotProduct(Backend& be, const Shared& a, const Shared& b) {
  const size_t n = a.shape.numel();
  if (n == 0 || b.shape.numel() != n) {
    return absl::InvalidArgumentError("mpc dot_product: shapes " + a.shape.ToString() + " and " +
                                      b.shape.ToString());
  }
  return be.MatMulFxp(WithShape(a, Shape{1, n}), WithShape(b, Shape{n, 1}));
}

Cost DotProductCost(const Backend& be, Shape a) {
  return DryRunCost(be, a,
                    [&](Backend& b, const Shared& in) { return DotProduct(b, in, in).status(); });
}

// ---- Division and roots
// --------------------------------------------------------------------------

StatusOr<Shared> Reciprocal(Backend& be, const Shared& x) {
  CONSORT_RETURN_IF_ERROR(CheckFrac(be, "reciprocal"));
  const int f = be.fxp().frac_bits();
  if (f > 21) {  // the internal precision 57 - 2f would drop below 14 bits
    return absl::InvalidArgumentError("mpc reciprocal: needs frac_bits <= 21, have " +
                                      std::to_string(f));
  }
  if (x.shape.numel() == 0) return x;
  return DivideImpl(be, nullptr, Pow2(f), x, f, f);
}

Cost ReciprocalCost(const Backend& be, Shape x) {
  return DryRunCost(be, x,
                    [&](Backend& b, const Shared& in) { return Reciprocal(b, in).status(); });
}

StatusOr<Shared> Divide(Backend& be, const Shared& a, const Shared& b,
                        const DivideOptions& options) {
  CONSORT_RETURN_IF_ERROR(CheckFrac(be, "divide"));
  int fb;
  CONSORT_RETURN_IF_ERROR(CheckDivideOptions(be, options, &fb));
  if (a.shape != b.shape) {
    return absl::InvalidArgumentError("mpc divide: shapes " + a.shape.ToString() + " and " +
                                      b.shape.ToString() + " differ");
  }
  if (a.shape.numel() == 0) return a;
  return DivideImpl(be, &a, 0, b, fb, options.quotient_int_bits);
}

Cost DivideCost(const Backend& be, Shape x, const DivideOptions& options) {
  return DryRunCost(
      be, x, [&](Backend& b, const Shared& in) { return Divide(b, in, in, options).status(); });
}

namespace {
// Normalizes x to an even power of two and returns (U = u 2^F, Y = 1/sqrt(u) 2^F, h, h').
struct RootParts {
  Shared u, y, h, h_inv;
  int T;
};
constexpr int kRootF = 28;

StatusOr<RootParts> RootCore(Backend& be, const Shared& x) {
  const int f = be.fxp().frac_bits();
  RootParts rp;
  rp.T = 62 - (f & 1);
  // h = 2^(S/2): per step 2^(8k), 2^(2k), 2^k; h' = 2^(31 - S/2).
  Table h = {{1, Pow2(8), Pow2(16), Pow2(24)}, {1, Pow2(2), Pow2(4), Pow2(6)}, {1, 2}};
  Table hi = {{Pow2(24), Pow2(16), Pow2(8), 1}, {Pow2(6), Pow2(4), Pow2(2), 1}, {2, 1}};
  CONSORT_ASSIGN_OR_RETURN(Normalized nx,
                           Normalize(be, x, rp.T, kEvenSteps, {h, hi}, nullptr, nullptr));
  CONSORT_ASSIGN_OR_RETURN(rp.u, be.Trunc(nx.n, rp.T - kRootF));
  CONSORT_ASSIGN_OR_RETURN(rp.y, RsqrtMantissa(be, rp.u, kRootF));
  rp.h = std::move(nx.acc[0]);
  rp.h_inv = std::move(nx.acc[1]);
  return rp;
}
}  // namespace

StatusOr<Shared> Rsqrt(Backend& be, const Shared& x) {
  CONSORT_RETURN_IF_ERROR(CheckFrac(be, "rsqrt"));
  if (x.shape.numel() == 0) return x;
  const int f = be.fxp().frac_bits();
  CONSORT_ASSIGN_OR_RETURN(RootParts rp, RootCore(be, x));
  // 1/sqrt(x) 2^f = Y h 2^((f - T)/2 + f - F).
  CONSORT_ASSIGN_OR_RETURN(Shared r, MulTrunc(be, rp.y, rp.h, kRootF - f + (rp.T - f) / 2));
  return WithShape(std::move(r), x.shape);
}

Cost RsqrtCost(const Backend& be, Shape x) {
  return DryRunCost(be, x, [&](Backend& b, const Shared& in) { return Rsqrt(b, in).status(); });
}

StatusOr<Shared> Sqrt(Backend& be, const Shared& x) {
  CONSORT_RETURN_IF_ERROR(CheckFrac(be, "sqrt"));
  if (x.shape.numel() == 0) return x;
  const int f = be.fxp().frac_bits();
  CONSORT_ASSIGN_OR_RETURN(RootParts rp, RootCore(be, x));
  CONSORT_ASSIGN_OR_RETURN(Shared s, MulTrunc(be, rp.u, rp.y, kRootF));  // sqrt(u) 2^F
  // sqrt(x) 2^f = S h' 2^((T - f)/2 - 31 + f - F).
  CONSORT_ASSIGN_OR_RETURN(Shared r, MulTrunc(be, s, rp.h_inv, 31 + kRootF - f - (rp.T - f) / 2));
  return WithShape(std::move(r), x.shape);
}

Cost SqrtCost(const Backend& be, Shape x) {
  return DryRunCost(be, x, [&](Backend& b, const Shared& in) { return Sqrt(b, in).status(); });
}

namespace {
// Chebyshev-node interpolant of ln(v) on [0.5, 1] in t = 4 v - 3 (degree 7, max error 2.6e-7).
constexpr double kLogCoef[8] = {
    -0.28768189335413324,   0.3333332800443711,    -0.055561270637485075,  0.012347379383214964,
    -0.0030582760052292207, 0.0008146746023728798, -0.0002719534906966049, 7.819757514038825e-05};
constexpr int kLogF = 28;
}  // namespace

StatusOr<Shared> Log(Backend& be, const Shared& x) {
  CONSORT_RETURN_IF_ERROR(CheckFrac(be, "log"));
  if (x.shape.numel() == 0) return x;
  const int f = be.fxp().frac_bits();
  const int F = kLogF;
  const int T = kRecipT;
  CONSORT_ASSIGN_OR_RETURN(Normalized nx,
                           Normalize(be, x, T, kRecipSteps, {}, nullptr, nullptr, true));
  CONSORT_ASSIGN_OR_RETURN(Shared v, be.Trunc(nx.n, T - F));
  CONSORT_ASSIGN_OR_RETURN(Shared t, Lin(be, {{4, &v}}, 0 - 3 * Pow2(F)));  // 4 v - 3
  CONSORT_ASSIGN_OR_RETURN(Shared t2, MulTrunc(be, t, t, F));
  CONSORT_ASSIGN_OR_RETURN(auto l2, MulTruncMany(be, {&t, &t2}, {&t2, &t2}, F));
  const Shared& t3 = l2[0];
  const Shared& t4 = l2[1];
  CONSORT_ASSIGN_OR_RETURN(auto l3, MulTruncMany(be, {&t4, &t4, &t4}, {&t, &t2, &t3}, F));
  const Shared* pw[8] = {nullptr, &t, &t2, &t3, &t4, &l3[0], &l3[1], &l3[2]};
  // At 2F bits: sum_k c_k t^k + (T - f - S) ln 2 (x = v 2^(T - S - f)).
  const uint64_t ln2 = EncodeConst(std::log(2.0), 2 * F);
  std::vector<std::pair<uint64_t, const Shared*>> terms;
  for (int k = 1; k <= 7; ++k) terms.push_back({EncodeConst(kLogCoef[k], F), pw[k]});
  terms.push_back({0 - ln2, &nx.shift});
  CONSORT_ASSIGN_OR_RETURN(Shared acc,
                           Lin(be, terms, EncodeConst(kLogCoef[0], 2 * F) + uint64_t(T - f) * ln2));
  CONSORT_ASSIGN_OR_RETURN(Shared r, be.Trunc(acc, 2 * F - f));
  return WithShape(std::move(r), x.shape);
}

Cost LogCost(const Backend& be, Shape x) {
  return DryRunCost(be, x, [&](Backend& b, const Shared& in) { return Log(b, in).status(); });
}

// ---- Exponential and sigmoid ----------------------------------------------------------------

StatusOr<Shared> Exp(Backend& be, const Shared& x) {
  CONSORT_RETURN_IF_ERROR(CheckFrac(be, "exp"));
  if (x.shape.numel() == 0) return x;
  const int f = be.fxp().frac_bits();
  const Shape vs = Shape::Vector(x.shape.numel());
  Shared xv = WithShape(x, vs);
  // Clamp below at -32.
  const uint64_t m32 = 0 - Pow2(f + 5);
  CONSORT_ASSIGN_OR_RETURN(Shared below, BelowThresholds(be, xv, {m32}));
  CONSORT_ASSIGN_OR_RETURN(Shared zero, be.Sub(xv, xv));
  CONSORT_ASSIGN_OR_RETURN(Shared lo, AddConst(be, zero, m32));
  CONSORT_ASSIGN_OR_RETURN(xv, be.Select(below, lo, xv));
  // t = x / 32 at F0 bits.
  constexpr int F0 = 29;
  CONSORT_ASSIGN_OR_RETURN(Shared t, MulConst(be, xv, Pow2(F0 - f - 5)));
  CONSORT_ASSIGN_OR_RETURN(Shared t2, MulTrunc(be, t, t, F0));
  CONSORT_ASSIGN_OR_RETURN(auto l2, MulTruncMany(be, {&t, &t2}, {&t2, &t2}, F0));  // t3, t4
  const Shared& t3 = l2[0];
  const Shared& t4 = l2[1];
  CONSORT_ASSIGN_OR_RETURN(auto l3,
                           MulTruncMany(be, {&t4, &t4, &t4, &t4}, {&t, &t2, &t3, &t4}, F0));
  const Shared* pw[9] = {nullptr, &t, &t2, &t3, &t4, &l3[0], &l3[1], &l3[2], &l3[3]};
  std::vector<std::pair<uint64_t, const Shared*>> terms;
  double fact = 1;
  for (int k = 1; k <= 8; ++k) {
    fact *= k;
    terms.push_back({EncodeConst(1.0 / fact, F0), pw[k]});
  }
  CONSORT_ASSIGN_OR_RETURN(Shared p, Lin(be, terms, Pow2(2 * F0)));
  CONSORT_ASSIGN_OR_RETURN(p, be.Trunc(p, F0));  // e^t at F0 bits
  // Five squarings; precision F_k <= (61 - 2 log2(max p_k)) / 2, max p_k = e^(2^k / 2).
  int Fk = F0;
  for (int k = 0; k < 5; ++k) {
    const int Fnext =
        k == 4
            ? f
            : std::min(F0, static_cast<int>(std::floor(
                               (61.0 - 2.0 * std::ldexp(1.0, k + 1) / 2.0 / std::log(2.0)) / 2.0)));
    const int shift = 2 * Fk - Fnext;
    CONSORT_ASSIGN_OR_RETURN(p, MulThenTrunc(be, p, p, shift));
    Fk = Fnext;
  }
  return WithShape(std::move(p), x.shape);
}

Cost ExpCost(const Backend& be, Shape x) {
  return DryRunCost(be, x, [&](Backend& b, const Shared& in) { return Exp(b, in).status(); });
}

namespace {
// Chebyshev-node interpolants of the sigmoid on [lo, hi] in t = (x - c) / h (degree 7).
struct Piece {
  double lo, hi;
  double coef[8];
};
constexpr Piece kSigmoidPieces[3] = {
    {0,
     4,
     {0.8808190404575486, 0.209981673700945, -0.16063096570655308, 0.05198154150572782,
      0.01747026130785105, -0.02414277828327282, 0.0033667608531142293, 0.0031838752029059434}},
    {4,
     8,
     {0.9975274106458715, 0.004933029539232225, -0.004909713941151902, 0.003239662670506382,
      -0.0015820944626043303, 0.0006111857609301023, -0.00019635830425810422,
      4.156673644355813e-05}},
    {8,
     16,
     {0.9999939662496938, 2.4530565308605734e-05, -5.2668623782177046e-05, 6.700042073183743e-05,
      -4.8420239213159346e-05, 4.525621695713877e-05, -6.047878347412811e-05,
      3.0778976821342776e-05}},
};
constexpr int kSigF = 28;
}  // namespace

StatusOr<Shared> Sigmoid(Backend& be, const Shared& x) {
  CONSORT_RETURN_IF_ERROR(CheckFrac(be, "sigmoid"));
  const size_t n = x.shape.numel();
  if (n == 0) return x;
  const int f = be.fxp().frac_bits();
  const int F = kSigF;
  const Shape vs = Shape::Vector(n);
  Shared xv = WithShape(x, vs);
  CONSORT_ASSIGN_OR_RETURN(Shared s, be.LessThanZero(xv));
  CONSORT_ASSIGN_OR_RETURN(Shared sx, be.Mul(s, xv));
  CONSORT_ASSIGN_OR_RETURN(Shared ax, Lin(be, {{1, &xv}, {0 - uint64_t{2}, &sx}}, 0));  // |x|
  CONSORT_ASSIGN_OR_RETURN(Shared b,
                           BelowThresholds(be, ax, {Pow2(f + 2), Pow2(f + 3), Pow2(f + 4)}));
  Shared b4 = Part(b, 0, vs), b8 = Part(b, n, vs), b16 = Part(b, 2 * n, vs);
  // t_i = (|x| - c_i) / h_i at F bits, all pieces concatenated (3n).
  std::vector<Shared> ts;
  for (const Piece& pc : kSigmoidPieces) {
    const double c = (pc.lo + pc.hi) / 2, h = (pc.hi - pc.lo) / 2;
    const int lh = static_cast<int>(std::lround(std::log2(h)));
    CONSORT_ASSIGN_OR_RETURN(Shared d, AddConst(be, ax, 0 - EncodeConst(c, f)));
    CONSORT_ASSIGN_OR_RETURN(d, MulConst(be, d, Pow2(F - f - lh)));
    ts.push_back(std::move(d));
  }
  Shared t = Cat(ts);
  CONSORT_ASSIGN_OR_RETURN(Shared t2, MulTrunc(be, t, t, F));
  CONSORT_ASSIGN_OR_RETURN(auto l2, MulTruncMany(be, {&t, &t2}, {&t2, &t2}, F));
  const Shared& t3 = l2[0];
  const Shared& t4 = l2[1];
  CONSORT_ASSIGN_OR_RETURN(auto l3, MulTruncMany(be, {&t4, &t4, &t4}, {&t, &t2, &t3}, F));
  const Shared* pw[8] = {nullptr, &t, &t2, &t3, &t4, &l3[0], &l3[1], &l3[2]};
  // sum_k coef_ik t^k (per-element coefficients: piece i on elements [i n, (i+1) n)).
  Shared acc;
  for (int k = 1; k <= 7; ++k) {
    RingTensor ck{Shape::Vector(3 * n), std::vector<uint64_t>(3 * n)};
    for (int i = 0; i < 3; ++i)
      std::fill(ck.data.begin() + i * n, ck.data.begin() + (i + 1) * n,
                EncodeConst(kSigmoidPieces[i].coef[k], F));
    CONSORT_ASSIGN_OR_RETURN(Shared term, be.MulPublic(*pw[k], ck));
    if (k == 1) {
      acc = std::move(term);
    } else {
      CONSORT_ASSIGN_OR_RETURN(acc, be.Add(acc, term));
    }
  }
  RingTensor c0{Shape::Vector(3 * n), std::vector<uint64_t>(3 * n)};
  for (int i = 0; i < 3; ++i)
    std::fill(c0.data.begin() + i * n, c0.data.begin() + (i + 1) * n,
              EncodeConst(kSigmoidPieces[i].coef[0], 2 * F));
  CONSORT_ASSIGN_OR_RETURN(acc, be.AddPublic(acc, c0));
  CONSORT_ASSIGN_OR_RETURN(Shared poly, be.Trunc(acc, 2 * F - f));
  // Select the piece: ind = [b4, b8 - b4, b16 - b8]; |x| >= 16 -> 1.
  CONSORT_ASSIGN_OR_RETURN(Shared i1, be.Sub(b8, b4));
  CONSORT_ASSIGN_OR_RETURN(Shared i2, be.Sub(b16, b8));
  CONSORT_ASSIGN_OR_RETURN(Shared picked, be.Mul(Cat({&b4, &i1, &i2}), poly));
  CONSORT_ASSIGN_OR_RETURN(Shared sat, Lin(be, {{0 - Pow2(f), &b16}}, Pow2(f)));  // (1 - b16) 1.0
  Shared y = sat;
  for (int i = 0; i < 3; ++i) {
    CONSORT_ASSIGN_OR_RETURN(y, be.Add(y, Part(picked, i * n, vs)));
  }
  // x < 0: 1 - y.
  CONSORT_ASSIGN_OR_RETURN(Shared flipped, AddConst(be, be.Neg(y), Pow2(f)));
  CONSORT_ASSIGN_OR_RETURN(Shared out, be.Select(s, flipped, y));
  return WithShape(std::move(out), x.shape);
}

Cost SigmoidCost(const Backend& be, Shape x) {
  return DryRunCost(be, x, [&](Backend& b, const Shared& in) { return Sigmoid(b, in).status(); });
}

// ---- Comparison-based reductions ----------------------------------------------------------

StatusOr<Shared> ElementwiseMax(Backend& be, const Shared& a, const Shared& b) {
  CONSORT_ASSIGN_OR_RETURN(Shared c, be.LessThan(a, b));
  return be.Select(c, b, a);
}

StatusOr<Shared> ElementwiseMin(Backend& be, const Shared& a, const Shared& b) {
  CONSORT_ASSIGN_OR_RETURN(Shared c, be.LessThan(a, b));
  return be.Select(c, a, b);
}

Cost ElementwiseMaxCost(const Backend& be, Shape x) {
  return DryRunCost(
      be, x, [&](Backend& b, const Shared& in) { return ElementwiseMax(b, in, in).status(); });
}

StatusOr<Shared> Max(Backend& be, const Shared& x, Axis axis) {
  CONSORT_ASSIGN_OR_RETURN(TreeResult r, TreeReduce(be, x, axis, true, false, false, "max"));
  return std::move(r.best);
}

StatusOr<Shared> Min(Backend& be, const Shared& x, Axis axis) {
  CONSORT_ASSIGN_OR_RETURN(TreeResult r, TreeReduce(be, x, axis, false, false, false, "min"));
  return std::move(r.best);
}

Cost MaxCost(const Backend& be, Shape x, Axis axis) {
  return DryRunCost(be, x, [&](Backend& b, const Shared& in) { return Max(b, in, axis).status(); });
}

StatusOr<ArgmaxResult> Argmax(Backend& be, const Shared& x, Axis axis, bool one_hot) {
  CONSORT_ASSIGN_OR_RETURN(TreeResult r, TreeReduce(be, x, axis, true, true, one_hot, "argmax"));
  return ArgmaxResult{std::move(r.best), std::move(r.index), std::move(r.one_hot)};
}

Cost ArgmaxCost(const Backend& be, Shape x, Axis axis, bool one_hot) {
  return DryRunCost(
      be, x, [&](Backend& b, const Shared& in) { return Argmax(b, in, axis, one_hot).status(); });
}

}  // namespace consort::mpc
