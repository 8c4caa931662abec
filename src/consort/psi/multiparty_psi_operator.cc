#include "consort/psi/multiparty_psi_operator.h"

#include <algorithm>
#include <memory>
#include <mutex>

#include "consort/data/keys.h"
#include "consort/data/table.h"
#include "consort/engine/operator.h"
#include "consort/psi/internal/psi_params.h"
#include "consort/psi/multiparty_psi.h"

namespace consort::psi {
namespace {

constexpr char kIntersection[] = "intersection";
constexpr char kSize[] = "size";

// Peak memory of one psi.multiparty party per row of its input, measured (BENCHMARKS.md,
// consort_unbalanced_bench's k-party phase) with headroom for the loaded dataset.
constexpr uint64_t kMultipartyBytesPerRow = 256;

struct Params {
  data::KeyOptions keys;
  std::string result_name;
  std::string leader;
  size_t memory_budget_mb = 0;
};

PsiOutput OutputOf(const engine::JobSpec& spec, const std::string& party) {
  const std::string* o = spec.OutputFor(party);
  if (!o) return PsiOutput::kNone;
  return *o == kIntersection ? PsiOutput::kIntersection : PsiOutput::kSize;
}

StatusOr<Params> ParseParams(const engine::JobSpec& spec, const std::string& job_id) {
  CONSORT_ASSIGN_OR_RETURN(internal::KeyParams kp,
                           internal::ParseKeyParams(spec, {"result_name", "leader",
                                                           "memory_budget_mb"}));
  Params p{kp.keys, "psi_" + job_id.substr(0, 12), ""};
  CONSORT_ASSIGN_OR_RETURN(p.memory_budget_mb, internal::ParseMemoryBudgetMb(kp));
  if (auto it = kp.extra.find("result_name"); it != kp.extra.end()) {
    if (!it->second.is_string()) {
      return absl::InvalidArgumentError("$.params.result_name must be a string");
    }
    p.result_name = it->second.get<std::string>();
    CONSORT_RETURN_IF_ERROR(engine::ValidateName(p.result_name, "$.params.result_name"));
  }
  const std::vector<std::string> names = spec.PartyNames();
  if (auto it = kp.extra.find("leader"); it != kp.extra.end()) {
    if (!it->second.is_string() ||
        std::find(names.begin(), names.end(), it->second.get<std::string>()) == names.end()) {
      return absl::InvalidArgumentError("$.params.leader must name one of the job's parties");
    }
    p.leader = it->second.get<std::string>();
  } else if (!names.empty()) {
    // The leader learns sub-intersection sizes; one that receives no rows learns no more.
    p.leader = names[0];
    for (const auto& n : names) {
      if (OutputOf(spec, n) != PsiOutput::kIntersection) {
        p.leader = n;
        break;
      }
    }
  }
  return p;
}

class MultipartyPsiOperator final : public engine::Operator {
 public:
  MultipartyPsiOperator() {
    info_.name = "psi.multiparty";
    info_.title = "Private set intersection among 3 to 16 parties (DH ring, Curve25519)";
    info_.description =
        "Finds the rows whose key (one or more columns) appears in EVERY party's dataset. Each "
        "receiver gets its own matching rows (\"intersection\") or only their number "
        "(\"size\"). Each party's keys are hashed to Curve25519 and passed around a ring in "
        "which every party adds its secret exponent (Meadows 1986 / Huberman et al. 1999 "
        "DH-PSI, ring extension of Vaidya and Clifton 2005); a leader compares the fully "
        "encrypted lists and tells each receiver which positions matched.";
    info_.security_model = "semi-honest; 3 to 16 parties, no collusion; no trusted third party";
    info_.parameters =
        "128-bit computational (DDH on the Curve25519 prime-order subgroup, random "
        "oracle for hash-to-curve); 40-bit statistical for truncated comparisons";
    info_.leaks =
        "every party learns every party's number of distinct keys; a receiver of "
        "\"intersection\" learns which of its own rows are in all sets, a receiver of "
        "\"size\" only how many; the leader also learns the intersection size of every "
        "subset of parties, and, if it receives \"intersection\" itself, which of its own "
        "rows lie in each such sub-intersection; the coordinator learns nothing about rows";
    info_.outputs = {kIntersection, kSize};
    info_.min_parties = static_cast<int>(kMultipartyPsiMinParties);
    info_.max_parties = static_cast<int>(kMultipartyPsiMaxParties);
  }

  const engine::OperatorInfo& info() const override { return info_; }

  Status Validate(const engine::JobSpec& spec, const engine::CatalogView& catalog) const override {
    CONSORT_RETURN_IF_ERROR(ParseParams(spec, std::string(64, '0')).status());
    const auto names = spec.PartyNames();
    for (const auto& n : names) {
      if (!spec.parties.at(n).role.empty()) {
        return absl::InvalidArgumentError("$.parties." + n +
                                          ": psi.multiparty takes no role "
                                          "parties; every party brings a dataset");
      }
    }
    if (spec.outputs.empty()) {
      return absl::InvalidArgumentError("$.outputs: at least one party must receive a result");
    }
    // Every party's key columns match the first party's, position by position.
    const auto& first = spec.parties.at(names[0]);
    CONSORT_ASSIGN_OR_RETURN(auto d0, catalog.Dataset(names[0], first.dataset));
    for (size_t p = 1; p < names.size(); ++p) {
      const auto& other = spec.parties.at(names[p]);
      if (other.columns.size() != first.columns.size()) {
        return absl::InvalidArgumentError("key column counts differ: " + names[0] + " lists " +
                                          std::to_string(first.columns.size()) + ", " + names[p] +
                                          " lists " + std::to_string(other.columns.size()));
      }
      CONSORT_ASSIGN_OR_RETURN(auto dp, catalog.Dataset(names[p], other.dataset));
      for (size_t i = 0; i < first.columns.size(); ++i) {
        CONSORT_ASSIGN_OR_RETURN(auto ca, d0.Column(first.columns[i]));
        CONSORT_ASSIGN_OR_RETURN(auto cb, dp.Column(other.columns[i]));
        if (ca.type != cb.type) {
          return absl::InvalidArgumentError("key column types differ: " + names[0] + "." + ca.name +
                                            " is " + ca.type + ", " + names[p] + "." + cb.name +
                                            " is " + cb.type);
        }
      }
    }
    return OkStatus();
  }

  Status Run(engine::Session& session) const override {
    const engine::JobSpec& spec = session.spec();
    const std::string& self = session.self();
    const std::vector<std::string> names = spec.PartyNames();
    CONSORT_ASSIGN_OR_RETURN(Params params, ParseParams(spec, session.job_id()));
    const size_t n = names.size();
    const size_t me = std::find(names.begin(), names.end(), self) - names.begin();
    const size_t leader = std::find(names.begin(), names.end(), params.leader) - names.begin();
    if (me >= n || leader >= n) return absl::InternalError("party not in the spec");

    CONSORT_ASSIGN_OR_RETURN(uint64_t rows, session.InputRows());
    CONSORT_RETURN_IF_ERROR(internal::CheckInMemoryBudget(info_.name, rows, kMultipartyBytesPerRow,
                                                          params.memory_budget_mb));
    session.ReportProgress(0.0, "loading");
    CONSORT_ASSIGN_OR_RETURN(auto table, session.LoadInput());
    CONSORT_ASSIGN_OR_RETURN(data::KeyedRows keys,
                             data::ExtractKeys(*table, spec.parties.at(self).columns, params.keys));
    std::vector<net::Link*> links(n, nullptr);
    for (size_t p : MultipartyPsiPeers(n, me, leader)) {
      CONSORT_ASSIGN_OR_RETURN(links[p], session.Peer(names[p]));
    }
    MultipartyPsiOptions opts;
    opts.self = me;
    opts.leader = leader;
    for (const auto& name : names) opts.outputs.push_back(OutputOf(spec, name));
    opts.domain = session.job_id();
    opts.threads = 2;
    opts.cancelled = &session.cancelled();
    opts.progress = [&session](double f) { session.ReportProgress(0.05 + 0.9 * f, "psi"); };
    CONSORT_ASSIGN_OR_RETURN(MultipartyPsiResult result, RunMultipartyPsi(links, keys.keys, opts));

    const PsiOutput mine = opts.outputs[me];
    if (mine == PsiOutput::kNone) {
      session.ReportProgress(1.0, "done");
      return OkStatus();
    }
    session.ReportProgress(0.95, "storing");
    Json sizes = Json::object();
    for (size_t p = 0; p < n; ++p) sizes[names[p]] = result.set_sizes[p];
    Json summary = {{"operator", info_.name},  {"my_rows", table->num_rows()},
                    {"my_keys", keys.size()},  {"party_keys", sizes},
                    {"leader", params.leader}, {"intersection_size", result.intersection_size}};
    if (mine == PsiOutput::kIntersection) {
      std::vector<uint32_t> rows;
      for (size_t k : result.matched) {
        if (k >= keys.size()) return absl::InternalError("matched index out of range");
        auto r = keys.RowsFor(k);
        rows.insert(rows.end(), r.begin(), r.end());
      }
      std::sort(rows.begin(), rows.end());
      CONSORT_ASSIGN_OR_RETURN(data::Table matched, table->SelectRows(rows));
      CONSORT_RETURN_IF_ERROR(session.StoreTable(params.result_name, matched));
      summary["result_dataset"] = params.result_name;
      summary["matched_rows"] = rows.size();
    }
    CONSORT_RETURN_IF_ERROR(session.StoreSummary(summary));
    session.ReportProgress(1.0, "done");
    return OkStatus();
  }

 private:
  engine::OperatorInfo info_;
};

}  // namespace

void RegisterMultipartyPsiOperator() {
  static std::once_flag once;
  std::call_once(once, [] {
    engine::OperatorRegistry::Global().Register(std::make_unique<MultipartyPsiOperator>());
  });
}

}  // namespace consort::psi
