#include "consort/boost/secureboost_operator.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <mutex>
#include <numeric>
#include <set>

#include "consort/boost/gbdt.h"
#include "consort/boost/internal/wire.h"
#include "consort/boost/quantile_bins.h"
#include "consort/boost/secureboost.h"
#include "consort/data/keys.h"
#include "consort/data/table.h"
#include "consort/engine/operator.h"
#include "consort/fl/metrics.h"
#include "consort/psi/align.h"

namespace consort::boost {
namespace {

constexpr char kTrain[] = "fl.secureboost.train";
constexpr char kPredict[] = "fl.secureboost.predict";
constexpr char kMetrics[] = "metrics";
constexpr char kScores[] = "scores";
constexpr char kKind[] = "fl.secureboost";
constexpr uint8_t kScoresMsg = 40;

struct Params {
  std::string guest;
  std::string model_name;
  std::map<std::string, std::vector<std::string>> id_columns;  // empty: pre-aligned
  std::string label_column;                                    // train
  BoostParams boost;                                           // train
};

Status Bad(const std::string& field, const std::string& problem) {
  return absl::InvalidArgumentError("$.params." + field + ": " + problem);
}

StatusOr<Params> ParseParams(const engine::JobSpec& spec, bool train) {
  Params p;
  const Json& j = spec.params;
  if (!j.is_object()) return absl::InvalidArgumentError("$.params must be an object");
  static const std::set<std::string> kCommon = {"guest", "model_name", "id_columns"};
  static const std::set<std::string> kTrainOnly = {
      "label_column", "num_trees", "max_depth",      "learning_rate", "min_child_weight",
      "l2",           "subsample", "min_split_gain", "bins",          "seed"};
  for (const auto& [k, v] : j.items()) {
    if (!kCommon.count(k) && !(train && kTrainOnly.count(k))) {
      return Bad(k, std::string("unknown parameter of ") + (train ? kTrain : kPredict));
    }
  }
  const auto data_parties = spec.DataPartyNames();
  if (data_parties.size() < 2) {
    return absl::InvalidArgumentError("SecureBoost needs a guest and at least one host");
  }
  if (!j.contains("guest") || !j["guest"].is_string()) {
    return Bad("guest", "required: the data party that holds the labels");
  }
  p.guest = j["guest"].get<std::string>();
  if (std::find(data_parties.begin(), data_parties.end(), p.guest) == data_parties.end()) {
    return Bad("guest", "'" + p.guest + "' is not a data party of this job");
  }
  if (!j.contains("model_name") || !j["model_name"].is_string()) {
    return Bad("model_name", "required: the name each party stores its model part under");
  }
  p.model_name = j["model_name"].get<std::string>();
  CONSORT_RETURN_IF_ERROR(engine::ValidateName(p.model_name, "$.params.model_name"));
  if (j.contains("id_columns")) {
    Json ic = j["id_columns"];
    if (ic.is_array()) {  // the same column names at every party
      Json per = Json::object();
      for (const auto& party : data_parties) per[party] = ic;
      ic = per;
    }
    if (!ic.is_object()) {
      return Bad("id_columns", "a list of key columns, or a map from every data party to one");
    }
    for (const auto& party : data_parties) {
      if (!ic.contains(party) || !ic[party].is_array() || ic[party].empty()) {
        return Bad("id_columns." + party, "a non-empty list of key columns is required");
      }
      for (const auto& c : ic[party]) {
        if (!c.is_string()) return Bad("id_columns." + party, "column names must be strings");
        p.id_columns[party].push_back(c.get<std::string>());
      }
    }
    for (const auto& [k, v] : ic.items()) {
      if (!p.id_columns.count(k)) return Bad("id_columns." + k, "not a data party of this job");
    }
  }
  if (train) {
    if (!j.contains("label_column") || !j["label_column"].is_string()) {
      return Bad("label_column", "required: the guest's 0/1 label column");
    }
    p.label_column = j["label_column"].get<std::string>();
    Json bj = Json::object();
    for (const char* k : {"num_trees", "max_depth", "learning_rate", "min_child_weight", "l2",
                          "subsample", "min_split_gain", "bins", "seed"}) {
      if (j.contains(k)) bj[k] = j[k];
    }
    auto bp = BoostParams::FromJson(bj);
    if (!bp.ok()) return absl::InvalidArgumentError("$.params: " + std::string(bp.status().message()));
    p.boost = *bp;
  }
  return p;
}

// The party's feature columns: its listed columns minus the label and its id columns.
std::vector<std::string> FeatureColumns(const engine::JobSpec& spec, const Params& p,
                                        const std::string& party) {
  std::vector<std::string> out;
  const auto it = p.id_columns.find(party);
  for (const auto& c : spec.parties.at(party).columns) {
    if (party == p.guest && c == p.label_column) continue;
    if (it != p.id_columns.end() &&
        std::find(it->second.begin(), it->second.end(), c) != it->second.end()) {
      continue;
    }
    out.push_back(c);
  }
  return out;
}

std::vector<std::string> Hosts(const engine::JobSpec& spec, const Params& p) {
  std::vector<std::string> hosts;
  for (const auto& party : spec.DataPartyNames()) {
    if (party != p.guest) hosts.push_back(party);
  }
  return hosts;
}

Status ValidateCommon(const engine::JobSpec& spec, const engine::CatalogView& catalog,
                      const Params& p, bool train) {
  for (const auto& party : spec.DataPartyNames()) {
    const auto& in = spec.parties.at(party);
    CONSORT_ASSIGN_OR_RETURN(auto ds, catalog.Dataset(party, in.dataset));
    const auto features = FeatureColumns(spec, p, party);
    if (train && features.empty()) {
      return absl::InvalidArgumentError("$.parties." + party +
                                        ".columns: no feature columns (besides label and ids)");
    }
    for (const auto& c : features) {
      CONSORT_ASSIGN_OR_RETURN(auto col, ds.Column(c));
      if (col.type != "int64" && col.type != "float64") {
        return absl::InvalidArgumentError("$.parties." + party + ".columns: '" + c + "' is " +
                                          col.type + "; features must be int64 or float64");
      }
    }
    auto it = p.id_columns.find(party);
    if (it != p.id_columns.end()) {
      for (const auto& c : it->second) CONSORT_RETURN_IF_ERROR(ds.Column(c).status());
    }
    if (train && party == p.guest) {
      CONSORT_ASSIGN_OR_RETURN(auto col, ds.Column(p.label_column));
      if (col.type != "int64" && col.type != "float64") {
        return Bad("label_column", "'" + p.label_column + "' is " + col.type +
                                       "; labels must be 0/1 numbers");
      }
    }
  }
  for (const auto& [party, kind] : spec.outputs) {
    if (train && (party != p.guest || kind != kMetrics)) {
      return absl::InvalidArgumentError("$.outputs." + party +
                                        ": only the guest may receive \"metrics\" from training");
    }
    if (!train && kind != kScores) {
      return absl::InvalidArgumentError("$.outputs." + party + ": expected \"scores\"");
    }
  }
  if (!train && spec.outputs.size() != 1) {
    return absl::InvalidArgumentError("$.outputs: exactly one party receives \"scores\"");
  }
  return absl::OkStatus();
}

SecureBoostOptions Options(engine::Session& session, double from, double to) {
  SecureBoostOptions o;
  o.threads = 2;
  o.cancelled = &session.cancelled();
  o.progress = [&session, from, to](double f, const std::string& stage) {
    session.ReportProgress(from + (to - from) * f, stage);
  };
  return o;
}

struct Input {
  std::shared_ptr<const data::Table> table;
  std::vector<uint32_t> rows;  // aligned row order (indices into table)
};

StatusOr<Input> LoadAligned(engine::Session& session, const Params& p) {
  Input in;
  session.ReportProgress(0.0, "loading");
  CONSORT_ASSIGN_OR_RETURN(in.table, session.LoadInput());
  if (p.id_columns.empty()) {
    in.rows.resize(in.table->num_rows());
    std::iota(in.rows.begin(), in.rows.end(), 0u);
    return in;
  }
  const auto& keys = p.id_columns.at(session.self());
  CONSORT_ASSIGN_OR_RETURN(
      in.rows, psi::AlignSessionRows(session, *in.table, keys, data::KeyOptions{},
                                     session.spec().DataPartyNames(), 0.0, 0.1));
  return in;
}

StatusOr<std::vector<net::Link*>> HostLinks(engine::Session& session,
                                            const std::vector<std::string>& hosts) {
  std::vector<net::Link*> links;
  for (const auto& h : hosts) {
    CONSORT_ASSIGN_OR_RETURN(net::Link * l, session.Peer(h));
    links.push_back(l);
  }
  return links;
}

Status RefuseExistingModel(engine::Session& session, const std::string& name) {
  auto existing = session.LoadModel(name);
  if (existing.ok()) {
    return absl::AlreadyExistsError("model '" + name + "' already exists on " + session.self());
  }
  if (existing.status().code() != absl::StatusCode::kNotFound) return existing.status();
  return absl::OkStatus();
}

class TrainOperator final : public engine::Operator {
 public:
  TrainOperator() {
    info_.name = kTrain;
    info_.title = "Vertical SecureBoost training (guest with labels + hosts)";
    info_.description =
        "Gradient-boosted trees over features split across parties (SecureBoost, Cheng et al. "
        "2021): the guest encrypts per-row gradients and hessians under Paillier, hosts build "
        "encrypted bin histograms, the guest decrypts the sums and picks splits. Hosts keep "
        "their thresholds, the guest the tree structure and leaf values. Rows are aligned by "
        "PSI on id_columns or taken as aligned.";
    info_.security_model = "semi-honest; no collusion between the guest and a host";
    info_.parameters =
        "Paillier 2048-bit (112-bit, decisional composite residuosity) with DJN 256-bit "
        "short-exponent noise; alignment: DDH on Curve25519 (128-bit)";
    info_.leaks =
        "guest: per-node bin sums of gradients/hessians over each host feature's bins, the "
        "number of host features, and the rows going left at every host split it picks (and its "
        "bin index within a per-tree-permuted feature slot); hosts: "
        "row count, per-tree sampled rows, the partition of rows into tree nodes at every level "
        "(guest splits included), which of their own splits are used; nothing about labels "
        "beyond Paillier ciphertexts; plus psi alignment's leakage when id_columns are given";
    info_.outputs = {kMetrics};
    info_.min_parties = 2;
    info_.max_parties = 8;
  }
  const engine::OperatorInfo& info() const override { return info_; }

  Status Validate(const engine::JobSpec& spec, const engine::CatalogView& catalog) const override {
    CONSORT_ASSIGN_OR_RETURN(Params p, ParseParams(spec, true));
    return ValidateCommon(spec, catalog, p, true);
  }

  Status Run(engine::Session& session) const override {
    const engine::JobSpec& spec = session.spec();
    CONSORT_ASSIGN_OR_RETURN(Params p, ParseParams(spec, true));
    const std::string& self = session.self();
    const bool is_guest = self == p.guest;
    CONSORT_RETURN_IF_ERROR(RefuseExistingModel(session, p.model_name));
    CONSORT_ASSIGN_OR_RETURN(Input in, LoadAligned(session, p));
    const auto feature_cols = FeatureColumns(spec, p, self);
    CONSORT_ASSIGN_OR_RETURN(FeatureMatrix all, TableToFeatures(*in.table, feature_cols));
    const FeatureMatrix x = SelectRows(all, in.rows);
    const std::vector<std::string> hosts = Hosts(spec, p);
    SecureBoostOptions opts = Options(session, 0.1, 0.95);
    Json meta = {{"kind", kKind},
                 {"role", is_guest ? "guest" : "host"},
                 {"guest", p.guest},
                 {"hosts", hosts},
                 {"features", x.names},
                 {"params", p.boost.ToJson()},
                 {"rows", x.rows()},
                 {"aligned_by_psi", !p.id_columns.empty()},
                 {"trained_by_job", session.job_id()}};
    if (!is_guest) {
      CONSORT_ASSIGN_OR_RETURN(net::Link * link, session.Peer(p.guest));
      CONSORT_ASSIGN_OR_RETURN(SecureBoostHostModel hm, TrainSecureBoostHost(x, *link, p.boost, opts));
      meta["splits"] = hm.splits.size();
      CONSORT_RETURN_IF_ERROR(session.StoreModel(p.model_name, meta, hm.Serialize()));
      session.ReportProgress(1.0, "done");
      return absl::OkStatus();
    }
    // Labels: every aligned row needs a 0/1 label (the row is named, never the value).
    CONSORT_ASSIGN_OR_RETURN(const data::Column* lc, in.table->ColumnByName(p.label_column));
    if (lc->type() == data::ColumnType::kString) {
      return Bad("label_column", "'" + p.label_column + "' is a string column");
    }
    std::vector<double> y(in.rows.size());
    for (size_t i = 0; i < in.rows.size(); ++i) {
      const uint32_t r = in.rows[i];
      const double v = lc->IsNull(r) ? std::nan("")
                       : lc->type() == data::ColumnType::kInt64 ? static_cast<double>(lc->Int64(r))
                                                                 : lc->Float64(r);
      if (v != 0.0 && v != 1.0) {
        return absl::InvalidArgumentError(in.table->RowLocation(r) + ": label column '" +
                                          p.label_column + "' must be 0 or 1");
      }
      y[i] = v;
    }
    CONSORT_ASSIGN_OR_RETURN(std::vector<net::Link*> links, HostLinks(session, hosts));
    std::vector<double> raw;
    CONSORT_ASSIGN_OR_RETURN(GbdtModel model,
                             TrainSecureBoostGuest(x, y, links, p.boost, opts, &raw));
    std::vector<double> prob(raw.size());
    for (size_t i = 0; i < raw.size(); ++i) prob[i] = Sigmoid(raw[i]);
    CONSORT_ASSIGN_OR_RETURN(fl::BinaryMetrics m, fl::EvaluateBinary(prob, y));
    const Json metrics = {{"auc", m.auc}, {"ks", m.ks}, {"log_loss", m.log_loss},
                          {"accuracy", m.at_half.accuracy}};
    meta["label_column"] = p.label_column;
    meta["metrics_train"] = metrics;
    CONSORT_RETURN_IF_ERROR(session.StoreModel(p.model_name, meta, model.Serialize()));
    if (spec.OutputFor(self) != nullptr) {
      CONSORT_RETURN_IF_ERROR(session.StoreSummary({{"operator", kTrain},
                                                    {"model_name", p.model_name},
                                                    {"rows", x.rows()},
                                                    {"trees", model.trees.size()},
                                                    {"hosts", hosts},
                                                    {"train", metrics}}));
    }
    session.ReportProgress(1.0, "done");
    return absl::OkStatus();
  }

 private:
  engine::OperatorInfo info_;
};

class PredictOperator final : public engine::Operator {
 public:
  PredictOperator() {
    info_.name = kPredict;
    info_.title = "Joint prediction with a SecureBoost model";
    info_.description =
        "Scores rows with a model trained by fl.secureboost.train: the guest walks its trees and "
        "asks each host for the direction at the host's split nodes; the score goes to the one "
        "receiver only.";
    info_.security_model = "semi-honest; no collusion between the guest and a host";
    info_.parameters = "alignment: DDH on Curve25519 (128-bit); no encryption of directions";
    info_.leaks =
        "guest: each host node's direction for the rows that reach it; host: which rows reach "
        "each of its split nodes; a host receiver learns the scores of the aligned rows; plus "
        "psi alignment's leakage when id_columns are given";
    info_.outputs = {kScores};
    info_.min_parties = 2;
    info_.max_parties = 8;
  }
  const engine::OperatorInfo& info() const override { return info_; }

  Status Validate(const engine::JobSpec& spec, const engine::CatalogView& catalog) const override {
    CONSORT_ASSIGN_OR_RETURN(Params p, ParseParams(spec, false));
    return ValidateCommon(spec, catalog, p, false);
  }

  Status Run(engine::Session& session) const override {
    const engine::JobSpec& spec = session.spec();
    CONSORT_ASSIGN_OR_RETURN(Params p, ParseParams(spec, false));
    const std::string& self = session.self();
    const bool is_guest = self == p.guest;
    const std::string receiver = spec.outputs.begin()->first;
    CONSORT_ASSIGN_OR_RETURN(engine::StoredModel stored, session.LoadModel(p.model_name));
    const Json& meta = stored.metadata;
    if (!meta.is_object() || meta.value("kind", "") != kKind ||
        meta.value("role", "") != (is_guest ? "guest" : "host") ||
        meta.value("guest", "") != p.guest) {
      return absl::FailedPreconditionError("model '" + p.model_name + "' on " + self +
                                           " is not this party's " +
                                           (is_guest ? "guest" : "host") +
                                           " part of a SecureBoost model with guest " + p.guest);
    }
    const std::vector<std::string> hosts = Hosts(spec, p);
    if (!meta.contains("hosts") || meta["hosts"] != Json(hosts)) {
      return absl::FailedPreconditionError("model '" + p.model_name +
                                           "' was trained with other hosts than this job's");
    }
    CONSORT_ASSIGN_OR_RETURN(Input in, LoadAligned(session, p));
    std::vector<std::string> names;
    if (is_guest) {
      CONSORT_ASSIGN_OR_RETURN(GbdtModel gm, GbdtModel::Parse(stored.blob));
      names = gm.features;
      CONSORT_RETURN_IF_ERROR(CheckListed(spec, self, names));
      CONSORT_ASSIGN_OR_RETURN(FeatureMatrix all, TableToFeatures(*in.table, names));
      const FeatureMatrix x = SelectRows(all, in.rows);
      CONSORT_ASSIGN_OR_RETURN(std::vector<net::Link*> links, HostLinks(session, hosts));
      CONSORT_ASSIGN_OR_RETURN(std::vector<double> raw,
                               PredictSecureBoostGuest(gm, x, links, Options(session, 0.1, 0.95)));
      std::vector<double> prob(raw.size());
      for (size_t i = 0; i < raw.size(); ++i) prob[i] = Sigmoid(raw[i]);
      if (receiver == self) return StoreScores(session, p, in, prob);
      // Send the scores to the receiving host.
      CONSORT_ASSIGN_OR_RETURN(net::Link * link, session.Peer(receiver));
      Bytes msg = {kScoresMsg};
      AppendU64(msg, prob.size());
      for (double v : prob) {
        uint64_t u;
        std::memcpy(&u, &v, sizeof u);
        AppendU64(msg, u);
      }
      CONSORT_RETURN_IF_ERROR(link->Send(msg));
      session.ReportProgress(1.0, "done");
      return absl::OkStatus();
    }
    CONSORT_ASSIGN_OR_RETURN(SecureBoostHostModel hm, SecureBoostHostModel::Parse(stored.blob));
    CONSORT_RETURN_IF_ERROR(CheckListed(spec, self, hm.features));
    CONSORT_ASSIGN_OR_RETURN(FeatureMatrix all, TableToFeatures(*in.table, hm.features));
    const FeatureMatrix x = SelectRows(all, in.rows);
    CONSORT_ASSIGN_OR_RETURN(net::Link * link, session.Peer(p.guest));
    CONSORT_RETURN_IF_ERROR(PredictSecureBoostHost(hm, x, *link, Options(session, 0.1, 0.95)));
    if (receiver != self) {
      session.ReportProgress(1.0, "done");
      return absl::OkStatus();
    }
    CONSORT_ASSIGN_OR_RETURN(Bytes msg, link->Recv());
    if (msg.size() != 9 + 8 * x.rows() || msg[0] != kScoresMsg ||
        ReadU64(msg.data() + 1) != x.rows()) {
      return absl::InvalidArgumentError("secureboost predict: malformed scores message");
    }
    std::vector<double> prob(x.rows());
    for (size_t i = 0; i < prob.size(); ++i) {
      const uint64_t u = ReadU64(msg.data() + 9 + 8 * i);
      std::memcpy(&prob[i], &u, sizeof u);
      if (!(prob[i] >= 0 && prob[i] <= 1)) {
        return absl::InvalidArgumentError("secureboost predict: score out of [0, 1]");
      }
    }
    return StoreScores(session, p, in, prob);
  }

 private:
  static Status CheckListed(const engine::JobSpec& spec, const std::string& party,
                            const std::vector<std::string>& names) {
    const auto& cols = spec.parties.at(party).columns;
    for (const auto& n : names) {
      if (std::find(cols.begin(), cols.end(), n) == cols.end()) {
        return absl::InvalidArgumentError("$.parties." + party + ".columns: the model needs '" +
                                          n + "', which the job does not list");
      }
    }
    return absl::OkStatus();
  }

  static Status StoreScores(engine::Session& session, const Params& p, const Input& in,
                            const std::vector<double>& prob) {
    std::vector<data::ColumnSpec> specs;
    std::vector<data::Column> cols;
    auto it = p.id_columns.find(session.self());
    if (it != p.id_columns.end()) {
      for (const auto& c : it->second) {
        CONSORT_ASSIGN_OR_RETURN(size_t idx, in.table->ColumnIndex(c));
        const data::Column& src = in.table->column(idx);
        data::Column col(src.type());
        for (uint32_t r : in.rows) col.AppendFrom(src, r);
        specs.push_back({c, src.type()});
        cols.push_back(std::move(col));
      }
    } else {
      data::Column col(data::ColumnType::kInt64);
      for (uint32_t r : in.rows) col.AppendInt64(static_cast<int64_t>(r));
      specs.push_back({"row", data::ColumnType::kInt64});
      cols.push_back(std::move(col));
    }
    data::Column score(data::ColumnType::kFloat64);
    for (double v : prob) score.AppendFloat64(v);
    specs.push_back({"score", data::ColumnType::kFloat64});
    cols.push_back(std::move(score));
    CONSORT_ASSIGN_OR_RETURN(data::Schema schema, data::Schema::Make(std::move(specs)));
    CONSORT_ASSIGN_OR_RETURN(data::Table t, data::Table::Make(std::move(schema), std::move(cols)));
    CONSORT_RETURN_IF_ERROR(session.StoreTable(kScores, t));
    session.ReportProgress(1.0, "done");
    return absl::OkStatus();
  }

  engine::OperatorInfo info_;
};

}  // namespace

void RegisterBoostOperators() {
  static std::once_flag once;
  std::call_once(once, [] {
    engine::OperatorRegistry::Global().Register(std::make_unique<TrainOperator>());
    engine::OperatorRegistry::Global().Register(std::make_unique<PredictOperator>());
  });
}

}  // namespace consort::boost
