#include "consort/psi/unbalanced_psi_operator.h"

#include <algorithm>
#include <memory>
#include <mutex>

#include "consort/common/logging.h"
#include "consort/crypto/hash.h"
#include "consort/data/keys.h"
#include "consort/data/table.h"
#include "consort/data/table_reader.h"
#include "consort/engine/operator.h"
#include "consort/psi/internal/psi_params.h"
#include "consort/psi/unbalanced_psi.h"

namespace consort::psi {
namespace {

constexpr char kIntersection[] = "intersection";
constexpr char kSize[] = "size";
constexpr size_t kServerBatchRows = size_t{1} << 18;

struct Params {
  data::KeyOptions keys;
  std::string result_name;
  std::string server;
  uint64_t max_client_size = kUnbalancedPsiDefaultMaxClientSize;
};

StatusOr<Params> ParseParams(const engine::JobSpec& spec, const std::string& job_id) {
  CONSORT_ASSIGN_OR_RETURN(
      internal::KeyParams kp,
      internal::ParseKeyParams(spec, {"result_name", "server", "max_client_size"}));
  Params p;
  p.keys = kp.keys;
  p.result_name = "psi_" + job_id.substr(0, 12);
  if (auto it = kp.extra.find("result_name"); it != kp.extra.end()) {
    if (!it->second.is_string()) {
      return absl::InvalidArgumentError("$.params.result_name must be a string");
    }
    p.result_name = it->second.get<std::string>();
    CONSORT_RETURN_IF_ERROR(engine::ValidateName(p.result_name, "$.params.result_name"));
  }
  const auto names = spec.PartyNames();
  auto sv = kp.extra.find("server");
  if (sv == kp.extra.end() || !sv->second.is_string() ||
      std::find(names.begin(), names.end(), sv->second.get<std::string>()) == names.end()) {
    return absl::InvalidArgumentError(
        "$.params.server is required: the name of the party with the large set");
  }
  p.server = sv->second.get<std::string>();
  if (auto it = kp.extra.find("max_client_size"); it != kp.extra.end()) {
    if (!it->second.is_number_integer() || it->second.get<int64_t>() < 1 ||
        static_cast<uint64_t>(it->second.get<int64_t>()) > kUnbalancedPsiMaxClientSize) {
      return absl::InvalidArgumentError("$.params.max_client_size must be an integer in [1, " +
                                        std::to_string(kUnbalancedPsiMaxClientSize) + "]");
    }
    p.max_client_size = static_cast<uint64_t>(it->second.get<int64_t>());
  }
  return p;
}

// nlohmann::json objects keep their keys sorted, so dump() is canonical enough for a name.
std::string Hash32(const Json& j) { return crypto::Sha256Hex(j.dump()).substr(0, 32); }

Json KeyOptionsJson(const data::KeyOptions& k) {
  return {{"trim", k.trim_whitespace},
          {"casefold", k.fold_ascii_case},
          {"duplicates", k.duplicates == data::DuplicateKeys::kError ? "error" : "dedupe"}};
}

class UnbalancedPsiOperator final : public engine::Operator {
 public:
  UnbalancedPsiOperator() {
    info_.name = "psi.unbalanced";
    info_.title = "Unbalanced PSI: small client set against a large, preprocessed server set";
    info_.description =
        "The client learns which of its rows' keys are in the server's (large) dataset. The "
        "server encodes its keys once with a secret OPRF key (2HashDH over Curve25519) and "
        "keeps the encoded set for later jobs over the same dataset; the client fetches the "
        "compact encoded set once and caches it, then each job costs one blinded OPRF "
        "evaluation per client key.";
    info_.security_model = "semi-honest; two parties (client and server); no trusted third party";
    info_.parameters =
        "128-bit computational (OPRF in the random-oracle model under one-more "
        "Diffie-Hellman on the Curve25519 prime-order subgroup); 40-bit "
        "statistical for the truncated encoded set (per job, for clients up to "
        "max_client_size keys)";
    info_.leaks =
        "the client learns which of its keys are in the server's set (computed locally "
        "even with output \"size\") and the server's number of distinct keys; the "
        "server learns the client's number of distinct keys and whether the client "
        "had the encoded set cached; across jobs on the same preprocessing the client "
        "learns the membership of every key it ever queried; the coordinator learns "
        "nothing about rows";
    info_.outputs = {kIntersection, kSize};
    info_.min_parties = 2;
    info_.max_parties = 2;
  }

  const engine::OperatorInfo& info() const override { return info_; }

  Status Validate(const engine::JobSpec& spec, const engine::CatalogView& catalog) const override {
    CONSORT_ASSIGN_OR_RETURN(Params p, ParseParams(spec, std::string(64, '0')));
    for (const auto& [name, in] : spec.parties) {
      if (!in.role.empty()) {
        return absl::InvalidArgumentError("$.parties." + name +
                                          ": psi.unbalanced takes two data "
                                          "parties, no role parties");
      }
    }
    const std::string client = internal::OtherParty(spec, p.server);
    if (spec.OutputFor(p.server) != nullptr) {
      return absl::InvalidArgumentError("$.outputs." + p.server +
                                        ": the server receives nothing in psi.unbalanced");
    }
    if (spec.OutputFor(client) == nullptr) {
      return absl::InvalidArgumentError("$.outputs." + client +
                                        ": the client must receive \"intersection\" or \"size\"");
    }
    return internal::ValidateMatchingKeyColumns(spec, catalog);
  }

  Status Run(engine::Session& session) const override {
    CONSORT_ASSIGN_OR_RETURN(Params p, ParseParams(session.spec(), session.job_id()));
    if (session.self() == p.server) return RunServer(session, p);
    return RunClient(session, p);
  }

 private:
  Status RunServer(engine::Session& session, const Params& p) const {
    const engine::JobSpec& spec = session.spec();
    const auto& input = spec.parties.at(p.server);
    const std::string client = internal::OtherParty(spec, p.server);
    session.ReportProgress(0.0, "checking preprocessing");
    CONSORT_ASSIGN_OR_RETURN(std::string fingerprint, session.InputFingerprint());
    const Json config = {{"dataset", input.dataset},
                         {"columns", input.columns},
                         {"keys", KeyOptionsJson(p.keys)},
                         {"max_client_size", p.max_client_size}};
    Json tag = config;
    tag["fingerprint"] = fingerprint;
    CONSORT_ASSIGN_OR_RETURN(std::string dir,
                             session.CacheDir("psi.unbalanced.s." + Hash32(config)));
    UnbalancedPsiPrepareOptions prep;
    prep.max_client_size = p.max_client_size;
    prep.threads = 2;
    prep.cancelled = &session.cancelled();
    prep.progress = [&session](double f) { session.ReportProgress(0.05 + 0.75 * f, "preparing"); };
    prep.dedupe = p.keys.duplicates == data::DuplicateKeys::kDeduplicate;
    // Streams the dataset: 16 B per key stay in memory, not the rows.
    auto feed = [&](UnbalancedPsiServerSet::Builder& builder) -> Status {
      session.ReportProgress(0.01, "loading");
      CONSORT_ASSIGN_OR_RETURN(auto reader, session.OpenInput(kServerBatchRows));
      data::Table batch;
      while (true) {
        CONSORT_ASSIGN_OR_RETURN(bool more, reader->Next(&batch));
        if (!more) break;
        CONSORT_ASSIGN_OR_RETURN(data::KeyedRows keys,
                                 data::ExtractKeys(batch, input.columns, p.keys));
        CONSORT_RETURN_IF_ERROR(builder.Add(keys.keys));
      }
      return OkStatus();
    };
    bool reused = false;
    CONSORT_ASSIGN_OR_RETURN(UnbalancedPsiServerSet set,
                             LoadOrPrepareUnbalancedPsiSet(dir, tag, feed, prep, &reused));
    CONSORT_LOG(INFO) << "psi.unbalanced: " << (reused ? "reusing" : "prepared")
                      << " server preprocessing " << set.id() << " (" << set.size() << " keys)";
    CONSORT_ASSIGN_OR_RETURN(net::Link * link, session.Peer(client));
    UnbalancedPsiServerOptions opts;
    opts.domain = session.job_id();
    opts.threads = 2;
    opts.cancelled = &session.cancelled();
    opts.progress = [&session](double f) { session.ReportProgress(0.8 + 0.2 * f, "oprf"); };
    CONSORT_RETURN_IF_ERROR(RunUnbalancedPsiServer(*link, set, opts).status());
    session.ReportProgress(1.0, "done");
    return OkStatus();
  }

  Status RunClient(engine::Session& session, const Params& p) const {
    const engine::JobSpec& spec = session.spec();
    const std::string& self = session.self();
    const auto& server_input = spec.parties.at(p.server);
    session.ReportProgress(0.0, "loading");
    CONSORT_ASSIGN_OR_RETURN(auto table, session.LoadInput());
    CONSORT_ASSIGN_OR_RETURN(data::KeyedRows keys,
                             data::ExtractKeys(*table, spec.parties.at(self).columns, p.keys));
    CONSORT_ASSIGN_OR_RETURN(
        std::string cache,
        session.CacheDir("psi.unbalanced.c." +
                         Hash32(Json{{"server", p.server}, {"dataset", server_input.dataset}})));
    CONSORT_ASSIGN_OR_RETURN(net::Link * link, session.Peer(p.server));
    UnbalancedPsiClientOptions opts;
    opts.domain = session.job_id();
    opts.cache_dir = cache;
    opts.threads = 2;
    opts.cancelled = &session.cancelled();
    opts.progress = [&session](double f) { session.ReportProgress(0.05 + 0.9 * f, "psi"); };
    CONSORT_ASSIGN_OR_RETURN(UnbalancedPsiClientResult r,
                             RunUnbalancedPsiClient(*link, keys.keys, opts));
    session.ReportProgress(0.95, "storing");
    Json summary = {{"operator", info_.name},
                    {"my_rows", table->num_rows()},
                    {"my_keys", keys.size()},
                    {"peer_keys", r.psi.peer_size},
                    {"intersection_size", r.psi.intersection_size},
                    {"server_set_id", r.server_set_id},
                    {"used_cached_set", r.used_cached_set},
                    {"encoded_bytes_received", r.encoded_bytes_received}};
    const std::string* out = spec.OutputFor(self);
    if (out != nullptr && *out == kIntersection) {
      std::vector<uint32_t> rows;
      for (size_t k : r.psi.matched) {
        auto rr = keys.RowsFor(k);
        rows.insert(rows.end(), rr.begin(), rr.end());
      }
      std::sort(rows.begin(), rows.end());
      CONSORT_ASSIGN_OR_RETURN(data::Table matched, table->SelectRows(rows));
      CONSORT_RETURN_IF_ERROR(session.StoreTable(p.result_name, matched));
      summary["result_dataset"] = p.result_name;
      summary["matched_rows"] = rows.size();
    }
    CONSORT_RETURN_IF_ERROR(session.StoreSummary(summary));
    session.ReportProgress(1.0, "done");
    return OkStatus();
  }

  engine::OperatorInfo info_;
};

}  // namespace

void RegisterUnbalancedPsiOperator() {
  static std::once_flag once;
  std::call_once(once, [] {
    engine::OperatorRegistry::Global().Register(std::make_unique<UnbalancedPsiOperator>());
  });
}

}  // namespace consort::psi
