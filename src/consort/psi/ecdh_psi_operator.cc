#include "consort/psi/ecdh_psi_operator.h"
#include "consort/psi/psi_operator.h"

#include <algorithm>
#include <mutex>

#include "consort/data/keys.h"
#include "consort/data/table.h"
#include "consort/engine/operator.h"
#include "consort/common/files.h"
#include "consort/psi/bucketed_psi.h"
#include "consort/psi/ecdh_psi.h"
#include "consort/psi/internal/psi_params.h"
#include "consort/psi/ecdh_psi_cardinality.h"
#include "consort/psi/kkrt_psi_operator.h"
#include "consort/psi/psi_sum_operator.h"
#include "consort/psi/multiparty_psi_operator.h"
#include "consort/psi/unbalanced_psi_operator.h"

namespace consort::psi {
namespace {

constexpr char kIntersection[] = "intersection";
constexpr char kSize[] = "size";
// Rows per input batch while streaming.
constexpr size_t kBatchRows = 65536;
// Matched rows up to this many are stored as a Table (typed, with source lines); more go
// through a CSV file in the scratch directory (Session::StoreTableFile).
constexpr uint64_t kInMemoryResultRows = uint64_t{1} << 20;

PsiOutput OutputOf(const engine::JobSpec& spec, const std::string& party) {
  const std::string* o = spec.OutputFor(party);
  if (!o) return PsiOutput::kNone;
  return *o == kIntersection ? PsiOutput::kIntersection : PsiOutput::kSize;
}

struct Params {
  data::KeyOptions keys;
  std::string result_name;
  size_t memory_budget_mb = kDefaultMemoryBudgetMb;
  uint32_t buckets = 0;  // 0 = from the budget
};

StatusOr<Params> ParseParams(const engine::JobSpec& spec, const std::string& job_id) {
  CONSORT_ASSIGN_OR_RETURN(internal::KeyParams kp,
                           internal::ParseKeyParams(spec, {"result_name", "memory_budget_mb",
                                                           "buckets"}));
  Params p{kp.keys, "psi_" + job_id.substr(0, 12)};
  if (auto it = kp.extra.find("result_name"); it != kp.extra.end()) {
    if (!it->second.is_string()) return absl::InvalidArgumentError("$.params.result_name must be a string");
    p.result_name = it->second.get<std::string>();
    CONSORT_RETURN_IF_ERROR(engine::ValidateName(p.result_name, "$.params.result_name"));
  }
  CONSORT_ASSIGN_OR_RETURN(p.memory_budget_mb, internal::ParseMemoryBudgetMb(kp));
  if (auto it = kp.extra.find("buckets"); it != kp.extra.end()) {
    if (!it->second.is_number_integer() || it->second.get<int64_t>() < 1 ||
        it->second.get<int64_t>() > int64_t{kMaxBuckets}) {
      return absl::InvalidArgumentError("$.params.buckets must be an integer in [1, " +
                                        std::to_string(kMaxBuckets) + "]");
    }
    p.buckets = it->second.get<uint32_t>();
  }
  return p;
}

class EcdhPsiOperator final : public engine::Operator {
 public:
  EcdhPsiOperator() {
    info_.name = "psi.ecdh";
    info_.title = "Two-party private set intersection (ECDH, Curve25519)";
    info_.description =
        "Finds the rows whose key (one or more columns) appears in both parties' datasets. Each "
        "receiver gets either its own matching rows as a new local dataset (\"intersection\") or "
        "only the number of matches (\"size\"). Keys are hashed to Curve25519 (RFC 9380 "
        "Elligator 2) and blinded with each party's secret scalar; only doubly-blinded values "
        "are compared.";
    info_.security_model = "semi-honest; two parties; no trusted third party";
    info_.parameters = "128-bit computational (DDH on the Curve25519 prime-order subgroup, random "
                       "oracle for hash-to-curve); 40-bit statistical for truncated comparisons";
    info_.leaks = "both parties learn both sets' row counts and distinct-key counts, per bucket "
                  "(buckets are a public hash of the key, keyed by the job id; B follows from both "
                  "row counts, key bytes in MiB and memory budgets); a receiver of "
                  "\"intersection\" learns which of its own rows matched; a receiver of \"size\" "
                  "learns the intersection size of each bucket when the peer receives \"intersection\", "
                  "otherwise only the total (size-only flow: counts never per bucket); the "
                  "coordinator learns nothing about rows";
    info_.outputs = {kIntersection, kSize};
    info_.min_parties = 2;
    info_.max_parties = 2;
  }

  const engine::OperatorInfo& info() const override { return info_; }

  Status Validate(const engine::JobSpec& spec, const engine::CatalogView& catalog) const override {
    CONSORT_RETURN_IF_ERROR(ParseParams(spec, std::string(64, '0')).status());
    return internal::ValidateMatchingKeyColumns(spec, catalog);
  }

  Status Run(engine::Session& session) const override {
    const engine::JobSpec& spec = session.spec();
    const std::string& self = session.self();
    const std::string peer = internal::OtherParty(spec, self);
    CONSORT_ASSIGN_OR_RETURN(Params params, ParseParams(spec, session.job_id()));
    session.ReportProgress(0.0, "reading keys");
    CONSORT_ASSIGN_OR_RETURN(std::string scratch, session.ScratchDir());
    CONSORT_ASSIGN_OR_RETURN(std::string fingerprint, session.InputFingerprint());
    InputOpener open = [&session]() { return session.OpenInput(kBatchRows); };

    BucketedPsiOptions opts;
    opts.my_output = OutputOf(spec, self);
    opts.peer_output = OutputOf(spec, peer);
    opts.domain = session.job_id();
    opts.key_columns = spec.parties.at(self).columns;
    opts.keys = params.keys;
    opts.memory_budget_mb = params.memory_budget_mb;
    opts.force_buckets = params.buckets;
    opts.scratch_dir = scratch;
    opts.input_fingerprint = fingerprint;
    opts.cancelled = &session.cancelled();
    opts.progress = [&session](double f, const std::string& stage) {
      session.ReportProgress(0.95 * f, stage);
    };
    // Every key is validated (and duplicates found) before any cryptography, so bad input
    // fails in seconds; meanwhile keepalives hold the link open.
    CONSORT_ASSIGN_OR_RETURN(net::Link * link, session.Peer(peer));
    CONSORT_ASSIGN_OR_RETURN(BucketedPsiResult result, RunBucketedEcdhPsi(*link, open, opts));

    session.ReportProgress(0.95, "storing");
    Json summary = {{"operator", info_.name},
                    {"my_rows", result.my_rows},
                    {"my_keys", result.my_keys},
                    {"peer_keys", result.peer_keys},
                    {"buckets", result.buckets},
                    {"resumed_at_bucket", result.first_bucket},
                    {"buckets_run", result.buckets_run}};
    if (!result.checkpoint_ignored.empty()) {
      summary["checkpoint_ignored"] = result.checkpoint_ignored;
    }
    if (opts.my_output == PsiOutput::kNone) {
      session.ReportProgress(1.0, "done");
      return OkStatus();
    }
    summary["intersection_size"] = result.intersection_size;
    if (opts.my_output == PsiOutput::kIntersection) {
      if (result.matched_rows <= kInMemoryResultRows) {
        CONSORT_ASSIGN_OR_RETURN(
            data::Table matched,
            CollectMatchedRows(open, result.matched_rows_path, result.matched_rows));
        if (matched.num_columns() == 0) {
          // An input without rows yields no batch to take the columns from.
          CONSORT_ASSIGN_OR_RETURN(auto table, session.LoadInput());
          CONSORT_ASSIGN_OR_RETURN(matched, table->SelectRows({}));
        }
        CONSORT_RETURN_IF_ERROR(session.StoreTable(params.result_name, matched));
      } else {
        const std::string csv = JoinPath(scratch, "result.csv");
        CONSORT_RETURN_IF_ERROR(WriteMatchedRowsCsv(open, result.matched_rows_path,
                                                    result.matched_rows,
                                                    params.memory_budget_mb, csv)
                                    .status());
        CONSORT_RETURN_IF_ERROR(session.StoreTableFile(params.result_name, csv));
      }
      summary["result_dataset"] = params.result_name;
      summary["matched_rows"] = result.matched_rows;
    }
    CONSORT_RETURN_IF_ERROR(session.StoreSummary(summary));
    session.ReportProgress(1.0, "done");
    return OkStatus();
  }

 private:
  engine::OperatorInfo info_;
};

}  // namespace

void RegisterPsiOperators() {
  static std::once_flag once;
  std::call_once(once, [] {
    engine::OperatorRegistry::Global().Register(std::make_unique<EcdhPsiOperator>());
  });
  RegisterPsiCardinalityOperator();
  RegisterPsiSumOperator();
  RegisterKkrtPsiOperator();
  RegisterMultipartyPsiOperator();
  RegisterUnbalancedPsiOperator();
  RegisterAutoPsiOperator();
}

}  // namespace consort::psi
