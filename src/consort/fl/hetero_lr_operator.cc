#include "consort/fl/hetero_lr_operator.h"

#include <memory>
#include <mutex>
#include <set>

#include "consort/crypto/paillier.h"
#include "consort/data/keys.h"
#include "consort/engine/operator.h"
#include "consort/fl/hetero_lr.h"
#include "consort/fl/internal/lr_loop.h"
#include "consort/fl/metrics.h"
#include "consort/fl/table_matrix.h"
#include "consort/mpc/job_backend.h"
#include "consort/psi/align.h"

namespace consort::fl {
namespace {

constexpr char kSummary[] = "summary";
constexpr char kScores[] = "scores";
constexpr char kModelKind[] = "fl.hetero_lr";

Status Bad(const std::string& field, const std::string& why) {
  return absl::InvalidArgumentError("$.params." + field + " " + why);
}

// The data parties of a spec: InvalidArgument unless two or three (a guest and one or two
// hosts).
StatusOr<std::vector<std::string>> DataParties(const engine::JobSpec& spec) {
  std::vector<std::string> d = spec.DataPartyNames();
  if (d.size() != 2 && d.size() != 3) {
    return absl::InvalidArgumentError("fl.hetero_lr needs two or three data parties (a guest and "
                                      "one or two hosts), got " + std::to_string(d.size()));
  }
  return d;
}

// id_columns: a list (same names everywhere) or {"party": [names]}.
StatusOr<std::map<std::string, std::vector<std::string>>> ParseIdColumns(
    const engine::JobSpec& spec, const std::vector<std::string>& parties) {
  if (!spec.params.contains("id_columns")) return Bad("id_columns", "is required");
  const Json& j = spec.params["id_columns"];
  auto list = [](const Json& a, const std::string& field) -> StatusOr<std::vector<std::string>> {
    if (!a.is_array() || a.empty()) return Bad(field, "must be a non-empty list of column names");
    std::vector<std::string> out;
    for (const Json& v : a) {
      if (!v.is_string() || v.get<std::string>().empty()) {
        return Bad(field, "must list column names (strings)");
      }
      out.push_back(v.get<std::string>());
    }
    return out;
  };
  std::map<std::string, std::vector<std::string>> out;
  if (j.is_array()) {
    CONSORT_ASSIGN_OR_RETURN(auto cols, list(j, "id_columns"));
    for (const auto& p : parties) out[p] = cols;
  } else if (j.is_object()) {
    for (const auto& p : parties) {
      if (!j.contains(p)) return Bad("id_columns." + p, "is missing");
      CONSORT_ASSIGN_OR_RETURN(out[p], list(j[p], "id_columns." + p));
    }
    if (j.size() != parties.size()) return Bad("id_columns", "names a party that has no data");
  } else {
    return Bad("id_columns", "must be a list or an object of lists");
  }
  for (const auto& [p, cols] : out) {
    if (cols.size() != out.begin()->second.size()) {
      return Bad("id_columns", "must have the same number of columns at every party");
    }
  }
  return out;
}

StatusOr<std::string> StringParam(const Json& params, const std::string& key, bool required,
                                  const std::string& def = "") {
  if (!params.contains(key)) {
    if (required) return Bad(key, "is required");
    return def;
  }
  if (!params[key].is_string()) return Bad(key, "must be a string");
  return params[key].get<std::string>();
}

StatusOr<bool> BoolParam(const Json& params, const std::string& key, bool def) {
  if (!params.contains(key)) return def;
  if (!params[key].is_boolean()) return Bad(key, "must be true or false");
  return params[key].get<bool>();
}

// The columns of `party` in the spec minus its id columns (and the label at the guest).
std::vector<std::string> FeatureColumns(const engine::JobSpec& spec, const std::string& party,
                                        const std::vector<std::string>& ids,
                                        const std::string& label) {
  std::vector<std::string> out;
  for (const auto& c : spec.parties.at(party).columns) {
    if (std::find(ids.begin(), ids.end(), c) != ids.end() || c == label) continue;
    out.push_back(c);
  }
  return out;
}

Status CheckColumnsListed(const engine::JobSpec& spec, const std::string& party,
                          const std::vector<std::string>& cols, const std::string& what) {
  const auto& listed = spec.parties.at(party).columns;
  for (const auto& c : cols) {
    if (std::find(listed.begin(), listed.end(), c) == listed.end()) {
      return absl::InvalidArgumentError("$.parties." + party + ".columns must list the " + what +
                                        " '" + c + "'");
    }
  }
  return OkStatus();
}

Status CheckReceivers(const engine::JobSpec& spec, const std::vector<std::string>& data_parties,
                      const char* kind) {
  for (const auto& [party, k] : spec.outputs) {
    if (k != kind) {
      return absl::InvalidArgumentError("$.outputs." + party + " must be \"" + kind + "\", got \"" +
                                        k + "\"");
    }
    if (std::find(data_parties.begin(), data_parties.end(), party) == data_parties.end()) {
      return absl::InvalidArgumentError("$.outputs." + party +
                                        ": only the guest and the host may receive \"" + kind +
                                        "\"");
    }
  }
  return OkStatus();
}

Status CheckNumericColumns(const engine::CatalogView& catalog, const engine::JobSpec& spec,
                           const std::string& party, const std::vector<std::string>& cols) {
  CONSORT_ASSIGN_OR_RETURN(auto ds, catalog.Dataset(party, spec.parties.at(party).dataset));
  for (const auto& c : cols) {
    CONSORT_ASSIGN_OR_RETURN(auto info, ds.Column(c));
    if (info.type != "int64" && info.type != "float64") {
      return absl::InvalidArgumentError(party + "." + ds.name + " column '" + c + "' is " +
                                        info.type + "; features and labels must be numeric");
    }
  }
  return OkStatus();
}

// ------------------------------------------------------------------ train

struct TrainParams {
  std::string guest, label, model_name;
  std::vector<std::string> hosts;
  std::map<std::string, std::vector<std::string>> ids;
  std::map<std::string, std::vector<std::string>> features;
  HeteroLrVariant variant = kDefaultHeteroLrVariant;
  bool aligned = false;
  int paillier_bits = crypto::kPaillierDefaultBits;
  MpcSigmoid sigmoid = MpcSigmoid::kAccurate;
  LrParams lr;
};

const std::set<std::string>& TrainParamKeys() {
  static const std::set<std::string> keys = {
      "guest", "label_column", "id_columns", "model_name", "variant", "aligned",
      "paillier_bits", "sigmoid", "epochs", "batch_size", "learning_rate", "schedule", "decay", "l1", "l2",
      "tolerance", "validation_fraction", "early_stopping_rounds", "fit_intercept",
      "standardize", "seed"};
  return keys;
}

StatusOr<TrainParams> ParseTrainParams(const engine::JobSpec& spec) {
  const Json& j = spec.params;
  if (!j.is_object()) return absl::InvalidArgumentError("$.params must be an object");
  for (const auto& [k, v] : j.items()) {
    if (!TrainParamKeys().count(k)) return Bad(k, "is not a parameter of fl.hetero_lr.train");
  }
  TrainParams p;
  CONSORT_ASSIGN_OR_RETURN(auto parties, DataParties(spec));
  CONSORT_ASSIGN_OR_RETURN(p.guest, StringParam(j, "guest", true));
  if (std::find(parties.begin(), parties.end(), p.guest) == parties.end()) {
    return Bad("guest", "must name one of the two data parties");
  }
  for (const auto& party : parties) {
    if (party != p.guest) p.hosts.push_back(party);
  }
  CONSORT_ASSIGN_OR_RETURN(p.label, StringParam(j, "label_column", true));
  CONSORT_ASSIGN_OR_RETURN(p.model_name, StringParam(j, "model_name", true));
  if (Status st = engine::ValidateName(p.model_name, "$.params.model_name"); !st.ok()) return st;
  CONSORT_ASSIGN_OR_RETURN(std::string variant, StringParam(j, "variant", false, "mpc"));
  auto v = ParseHeteroLrVariant(variant);
  if (!v.ok()) return Bad("variant", "must be \"mpc\" or \"paillier\"");
  p.variant = *v;
  CONSORT_ASSIGN_OR_RETURN(p.aligned, BoolParam(j, "aligned", false));
  CONSORT_ASSIGN_OR_RETURN(std::string sigmoid, StringParam(j, "sigmoid", false, "accurate"));
  auto sg = ParseMpcSigmoid(sigmoid);
  if (!sg.ok()) return Bad("sigmoid", "must be \"accurate\" or \"piecewise\"");
  p.sigmoid = *sg;
  if (j.contains("paillier_bits")) {
    const Json& b = j["paillier_bits"];
    if (!b.is_number_integer() || b.get<int64_t>() < crypto::kPaillierMinBits ||
        b.get<int64_t>() > crypto::kPaillierMaxBits || b.get<int64_t>() % 16 != 0) {
      return Bad("paillier_bits", "must be a multiple of 16 in [" +
                                      std::to_string(crypto::kPaillierMinBits) + ", " +
                                      std::to_string(crypto::kPaillierMaxBits) + "]");
    }
    p.paillier_bits = static_cast<int>(b.get<int64_t>());
  }
  Json lr = Json::object();
  for (const auto& [k, val] : j.items()) {
    static const std::set<std::string> ours = {"guest", "label_column", "id_columns", "model_name",
                                               "variant", "aligned", "paillier_bits",
                                               "sigmoid"};
    if (!ours.count(k)) lr[k] = val;
  }
  auto lp = LrParamsFromJson(lr);
  if (!lp.ok()) return absl::InvalidArgumentError("$.params: " + std::string(lp.status().message()));
  p.lr = *lp;
  CONSORT_ASSIGN_OR_RETURN(p.ids, ParseIdColumns(spec, parties));
  for (const auto& party : parties) {
    CONSORT_RETURN_IF_ERROR(CheckColumnsListed(spec, party, p.ids[party], "id column"));
    p.features[party] = FeatureColumns(spec, party, p.ids[party], party == p.guest ? p.label : "");
    if (p.features[party].empty()) {
      return absl::InvalidArgumentError("$.parties." + party +
                                        ".columns lists no feature column (besides ids/label)");
    }
  }
  CONSORT_RETURN_IF_ERROR(CheckColumnsListed(spec, p.guest, {p.label}, "label column"));
  const auto dealers = spec.PartiesWithRole(mpc::kDealerRole);
  if (parties.size() == 3) {
    // A guest and two hosts: three-party replicated sharing, no dealer.
    if (p.variant != HeteroLrVariant::kMpc) {
      return absl::InvalidArgumentError("two hosts need variant \"mpc\" (three-party sharing)");
    }
    if (!dealers.empty()) {
      return absl::InvalidArgumentError("three data parties (one guest, two hosts) take no dealer");
    }
  } else if (p.variant == HeteroLrVariant::kMpc && dealers.size() != 1) {
    return absl::InvalidArgumentError("variant \"mpc\" needs exactly one party with "
                                      "{\"role\": \"dealer\"}");
  }
  if (p.variant == HeteroLrVariant::kPaillier && !dealers.empty()) {
    return absl::InvalidArgumentError("variant \"paillier\" takes no dealer party");
  }
  CONSORT_RETURN_IF_ERROR(CheckReceivers(spec, parties, kSummary));
  return p;
}

Json MetricsJson(const std::vector<double>& scores, const std::vector<double>& labels) {
  if (scores.empty()) return Json();
  auto m = EvaluateBinary(scores, labels);
  if (!m.ok()) return Json{{"error", std::string(m.status().message())}};
  return Json{{"rows", scores.size()},
              {"auc", m->auc},
              {"ks", m->ks},
              {"log_loss", m->log_loss},
              {"accuracy", m->at_half.accuracy},
              {"precision", m->at_half.precision},
              {"recall", m->at_half.recall}};
}

class TrainOperator final : public engine::Operator {
 public:
  TrainOperator() {
    info_.name = "fl.hetero_lr.train";
    info_.title = "Vertical federated logistic regression (guest + 1-2 hosts, MPC or Paillier)";
    info_.description =
        "A guest (labels and some features) and a host (more features) align their common rows "
        "by PSI on the id columns and train a logistic regression by mini-batch gradient "
        "descent without exchanging raw features or labels; each party keeps and stores its own "
        "weights (the guest also the intercept). Variant \"mpc\" (default, faster): two-party "
        "secret sharing with a dealer, piecewise-linear sigmoid; variant \"paillier\": each "
        "party's Paillier key, Taylor sigmoid, masked encrypted gradients (as FATE).";
    info_.security_model = "semi-honest; a guest and one host (mpc: plus a dealer - a node, or "
                           "the coordinator as party \"coordinator\" - that colludes with neither; paillier: no third party) or a guest and two hosts "
                           "(mpc, three-party replicated sharing: honest majority, no two "
                           "parties collude)";
    info_.parameters = "128-bit computational (DDH on Curve25519 for PSI; AES-128 PRG for 2PC); "
                       "Paillier 2048-bit by default (112-bit, DJN short-exponent noise); "
                       "masks uniform (perfect hiding); 40-bit statistical (PSI)";
    info_.leaks = "PSI alignment: each party learns which of its rows are common and both set "
                  "sizes; training: each party learns its own gradient X_i^T (p - y) summed over "
                  "every mini-batch (hence its own weights' trajectory); the guest learns the "
                  "hosts' partial scores sum_h X_h w_h on the validation rows each epoch when "
                  "tolerance or early stopping is on, and on every aligned row after the last "
                  "epoch (for the summary metrics) - with two hosts only their sum; summary receivers learn the metrics; the "
                  "dealer learns only shapes; the coordinator learns nothing about rows";
    info_.outputs = {kSummary};
    info_.roles = {mpc::kDealerRole};
  }
  const engine::OperatorInfo& info() const override { return info_; }

  Status Validate(const engine::JobSpec& spec, const engine::CatalogView& catalog) const override {
    CONSORT_ASSIGN_OR_RETURN(TrainParams p, ParseTrainParams(spec));
    for (const auto& [party, cols] : p.features) {
      CONSORT_RETURN_IF_ERROR(CheckNumericColumns(catalog, spec, party, cols));
    }
    return CheckNumericColumns(catalog, spec, p.guest, {p.label});
  }

  Status Run(engine::Session& session) const override {
    const engine::JobSpec& spec = session.spec();
    CONSORT_ASSIGN_OR_RETURN(TrainParams p, ParseTrainParams(spec));
    const std::string& self = session.self();
    CONSORT_ASSIGN_OR_RETURN(mpc::FixedPoint fxp, mpc::FixedPoint::Create());
    if (spec.parties.at(self).role == mpc::kDealerRole) {
      session.ReportProgress(0.0, "dealer");
      CONSORT_ASSIGN_OR_RETURN(auto jb, mpc::JobBackend::Open(session, fxp));
      CONSORT_RETURN_IF_ERROR(jb->ServeDealer());
      session.ReportProgress(1.0, "done");
      return OkStatus();
    }
    const bool guest = self == p.guest;
    // The host's peer is the guest; the guest's first peer is the (first) host.
    const std::string peer_name = guest ? p.hosts[0] : p.guest;
    session.ReportProgress(0.0, "loading");
    CONSORT_ASSIGN_OR_RETURN(auto table, session.LoadInput());
    // Check the columns before any protocol step.
    CONSORT_ASSIGN_OR_RETURN(Matrix all_x, TableToMatrix(*table, p.features[self]));
    std::vector<double> all_y;
    if (guest) {
      CONSORT_ASSIGN_OR_RETURN(all_y, TableToLabels(*table, p.label));
    }
    std::vector<size_t> rows;
    if (p.aligned) {
      for (size_t i = 0; i < table->num_rows(); ++i) rows.push_back(i);
    } else {
      CONSORT_ASSIGN_OR_RETURN(
          auto aligned, psi::AlignSessionRows(session, *table, p.ids[self], data::KeyOptions{},
                                              spec.DataPartyNames(), 0.02, 0.2));
      rows.assign(aligned.begin(), aligned.end());
    }
    if (session.cancelled().load()) return absl::CancelledError("job cancelled");
    Matrix x = all_x.Rows(rows);
    std::vector<double> y;
    for (size_t r : rows) {
      if (guest) y.push_back(all_y[r]);
    }
    CONSORT_ASSIGN_OR_RETURN(net::Link * peer, session.Peer(peer_name));
    HeteroLrHooks hooks;
    hooks.cancelled = &session.cancelled();
    hooks.progress = [&](double f) { session.ReportProgress(0.2 + 0.75 * f, "training"); };
    // Per-epoch checkpoints: a retried job (same id, same scratch directory) resumes.
    CONSORT_ASSIGN_OR_RETURN(hooks.checkpoint_dir, session.ScratchDir());
    const HeteroRole role = guest ? HeteroRole::kGuest : HeteroRole::kHost;
    StatusOr<HeteroLrResult> result = absl::UnknownError("not run");
    if (p.variant == HeteroLrVariant::kMpc) {
      CONSORT_ASSIGN_OR_RETURN(auto jb, mpc::JobBackend::Open(session, fxp));
      const auto& dp = jb->plan().data_parties;
      MpcOptions mo;
      mo.guest_party = static_cast<int>(std::find(dp.begin(), dp.end(), p.guest) - dp.begin());
      mo.sigmoid = p.sigmoid;
      mo.self_party = jb->party();
      std::vector<net::Link*> peers;
      if (guest) {
        for (const auto& party : dp) {  // hosts in backend-index order
          if (party == p.guest) continue;
          CONSORT_ASSIGN_OR_RETURN(net::Link * l, session.Peer(party));
          peers.push_back(l);
        }
      } else {
        peers.push_back(peer);
      }
      result = TrainHeteroLrMpc(jb->backend(), role, peers, x, guest ? &y : nullptr, p.lr, mo,
                                hooks);
      Status close = jb->Close();
      if (result.ok() && !close.ok()) return close;
    } else {
      PaillierOptions opt;
      opt.key_bits = p.paillier_bits;
      result = TrainHeteroLrPaillier(role, *peer, x, guest ? &y : nullptr, p.lr, opt, hooks);
    }
    if (!result.ok()) return result.status();

    Json summary;
    if (guest) {
      summary = {{"operator", info_.name},
                 {"model_name", p.model_name},
                 {"variant", p.variant == HeteroLrVariant::kMpc ? "mpc" : "paillier"},
                 {"aligned_rows", rows.size()},
                 {"epochs_run", result->report.epochs_run},
                 {"resumed_from_epoch", result->resumed_from_epoch},
                 {"converged", result->report.converged},
                 {"early_stopped", result->report.early_stopped},
                 {"monitored_loss", result->report.monitored_loss}};
      std::vector<double> ty, vy;
      for (size_t r : result->report.train_rows) ty.push_back(y[r]);
      for (size_t r : result->report.validation_rows) vy.push_back(y[r]);
      summary["train"] = MetricsJson(result->train_scores, ty);
      summary["validation"] = MetricsJson(result->validation_scores, vy);
    }
    // A host receives the summary from the guest only if it is a receiver.
    for (const auto& host : p.hosts) {
      if (spec.OutputFor(host) == nullptr || (!guest && host != self)) continue;
      if (guest) {
        CONSORT_ASSIGN_OR_RETURN(net::Link * to_host, session.Peer(host));
        CONSORT_RETURN_IF_ERROR(to_host->Send(AsBytes(summary.dump())));
      } else {
        CONSORT_ASSIGN_OR_RETURN(Bytes msg, peer->Recv());
        auto parsed = ParseJson(ToString(msg), "summary");
        if (!parsed.ok() || !parsed->is_object()) {
          return absl::InvalidArgumentError("fl.hetero_lr: malformed summary from the guest");
        }
        summary = *parsed;
      }
    }
    Json metadata = {{"kind", kModelKind},
                     {"role", guest ? "guest" : "host"},
                     {"training_job", session.job_id()},
                     {"variant", p.variant == HeteroLrVariant::kMpc ? "mpc" : "paillier"},
                     {"guest", p.guest},
                     {"hosts", p.hosts},
                     {"feature_columns", p.features[self]},
                     {"id_columns", p.ids[self]},
                     {"params", LrParamsToJson(p.lr)},
                     {"epochs_run", result->report.epochs_run}};
    if (guest) {
      metadata["label_column"] = p.label;
      metadata["metrics"] = {{"train", summary["train"]}, {"validation", summary["validation"]}};
    }
    CONSORT_RETURN_IF_ERROR(
        session.StoreModel(p.model_name, metadata, result->model.Serialize()));
    if (spec.OutputFor(self) != nullptr) CONSORT_RETURN_IF_ERROR(session.StoreSummary(summary));
    session.ReportProgress(1.0, "done");
    return OkStatus();
  }

 private:
  engine::OperatorInfo info_;
};

// ------------------------------------------------------------------ predict

struct PredictParams {
  std::string model_name, result_name, receiver;
  std::map<std::string, std::vector<std::string>> ids;
  bool aligned = false;
};

StatusOr<PredictParams> ParsePredictParams(const engine::JobSpec& spec) {
  const Json& j = spec.params;
  if (!j.is_object()) return absl::InvalidArgumentError("$.params must be an object");
  static const std::set<std::string> keys = {"model_name", "id_columns", "aligned", "result_name"};
  for (const auto& [k, v] : j.items()) {
    if (!keys.count(k)) return Bad(k, "is not a parameter of fl.hetero_lr.predict");
  }
  PredictParams p;
  CONSORT_ASSIGN_OR_RETURN(auto parties, DataParties(spec));
  if (!spec.PartiesWithRole(mpc::kDealerRole).empty()) {
    return absl::InvalidArgumentError("fl.hetero_lr.predict takes no dealer party");
  }
  CONSORT_ASSIGN_OR_RETURN(p.model_name, StringParam(j, "model_name", true));
  if (Status st = engine::ValidateName(p.model_name, "$.params.model_name"); !st.ok()) return st;
  CONSORT_ASSIGN_OR_RETURN(p.result_name,
                           StringParam(j, "result_name", false, p.model_name + ".scores"));
  if (Status st = engine::ValidateName(p.result_name, "$.params.result_name"); !st.ok()) return st;
  CONSORT_ASSIGN_OR_RETURN(p.aligned, BoolParam(j, "aligned", false));
  CONSORT_ASSIGN_OR_RETURN(p.ids, ParseIdColumns(spec, parties));
  for (const auto& party : parties) {
    CONSORT_RETURN_IF_ERROR(CheckColumnsListed(spec, party, p.ids[party], "id column"));
  }
  CONSORT_RETURN_IF_ERROR(CheckReceivers(spec, parties, kScores));
  if (spec.outputs.size() != 1) {
    return absl::InvalidArgumentError("$.outputs: exactly one data party receives \"scores\"");
  }
  p.receiver = spec.outputs.begin()->first;
  return p;
}

class PredictOperator final : public engine::Operator {
 public:
  PredictOperator() {
    info_.name = "fl.hetero_lr.predict";
    info_.title = "Joint scoring with a vertical logistic regression model";
    info_.description =
        "The guest and the host of a model trained by fl.hetero_lr.train align new rows by PSI "
        "on the id columns, each computes its partial linear score with its own weights, and "
        "the receiver gets sigmoid(sum) per common row as a table (its id columns + score).";
    info_.security_model = "semi-honest; the two or three data parties of the model";
    info_.parameters = "128-bit computational (DDH on Curve25519 for PSI); 40-bit statistical";
    info_.leaks = "PSI alignment: each party learns which of its rows are common and both set "
                  "sizes; the receiver learns the score of every common row and every other "
                  "party's partial score X_j w_j per row (sent in the clear; with one other "
                  "party the score implies it anyway); the other parties learn nothing else; "
                  "weights never leave their owner";
    info_.outputs = {kScores};
  }
  const engine::OperatorInfo& info() const override { return info_; }

  Status Validate(const engine::JobSpec& spec, const engine::CatalogView&) const override {
    return ParsePredictParams(spec).status();
  }

  Status Run(engine::Session& session) const override {
    const engine::JobSpec& spec = session.spec();
    CONSORT_ASSIGN_OR_RETURN(PredictParams p, ParsePredictParams(spec));
    const std::string& self = session.self();
    CONSORT_ASSIGN_OR_RETURN(auto parties, DataParties(spec));
    session.ReportProgress(0.0, "loading");
    CONSORT_ASSIGN_OR_RETURN(engine::StoredModel stored, session.LoadModel(p.model_name));
    const Json& md = stored.metadata;
    if (!md.is_object() || md.value("kind", "") != kModelKind || !md.contains("feature_columns") ||
        !md["feature_columns"].is_array()) {
      return absl::FailedPreconditionError("model '" + p.model_name +
                                           "' is not an fl.hetero_lr model");
    }
    std::vector<std::string> features;
    for (const auto& c : md["feature_columns"]) {
      if (!c.is_string()) return absl::FailedPreconditionError("model metadata: bad columns");
      features.push_back(c.get<std::string>());
    }
    CONSORT_RETURN_IF_ERROR(CheckColumnsListed(spec, self, features, "model feature column"));
    CONSORT_ASSIGN_OR_RETURN(HeteroLrPartModel model, HeteroLrPartModel::Parse(stored.blob));
    // The receiver checks that every part comes from the same training job and that exactly
    // one of them is the guest's; the others send their hello to the receiver.
    const bool receiver = self == p.receiver;
    std::vector<net::Link*> peers;
    for (const auto& party : parties) {
      if (party == self || (!receiver && party != p.receiver)) continue;
      CONSORT_ASSIGN_OR_RETURN(net::Link * l, session.Peer(party));
      peers.push_back(l);
    }
    const Json hello = {{"training_job", md.value("training_job", "")},
                        {"role", md.value("role", "")}};
    if (!receiver) {
      CONSORT_RETURN_IF_ERROR(peers[0]->Send(AsBytes(hello.dump())));
    } else {
      int guests = hello["role"] == "guest" ? 1 : 0;
      for (net::Link* l : peers) {
        CONSORT_ASSIGN_OR_RETURN(Bytes theirs_msg, l->Recv());
        auto theirs = ParseJson(ToString(theirs_msg), "model hello");
        if (!theirs.ok() || !theirs->is_object()) {
          return absl::InvalidArgumentError("fl.hetero_lr.predict: malformed model hello");
        }
        if (theirs->value("training_job", "?") != hello["training_job"]) {
          return absl::FailedPreconditionError(
              "fl.hetero_lr.predict: the parties' parts of model '" + p.model_name +
              "' come from different training jobs");
        }
        guests += theirs->value("role", "") == "guest" ? 1 : 0;
      }
      if (guests != 1) {
        return absl::FailedPreconditionError("fl.hetero_lr.predict: the parts of model '" +
                                             p.model_name + "' do not include exactly one guest");
      }
    }
    CONSORT_ASSIGN_OR_RETURN(auto table, session.LoadInput());
    CONSORT_ASSIGN_OR_RETURN(Matrix all_x, TableToMatrix(*table, features));
    std::vector<uint32_t> rows;
    if (p.aligned) {
      for (size_t i = 0; i < table->num_rows(); ++i) rows.push_back(static_cast<uint32_t>(i));
    } else {
      CONSORT_ASSIGN_OR_RETURN(rows, psi::AlignSessionRows(session, *table, p.ids[self],
                                                           data::KeyOptions{}, parties, 0.05, 0.8));
    }
    if (session.cancelled().load()) return absl::CancelledError("job cancelled");
    std::vector<size_t> idx(rows.begin(), rows.end());
    session.ReportProgress(0.8, "scoring");
    CONSORT_ASSIGN_OR_RETURN(std::vector<double> scores,
                             PredictHeteroLr(model, peers, all_x.Rows(idx), receiver));
    if (receiver) {
      CONSORT_ASSIGN_OR_RETURN(data::Table ids, table->Project(p.ids[self]));
      CONSORT_ASSIGN_OR_RETURN(data::Table picked, ids.SelectRows(rows));
      std::vector<data::ColumnSpec> specs = picked.schema().columns();
      if (picked.schema().Find("score") >= 0) {
        return absl::InvalidArgumentError("an id column is named 'score'");
      }
      specs.push_back({"score", data::ColumnType::kFloat64});
      CONSORT_ASSIGN_OR_RETURN(data::Schema schema, data::Schema::Make(specs));
      std::vector<data::Column> cols;
      for (size_t c = 0; c < picked.num_columns(); ++c) cols.push_back(picked.column(c));
      data::Column sc(data::ColumnType::kFloat64);
      sc.Reserve(scores.size());
      for (double s : scores) sc.AppendFloat64(s);
      cols.push_back(std::move(sc));
      CONSORT_ASSIGN_OR_RETURN(data::Table out,
                               data::Table::Make(schema, std::move(cols), p.result_name));
      CONSORT_RETURN_IF_ERROR(session.StoreTable(p.result_name, out));
    }
    session.ReportProgress(1.0, "done");
    return OkStatus();
  }

 private:
  engine::OperatorInfo info_;
};

}  // namespace

void RegisterFlOperators() {
  static std::once_flag once;
  std::call_once(once, [] {
    engine::OperatorRegistry::Global().Register(std::make_unique<TrainOperator>());
    engine::OperatorRegistry::Global().Register(std::make_unique<PredictOperator>());
  });
}

}  // namespace consort::fl
