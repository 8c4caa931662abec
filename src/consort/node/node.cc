#include "consort/node/node.h"

#include <algorithm>
#include <filesystem>

#include "consort/audit/entry.h"
#include "consort/audit/log_store.h"
#include "consort/audit/verify.h"
#include "consort/common/files.h"
#include "consort/common/logging.h"
#include "consort/common/time.h"
#include "consort/crypto/hash.h"
#include "consort/crypto/random.h"
#include "consort/data/csv.h"
#include "consort/data/csv_reader.h"
#include "consort/data/describe.h"
#include "consort/data/sqlite_source.h"
#include "consort/data/table.h"
#include "consort/engine/catalog.h"
#include "consort/engine/operator.h"
#include "consort/net/address.h"
#include "consort/net/control_client.h"

namespace consort::node {
namespace {

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS datasets (
  name TEXT PRIMARY KEY, source_json TEXT NOT NULL, info_json TEXT NOT NULL,
  fingerprint TEXT NOT NULL, published INTEGER NOT NULL DEFAULT 0, registered_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS policies (
  id INTEGER PRIMARY KEY AUTOINCREMENT, rule_json TEXT NOT NULL, created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS decisions (
  job_id TEXT PRIMARY KEY, decision TEXT NOT NULL, via TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '',
  time_ms INTEGER NOT NULL, attempt INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS runs (
  job_id TEXT PRIMARY KEY, state TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '',
  started_ms INTEGER NOT NULL, finished_ms INTEGER NOT NULL DEFAULT 0,
  bytes_sent INTEGER NOT NULL DEFAULT 0, bytes_received INTEGER NOT NULL DEFAULT 0,
  attempt INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS models (
  name TEXT PRIMARY KEY, job_id TEXT NOT NULL, metadata_json TEXT NOT NULL, path TEXT NOT NULL,
  digest TEXT NOT NULL, created_ms INTEGER NOT NULL, published INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS results (
  job_id TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL, path TEXT NOT NULL DEFAULT '',
  summary_json TEXT NOT NULL DEFAULT '{}', created_ms INTEGER NOT NULL, PRIMARY KEY (job_id, name));
)sql";

std::string ConfigPath(const std::string& home) { return JoinPath(home, "node.json"); }

StatusOr<std::string> ReadTrimmed(const std::string& path) {
  CONSORT_ASSIGN_OR_RETURN(std::string s, ReadFile(path));
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

// --- config ------------------------------------------------------------------------------------

Json NodeConfig::ToJson() const {
  return {{"name", name},
          {"coordinator_grpc", coordinator_grpc},
          {"coordinator_api", coordinator_api},
          {"coordinator_fingerprint", coordinator_fingerprint},
          {"coordinator_key", coordinator_key},
          {"peer_listen", peer_listen},
          {"peer_advertise", peer_advertise},
          {"link_timeout_ms", link_timeout_ms}};
}

StatusOr<NodeConfig> NodeConfig::FromJson(const Json& j) {
  NodeConfig c;
  CONSORT_ASSIGN_OR_RETURN(c.name, GetString(j, "name", "node.json"));
  CONSORT_ASSIGN_OR_RETURN(c.coordinator_grpc, GetString(j, "coordinator_grpc", "node.json"));
  CONSORT_ASSIGN_OR_RETURN(c.coordinator_api, GetString(j, "coordinator_api", "node.json"));
  CONSORT_ASSIGN_OR_RETURN(c.coordinator_fingerprint,
                           GetString(j, "coordinator_fingerprint", "node.json"));
  CONSORT_ASSIGN_OR_RETURN(c.coordinator_key, GetString(j, "coordinator_key", "node.json"));
  if (j.contains("peer_listen")) {
    CONSORT_ASSIGN_OR_RETURN(c.peer_listen, GetString(j, "peer_listen", "node.json"));
  }
  if (j.contains("peer_advertise")) {
    CONSORT_ASSIGN_OR_RETURN(c.peer_advertise, GetString(j, "peer_advertise", "node.json"));
  }
  if (j.contains("link_timeout_ms") && j["link_timeout_ms"].is_number_integer()) {
    c.link_timeout_ms = j["link_timeout_ms"];
  }
  return c;
}

Json DatasetSource::ToJson() const {
  Json j = {{"kind", kind}, {"path", path}};
  if (!table.empty()) j["table"] = table;
  return j;
}

StatusOr<DatasetSource> DatasetSource::FromJson(const Json& j) {
  DatasetSource s;
  CONSORT_ASSIGN_OR_RETURN(s.kind, GetString(j, "kind", "source"));
  CONSORT_ASSIGN_OR_RETURN(s.path, GetString(j, "path", "source"));
  s.table = j.value("table", "");
  if (s.kind != "csv" && s.kind != "sqlite" && s.kind != "result") {
    return absl::InvalidArgumentError("source kind must be csv, sqlite or result");
  }
  return s;
}

// --- lifecycle -------------------------------------------------------------------------------

Status Node::InitHome(const std::string& home, const NodeConfig& config) {
  crypto::InitCrypto();
  if (FileExists(ConfigPath(home))) return absl::AlreadyExistsError(home + " already holds a node");
  CONSORT_RETURN_IF_ERROR(engine::ValidateName(config.name, "node name"));
  // A listen address peers cannot dial fails here, not when the daemon starts.
  CONSORT_RETURN_IF_ERROR(
      net::AdvertisedAddress(config.peer_listen, config.peer_advertise, 1, "--peer-advertise")
          .status());
  // The home holds keys, the registry and results: private to the node's user.
  CONSORT_RETURN_IF_ERROR(MakeDirs(home, 0700));
  CONSORT_RETURN_IF_ERROR(MakeDirs(JoinPath(home, "keys"), 0700));
  CONSORT_RETURN_IF_ERROR(MakeDirs(JoinPath(home, "results"), 0700));
  auto key = crypto::SigningKey::Generate();
  CONSORT_RETURN_IF_ERROR(
      WriteFileAtomic(JoinPath(home, "keys/signing.key"), HexEncode(key.seed().span()), 0600));
  CONSORT_ASSIGN_OR_RETURN(auto tls, crypto::GenerateTlsIdentity(config.name));
  CONSORT_RETURN_IF_ERROR(WriteFileAtomic(JoinPath(home, "keys/tls.key"), tls.key_pem, 0600));
  CONSORT_RETURN_IF_ERROR(WriteFileAtomic(JoinPath(home, "keys/tls.crt"), tls.cert_pem, 0644));
  return WriteFileAtomic(ConfigPath(home), config.ToJson().dump(2) + "\n", 0600);
}

StatusOr<std::unique_ptr<Node>> Node::Open(const std::string& home) {
  crypto::InitCrypto();
  auto text = ReadFile(ConfigPath(home));
  if (!text.ok()) {
    return absl::NotFoundError(home + " is not a node home (run `consort node init`)");
  }
  std::unique_ptr<Node> n(new Node());
  std::error_code ec;
  auto abs_home = std::filesystem::absolute(home, ec);
  n->home_ = ec ? home : abs_home.lexically_normal().string();
  CONSORT_ASSIGN_OR_RETURN(Json cj, ParseJson(*text, ConfigPath(home)));
  CONSORT_ASSIGN_OR_RETURN(n->config_, NodeConfig::FromJson(cj));
  CONSORT_ASSIGN_OR_RETURN(std::string seed_hex, ReadTrimmed(JoinPath(home, "keys/signing.key")));
  CONSORT_ASSIGN_OR_RETURN(Bytes seed, HexDecode(seed_hex));
  auto key = crypto::SigningKey::FromSeed(seed);
  std::fill(seed.begin(), seed.end(), 0);
  if (!key.ok()) return key.status();
  n->key_ = std::make_unique<crypto::SigningKey>(std::move(*key));
  CONSORT_ASSIGN_OR_RETURN(n->tls_.key_pem, ReadFile(JoinPath(home, "keys/tls.key")));
  CONSORT_ASSIGN_OR_RETURN(n->tls_.cert_pem, ReadFile(JoinPath(home, "keys/tls.crt")));
  CONSORT_ASSIGN_OR_RETURN(n->tls_fingerprint_, crypto::CertificateFingerprint(n->tls_.cert_pem));
  CONSORT_ASSIGN_OR_RETURN(SqlDb db, SqlDb::Open(JoinPath(home, "node.db")));
  n->db_ = std::make_unique<SqlDb>(std::move(db));
  CONSORT_RETURN_IF_ERROR(n->db_->Exec(kSchema));
  // Homes created before retries existed: add the columns (an error means they are there).
  for (const char* table : {"runs", "decisions"}) {
    (void)n->db_->Exec(std::string("ALTER TABLE ") + table +
                       " ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0");
  }
  CONSORT_ASSIGN_OR_RETURN(auto ckey, crypto::DecodePublicKey(n->config_.coordinator_key));
  CONSORT_ASSIGN_OR_RETURN(auto log, audit::LogStore::Open(n->db_.get(), ckey));
  n->log_ = std::make_unique<audit::LogStore>(std::move(log));
  return n;
}

StatusOr<Json> Node::RegistrationEntry() const {
  audit::NodeRegistration reg;
  reg.name = config_.name;
  reg.signing_key = key_->public_key();
  reg.tls_fingerprint = tls_fingerprint_;
  // Informational: the daemon announces the dialable address (with its port) at start.
  reg.address = config_.peer_advertise.empty() ? config_.peer_listen : config_.peer_advertise;
  CONSORT_ASSIGN_OR_RETURN(auto entry, audit::MakeAuthorPart(audit::kKindNodeRegistered, config_.name,
                                                             NowUnixMillis(), reg.ToBody(), *key_));
  return entry.SubmissionJson();
}

StatusOr<net::ControlClient*> Node::Control() {
  if (!control_) {
    net::TlsConfig tls{tls_.key_pem, tls_.cert_pem};
    CONSORT_ASSIGN_OR_RETURN(control_, net::ControlClient::Create(config_.coordinator_grpc, tls,
                                                                  config_.coordinator_fingerprint));
  }
  return control_.get();
}

StatusOr<Json> Node::Call(const std::string& method, const Json& body) {
  net::ControlClient* c;
  {
    std::lock_guard<std::mutex> lock(mu_);
    CONSORT_ASSIGN_OR_RETURN(c, Control());
  }
  auto timeout = std::chrono::milliseconds(30'000 + body.value("wait_ms", 0));
  return c->Call(method, body, timeout);
}

// --- datasets --------------------------------------------------------------------------------

namespace {
StatusOr<data::Table> ReadSource(const DatasetSource& s, const std::vector<std::string>& columns) {
  if (s.kind == "sqlite") return data::ReadSqliteTable(s.path, s.table, columns);
  data::CsvReadOptions opts;
  opts.source_name = std::filesystem::path(s.path).filename().string();
  CONSORT_ASSIGN_OR_RETURN(data::Table t, data::ReadCsv(s.path, opts));
  if (columns.empty()) return t;
  return t.Project(columns);
}

engine::DatasetInfo InfoFor(const std::string& owner, const std::string& name,
                            const data::Table& t, const std::string& description) {
  engine::DatasetInfo info;
  info.owner = owner;
  info.name = name;
  info.rows = static_cast<int64_t>(t.num_rows());
  info.description = description;
  for (const auto& c : t.schema().columns()) {
    info.columns.push_back({c.name, std::string(data::ColumnTypeName(c.type))});
  }
  return info;
}
}  // namespace

StatusOr<LocalDataset> Node::AddDataset(const std::string& name, const DatasetSource& source_in,
                                        const std::string& description, bool replace) {
  CONSORT_RETURN_IF_ERROR(engine::ValidateName(name, "dataset name"));
  DatasetSource source = source_in;
  std::error_code ec;
  auto abs = std::filesystem::absolute(source.path, ec);
  if (!ec) source.path = abs.string();
  if (!replace) {
    std::lock_guard<std::mutex> lock(mu_);
    CONSORT_ASSIGN_OR_RETURN(auto rows, db_->Query("SELECT 1 FROM datasets WHERE name = ?", {name}));
    if (!rows.empty()) {
      return absl::AlreadyExistsError("dataset '" + name + "' is already registered on this node "
                                      "(use --replace to update it)");
    }
  }
  // Validate the whole source before anything is stored or published.
  CONSORT_ASSIGN_OR_RETURN(data::Table table, ReadSource(source, {}));
  // State derived from an earlier version of this dataset must not outlive it.
  std::filesystem::remove_all(JoinPath(JoinPath(home_, "cache"), name), ec);
  // A SQLite database is fingerprinted by the table's content: its file bytes stay the same
  // while a committed write sits in the WAL, and change on a checkpoint that changes nothing.
  std::string fp;
  if (source.kind == "sqlite") {
    fp = data::TableContentFingerprint(table);
  } else {
    CONSORT_ASSIGN_OR_RETURN(fp, data::FileFingerprint(source.path));
  }
  engine::DatasetInfo info = InfoFor(config_.name, name, table, description);
  CONSORT_ASSIGN_OR_RETURN(auto entry, audit::MakeAuthorPart("dataset.registered", config_.name,
                                                             NowUnixMillis(), info.ToJson(), *key_));
  {
    std::lock_guard<std::mutex> lock(mu_);
    CONSORT_RETURN_IF_ERROR(db_->Run(
        "INSERT OR REPLACE INTO datasets (name, source_json, info_json, fingerprint, published, "
        "registered_ms) VALUES (?, ?, ?, ?, 0, ?)",
        {name, source.ToJson().dump(), info.ToJson().dump(), fp, NowUnixMillis()}));
  }
  // Publish metadata only. If the coordinator is unreachable the dataset stays registered
  // locally (published = 0) and the error says so; re-running the command publishes it.
  auto published = Call("dataset.register", {{"entry", entry.SubmissionJson()}});
  if (!published.ok()) {
    return Status(published.status().code(),
                  "dataset '" + name + "' is stored on this node but was not published to the "
                  "catalog: " + std::string(published.status().message()));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    CONSORT_RETURN_IF_ERROR(db_->Run("UPDATE datasets SET published = 1 WHERE name = ?", {name}));
  }
  return LocalDataset{name, source, info.ToJson(), fp, true};
}

StatusOr<std::vector<LocalDataset>> Node::ListLocalDatasets() {
  std::lock_guard<std::mutex> lock(mu_);
  CONSORT_ASSIGN_OR_RETURN(auto rows, db_->Query("SELECT name, source_json, info_json, fingerprint, "
                                                 "published FROM datasets ORDER BY name"));
  std::vector<LocalDataset> out;
  for (const auto& r : rows) {
    LocalDataset d;
    d.name = AsText(r[0]);
    CONSORT_ASSIGN_OR_RETURN(Json sj, ParseJson(AsText(r[1]), "source"));
    CONSORT_ASSIGN_OR_RETURN(d.source, DatasetSource::FromJson(sj));
    CONSORT_ASSIGN_OR_RETURN(d.info, ParseJson(AsText(r[2]), "info"));
    d.fingerprint = AsText(r[3]);
    d.published = AsInt(r[4]) != 0;
    out.push_back(std::move(d));
  }
  return out;
}

StatusOr<LocalDataset> Node::FindLocalDataset(const std::string& name) {
  CONSORT_ASSIGN_OR_RETURN(auto all, ListLocalDatasets());
  for (auto& d : all) {
    if (d.name == name) return d;
  }
  return absl::NotFoundError("no dataset '" + name + "' on node " + config_.name);
}

StatusOr<std::shared_ptr<const data::Table>> Node::LoadDataset(
    const std::string& name, const std::vector<std::string>& columns) {
  CONSORT_ASSIGN_OR_RETURN(LocalDataset d, FindLocalDataset(name));
  const Status changed = absl::FailedPreconditionError(
      "dataset '" + name + "' changed on disk since it was registered (re-register it with "
      "`consort dataset add --replace`)");
  if (data::IsContentFingerprint(d.fingerprint)) {
    // Registration read every value, so a table that no longer reads (gone, a BLOB, ...) or
    // reads differently has changed.
    StatusOr<data::Table> t = ReadSource(d.source, {});
    if (!t.ok()) {
      const absl::StatusCode code = t.status().code();
      if (code != absl::StatusCode::kNotFound && code != absl::StatusCode::kInvalidArgument) {
        return t.status();
      }
      return Status(changed.code(),
                    std::string(changed.message()) + ": " + std::string(t.status().message()));
    }
    if (data::TableContentFingerprint(*t) != d.fingerprint) return changed;
    return std::make_shared<const data::Table>(*std::move(t));
  }
  CONSORT_ASSIGN_OR_RETURN(std::string fp, data::FileFingerprint(d.source.path));
  if (fp != d.fingerprint) return changed;
  CONSORT_ASSIGN_OR_RETURN(data::Table t, ReadSource(d.source, {}));
  return std::make_shared<const data::Table>(std::move(t));
}

// --- jobs ------------------------------------------------------------------------------------

StatusOr<Json> Node::SubmitJob(Json spec) {
  if (spec.is_object() && !spec.contains("nonce")) spec["nonce"] = crypto::RandomHex(8);
  return Call("job.submit", {{"spec", spec}});
}

namespace {
// Checks that the job's spec is exactly what its id commits to.
StatusOr<engine::JobSpec> SpecMatchingId(const std::string& job_id, const Json& job) {
  if (!job.contains("spec")) return absl::InvalidArgumentError("job has no spec");
  CONSORT_ASSIGN_OR_RETURN(std::string id, engine::ComputeJobId(job["spec"]));
  if (id != job_id) {
    return absl::FailedPreconditionError(
        "spec does not hash to the job id (altered after submission); refusing job");
  }
  // ParseJobSpec enforces the structural rules (e.g. the coordinator's reserved party is a
  // dataless dealer that receives nothing); the operator's shape (party count, roles) is
  // checked here too, so that a node never relies on the coordinator's validation.
  CONSORT_ASSIGN_OR_RETURN(engine::JobSpec spec, engine::ParseJobSpec(job["spec"]));
  CONSORT_RETURN_IF_ERROR(engine::CheckOperatorShape(spec));
  return spec;
}
}  // namespace

StatusOr<Json> Node::ApproveJob(const std::string& job_id, const std::string& via) {
  CONSORT_RETURN_IF_ERROR(engine::ValidateJobId(job_id));
  CONSORT_ASSIGN_OR_RETURN(Json job, Call("job.get", {{"job_id", job_id}}));
  CONSORT_ASSIGN_OR_RETURN(engine::JobSpec spec, SpecMatchingId(job_id, job));
  auto mine = spec.parties.find(config_.name);
  if (mine == spec.parties.end()) {
    return absl::PermissionDeniedError("node " + config_.name + " is not a party of this job");
  }
  if (mine->second.has_data()) {
    CONSORT_ASSIGN_OR_RETURN(LocalDataset ds, FindLocalDataset(mine->second.dataset));
    CONSORT_ASSIGN_OR_RETURN(auto info, engine::DatasetInfo::FromJson(ds.info));
    for (const auto& c : mine->second.columns) CONSORT_RETURN_IF_ERROR(info.Column(c).status());
  }
  const int64_t attempt = job.value("attempt", int64_t{0});
  if (attempt < 0) return absl::InvalidArgumentError("malformed attempt in the job");
  auto sig = key_->SignFor("job-approval", AsBytes(engine::ApprovalMessage(job_id, attempt)));
  {
    std::lock_guard<std::mutex> lock(mu_);
    CONSORT_RETURN_IF_ERROR(db_->Run(
        "INSERT OR REPLACE INTO decisions (job_id, decision, via, time_ms, attempt) "
        "VALUES (?, 'approved', ?, ?, ?)",
        {job_id, via, NowUnixMillis(), attempt}));
  }
  return Call("job.approve", {{"job_id", job_id}, {"party", config_.name},
                              {"signature", crypto::EncodeSignature(sig)}});
}

StatusOr<Json> Node::RejectJob(const std::string& job_id, const std::string& reason) {
  CONSORT_RETURN_IF_ERROR(engine::ValidateJobId(job_id));
  if (reason.empty()) return absl::InvalidArgumentError("a rejection needs a reason (--reason)");
  auto sig = key_->SignFor("job-rejection", AsBytes(job_id + "\n" + reason));
  {
    std::lock_guard<std::mutex> lock(mu_);
    CONSORT_RETURN_IF_ERROR(db_->Run(
        "INSERT OR REPLACE INTO decisions (job_id, decision, via, reason, time_ms, attempt) VALUES "
        "(?, 'rejected', 'person', ?, ?, (SELECT COALESCE(MAX(attempt), 0) FROM runs WHERE job_id = ?))",
        {job_id, reason, NowUnixMillis(), job_id}));
  }
  return Call("job.reject", {{"job_id", job_id}, {"party", config_.name}, {"reason", reason},
                             {"signature", crypto::EncodeSignature(sig)}});
}

StatusOr<crypto::PublicKey> Node::PartyKey(const std::string& party) {
  // The coordinator signs its own part (dealer) with the key this node pinned when it joined.
  if (party == engine::kCoordinatorParty) return crypto::DecodePublicKey(config_.coordinator_key);
  std::optional<crypto::PublicKey> key;
  {
    std::lock_guard<std::mutex> lock(mu_);
    CONSORT_ASSIGN_OR_RETURN(key, log_->NodeKey(party));
  }
  if (!key) {
    CONSORT_RETURN_IF_ERROR(SyncAudit().status());
    std::lock_guard<std::mutex> lock(mu_);
    CONSORT_ASSIGN_OR_RETURN(key, log_->NodeKey(party));
  }
  if (!key) return absl::NotFoundError("no registration of '" + party + "' in the audit log");
  return *key;
}

StatusOr<engine::JobSpec> Node::VerifyJobForRun(const std::string& job_id, const Json& job) {
  CONSORT_ASSIGN_OR_RETURN(engine::JobSpec spec, SpecMatchingId(job_id, job));
  if (!spec.parties.count(config_.name)) {
    return absl::PermissionDeniedError("node " + config_.name + " is not a party of this job");
  }
  const Json sigs = job.value("signatures", Json::object());
  const int64_t attempt = job.value("attempt", int64_t{0});
  if (attempt < 0) return absl::InvalidArgumentError("malformed attempt in the job");
  const std::string message = engine::ApprovalMessage(job_id, attempt);
  for (const auto& party : spec.PartyNames()) {
    if (!sigs.contains(party) || !sigs[party].is_string()) {
      return absl::UnauthenticatedError("approval signature of " + party + " is missing; refusing job");
    }
    auto sig = crypto::DecodeSignature(sigs[party].get<std::string>());
    CONSORT_ASSIGN_OR_RETURN(auto key, PartyKey(party));
    if (!sig.ok() || !crypto::VerifyFor(key, "job-approval", AsBytes(message), *sig).ok()) {
      return absl::UnauthenticatedError("approval signature of " + party +
                                        (attempt ? " for attempt " + std::to_string(attempt) : "") +
                                        " does not verify; refusing job");
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  CONSORT_ASSIGN_OR_RETURN(auto rows, db_->Query("SELECT decision, attempt FROM decisions WHERE job_id = ?",
                                                 {job_id}));
  if (rows.empty() || AsText(rows[0][0]) != "approved" || AsInt(rows[0][1]) != attempt) {
    return absl::UnauthenticatedError("this node has no record of approving this run of the job; "
                                      "refusing job");
  }
  return spec;
}

// --- policies --------------------------------------------------------------------------------

StatusOr<PolicyRule> Node::AddPolicy(PolicyRule rule) {
  if (rule.role.empty()) {
    CONSORT_RETURN_IF_ERROR(engine::ValidateName(rule.dataset, "policy dataset"));
  } else {
    CONSORT_RETURN_IF_ERROR(engine::ValidateName(rule.role, "policy role"));
  }
  std::lock_guard<std::mutex> lock(mu_);
  rule.id = 0;
  CONSORT_RETURN_IF_ERROR(db_->Run("INSERT INTO policies (rule_json, created_ms) VALUES (?, ?)",
                                   {rule.ToJson().dump(), NowUnixMillis()}));
  rule.id = db_->last_insert_rowid();
  return rule;
}

StatusOr<std::vector<PolicyRule>> Node::ListPolicies() {
  std::lock_guard<std::mutex> lock(mu_);
  CONSORT_ASSIGN_OR_RETURN(auto rows, db_->Query("SELECT id, rule_json FROM policies ORDER BY id"));
  std::vector<PolicyRule> out;
  for (const auto& r : rows) {
    CONSORT_ASSIGN_OR_RETURN(Json j, ParseJson(AsText(r[1]), "policy"));
    CONSORT_ASSIGN_OR_RETURN(PolicyRule rule, PolicyRule::FromJson(j));
    rule.id = AsInt(r[0]);
    out.push_back(std::move(rule));
  }
  return out;
}

Status Node::RemovePolicy(int64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  CONSORT_RETURN_IF_ERROR(db_->Run("DELETE FROM policies WHERE id = ?", {id}));
  if (db_->changes() == 0) return absl::NotFoundError("no policy rule " + std::to_string(id));
  return OkStatus();
}

StatusOr<std::optional<PolicyRule>> Node::MatchPolicy(const engine::JobSpec& spec, std::string* why) {
  CONSORT_ASSIGN_OR_RETURN(auto rules, ListPolicies());
  std::string reasons;
  for (const auto& r : rules) {
    std::string w;
    if (RuleMatches(r, spec, config_.name, NowUnixMillis(), &w)) return std::optional<PolicyRule>(r);
    reasons += (reasons.empty() ? "" : "; ") + w;
  }
  if (why) *why = rules.empty() ? "no policy rules" : reasons;
  return std::optional<PolicyRule>();
}

// --- results ---------------------------------------------------------------------------------

Status Node::StoreResultTable(const std::string& job_id, const std::string& name,
                              const data::Table& t) {
  CONSORT_RETURN_IF_ERROR(CheckResultName(name, job_id));
  std::string path = JoinPath(JoinPath(home_, "results"), job_id.substr(0, 16) + "-" + name + ".csv");
  data::CsvWriteOptions csv;
  csv.mode = 0600;  // results are private data of this party
  CONSORT_RETURN_IF_ERROR(data::WriteCsv(t, path, csv));
  CONSORT_ASSIGN_OR_RETURN(std::string fp, data::FileFingerprint(path));
  engine::DatasetInfo info = InfoFor(config_.name, name, t, "result of job " + job_id.substr(0, 12));
  DatasetSource src{"result", path, ""};
  std::lock_guard<std::mutex> lock(mu_);
  return InTransaction(*db_, [&]() -> Status {
    CONSORT_RETURN_IF_ERROR(db_->Run(
        "INSERT OR REPLACE INTO results (job_id, name, kind, path, created_ms) VALUES (?, ?, 'table', ?, ?)",
        {job_id, name, path, NowUnixMillis()}));
    // The result becomes a local dataset (not published: publishing is the owner's choice).
    return db_->Run(
        "INSERT OR REPLACE INTO datasets (name, source_json, info_json, fingerprint, published, "
        "registered_ms) VALUES (?, ?, ?, ?, 0, ?)",
        {name, src.ToJson().dump(), info.ToJson().dump(), fp, NowUnixMillis()});
  });
}

Status Node::StoreResultSummary(const std::string& job_id, const Json& summary) {
  std::lock_guard<std::mutex> lock(mu_);
  return db_->Run("INSERT OR REPLACE INTO results (job_id, name, kind, summary_json, created_ms) "
                  "VALUES (?, 'summary', 'summary', ?, ?)",
                  {job_id, summary.dump(), NowUnixMillis()});
}

Status Node::StoreResultTableFile(const std::string& job_id, const std::string& name,
                                  const std::string& csv_path, const std::string& types_from) {
  // Validate while streaming (a result may be far larger than memory): schema and row count.
  // Column types come from the dataset the rows were taken from, so that a subset of a column
  // keeps its type (digits-only ids stay strings); columns it does not have are inferred.
  data::CsvStreamOptions opts;
  opts.read.source_name = name + ".csv";
  if (!types_from.empty()) {
    auto d = FindLocalDataset(types_from);
    if (d.ok() && d->info.contains("columns") && d->info["columns"].is_array()) {
      for (const Json& c : d->info["columns"]) {
        if (!c.is_object() || !c.value("name", Json()).is_string() || !c.value("type", Json()).is_string()) continue;
        auto type = data::ParseColumnType(c["type"].get<std::string>());
        if (type.ok()) opts.read.column_types[c["name"].get<std::string>()] = *type;
      }
    }
  }
  StatusOr<std::unique_ptr<data::TableReader>> opened = data::OpenCsvReader(csv_path, opts);
  if (!opened.ok() && opened.status().code() == absl::StatusCode::kNotFound &&
      !opts.read.column_types.empty()) {
    // The result has columns the source does not: infer every type instead.
    opts.read.column_types.clear();
    opened = data::OpenCsvReader(csv_path, opts);
  }
  CONSORT_ASSIGN_OR_RETURN(std::unique_ptr<data::TableReader> reader, std::move(opened));
  data::Table batch, first;
  uint64_t rows = 0;
  bool have_schema = false;
  while (true) {
    CONSORT_ASSIGN_OR_RETURN(bool more, reader->Next(&batch));
    if (!more) break;
    if (!have_schema) {
      std::vector<uint32_t> none;
      CONSORT_ASSIGN_OR_RETURN(first, batch.SelectRows(none));
      have_schema = true;
    }
    rows += batch.num_rows();
  }
  reader.reset();
  if (!have_schema) {
    // No data rows: the header alone gives the schema.
    CONSORT_ASSIGN_OR_RETURN(first, data::ReadCsv(csv_path, opts.read));
  }
  CONSORT_RETURN_IF_ERROR(CheckResultName(name, job_id));
  std::string path = JoinPath(JoinPath(home_, "results"), job_id.substr(0, 16) + "-" + name + ".csv");
  CONSORT_RETURN_IF_ERROR(MakeDirs(JoinPath(home_, "results")));
  std::error_code ec;
  std::filesystem::rename(csv_path, path, ec);
  if (ec) {
    // A different file system: copy, then remove the original.
    std::filesystem::copy_file(csv_path, path, std::filesystem::copy_options::overwrite_existing, ec);
    if (ec) return absl::InternalError("cannot move result file into results/: " + ec.message());
    std::filesystem::remove(csv_path, ec);
  }
  std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                               ec);
  CONSORT_ASSIGN_OR_RETURN(std::string fp, data::FileFingerprint(path));
  engine::DatasetInfo info = InfoFor(config_.name, name, first, "result of job " + job_id.substr(0, 12));
  info.rows = static_cast<int64_t>(rows);
  DatasetSource src{"result", path, ""};
  std::lock_guard<std::mutex> lock(mu_);
  return InTransaction(*db_, [&]() -> Status {
    CONSORT_RETURN_IF_ERROR(db_->Run(
        "INSERT OR REPLACE INTO results (job_id, name, kind, path, created_ms) VALUES (?, ?, 'table', ?, ?)",
        {job_id, name, path, NowUnixMillis()}));
    return db_->Run(
        "INSERT OR REPLACE INTO datasets (name, source_json, info_json, fingerprint, published, "
        "registered_ms) VALUES (?, ?, ?, ?, 0, ?)",
        {name, src.ToJson().dump(), info.ToJson().dump(), fp, NowUnixMillis()});
  });
}

Status Node::CheckResultName(const std::string& name, const std::string& job_id) {
  // A result never replaces a dataset the owner registered, nor another job's result.
  std::lock_guard<std::mutex> lock(mu_);
  CONSORT_ASSIGN_OR_RETURN(auto rows, db_->Query("SELECT source_json FROM datasets WHERE name = ?", {name}));
  if (rows.empty()) return OkStatus();
  CONSORT_ASSIGN_OR_RETURN(auto mine, db_->Query("SELECT 1 FROM results WHERE job_id = ? AND name = ?",
                                                 {job_id, name}));
  if (!mine.empty()) return OkStatus();  // this job's own earlier attempt
  return absl::AlreadyExistsError("a dataset named '" + name + "' already exists on node " +
                                  config_.name + "; choose another result_name");
}

// --- job working space -----------------------------------------------------------------------

StatusOr<std::string> Node::ScratchDir(const std::string& job_id) {
  CONSORT_RETURN_IF_ERROR(engine::ValidateJobId(job_id));
  std::string dir = JoinPath(JoinPath(home_, "scratch"), job_id);
  CONSORT_RETURN_IF_ERROR(MakeDirs(dir));
  return dir;
}

void Node::RemoveScratchDir(const std::string& job_id) {
  if (!engine::ValidateJobId(job_id).ok()) return;
  std::error_code ec;
  std::filesystem::remove_all(JoinPath(JoinPath(home_, "scratch"), job_id), ec);
}

StatusOr<std::string> Node::CacheDir(const std::string& dataset, const std::string& key) {
  CONSORT_RETURN_IF_ERROR(engine::ValidateName(dataset, "dataset name"));
  CONSORT_RETURN_IF_ERROR(engine::ValidateName(key, "cache key"));
  std::string dir = JoinPath(JoinPath(JoinPath(home_, "cache"), dataset), key);
  CONSORT_RETURN_IF_ERROR(MakeDirs(dir));
  return dir;
}

// --- models ----------------------------------------------------------------------------------

Status Node::StoreModel(const std::string& job_id, const std::string& name, const Json& metadata,
                        ByteSpan blob) {
  CONSORT_RETURN_IF_ERROR(engine::ValidateName(name, "model name"));
  if (!metadata.is_object()) return absl::InvalidArgumentError("model metadata must be a JSON object");
  std::string dir = JoinPath(home_, "models");
  CONSORT_RETURN_IF_ERROR(MakeDirs(dir));
  std::string path = JoinPath(dir, name + ".model");
  std::string digest = crypto::Sha256Hex(std::string_view(reinterpret_cast<const char*>(blob.data()), blob.size()));
  {
    std::lock_guard<std::mutex> lock(mu_);
    CONSORT_ASSIGN_OR_RETURN(auto rows, db_->Query("SELECT 1 FROM models WHERE name = ?", {name}));
    if (!rows.empty()) {
      return absl::AlreadyExistsError("model '" + name + "' already exists on node " + config_.name);
    }
    CONSORT_RETURN_IF_ERROR(WriteFileAtomic(
        path, std::string_view(reinterpret_cast<const char*>(blob.data()), blob.size()), 0600));
    CONSORT_RETURN_IF_ERROR(db_->Run(
        "INSERT INTO models (name, job_id, metadata_json, path, digest, created_ms, published) "
        "VALUES (?, ?, ?, ?, ?, ?, 0)",
        {name, job_id, metadata.dump(), path, digest, NowUnixMillis()}));
  }
  Json body = {{"owner", config_.name}, {"name", name}, {"job_id", job_id}, {"metadata", metadata}};
  CONSORT_ASSIGN_OR_RETURN(auto entry, audit::MakeAuthorPart("model.registered", config_.name,
                                                             NowUnixMillis(), body, *key_));
  auto published = Call("model.register", {{"entry", entry.SubmissionJson()}});
  if (!published.ok()) {
    return Status(published.status().code(),
                  "model '" + name + "' is stored on this node but was not published to the "
                  "catalog: " + std::string(published.status().message()));
  }
  std::lock_guard<std::mutex> lock(mu_);
  return db_->Run("UPDATE models SET published = 1 WHERE name = ?", {name});
}

StatusOr<engine::StoredModel> Node::LoadModel(const std::string& name) {
  CONSORT_RETURN_IF_ERROR(engine::ValidateName(name, "model name"));
  std::string meta_text, path, digest;
  {
    std::lock_guard<std::mutex> lock(mu_);
    CONSORT_ASSIGN_OR_RETURN(auto rows, db_->Query(
        "SELECT metadata_json, path, digest FROM models WHERE name = ?", {name}));
    if (rows.empty()) return absl::NotFoundError("no model '" + name + "' on node " + config_.name);
    meta_text = AsText(rows[0][0]);
    path = AsText(rows[0][1]);
    digest = AsText(rows[0][2]);
  }
  auto blob = ReadFile(path);
  if (!blob.ok()) return absl::DataLossError("model '" + name + "': its file is missing");
  if (crypto::Sha256Hex(*blob) != digest) {
    return absl::DataLossError("model '" + name + "': its file was altered since it was stored");
  }
  engine::StoredModel m;
  CONSORT_ASSIGN_OR_RETURN(m.metadata, ParseJson(meta_text, "model metadata"));
  m.blob.assign(blob->begin(), blob->end());
  return m;
}

StatusOr<Json> Node::ListModels() {
  std::lock_guard<std::mutex> lock(mu_);
  CONSORT_ASSIGN_OR_RETURN(auto rows, db_->Query("SELECT name, job_id, metadata_json, created_ms, "
                                                 "published FROM models ORDER BY name"));
  Json out = Json::array();
  for (const auto& r : rows) {
    CONSORT_ASSIGN_OR_RETURN(Json meta, ParseJson(AsText(r[2]), "model metadata"));
    out.push_back({{"name", AsText(r[0])}, {"job_id", AsText(r[1])}, {"metadata", meta},
                   {"created", FormatRfc3339(AsInt(r[3]))}, {"published", AsInt(r[4]) != 0}});
  }
  return out;
}

StatusOr<Json> Node::Results(const std::string& job_id) {
  std::lock_guard<std::mutex> lock(mu_);
  CONSORT_ASSIGN_OR_RETURN(auto rows, db_->Query("SELECT name, kind, path, summary_json FROM results "
                                                 "WHERE job_id = ? ORDER BY name",
                                                 {job_id}));
  Json out = {{"job_id", job_id}, {"tables", Json::array()}, {"summary", Json::object()}};
  for (const auto& r : rows) {
    if (AsText(r[1]) == "summary") {
      CONSORT_ASSIGN_OR_RETURN(out["summary"], ParseJson(AsText(r[3]), "summary"));
    } else {
      out["tables"].push_back({{"dataset", AsText(r[0])}, {"path", AsText(r[2])}});
    }
  }
  CONSORT_ASSIGN_OR_RETURN(auto run, db_->Query("SELECT state, reason, started_ms, finished_ms, "
                                                "bytes_sent, bytes_received FROM runs WHERE job_id = ?",
                                                {job_id}));
  if (!run.empty()) {
    out["run"] = {{"state", AsText(run[0][0])}, {"reason", AsText(run[0][1])},
                  {"seconds", (AsInt(run[0][3]) - AsInt(run[0][2])) / 1000.0},
                  {"bytes_sent", AsInt(run[0][4])}, {"bytes_received", AsInt(run[0][5])}};
  }
  if (rows.empty() && run.empty()) return absl::NotFoundError("no result of job " + job_id + " on this node");
  return out;
}

// --- audit -----------------------------------------------------------------------------------

StatusOr<int64_t> Node::SyncAudit() {
  while (true) {
    int64_t size;
    {
      std::lock_guard<std::mutex> lock(mu_);
      CONSORT_ASSIGN_OR_RETURN(size, log_->Size());
    }
    CONSORT_ASSIGN_OR_RETURN(Json page, Call("audit.range", {{"from", size}, {"limit", 500}}));
    std::vector<audit::Entry> entries;
    for (const auto& ej : page.value("entries", Json::array())) {
      CONSORT_ASSIGN_OR_RETURN(auto e, audit::Entry::FromJson(ej));
      entries.push_back(std::move(e));
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (!entries.empty()) CONSORT_RETURN_IF_ERROR(log_->Ingest(entries).status());
    CONSORT_ASSIGN_OR_RETURN(int64_t now_size, log_->Size());
    if (page.contains("head")) {
      CONSORT_ASSIGN_OR_RETURN(auto head, audit::SignedHead::FromJson(page["head"]));
      if (head.size <= now_size) CONSORT_RETURN_IF_ERROR(log_->RecordSignedHead(head));
    }
    if (entries.empty() || now_size >= page.value("size", int64_t{0})) return now_size;
  }
}

StatusOr<Json> Node::VerifyAudit(bool sync_first) {
  Status sync = OkStatus();
  if (sync_first) sync = SyncAudit().status();
  std::lock_guard<std::mutex> lock(mu_);
  audit::VerifyReport report = audit::VerifyLog(*log_, log_->coordinator_key());
  Json out = {{"ok", report.ok && sync.ok()}, {"entries", report.entries_checked}};
  if (!report.ok) {
    out["first_bad_seq"] = report.first_bad_seq;
    out["reason"] = report.reason;
  } else if (!sync.ok()) {
    out["reason"] = "replica is intact but does not agree with the coordinator: " +
                    std::string(sync.message());
  }
  CONSORT_ASSIGN_OR_RETURN(auto head, log_->LatestSignedHead());
  if (head) out["signed_head_size"] = head->size;
  return out;
}

}  // namespace consort::node
