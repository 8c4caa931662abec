#pragma once
// Features as dense columns (NaN = missing) and their quantile bins, shared by the plaintext
// GBDT and SecureBoost (each party bins its own features; only bin indices enter training).
//
// Bins of one feature: cut points e_0 < e_1 < ... < e_{k-1} (k <= bins - 1) at the value
// quantiles of the non-missing values; bin(x) = #{j : e_j < x}, so x <= e_b  <=>  bin(x) <= b.
// A missing value (NaN) gets bin kMissingBin. Exact quantiles over sorted values (no sketch):
// O(n log n) per feature, fine up to ~10^7 rows.
// Thread safety: plain values.

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "consort/common/status.h"
#include "consort/data/table.h"

namespace consort::boost {

inline constexpr int kMaxBins = 128;
inline constexpr uint8_t kMissingBin = 255;

// Dense features, column-major: columns[f][row]. NaN marks a missing value.
struct FeatureMatrix {
  std::vector<std::string> names;
  std::vector<std::vector<double>> columns;
  size_t rows() const { return columns.empty() ? 0 : columns[0].size(); }
  size_t features() const { return columns.size(); }
};

// The named int64/float64 columns of `table` (nulls become NaN). NotFound for an unknown
// column; InvalidArgument for a string column or an infinite value (naming the column and row
// location, never the value).
StatusOr<FeatureMatrix> TableToFeatures(const data::Table& table,
                                        const std::vector<std::string>& columns);
// Rows `rows` of `x`, in that order.
FeatureMatrix SelectRows(const FeatureMatrix& x, const std::vector<uint32_t>& rows);

struct FeatureBins {
  std::vector<double> edges;  // ascending cut points, at most bins - 1
  // Bin of x: kMissingBin for NaN, else the number of edges strictly below x.
  uint8_t Bin(double x) const;
  // The threshold of "bin <= b": edges[b], or +infinity when b >= edges.size().
  double Threshold(int b) const {
    return b < static_cast<int>(edges.size()) ? edges[static_cast<size_t>(b)]
                                              : std::numeric_limits<double>::infinity();
  }
};

// Bin indices of all rows, row-major (rows x features), from per-feature quantile bins.
struct BinnedFeatures {
  int bins = 0;  // value bins per feature (histograms have bins + 1 entries: the last is missing)
  size_t rows = 0, features = 0;
  std::vector<FeatureBins> cuts;  // per feature
  std::vector<uint8_t> codes;     // codes[row * features + f]
  uint8_t at(size_t row, size_t f) const { return codes[row * features + f]; }
};

// InvalidArgument unless 2 <= bins <= kMaxBins.
StatusOr<BinnedFeatures> BuildBins(const FeatureMatrix& x, int bins);

}  // namespace consort::boost
