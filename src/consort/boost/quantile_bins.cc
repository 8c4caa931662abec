#include "consort/boost/quantile_bins.h"

#include <algorithm>
#include <cmath>

namespace consort::boost {

StatusOr<FeatureMatrix> TableToFeatures(const data::Table& table,
                                        const std::vector<std::string>& columns) {
  FeatureMatrix x;
  const auto& schema = table.schema();
  for (const auto& name : columns) {
    const int c = schema.Find(name);
    if (c < 0) {
      return absl::NotFoundError("feature column '" + name + "' not in " + schema.NameList());
    }
    const data::Column& col = table.column(static_cast<size_t>(c));
    std::vector<double> v(table.num_rows());
    for (size_t r = 0; r < v.size(); ++r) {
      if (col.IsNull(r)) {
        v[r] = std::numeric_limits<double>::quiet_NaN();
      } else if (col.type() == data::ColumnType::kInt64) {
        v[r] = static_cast<double>(col.Int64(r));
      } else if (col.type() == data::ColumnType::kFloat64) {
        v[r] = col.Float64(r);
        if (!std::isfinite(v[r])) {
          return absl::InvalidArgumentError("feature column '" + name + "': non-finite value at " +
                                            table.RowLocation(r));
        }
      } else {
        return absl::InvalidArgumentError("feature column '" + name +
                                          "' is a string column; features must be numeric");
      }
    }
    x.names.push_back(name);
    x.columns.push_back(std::move(v));
  }
  return x;
}

FeatureMatrix SelectRows(const FeatureMatrix& x, const std::vector<uint32_t>& rows) {
  FeatureMatrix out;
  out.names = x.names;
  out.columns.resize(x.features());
  for (size_t f = 0; f < x.features(); ++f) {
    out.columns[f].reserve(rows.size());
    for (uint32_t r : rows) out.columns[f].push_back(x.columns[f][r]);
  }
  return out;
}

uint8_t FeatureBins::Bin(double x) const {
  if (std::isnan(x)) return kMissingBin;
  return static_cast<uint8_t>(std::lower_bound(edges.begin(), edges.end(), x) - edges.begin());
}

StatusOr<BinnedFeatures> BuildBins(const FeatureMatrix& x, int bins) {
  if (bins < 2 || bins > kMaxBins) {
    return absl::InvalidArgumentError("bins must be in [2, " + std::to_string(kMaxBins) +
                                      "], got " + std::to_string(bins));
  }
  BinnedFeatures b;
  b.bins = bins;
  b.rows = x.rows();
  b.features = x.features();
  b.cuts.resize(b.features);
  b.codes.assign(b.rows * b.features, 0);
  std::vector<double> sorted;
  for (size_t f = 0; f < b.features; ++f) {
    sorted.clear();
    for (double v : x.columns[f]) {
      if (!std::isnan(v)) sorted.push_back(v);
    }
    std::sort(sorted.begin(), sorted.end());
    auto& edges = b.cuts[f].edges;
    const size_t n = sorted.size();
    for (int q = 1; q < bins && n > 0; ++q) {
      // The value at rank ceil(q n / bins) - 1: bin q-1 ends there.
      size_t rank = (static_cast<size_t>(q) * n + static_cast<size_t>(bins) - 1) /
                    static_cast<size_t>(bins);
      rank = rank == 0 ? 0 : rank - 1;
      const double e = sorted[rank];
      if (e >= sorted.back()) break;  // the last bin holds the maximum
      if (edges.empty() || e > edges.back()) edges.push_back(e);
    }
    for (size_t r = 0; r < b.rows; ++r) b.codes[r * b.features + f] = b.cuts[f].Bin(x.columns[f][r]);
  }
  return b;
}

}  // namespace consort::boost
