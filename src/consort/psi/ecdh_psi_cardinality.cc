#include "consort/psi/ecdh_psi_cardinality.h"

#include <memory>
#include <mutex>

#include "consort/data/keys.h"
#include "consort/data/table.h"
#include "consort/engine/operator.h"
#include "consort/psi/bucketed_psi.h"
#include "consort/psi/internal/psi_params.h"

namespace consort::psi {
namespace {

constexpr char kSize[] = "size";
// Rows per input batch while streaming.
constexpr size_t kBatchRows = 65536;

class EcdhPsiCardinalityOperator final : public engine::Operator {
 public:
  EcdhPsiCardinalityOperator() {
    info_.name = "psi.cardinality";
    info_.title = "Two-party PSI-cardinality: only the intersection size (shuffled ECDH)";
    info_.description =
        "Counts the keys (one or more columns) present in both parties' datasets without "
        "revealing which ones. Keys are hashed to Curve25519 and blinded with each party's "
        "secret scalar; the doubly-blinded values a receiver compares are sorted by value, so no "
        "receiver learns which of its own rows matched. Streams any input size within "
        "memory_budget_mb (default 1024) per party, spilling to the node's scratch directory, "
        "and resumes an interrupted run from its checkpoint.";
    info_.security_model = "semi-honest; two parties; no trusted third party";
    info_.parameters = "128-bit computational (DDH on the Curve25519 prime-order subgroup, random "
                       "oracle for hash-to-curve); 40-bit statistical for truncated comparisons "
                       "over all pairs; params: duplicates, trim, casefold, memory_budget_mb";
    info_.leaks = "both parties learn both sets' row counts and distinct-key counts; a receiver "
                  "of \"size\" learns the intersection size and nothing about which rows (its "
                  "own or the peer's) are in it, not even per bucket; the coordinator learns "
                  "nothing about rows";
    info_.outputs = {kSize};
    info_.min_parties = 2;
    info_.max_parties = 2;
  }

  const engine::OperatorInfo& info() const override { return info_; }

  Status Validate(const engine::JobSpec& spec, const engine::CatalogView& catalog) const override {
    CONSORT_ASSIGN_OR_RETURN(internal::KeyParams params,
                             internal::ParseKeyParams(spec, {"memory_budget_mb"}));
    CONSORT_RETURN_IF_ERROR(internal::ParseMemoryBudgetMb(params).status());
    if (spec.outputs.empty()) {
      return absl::InvalidArgumentError("$.outputs: at least one party must receive \"size\"");
    }
    return internal::ValidateMatchingKeyColumns(spec, catalog);
  }

  Status Run(engine::Session& session) const override {
    const engine::JobSpec& spec = session.spec();
    const std::string& self = session.self();
    const std::string peer = internal::OtherParty(spec, self);
    CONSORT_ASSIGN_OR_RETURN(internal::KeyParams params,
                             internal::ParseKeyParams(spec, {"memory_budget_mb"}));
    for (const auto& [party, kind] : spec.outputs) {
      if (kind != kSize) {
        return absl::InvalidArgumentError("$.outputs." + party + ": psi.cardinality offers only "
                                          "\"size\", got \"" + kind + "\"");
      }
    }
    CONSORT_ASSIGN_OR_RETURN(size_t budget, internal::ParseMemoryBudgetMb(params));
    session.ReportProgress(0.0, "reading keys");
    CONSORT_ASSIGN_OR_RETURN(std::string scratch, session.ScratchDir());
    CONSORT_ASSIGN_OR_RETURN(std::string fingerprint, session.InputFingerprint());
    InputOpener open = [&session]() { return session.OpenInput(kBatchRows); };

    BucketedPsiOptions opts;
    // Only ever kSize or kNone: with no "intersection" receiver the bucketed run takes the
    // size-only flow (internal/size_only_psi.h), whose sorted returns hide which rows matched.
    opts.my_output = spec.OutputFor(self) ? PsiOutput::kSize : PsiOutput::kNone;
    opts.peer_output = spec.OutputFor(peer) ? PsiOutput::kSize : PsiOutput::kNone;
    opts.domain = session.job_id();
    opts.key_columns = spec.parties.at(self).columns;
    opts.keys = params.keys;
    opts.memory_budget_mb = budget;
    opts.scratch_dir = scratch;
    opts.input_fingerprint = fingerprint;
    opts.cancelled = &session.cancelled();
    opts.progress = [&session](double f, const std::string& stage) {
      session.ReportProgress(0.99 * f, stage);
    };
    CONSORT_ASSIGN_OR_RETURN(net::Link * link, session.Peer(peer));
    CONSORT_ASSIGN_OR_RETURN(BucketedPsiResult result, RunBucketedEcdhPsi(*link, open, opts));
    if (opts.my_output == PsiOutput::kNone) {
      session.ReportProgress(1.0, "done");
      return OkStatus();
    }
    Json summary = {{"operator", info_.name},
                    {"my_rows", result.my_rows},
                    {"my_keys", result.my_keys},
                    {"peer_keys", result.peer_keys},
                    {"intersection_size", result.intersection_size},
                    {"partitions", result.buckets},
                    {"masking_resumed", result.masking_resumed},
                    {"peer_partitions_resumed", result.peer_partitions_resumed}};
    CONSORT_RETURN_IF_ERROR(session.StoreSummary(summary));
    session.ReportProgress(1.0, "done");
    return OkStatus();
  }

 private:
  engine::OperatorInfo info_;
};

}  // namespace

void RegisterPsiCardinalityOperator() {
  static std::once_flag once;
  std::call_once(once, [] {
    engine::OperatorRegistry::Global().Register(std::make_unique<EcdhPsiCardinalityOperator>());
  });
}

}  // namespace consort::psi
