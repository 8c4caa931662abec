#include "consort/stats/joint_stats.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <optional>

#include "consort/common/bytes.h"
#include "consort/data/table.h"
#include "consort/engine/operator.h"
#include "consort/mpc/backend.h"
#include "consort/mpc/functions.h"
#include "consort/mpc/job_backend.h"
#include "consort/psi/align.h"
#include "consort/stats/internal/joint_params.h"

namespace consort::stats {
namespace {

using internal::ColumnRef;
using internal::Filter;
using internal::FilterOp;
using internal::JointParams;
using internal::Statistic;
using internal::StatKind;
using mpc::Backend;
using mpc::RingTensor;
using mpc::Shape;
using mpc::Shared;

constexpr char kStatistics[] = "statistics";

// ---- Local (plaintext, this party's own rows only) -------------------------------------------

double CellAsDouble(const data::Column& col, size_t row) {
  return col.type() == data::ColumnType::kInt64 ? static_cast<double>(col.Int64(row))
                                                : col.Float64(row);
}

bool FilterMatches(const data::Column& col, size_t row, const Filter& f) {
  if (col.IsNull(row)) return false;  // SQL semantics: a comparison with null is not true
  if (col.type() == data::ColumnType::kString) {
    std::string_view v = col.String(row);
    bool any = false;
    for (const auto& x : f.values) any = any || (x.is_string() && x.get<std::string>() == v);
    switch (f.op) {
      case FilterOp::kEq:
      case FilterOp::kIn: return any;
      case FilterOp::kNe:
      case FilterOp::kNotIn: return !any;
      default: return false;  // rejected by validation
    }
  }
  double v = CellAsDouble(col, row);
  if (std::isnan(v)) return false;
  double c = f.values[0].is_number() ? f.values[0].get<double>() : 0;
  bool any = false;
  for (const auto& x : f.values) any = any || (x.is_number() && x.get<double>() == v);
  switch (f.op) {
    case FilterOp::kLt: return v < c;
    case FilterOp::kLe: return v <= c;
    case FilterOp::kGt: return v > c;
    case FilterOp::kGe: return v >= c;
    case FilterOp::kEq:
    case FilterOp::kIn: return any;
    case FilterOp::kNe:
    case FilterOp::kNotIn: return !any;
  }
  return false;
}

// Checks this party's value columns on all its rows before anything leaves the node: no nulls
// (unless excluded), |x * scale| and the column sums within the fixed-point range. Errors name
// the column and the row, never the value.
Status CheckValueColumns(const data::Table& table, const JointParams& params,
                         const std::string& self) {
  for (const auto& [ref, second] : params.ValueColumns()) {
    if (ref.party != self) continue;
    CONSORT_ASSIGN_OR_RETURN(const data::Column* col, table.ColumnByName(ref.column));
    if (col->type() == data::ColumnType::kString) {
      return absl::InvalidArgumentError("column '" + ref.column + "' is a string column");
    }
    double scale = params.ScaleOf(ref);
    double limit = second ? internal::kSecondOrderLimit : internal::kFirstOrderLimit;
    double sum_abs = 0, sum_sq = 0;
    for (size_t r = 0; r < table.num_rows(); ++r) {
      if (col->IsNull(r)) {
        if (params.exclude_nulls) continue;
        return absl::InvalidArgumentError(table.RowLocation(r) + ": column '" + ref.column +
                                          "': null value (set \"nulls\": \"exclude\" to leave "
                                          "such rows out)");
      }
      double x = CellAsDouble(*col, r) * scale;
      if (!std::isfinite(x) || !(std::fabs(x) < limit)) {
        return absl::InvalidArgumentError(
            table.RowLocation(r) + ": column '" + ref.column + "': value outside the fixed-point " +
            "range (|value * scale| must be below 2^" + (second ? "12" : "26") +
            (second ? " for mean, variance, std, covariance, pearson and weighted_sum" : "") +
            "; set $.params.scale)");
      }
      sum_abs += std::fabs(x);
      sum_sq += x * x;
    }
    if (!(sum_abs < internal::kSumLimit) || (second && !(sum_sq < internal::kSumLimit))) {
      return absl::InvalidArgumentError(
          "column '" + ref.column + "': the column's sum " + (second ? "of squares " : "") +
          "exceeds the fixed-point range (2^43); set a smaller $.params.scale");
    }
  }
  return OkStatus();
}

// ---- MPC helpers -----------------------------------------------------------------------------

// Three-party replicated sharing carries a second share per element (backend.h).
bool Replicated(const Backend& be) { return be.num_parties() == 3; }

Shared SumAll(const Shared& a, bool replicated) {
  Shared out{Shape::Vector(1), {0}, {}};
  for (uint64_t v : a.s0) out.s0[0] += v;
  if (replicated) {
    out.s1 = {0};
    for (uint64_t v : a.s1) out.s1[0] += v;
  }
  return out;
}

// Sums each of the `k` consecutive blocks of `block` elements: [k blocks] -> k values.
// `replicated` says whether shares carry s1 (three-party sharing).
Shared BlockSums(const Shared& a, size_t block, size_t k, bool replicated) {
  Shared out{Shape::Vector(k), std::vector<uint64_t>(k, 0), {}};
  if (replicated) out.s1.assign(k, 0);
  for (size_t j = 0; j < k; ++j) {
    for (size_t i = 0; i < block; ++i) {
      out.s0[j] += a.s0[j * block + i];
      if (!a.s1.empty()) out.s1[j] += a.s1[j * block + i];
    }
  }
  return out;
}

Shared Concat(const std::vector<const Shared*>& parts) {
  Shared out;
  size_t n = 0;
  for (const Shared* p : parts) n += p->s0.size();
  out.shape = Shape::Vector(n);
  for (const Shared* p : parts) {
    out.s0.insert(out.s0.end(), p->s0.begin(), p->s0.end());
    out.s1.insert(out.s1.end(), p->s1.begin(), p->s1.end());
  }
  return out;
}

Shared Slice(const Shared& a, size_t offset, size_t len) {
  Shared out;
  out.shape = Shape::Vector(len);
  out.s0.assign(a.s0.begin() + offset, a.s0.begin() + offset + len);
  if (!a.s1.empty()) out.s1.assign(a.s1.begin() + offset, a.s1.begin() + offset + len);
  return out;
}

Shared Tile(const Shared& a, size_t times) {
  std::vector<const Shared*> parts(times, &a);
  return Concat(parts);
}

RingTensor Constant(size_t n, uint64_t v) { return RingTensor::Vector(std::vector<uint64_t>(n, v)); }

uint64_t EncodeOne(const mpc::FixedPoint& fxp, double v) {
  return static_cast<uint64_t>(static_cast<int64_t>(std::llround(std::ldexp(v, fxp.frac_bits()))));
}

// One revealed output slot: a block of ring values and how to decode them.
// A flagged slot carries `len` values followed by `len` ring 0/1 flags; a value whose flag
// is 0 is undefined (e.g. a mean over no rows) and decodes as null.
struct Slot {
  size_t offset = 0, len = 1;
  bool integer = false;  // ring integer (counts) rather than fixed point
  double divide_by = 1;  // undo the public scale
  bool flagged = false;
};

// ---- The operator ----------------------------------------------------------------------------

class JointStatsOperator final : public engine::Operator {
 public:
  JointStatsOperator() {
    info_.name = "stats.joint";
    info_.title = "Joint statistics over vertically partitioned data (PSI alignment + MPC)";
    info_.description =
        "Aligns the data parties' rows by PSI on key columns (or takes them as already aligned), "
        "applies each party's filters locally as a secret-shared row indicator, and computes "
        "count, sum, mean, variance, std, min, max, covariance, pearson, histogram and "
        "weighted_sum over the joined rows under secret sharing; only the receivers named in "
        "outputs learn the results (counts are secret: means and moments use secret division). "
        "Fixed point with 18 fractional bits (ulp = 2^-18) in Z_2^64. Tolerance: count, "
        "histogram exact; min, max exact on the encoded values (+-2^-19); sum +-(n+1) ulp; "
        "weighted_sum +-n (1 + (|x|+|w|)/2) ulp; mean +-(|mean| 2^-25 + 4 ulp); std relative "
        "2^-18 + 4 ulp; variance relative 2^-17; pearson +-1e-4; covariance +-1e-4 std_a std_b "
        "(all in scaled units). Every value must satisfy |value * scale| < 2^26 (2^12 for mean, "
        "variance, std, covariance, pearson, weighted_sum) with column sums of |x| (and x^2) "
        "below 2^43; a value outside is rejected before any computation (InvalidArgument naming "
        "the column and line, never the value).";
    info_.security_model =
        "semi-honest; two data parties plus a Beaver-triple dealer (a party with {\"role\": "
        "\"dealer\"}: a node, or the coordinator itself as party \"coordinator\") that colludes "
        "with neither and never sees inputs, shares or results; or "
        "three data parties with an honest majority (no two collude), when three-party MPC is "
        "available";
    info_.parameters =
        "128-bit computational (DDH on Curve25519 for PSI, AES-128-CTR PRG for shares), 40-bit "
        "statistical (PSI truncation); fixed point 18 fractional bits in Z_2^64";
    info_.leaks =
        "alignment: every data party learns which of its own rows are in the all-party "
        "intersection (so its size), and the parties' numbers of distinct keys; with three "
        "parties the alignment leader (first party by name) also learns which of its keys each "
        "other party holds; \"aligned\": true reveals each party's row count; receivers learn "
        "the requested statistics (and whatever they imply, e.g. small counts) and, for a "
        "statistic reported as null, that it is undefined (no row, fewer than two rows, or a "
        "constant column); nothing else is revealed: filter results stay secret-shared; a job that fails the range check "
        "tells the other parties only that some value of that party's column was out of range";
    info_.outputs = {kStatistics};
    info_.min_parties = 2;
    info_.max_parties = 3;
    info_.roles = {mpc::kDealerRole};
  }

  const engine::OperatorInfo& info() const override { return info_; }

  Status Validate(const engine::JobSpec& spec, const engine::CatalogView& catalog) const override {
    CONSORT_RETURN_IF_ERROR(mpc::PlanJobMpc(spec).status());
    CONSORT_ASSIGN_OR_RETURN(JointParams params, internal::ParseJointParams(spec));
    return internal::ValidateJointParams(spec, params, catalog);
  }

  Status Run(engine::Session& session) const override {
    const engine::JobSpec& spec = session.spec();
    CONSORT_ASSIGN_OR_RETURN(mpc::JobMpcPlan plan, mpc::PlanJobMpc(spec));
    CONSORT_ASSIGN_OR_RETURN(JointParams params, internal::ParseJointParams(spec));
    CONSORT_ASSIGN_OR_RETURN(mpc::FixedPoint fxp,
                             mpc::FixedPoint::Create({internal::kFracBits, 26}));
    if (session.self() == plan.dealer) {
      session.ReportProgress(0.0, "dealer");
      CONSORT_ASSIGN_OR_RETURN(auto jb, mpc::JobBackend::Open(session, fxp));
      CONSORT_RETURN_IF_ERROR(jb->ServeDealer());
      session.ReportProgress(1.0, "done");
      return OkStatus();
    }
    const std::string& self = session.self();
    session.ReportProgress(0.0, "loading");
    CONSORT_ASSIGN_OR_RETURN(auto table, session.LoadInput());
    CONSORT_RETURN_IF_ERROR(CheckValueColumns(*table, params, self));
    for (const auto& f : params.filters[self]) {
      CONSORT_RETURN_IF_ERROR(table->ColumnByName(f.column).status());
    }

    std::vector<uint32_t> rows;
    if (params.aligned) {
      CONSORT_RETURN_IF_ERROR(CheckSameRowCount(session, plan, table->num_rows()));
      rows.resize(table->num_rows());
      for (size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<uint32_t>(i);
    } else {
      CONSORT_ASSIGN_OR_RETURN(
          rows, psi::AlignSessionRows(session, *table, params.keys.at(self), params.key_options,
                                      plan.data_parties, 0.02, 0.5));
    }
    if (session.cancelled().load()) return absl::CancelledError("job cancelled");

    session.ReportProgress(0.5, "mpc");
    CONSORT_ASSIGN_OR_RETURN(auto jb, mpc::JobBackend::Open(session, fxp));
    auto result = Compute(session, *jb, params, *table, rows);
    Status close = jb->Close();
    if (!result.ok()) return result.status();
    CONSORT_RETURN_IF_ERROR(close);
    if (spec.OutputFor(self)) {
      Json summary = {{"operator", info_.name}, {"statistics", *result}};
      if (!params.aligned) summary["aligned_rows"] = rows.size();
      CONSORT_RETURN_IF_ERROR(session.StoreSummary(summary));
    }
    session.ReportProgress(1.0, "done");
    return OkStatus();
  }

 private:
  // "aligned": true: every data party tells the others its row count (8 bytes) and checks
  // they are all equal.
  static Status CheckSameRowCount(engine::Session& session, const mpc::JobMpcPlan& plan,
                                  size_t mine) {
    for (const auto& p : plan.data_parties) {
      if (p == session.self()) continue;
      CONSORT_ASSIGN_OR_RETURN(net::Link * link, session.Peer(p));
      Bytes msg;
      AppendU64(msg, mine);
      CONSORT_RETURN_IF_ERROR(link->Send(msg));
    }
    for (const auto& p : plan.data_parties) {
      if (p == session.self()) continue;
      CONSORT_ASSIGN_OR_RETURN(net::Link * link, session.Peer(p));
      CONSORT_ASSIGN_OR_RETURN(Bytes msg, link->Recv());
      if (msg.size() != 8) {
        return absl::InvalidArgumentError("row-count message from '" + p + "' has " +
                                          std::to_string(msg.size()) + " bytes, expected 8");
      }
      uint64_t theirs = ReadU64(msg.data());
      if (theirs != mine) {
        return absl::InvalidArgumentError(
            "\"aligned\": true but the row counts differ: " + session.self() + " has " +
            std::to_string(mine) + " rows, " + p + " has " + std::to_string(theirs));
      }
    }
    return OkStatus();
  }

  static StatusOr<Json> Compute(engine::Session& session, mpc::JobBackend& jb,
                                const JointParams& params, const data::Table& table,
                                const std::vector<uint32_t>& rows) {
    Backend& be = jb.backend();
    const mpc::FixedPoint& fxp = be.fxp();
    const auto& parties = jb.plan().data_parties;
    const std::string& self = session.self();
    auto index_of = [&](const std::string& p) {
      return static_cast<int>(std::find(parties.begin(), parties.end(), p) - parties.begin());
    };
    const size_t n = rows.size();
    const Shape shape = Shape::Vector(n);
    auto value_columns = params.ValueColumns();

    // 1. The joint row indicator w = product of each party's local indicator (ring 0/1).
    std::optional<Shared> w;
    for (const auto& p : parties) {
      bool owns_values = false;
      for (const auto& [c, second] : value_columns) owns_values = owns_values || c.party == p;
      auto fit = params.filters.find(p);
      bool has_filter = fit != params.filters.end() && !fit->second.empty();
      if (!has_filter && !(params.exclude_nulls && owns_values)) continue;
      std::vector<uint64_t> f;
      if (p == self) {
        f.assign(n, 1);
        if (has_filter) {
          for (const Filter& flt : fit->second) {
            CONSORT_ASSIGN_OR_RETURN(const data::Column* col, table.ColumnByName(flt.column));
            for (size_t i = 0; i < n; ++i) f[i] &= FilterMatches(*col, rows[i], flt) ? 1 : 0;
          }
        }
        if (params.exclude_nulls) {
          for (const auto& [c, second] : value_columns) {
            if (c.party != self) continue;
            CONSORT_ASSIGN_OR_RETURN(const data::Column* col, table.ColumnByName(c.column));
            for (size_t i = 0; i < n; ++i) f[i] &= col->IsNull(rows[i]) ? 0 : 1;
          }
        }
      }
      CONSORT_ASSIGN_OR_RETURN(Shared fp, be.Input(index_of(p), shape, f));
      if (w) {
        CONSORT_ASSIGN_OR_RETURN(w, be.Mul(*w, fp));
      } else {
        w = std::move(fp);
      }
    }
    session.ReportProgress(0.55, "mpc");

    // 2. The value columns, fixed point, and their masked versions x * w (one batched Mul).
    std::map<ColumnRef, Shared> x, xw;
    for (const auto& [c, second] : value_columns) {
      std::vector<double> v;
      if (c.party == self) {
        CONSORT_ASSIGN_OR_RETURN(const data::Column* col, table.ColumnByName(c.column));
        double s = params.ScaleOf(c);
        v.resize(n);
        for (size_t i = 0; i < n; ++i) {
          v[i] = col->IsNull(rows[i]) ? 0.0 : CellAsDouble(*col, rows[i]) * s;
        }
      }
      CONSORT_ASSIGN_OR_RETURN(x[c], be.InputFixed(index_of(c.party), shape, v));
    }
    if (w && !x.empty()) {
      std::vector<const Shared*> parts;
      for (auto& [c, s] : x) parts.push_back(&s);
      Shared all = Concat(parts);
      CONSORT_ASSIGN_OR_RETURN(Shared masked, be.Mul(all, Tile(*w, x.size())));
      size_t off = 0;
      for (auto& [c, s] : x) {
        xw[c] = Slice(masked, off, n);
        off += n;
      }
    } else {
      xw = x;
    }

    // 3. Second-order sums: sum(w * a * b) for every pair a statistic needs (one MulFxp).
    std::vector<std::pair<ColumnRef, ColumnRef>> pairs;
    auto need_pair = [&](const ColumnRef& a, const ColumnRef& b) {
      if (std::find(pairs.begin(), pairs.end(), std::make_pair(a, b)) == pairs.end()) {
        pairs.emplace_back(a, b);
      }
    };
    for (const auto& st : params.statistics) {
      if (st.kind == StatKind::kWeightedSum) need_pair(st.columns[0], st.weight);
    }
    std::map<std::pair<ColumnRef, ColumnRef>, Shared> pair_sums;
    if (!pairs.empty()) {
      std::vector<const Shared*> left, right;
      for (const auto& [a, b] : pairs) {
        left.push_back(&xw.at(a));
        right.push_back(&x.at(b));
      }
      CONSORT_ASSIGN_OR_RETURN(Shared prod, be.MulFxp(Concat(left), Concat(right)));
      Shared sums = BlockSums(prod, n, pairs.size(), Replicated(be));
      for (size_t k = 0; k < pairs.size(); ++k) pair_sums[pairs[k]] = Slice(sums, k, 1);
    }
    session.ReportProgress(0.65, "mpc");

    // 3b. Moments (mean, variance, std, covariance, pearson) with the secret count C:
    //   mean_c = Divide(sum_c, C); d_c = x_c - mean_c (|d| < 2^13); SS_ab = sum(w d_a d_b);
    //   std_c = Divide(Sqrt(SS_cc), Sqrt(C - 1)); variance = std^2;
    //   pearson_ab = Divide(Divide(SS_ab, Sqrt(SS_aa)), Sqrt(SS_bb)); cov_ab = r_ab std_a std_b.
    // The sqrt route keeps every quotient small (Divide's precision falls as its bound grows).
    const bool rep = Replicated(be);
    Shared count;
    {
      Shared zero{Shape::Vector(1), {0}, {}};
      if (rep) zero.s1 = {0};
      if (w) {
        count = SumAll(*w, rep);
      } else {
        CONSORT_ASSIGN_OR_RETURN(count, be.AddPublic(zero, Constant(1, n)));
      }
    }
    std::vector<ColumnRef> mean_cols, center_cols;
    std::vector<std::pair<ColumnRef, ColumnRef>> ss_pairs;
    auto add_unique = [](auto& v, const auto& e) {
      if (std::find(v.begin(), v.end(), e) == v.end()) v.push_back(e);
    };
    for (const auto& st : params.statistics) {
      if (!internal::NeedsDivision(st.kind)) continue;
      for (const auto& c : st.columns) add_unique(mean_cols, c);
      if (st.kind == StatKind::kMean) continue;
      for (const auto& c : st.columns) add_unique(center_cols, c);
      for (size_t i = 0; i < st.columns.size(); ++i) {
        for (size_t j = i; j < st.columns.size(); ++j) {
          add_unique(ss_pairs, std::make_pair(st.columns[i], st.columns[j]));
        }
      }
    }
    std::map<ColumnRef, Shared> mean, stdev, sqrt_ss, positive;
    std::map<std::pair<ColumnRef, ColumnRef>, Shared> ss, pearson, pearson_valid;
    Shared count_pos, count_two;  // [C >= 1], [C >= 2] as ring 0/1
    if (!mean_cols.empty()) {
      CONSORT_ASSIGN_OR_RETURN(Shared one_minus_c, be.AddPublic(be.Neg(count), Constant(1, 1)));
      // [C > 0] = [-C < 0]; [C > 1] = [1 - C < 0]: one batched comparison.
      Shared neg_c = be.Neg(count);
      CONSORT_ASSIGN_OR_RETURN(Shared cmp, be.LessThanZero(Concat({&neg_c, &one_minus_c})));
      count_pos = Slice(cmp, 0, 1);
      count_two = Slice(cmp, 1, 1);
      std::vector<const Shared*> sums;
      std::vector<Shared> sum_store;
      sum_store.reserve(mean_cols.size());
      for (const auto& c : mean_cols) sum_store.push_back(SumAll(xw.at(c), rep));
      for (const auto& v : sum_store) sums.push_back(&v);
      mpc::DivideOptions dopt;
      dopt.b_frac_bits = 0;  // C is a ring integer
      dopt.quotient_int_bits = 12;
      CONSORT_ASSIGN_OR_RETURN(Shared means, mpc::Divide(be, Concat(sums), Tile(count, mean_cols.size()), dopt));
      for (size_t k = 0; k < mean_cols.size(); ++k) mean[mean_cols[k]] = Slice(means, k, 1);
    }
    if (!center_cols.empty()) {
      std::vector<Shared> d_store;
      d_store.reserve(center_cols.size());
      for (const auto& c : center_cols) {
        CONSORT_ASSIGN_OR_RETURN(Shared d, be.Sub(x.at(c), Tile(mean.at(c), n)));
        d_store.push_back(std::move(d));
      }
      std::map<ColumnRef, Shared> d, dw;
      for (size_t k = 0; k < center_cols.size(); ++k) d[center_cols[k]] = d_store[k];
      if (w) {
        std::vector<const Shared*> parts;
        for (const auto& v : d_store) parts.push_back(&v);
        CONSORT_ASSIGN_OR_RETURN(Shared masked, be.Mul(Concat(parts), Tile(*w, d_store.size())));
        for (size_t k = 0; k < center_cols.size(); ++k) dw[center_cols[k]] = Slice(masked, k * n, n);
      } else {
        dw = d;
      }
      std::vector<const Shared*> left, right;
      for (const auto& [a, b] : ss_pairs) {
        left.push_back(&dw.at(a));
        right.push_back(&d.at(b));
      }
      CONSORT_ASSIGN_OR_RETURN(Shared prod, be.MulFxp(Concat(left), Concat(right)));
      Shared sums = BlockSums(prod, n, ss_pairs.size(), rep);
      for (size_t k = 0; k < ss_pairs.size(); ++k) ss[ss_pairs[k]] = Slice(sums, k, 1);

      // sqrt(SS_cc) and [SS_cc > 0] per centred column; sqrt(C - 1) once.
      std::vector<const Shared*> diag;
      for (const auto& c : center_cols) diag.push_back(&ss.at({c, c}));
      Shared diag_all = Concat(diag);
      Shared cm1_int;
      CONSORT_ASSIGN_OR_RETURN(cm1_int, be.AddPublic(count, Constant(1, 0 - uint64_t{1})));
      CONSORT_ASSIGN_OR_RETURN(Shared cm1, be.MulPublic(cm1_int, Constant(1, uint64_t{1} << fxp.frac_bits())));
      Shared to_sqrt = Concat({&diag_all, &cm1});
      CONSORT_ASSIGN_OR_RETURN(Shared roots, mpc::Sqrt(be, to_sqrt));
      CONSORT_ASSIGN_OR_RETURN(Shared pos, be.LessThanZero(be.Neg(diag_all)));
      const size_t k = center_cols.size();
      Shared den = Slice(roots, k, 1);
      for (size_t i = 0; i < k; ++i) {
        sqrt_ss[center_cols[i]] = Slice(roots, i, 1);
        positive[center_cols[i]] = Slice(pos, i, 1);
      }
      mpc::DivideOptions sopt;
      sopt.quotient_int_bits = 13;
      CONSORT_ASSIGN_OR_RETURN(Shared sd, mpc::Divide(be, Slice(roots, 0, k), Tile(den, k), sopt));
      for (size_t i = 0; i < k; ++i) stdev[center_cols[i]] = Slice(sd, i, 1);

      // Pearson for every off-diagonal pair, batched: t = SS_ab / sqrt(SS_aa) (|t| <= sqrt(SS_bb)
      // < 2^22), r = t / sqrt(SS_bb) (|r| <= 1); r is zeroed where a column is constant.
      std::vector<std::pair<ColumnRef, ColumnRef>> off;
      for (const auto& pr : ss_pairs) {
        if (!(pr.first == pr.second)) off.push_back(pr);
      }
      if (!off.empty()) {
        std::vector<const Shared*> num, da, db, pa, pb;
        for (const auto& pr : off) {
          num.push_back(&ss.at(pr));
          da.push_back(&sqrt_ss.at(pr.first));
          db.push_back(&sqrt_ss.at(pr.second));
          pa.push_back(&positive.at(pr.first));
          pb.push_back(&positive.at(pr.second));
        }
        mpc::DivideOptions t_opt, r_opt;
        t_opt.quotient_int_bits = 22;
        r_opt.quotient_int_bits = 1;
        CONSORT_ASSIGN_OR_RETURN(Shared t, mpc::Divide(be, Concat(num), Concat(da), t_opt));
        CONSORT_ASSIGN_OR_RETURN(Shared r, mpc::Divide(be, t, Concat(db), r_opt));
        CONSORT_ASSIGN_OR_RETURN(Shared valid, be.Mul(Concat(pa), Concat(pb)));
        CONSORT_ASSIGN_OR_RETURN(Shared r_safe, be.Mul(r, valid));
        for (size_t i = 0; i < off.size(); ++i) {
          pearson[off[i]] = Slice(r_safe, i, 1);
          pearson_valid[off[i]] = Slice(valid, i, 1);
        }
      }
    }
    session.ReportProgress(0.75, "mpc");

    // 4. Each statistic's secret result, in slots of one concatenated tensor.
    std::vector<Shared> values;
    std::vector<Slot> slots;
    std::vector<std::optional<double>> public_values;  // count without any indicator
    size_t offset = 0;
    auto add_slot = [&](Shared v, bool integer, double divide_by) {
      Slot s{offset, v.s0.size(), integer, divide_by, false};
      offset += s.len;
      values.push_back(std::move(v));
      slots.push_back(s);
      public_values.push_back(std::nullopt);
    };
    auto add_flagged = [&](const std::vector<Shared>& v, const std::vector<Shared>& flags,
                           double divide_by) {
      std::vector<const Shared*> parts;
      for (const auto& e : v) parts.push_back(&e);
      for (const auto& e : flags) parts.push_back(&e);
      Slot s{offset, v.size(), false, divide_by, true};
      offset += 2 * s.len;
      values.push_back(Concat(parts));
      slots.push_back(s);
      public_values.push_back(std::nullopt);
    };
    Shared one_fixed;
    {
      Shared zero{Shape::Vector(1), {0}, {}};
      if (rep) zero.s1 = {0};
      CONSORT_ASSIGN_OR_RETURN(one_fixed,
                               be.AddPublic(zero, Constant(1, uint64_t{1} << fxp.frac_bits())));
    }
    for (size_t si = 0; si < params.statistics.size(); ++si) {
      const Statistic& st = params.statistics[si];
      const ColumnRef* c = st.columns.empty() ? nullptr : &st.columns[0];
      double sc = c ? params.ScaleOf(*c) : 1.0;
      switch (st.kind) {
        case StatKind::kCount:
          if (w) {
            add_slot(SumAll(*w, Replicated(be)), true, 1);
          } else {
            slots.push_back(Slot{0, 0, true, 1});
            values.emplace_back();
            public_values.push_back(static_cast<double>(n));
          }
          break;
        case StatKind::kSum:
          add_slot(SumAll(xw.at(*c), Replicated(be)), false, sc);
          break;
        case StatKind::kWeightedSum:
          add_slot(pair_sums.at({*c, st.weight}), false, sc * params.ScaleOf(st.weight));
          break;
        case StatKind::kMin:
        case StatKind::kMax: {
          CONSORT_ASSIGN_OR_RETURN(Shared m, Extreme(be, x.at(*c), w, st.kind == StatKind::kMin));
          add_slot(std::move(m), false, sc);
          break;
        }
        case StatKind::kHistogram: {
          CONSORT_ASSIGN_OR_RETURN(Shared h, Histogram(be, x.at(*c), w, st.edges, sc));
          add_slot(std::move(h), true, 1);
          break;
        }
        case StatKind::kMean:
          add_flagged({mean.at(*c)}, {count_pos}, sc);
          break;
        case StatKind::kStd:
          add_flagged({stdev.at(*c)}, {count_two}, sc);
          break;
        case StatKind::kVariance: {
          CONSORT_ASSIGN_OR_RETURN(Shared var, be.MulFxp(stdev.at(*c), stdev.at(*c)));
          add_flagged({var}, {count_two}, sc * sc);
          break;
        }
        case StatKind::kCovariance:
        case StatKind::kPearson: {
          const size_t k = st.columns.size();
          std::vector<Shared> vals(k * k), flags(k * k);
          bool cov = st.kind == StatKind::kCovariance;
          for (size_t i = 0; i < k; ++i) {
            for (size_t j = i; j < k; ++j) {
              const ColumnRef& a = st.columns[i];
              const ColumnRef& b = st.columns[j];
              Shared v, f;
              if (i == j) {
                if (cov) {
                  CONSORT_ASSIGN_OR_RETURN(v, be.MulFxp(stdev.at(a), stdev.at(a)));
                  f = count_two;
                } else {
                  v = one_fixed;
                  f = positive.at(a);
                }
              } else if (cov) {
                CONSORT_ASSIGN_OR_RETURN(Shared sab, be.MulFxp(stdev.at(a), stdev.at(b)));
                CONSORT_ASSIGN_OR_RETURN(v, be.MulFxp(pearson.at({a, b}), sab));
                f = count_two;
              } else {
                v = pearson.at({a, b});
                f = pearson_valid.at({a, b});
              }
              vals[i * k + j] = v;
              vals[j * k + i] = v;
              flags[i * k + j] = f;
              flags[j * k + i] = f;
            }
          }
          // Entry (i, j) is divided by scale_i * scale_j (pearson is scale-free).
          add_flagged(vals, flags, 1.0);
          break;
        }
      }
      session.ReportProgress(0.65 + 0.25 * static_cast<double>(si + 1) /
                                        static_cast<double>(params.statistics.size()),
                             "mpc");
    }

    // 5. Reveal to each receiver only (data parties in index order, the same at every party).
    std::vector<const Shared*> parts;
    for (size_t i = 0; i < values.size(); ++i) {
      if (!public_values[i]) parts.push_back(&values[i]);
    }
    RingTensor mine;
    bool receiver = false;
    if (!parts.empty()) {
      Shared all = Concat(parts);
      for (const auto& p : parties) {
        if (!session.spec().OutputFor(p)) continue;
        CONSORT_ASSIGN_OR_RETURN(RingTensor got, be.RevealTo(all, index_of(p)));
        if (p == self) mine = std::move(got);
      }
    }
    receiver = session.spec().OutputFor(self) != nullptr;
    if (!receiver) return Json();
    if (!parts.empty() && mine.data.size() != offset) {
      return absl::InternalError("revealed statistics have the wrong size");
    }

    // 6. Decode.
    const int64_t sentinel = int64_t{1} << (26 + internal::kFracBits);
    Json out = Json::object();
    for (size_t si = 0; si < params.statistics.size(); ++si) {
      const Statistic& st = params.statistics[si];
      const Slot& s = slots[si];
      if (public_values[si]) {
        out[st.name] = static_cast<int64_t>(*public_values[si]);
        continue;
      }
      auto decode = [&](size_t k) -> Json {
        uint64_t r = mine.data[s.offset + k];
        if (s.flagged && mine.data[s.offset + s.len + k] == 0) return nullptr;
        if (s.integer) return static_cast<int64_t>(r);
        if ((st.kind == StatKind::kMin || st.kind == StatKind::kMax) &&
            std::llabs(static_cast<int64_t>(r)) >= sentinel) {
          return nullptr;  // no row passed the filters
        }
        return fxp.DecodeOne(r) / s.divide_by;
      };
      if (st.kind == StatKind::kCovariance || st.kind == StatKind::kPearson) {
        const size_t k = st.columns.size();
        Json names = Json::array(), matrix = Json::array();
        for (size_t i = 0; i < k; ++i) {
          names.push_back(st.columns[i].Name());
          Json row = Json::array();
          for (size_t j = 0; j < k; ++j) {
            Json v = decode(i * k + j);
            if (st.kind == StatKind::kCovariance && v.is_number()) {
              v = v.get<double>() / (params.ScaleOf(st.columns[i]) * params.ScaleOf(st.columns[j]));
            }
            row.push_back(v);
          }
          matrix.push_back(row);
        }
        out[st.name] = {{"columns", names}, {"matrix", matrix}};
      } else if (st.kind == StatKind::kHistogram) {
        Json counts = Json::array();
        for (size_t k = 0; k < s.len; ++k) counts.push_back(decode(k));
        out[st.name] = {{"edges", st.edges}, {"counts", counts}};
      } else {
        out[st.name] = decode(0);
      }
    }
    return out;
  }

  // min (or max) of x over the rows with w = 1: rows with w = 0 become +-2^26 (beyond every
  // accepted value), then a tree of LessThan + Select halves the vector each level.
  static StatusOr<Shared> Extreme(Backend& be, const Shared& x, const std::optional<Shared>& w,
                                  bool min) {
    const int64_t big = int64_t{1} << (26 + internal::kFracBits);
    uint64_t s = static_cast<uint64_t>(min ? big : -big);
    size_t n = x.s0.size();
    Shared v = x;
    if (w) {
      CONSORT_ASSIGN_OR_RETURN(Shared d, be.AddPublic(x, Constant(n, 0 - s)));
      CONSORT_ASSIGN_OR_RETURN(Shared m, be.Mul(*w, d));
      CONSORT_ASSIGN_OR_RETURN(v, be.AddPublic(m, Constant(n, s)));
    }
    if (n == 0) {
      Shared zero{Shape::Vector(1), {0}, {}};
      if (Replicated(be)) zero.s1 = {0};
      // Every party holds a zero share; adding the public sentinel once gives the sentinel.
      return be.AddPublic(zero, Constant(1, s));
    }
    while (v.s0.size() > 1) {
      size_t len = v.s0.size();
      size_t half = len / 2;
      Shared a = Slice(v, 0, half), b = Slice(v, half, half);
      CONSORT_ASSIGN_OR_RETURN(Shared lt, be.LessThan(a, b));
      CONSORT_ASSIGN_OR_RETURN(Shared pick, min ? be.Select(lt, a, b) : be.Select(lt, b, a));
      if (len % 2) {
        Shared last = Slice(v, len - 1, 1);
        v = Concat({&pick, &last});
      } else {
        v = std::move(pick);
      }
    }
    return v;
  }

  // Counts per bin [e_j, e_j+1), the last bin closed [e_k-1, e_k], over rows with w = 1.
  static StatusOr<Shared> Histogram(Backend& be, const Shared& x, const std::optional<Shared>& w,
                                    const std::vector<double>& edges, double scale) {
    const mpc::FixedPoint& fxp = be.fxp();
    size_t n = x.s0.size(), k = edges.size();
    // below_j = [x < e_j] for j < k, then above = [e_k-1 < x] computed as [e_last - x < 0].
    std::vector<const Shared*> parts;
    std::vector<Shared> shifted;
    shifted.reserve(k);
    for (size_t j = 0; j < k; ++j) {
      uint64_t e = EncodeOne(fxp, edges[j] * scale);
      if (j + 1 < k) {
        CONSORT_ASSIGN_OR_RETURN(Shared d, be.AddPublic(x, Constant(n, 0 - e)));
        shifted.push_back(std::move(d));
      } else {
        CONSORT_ASSIGN_OR_RETURN(Shared d, be.AddPublic(be.Neg(x), Constant(n, e)));
        shifted.push_back(std::move(d));
      }
    }
    for (const auto& s : shifted) parts.push_back(&s);
    CONSORT_ASSIGN_OR_RETURN(Shared lt, be.LessThanZero(Concat(parts)));
    // bins: below_{j+1} - below_j (j < k-2), last: 1 - above - below_{k-2}.
    std::vector<Shared> bins;
    for (size_t j = 0; j + 1 < k; ++j) {
      Shared lo = Slice(lt, j * n, n);
      Shared hi;
      if (j + 2 < k) {
        hi = Slice(lt, (j + 1) * n, n);
      } else {
        Shared above = Slice(lt, (k - 1) * n, n);
        CONSORT_ASSIGN_OR_RETURN(hi, be.AddPublic(be.Neg(above), Constant(n, 1)));
      }
      CONSORT_ASSIGN_OR_RETURN(Shared bin, be.Sub(hi, lo));
      bins.push_back(std::move(bin));
    }
    std::vector<const Shared*> bp;
    for (const auto& b : bins) bp.push_back(&b);
    Shared all = Concat(bp);
    if (w) {
      CONSORT_ASSIGN_OR_RETURN(all, be.Mul(all, Tile(*w, bins.size())));
    }
    return BlockSums(all, n, bins.size(), Replicated(be));
  }

  engine::OperatorInfo info_;
};

}  // namespace

void RegisterStatsOperators() {
  static std::once_flag once;
  std::call_once(once, [] {
    engine::OperatorRegistry::Global().Register(std::make_unique<JointStatsOperator>());
  });
}

}  // namespace consort::stats
