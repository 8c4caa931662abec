#include "consort/psi/ecdh_psi_cardinality.h"

#include <memory>
#include <mutex>

#include "consort/data/keys.h"
#include "consort/data/table.h"
#include "consort/engine/operator.h"
#include "consort/psi/ecdh_psi.h"
#include "consort/psi/internal/psi_params.h"

namespace consort::psi {
namespace {

constexpr char kSize[] = "size";

class EcdhPsiCardinalityOperator final : public engine::Operator {
 public:
  EcdhPsiCardinalityOperator() {
    info_.name = "psi.cardinality";
    info_.title = "Two-party PSI-cardinality: only the intersection size (shuffled ECDH)";
    info_.description =
        "Counts the keys (one or more columns) present in both parties' datasets without "
        "revealing which ones. Keys are hashed to Curve25519 and blinded with each party's "
        "secret scalar; the doubly-blinded values a receiver gets back are shuffled, so no "
        "receiver learns which of its own rows matched.";
    info_.security_model = "semi-honest; two parties; no trusted third party";
    info_.parameters = "128-bit computational (DDH on the Curve25519 prime-order subgroup, random "
                       "oracle for hash-to-curve); 40-bit statistical for truncated comparisons";
    info_.leaks = "both parties learn both sets' sizes (distinct keys); a receiver of \"size\" "
                  "learns the intersection size and nothing about which rows (its own or the "
                  "peer's) are in it; the coordinator learns nothing about rows";
    info_.outputs = {kSize};
    info_.min_parties = 2;
    info_.max_parties = 2;
  }

  const engine::OperatorInfo& info() const override { return info_; }

  Status Validate(const engine::JobSpec& spec, const engine::CatalogView& catalog) const override {
    CONSORT_RETURN_IF_ERROR(internal::ParseKeyParams(spec, {}).status());
    if (spec.outputs.empty()) {
      return absl::InvalidArgumentError("$.outputs: at least one party must receive \"size\"");
    }
    return internal::ValidateMatchingKeyColumns(spec, catalog);
  }

  Status Run(engine::Session& session) const override {
    const engine::JobSpec& spec = session.spec();
    const std::string& self = session.self();
    const std::string peer = internal::OtherParty(spec, self);
    CONSORT_ASSIGN_OR_RETURN(internal::KeyParams params, internal::ParseKeyParams(spec, {}));
    for (const auto& [party, kind] : spec.outputs) {
      if (kind != kSize) {
        return absl::InvalidArgumentError("$.outputs." + party + ": psi.cardinality offers only "
                                          "\"size\", got \"" + kind + "\"");
      }
    }
    session.ReportProgress(0.0, "loading");
    CONSORT_ASSIGN_OR_RETURN(auto table, session.LoadInput());
    CONSORT_ASSIGN_OR_RETURN(
        data::KeyedRows keys,
        data::ExtractKeys(*table, spec.parties.at(self).columns, params.keys));
    CONSORT_ASSIGN_OR_RETURN(net::Link * link, session.Peer(peer));

    EcdhPsiOptions opts;
    // Only ever kSize or kNone: the shuffled return path (see ecdh_psi.h) is what hides
    // which rows matched, so "intersection" is never accepted here.
    opts.my_output = spec.OutputFor(self) ? PsiOutput::kSize : PsiOutput::kNone;
    opts.peer_output = spec.OutputFor(peer) ? PsiOutput::kSize : PsiOutput::kNone;
    opts.domain = session.job_id();
    opts.cancelled = &session.cancelled();
    opts.progress = [&session](double f) { session.ReportProgress(0.05 + 0.9 * f, "psi"); };
    CONSORT_ASSIGN_OR_RETURN(PsiResult result, RunEcdhPsi(*link, keys.keys, opts));
    if (opts.my_output == PsiOutput::kNone) {
      session.ReportProgress(1.0, "done");
      return OkStatus();
    }
    Json summary = {{"operator", info_.name},
                    {"my_rows", table->num_rows()},
                    {"my_keys", keys.size()},
                    {"peer_keys", result.peer_size},
                    {"intersection_size", result.intersection_size}};
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
