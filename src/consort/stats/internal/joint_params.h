#pragma once
// The parameters of stats.joint, parsed and checked (see docs/operators/stats-joint.md):
//   "align": {"<party>": ["<key column>", ...], ...}  or  "aligned": true
//   "align_options": {"trim": bool, "casefold": bool, "duplicates": "error" | "first"}
//   "filters": {"<party>": [{"column": "age", "op": ">=", "value": 30}, ...], ...}
//   "nulls": "error" | "exclude"
//   "scale": {"<party>.<column>": <positive number>, ...}
//   "statistics": [{"stat": "...", "name": "...", "column" | "columns" | "weight" | "edges"}]
// Every error is InvalidArgument (NotFound for a dataset or column the catalog lacks) and names
// the field, e.g. "$.params.statistics[2].column: ...".

#include <map>
#include <string>
#include <vector>

#include "consort/common/json.h"
#include "consort/common/status.h"
#include "consort/data/keys.h"
#include "consort/engine/catalog.h"
#include "consort/engine/job_spec.h"

namespace consort::stats::internal {

// Fixed-point parameters of the job (mpc/ring.h): 18 fractional bits.
inline constexpr int kFracBits = 18;
// |value * scale| bounds: plain statistics (sum, min, max, histogram) and moment statistics
// (mean, variance, std, covariance, pearson, weighted_sum), whose centred values d = x - mean
// (|d| < 2^13) are multiplied: d^2 * 2^36 must stay inside the signed 64-bit ring.
inline constexpr double kFirstOrderLimit = 67108864.0;  // 2^26
inline constexpr double kSecondOrderLimit = 4096.0;     // 2^12
// Column-wide bounds checked by each owner on its own rows: sum of |x| (first order) and of
// x^2 (second order) stay below 2^43, so every secret sum fits the ring with headroom.
inline constexpr double kSumLimit = 8796093022208.0;  // 2^43

struct ColumnRef {
  std::string party;
  std::string column;
  std::string Name() const { return party + "." + column; }
  bool operator<(const ColumnRef& o) const {
    return party != o.party ? party < o.party : column < o.column;
  }
  bool operator==(const ColumnRef& o) const = default;
};

enum class FilterOp { kLt, kLe, kGt, kGe, kEq, kNe, kIn, kNotIn };

struct Filter {
  std::string column;
  FilterOp op = FilterOp::kEq;
  std::vector<Json> values;  // one value, or the list for in / not_in
};

enum class StatKind {
  kCount, kSum, kMean, kVariance, kStd, kMin, kMax, kCovariance, kPearson, kHistogram,
  kWeightedSum
};
const char* StatKindName(StatKind k);
// Moment statistics (mean and those that multiply two secret values): the smaller limit.
bool IsSecondOrder(StatKind k);
// Statistics that need secret division / square roots (mpc/functions.h).
bool NeedsDivision(StatKind k);

struct Statistic {
  std::string name;
  StatKind kind = StatKind::kCount;
  std::vector<ColumnRef> columns;  // 1 (sum .. histogram, weighted_sum) or >= 2 (covariance)
  ColumnRef weight;                // weighted_sum
  std::vector<double> edges;       // histogram, strictly increasing, >= 2
};

struct JointParams {
  bool aligned = false;                                  // "aligned": true
  std::map<std::string, std::vector<std::string>> keys;  // "align"
  data::KeyOptions key_options;
  std::map<std::string, std::vector<Filter>> filters;
  bool exclude_nulls = false;
  std::map<ColumnRef, double> scale;
  std::vector<Statistic> statistics;

  double ScaleOf(const ColumnRef& c) const {
    auto it = scale.find(c);
    return it == scale.end() ? 1.0 : it->second;
  }
  // Every column a statistic reads, per owner, deduplicated, in a fixed order; and whether it
  // enters a second-order statistic.
  std::map<ColumnRef, bool> ValueColumns() const;
};

// Parses spec.params given the spec's data parties (names sorted). Structural checks only.
StatusOr<JointParams> ParseJointParams(const engine::JobSpec& spec);

// Everything ParseJointParams checks plus: each referenced column is listed in its party's
// $.parties.<p>.columns and exists in the catalog with a fitting type (numeric for statistics
// and numeric comparisons, matching key types across parties), receivers are data parties.
Status ValidateJointParams(const engine::JobSpec& spec, const JointParams& params,
                           const engine::CatalogView& catalog);

}  // namespace consort::stats::internal
