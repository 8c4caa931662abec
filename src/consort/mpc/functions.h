#pragma once
// Nonlinear functions and reductions on secret-shared fixed-point tensors, written once against
// the Backend program API (backend.h), so they run unchanged on the plaintext reference, the
// two-party dealer backend and the three-party replicated backend. Every function is a fixed,
// data-oblivious sequence of Backend calls (branching only on public shapes and parameters):
// the parties learn nothing (no value is revealed; results stay shared).
//
// Conventions. x is a fixed-point encoding with f = be.fxp().frac_bits() fractional bits
// (ring.h); X denotes its ring integer (x = X / 2^f). "ulp" is 2^-f. Inputs outside a
// function's documented range give an unspecified (but finite, shared) result: secret values
// cannot be checked without revealing them; public parameters and shapes are checked
// (InvalidArgument). Truncations are assumed exact to one ulp (floor or floor + 1), as every
// backend's default Trunc is (two_party.h TruncMode::kDealerPair, three_party.h); with the
// two-party TruncMode::kLocal the error bounds below do not hold. A product truncated by
// exactly f bits is one MulFxp / MatMulFxp (fused on 3PC: 2 rounds, 64 bytes per element
// instead of 3 rounds, 72 bytes; same error bound); the other products use Mul + Trunc with
// their own shifts, mostly at a higher internal precision F than f.
//
// Costs. Each function has a cost function FooCost(be, shape) giving the exact rounds and
// bytes of one call on `be` as the sum of be.CostOf() over the operations the function issues
// (computed by running the function's call sequence on a shape-only dry-run backend that adds
// up CostOf; see internal/functions_cost.h). Local operations cost nothing; a call the function
// rejects (InvalidArgument) costs nothing, and so does its cost function. The closed-form
// round counts given below are for the two-party backend (Mul, Trunc, Select: 1 round;
// LessThanZero: r_c = 8; plaintext: everything 0); the three-party backend's Trunc and
// MulFxp take 2 rounds and its comparisons 9 (EqualZero 8). Bytes are linear in the element
// count n; README.md lists rounds and bytes per element for 2PC and 3PC (bench/mpc/functions
// --costs_only=1 prints them). The tests check rounds and link bytes against FooCost on the
// 2PC and 3PC backends.
//
// Normalization (Reciprocal, Divide, Log, Rsqrt, Sqrt): the divisor's ring integer X in [1, 2^62)
// is scaled by a secret power of two 2^S into [2^61, 2^62) in three radix-4 steps of
// (16, 4, 1)-bit shifts, each one batched comparison of X against 3 public powers of two
// (LessThanZero on 3n) and one batched Mul applying the chosen shift (and tracking the scale
// factors): 3 (r_c + 1) rounds, 9 comparisons per element. The mantissa v = X 2^S / 2^62
// in [0.5, 1) is then inverted by Goldschmidt iterations (1/v = w0 (1+e)(1+e^2)(1+e^4),
// w0 = 2.9142 - 2v, |e| <= 0.0858) or, for the inverse square root, 3 Newton steps from
// y0 = 2.018 - u on u in [0.25, 1). Related to the normalized reciprocals of Catrina and
// Saxena (FC 2010) and the radix comparisons of Aly and Smart (ACNS 2019).
//
// Leaks: nothing (results stay shared until the caller reveals them).
// Fixed-point configurations: 8 <= frac_bits <= 24 (InvalidArgument otherwise); tested at
// f = 18 on every backend and at f = 14 and 20 on the plaintext and 2PC backends.
// Thread safety: as the Backend (one thread at a time).

#include <cstdint>

#include "consort/common/status.h"
#include "consort/mpc/backend.h"

namespace consort::mpc {

// Which elements a reduction combines.
enum class Axis {
  kAll,      // every element -> 1 x 1
  kEachRow,  // each row of an m x k matrix -> m x 1
  kEachCol,  // each column of an m x k matrix -> 1 x k
};

// ---- Reductions (local unless stated) -------------------------------------------------------

// Sum of the elements (ring addition, exact). Local: 0 rounds, 0 bytes.
// InvalidArgument on an empty tensor.
StatusOr<Shared> Sum(Backend& be, const Shared& x, Axis axis = Axis::kAll);
Cost SumCost(const Backend& be, Shape x, Axis axis = Axis::kAll);

// x / d for a public integer d >= 1 (fixed-point in, fixed-point out). d = 2^p: Trunc(x, p)
// (the identity for d = 1; error 1 ulp). Otherwise 2^p < d < 2^(p+1): x' = Trunc(x, p) (if
// p > 0), then x' * (2^p / d) with the
// 32-bit public factor split in two 16-bit halves (two Mul-free Truncs, 16 and 32 bits).
// Range: |X| < 2^62 and |x / d| < 2^(int_bits) (product headroom |x'| < 2^(f + int_bits + 1)).
// InvalidArgument if d == 0 or d > 2^62.
// Error: |err| <= 3 ulp + |x / d| 2^-32.
// Rounds: 3 Truncs (Trunc(p), then 16 and 32 bits; 2 when p = 0 or the factor's low half is
// 0); 1 for a power of two; 0 for d = 1.
StatusOr<Shared> DividePublic(Backend& be, const Shared& x, uint64_t d);
Cost DividePublicCost(const Backend& be, Shape x, uint64_t d);

// Mean over the axis (count public: the number of elements combined): DividePublic(Sum(x), n).
// Range and error as DividePublic (|mean| < 2^int_bits always holds for encoded inputs).
// Rounds: as DividePublic (3; 1 for a power-of-two count; 0 for a count of 1).
StatusOr<Shared> Mean(Backend& be, const Shared& x, Axis axis = Axis::kAll);
Cost MeanCost(const Backend& be, Shape x, Axis axis = Axis::kAll);

// Variance over the axis with a public count n: sum((x - mean)^2) / (n - ddof) (two-pass:
// d = x - mean, MulFxp of d * d, Sum, DividePublic). Range: |x_i - mean| < 2^12 (so
// each square stays below 2^24) and n - ddof >= 1 (InvalidArgument otherwise).
// Error: |err| <= (n / (n - ddof)) (5 + 6 m) ulp + var 2^-31, m = mean |x_i - mean| in real
// units (the mean's 3 ulp error enters each square as 2 |d_i| 3 ulp; 1 ulp per square's
// truncation; 3 ulp from the division). Rounds: 3 + 2 + 3 = 8 on 2PC (when n - ddof >= 2);
// 3PC: 6 + 2 + 6 = 14.
StatusOr<Shared> Variance(Backend& be, const Shared& x, Axis axis = Axis::kAll, int ddof = 0);
Cost VarianceCost(const Backend& be, Shape x, Axis axis = Axis::kAll, int ddof = 0);

// Dot product of two n-element tensors (any shapes with equal numel): one 1 x n by n x 1
// MatMulFxp (the products are summed before the single truncation) -> 1 x 1.
// Range: |sum of X_i Y_i| < 2^62. Error: <= 1 ulp (plus the inputs' own encoding error).
// Rounds: 2 (2PC and 3PC); bytes: CostOf(kMatMulFxp, 1 x n, n x 1) (2PC: MatMul + Trunc of
// one element; 3PC: 64 bytes whatever n). InvalidArgument on unequal numel.
StatusOr<Shared> DotProduct(Backend& be, const Shared& a, const Shared& b);
Cost DotProductCost(const Backend& be, Shape a);

// ---- Division and roots ----------------------------------------------------------------------

// 1 / x for x in [2^-f, 2^(62-f)) (X in [1, 2^62)); x <= 0 or beyond: unspecified.
// Divide(1, x) with a public 1 and quotient bound 2^f (internal precision F = min(28, 57 - 2f));
// needs frac_bits <= 21 (InvalidArgument otherwise).
// Error: |err| <= |1/x| 2^-(F-2) + 3 ulp (f = 18: F = 21, relative 2^-19).
// Rounds: normalization 3 (r_c + 1) + 1 + Goldschmidt 8 + 3 = 39 on 2PC/3PC.
StatusOr<Shared> Reciprocal(Backend& be, const Shared& x);
Cost ReciprocalCost(const Backend& be, Shape x);

struct DivideOptions {
  // Fractional bits of b's encoding: -1 means f (b is fixed-point like a); 0 means b is a ring
  // integer (e.g. a count made by summing comparison results). 0 <= b_frac_bits <= 40.
  int b_frac_bits = -1;
  // Promised bound |a / b| < 2^quotient_int_bits; 1 <= quotient_int_bits and
  // f + quotient_int_bits <= 43. It sets the internal precision F = min(28, 57 - f - q).
  int quotient_int_bits = 16;
};

// a / b elementwise (fixed-point a, b > 0 with B in [1, 2^62), as a ring integer with
// b_frac_bits fractional bits). Stays accurate for large b (counts up to 2^61): a is scaled
// by 2^(c - j) (j = floor(log2 B), c = b_frac_bits + 1) with the normalization's own one-hot
// and scale factors, so the quotient never goes through an underflowing 1/b.
// Range: b as above, |a / b| < 2^quotient_int_bits, |A| < 2^62. Error: |err| <=
// |a/b| 2^-(F-2) + 3 ulp. Outside the range: unspecified (a wrong but finite share).
// Rounds: Reciprocal's + 1 Trunc per coarse group whose pre-scale is a right shift (2 for
// b_frac_bits = f, 3 for b_frac_bits <= 12). InvalidArgument: shapes differ, bad options.
StatusOr<Shared> Divide(Backend& be, const Shared& a, const Shared& b,
                        const DivideOptions& options = {});
Cost DivideCost(const Backend& be, Shape x, const DivideOptions& options = {});

// 1 / sqrt(x) for x in [2^-f, 2^(T-f)), T = 62 - (f mod 2). Normalization to an even power
// of two, 3 Newton steps at F = 28 bits, scaled back by the tracked 2^(S/2).
// Error: |err| <= |1/sqrt(x)| 2^-20 + 2 ulp. Rounds: 3 r_c + 3 + 1 + 12 + 2 = 42 (2PC/3PC).
StatusOr<Shared> Rsqrt(Backend& be, const Shared& x);
Cost RsqrtCost(const Backend& be, Shape x);

// sqrt(x) for x in [0, 2^(T-f)) (x = 0 gives 0): sqrt(u) = u * rsqrt(u) on the mantissa,
// scaled by the tracked 2^(31 - S/2). Error: |err| <= sqrt(x) 2^-20 + 2 ulp.
// Rounds: Rsqrt's - 2 + 4 = 44.
StatusOr<Shared> Sqrt(Backend& be, const Shared& x);
Cost SqrtCost(const Backend& be, Shape x);

// ln(x) for x in [2^-f, 2^(62-f)): the normalization's shift S (a local sum of its comparison
// bits) gives the exponent, ln x = ln v + (62 - f - S) ln 2, ln v on [0.5, 1) by a degree-7
// Chebyshev-node polynomial in t = 4v - 3 at F = 28 bits (fit error 2.6e-7).
// Error: |err| <= 2 ulp. Rounds: 3 (r_c + 1) + 1 + 6 + 1 = 35 (2PC).
StatusOr<Shared> Log(Backend& be, const Shared& x);
Cost LogCost(const Backend& be, Shape x);

// ---- Exponential and sigmoid -----------------------------------------------------------------

// e^x for x <= 16 (x < -32 is clamped to -32: e^-32 < 2^-46 encodes as 0). Range reduction
// t = x / 32 in [-1, 0.5], degree-8 Taylor polynomial at F = 29 bits (powers in 3 levels),
// then 5 squarings with the precision lowered as the value grows (29, 29, 27, 24, 18 bits for
// f = 18). x > 16 (up to ~18) may overflow: unspecified.
// Error: |err| <= e^x 2^-15 + 2 ulp. Rounds: (r_c + 1) + 6 + 1 + 10 = 26 on 2PC; 35 on 3PC
// (the last squaring, shifted by f, is a fused MulFxp).
StatusOr<Shared> Exp(Backend& be, const Shared& x);
Cost ExpCost(const Backend& be, Shape x);

// 1 / (1 + e^-x) for every x (|X| < 2^62): s = [x < 0], |x|, three comparisons of |x| with
// 4, 8, 16 select one of three degree-7 Chebyshev-node polynomials on [0,4), [4,8), [8,16)
// (evaluated in parallel at F = 28 bits in t = (|x| - c) / h) or 1 for |x| >= 16; then
// sigmoid(x) = 1 - sigmoid(|x|) where x < 0. Error: |err| <= 4e-5 everywhere (fit 2.4e-5
// plus rounding; saturation error e^-16 = 1.1e-7). Rounds: 2 r_c + 1 + 6 + 1 + 2 = 26.
StatusOr<Shared> Sigmoid(Backend& be, const Shared& x);
Cost SigmoidCost(const Backend& be, Shape x);

// ---- Comparisons-based reductions ------------------------------------------------------------

// Elementwise max / min of a and b: one LessThan (exact for -2^62 <= a, b < 2^62) and one
// Select. Exact. Rounds r_c + 1. InvalidArgument if the shapes differ.
StatusOr<Shared> ElementwiseMax(Backend& be, const Shared& a, const Shared& b);
StatusOr<Shared> ElementwiseMin(Backend& be, const Shared& a, const Shared& b);
Cost ElementwiseMaxCost(const Backend& be, Shape x);

// Max / min over the axis by a tree: ceil(log2 k) levels (k elements per reduced group), each
// one batched LessThan and one batched Select over all pairs of all groups. Exact (values in
// [-2^62, 2^62)). Rounds (r_c + 1) ceil(log2 k); n - groups comparisons in total.
StatusOr<Shared> Max(Backend& be, const Shared& x, Axis axis = Axis::kAll);
StatusOr<Shared> Min(Backend& be, const Shared& x, Axis axis = Axis::kAll);
Cost MaxCost(const Backend& be, Shape x, Axis axis = Axis::kAll);

struct ArgmaxResult {
  Shared max;      // as Max
  Shared index;    // ring integer position of the (first) maximum within its group
  Shared one_hot;  // x's shape: 1 at the maximum's position, 0 elsewhere (if requested)
};
// Max plus its position (ties: the first). The index rides along in the Select (one Mul of
// twice the size per level); the one-hot, if requested, is pushed down the tree afterwards
// (one Mul per level below the top). Rounds: (r_c + 1) L (+ L - 1 with one_hot), L =
// ceil(log2 k).
StatusOr<ArgmaxResult> Argmax(Backend& be, const Shared& x, Axis axis = Axis::kAll,
                              bool one_hot = true);
Cost ArgmaxCost(const Backend& be, Shape x, Axis axis = Axis::kAll, bool one_hot = true);

}  // namespace consort::mpc
