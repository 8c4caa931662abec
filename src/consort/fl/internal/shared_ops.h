#pragma once
// Local (communication-free) rearrangements of secret-shared tensors: gathering rows,
// concatenating columns, transposing, slicing and tiling. Every sharing the mpc backends
// use is linear per element, so applying the same index map to each share vector (s0, and s1
// when present) rearranges the secret. Plus the piecewise-linear sigmoid used until
// mpc/functions.h offers one.

#include <span>
#include <vector>

#include "consort/common/status.h"
#include "consort/mpc/backend.h"

namespace consort::fl::internal {

// Rows `rows` (in that order) of a (CHECKs indices).
mpc::Shared GatherRows(const mpc::Shared& a, std::span<const size_t> rows);
// [a | b] for a, b with the same row count (CHECKed).
mpc::Shared ConcatCols(const mpc::Shared& a, const mpc::Shared& b);
mpc::Shared Transpose(const mpc::Shared& a);
// Rows [begin, end) of a.
mpc::Shared SliceRows(const mpc::Shared& a, size_t begin, size_t end);
// `times` copies of the column vector a stacked (a is n x 1; result n*times x 1).
mpc::Shared Tile(const mpc::Shared& a, size_t times);

// Knots of the piecewise-linear sigmoid: linear interpolation of sigmoid between them,
// constant outside [-5, 5]. Max absolute error 0.0116 (checked by the tests).
inline constexpr double kSigmoidKnots[] = {-5, -3, -1.8, -0.9, 0, 0.9, 1.8, 3, 5};
// The same function in plaintext (reference for tests).
double PiecewiseSigmoid(double z);
// [sigmoid(z)] for a fixed-point shared column vector z: one LessThanZero on 9n values, one
// Mul, one Trunc (10 rounds in 2PC). Leaks: nothing (no value is opened).
StatusOr<mpc::Shared> PiecewiseSigmoidShared(mpc::Backend& be, const mpc::Shared& z);

}  // namespace consort::fl::internal
