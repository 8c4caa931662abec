#include "consort/coordinator/coordinator.h"

#include <algorithm>
#include <chrono>
#include <set>

#include "consort/audit/entry.h"
#include "consort/audit/log_store.h"
#include "consort/common/files.h"
#include "consort/common/logging.h"
#include "consort/common/time.h"
#include "consort/coordinator/hosted_party.h"
#include "consort/coordinator/invite.h"
#include "consort/coordinator/job_state.h"
#include "consort/crypto/hash.h"
#include "consort/crypto/random.h"
#include "consort/engine/catalog.h"
#include "consort/engine/job_spec.h"
#include "consort/engine/operator.h"
#include "consort/net/address.h"
#include "consort/net/grpc_transport.h"
#include "consort/net/peer_directory.h"

namespace consort::coordinator {
namespace {

constexpr char kVersion[] = "0.1.0";
constexpr int kSchemaVersion = 1;

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS members (
  name TEXT PRIMARY KEY, signing_key TEXT NOT NULL, tls_fingerprint TEXT NOT NULL UNIQUE,
  tls_cert_pem TEXT NOT NULL, address TEXT NOT NULL DEFAULT '', registered_ms INTEGER NOT NULL,
  last_seen_ms INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS invites (
  secret_hash TEXT PRIMARY KEY, name TEXT NOT NULL, created_ms INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL, used_ms INTEGER);
CREATE TABLE IF NOT EXISTS datasets (
  owner TEXT NOT NULL, name TEXT NOT NULL, info_json TEXT NOT NULL, registered_ms INTEGER NOT NULL,
  PRIMARY KEY (owner, name));
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY, spec_json TEXT NOT NULL, operator TEXT NOT NULL, name TEXT NOT NULL,
  state TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '', submitted_by TEXT NOT NULL,
  created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, attempt INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS job_parties (
  job_id TEXT NOT NULL REFERENCES jobs(id), party TEXT NOT NULL,
  decision TEXT NOT NULL DEFAULT 'pending', signature TEXT NOT NULL DEFAULT '',
  reason TEXT NOT NULL DEFAULT '', run_state TEXT NOT NULL DEFAULT '',
  fraction REAL NOT NULL DEFAULT 0, stage TEXT NOT NULL DEFAULT '',
  last_report_ms INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (job_id, party));
CREATE INDEX IF NOT EXISTS job_parties_party ON job_parties(party);
CREATE TABLE IF NOT EXISTS models (
  owner TEXT NOT NULL, name TEXT NOT NULL, job_id TEXT NOT NULL, metadata_json TEXT NOT NULL,
  registered_ms INTEGER NOT NULL, PRIMARY KEY (owner, name));
CREATE TABLE IF NOT EXISTS tokens (
  token_hash TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, created_ms INTEGER NOT NULL);
)sql";

std::string ConfigPath(const std::string& home) { return JoinPath(home, "coordinator.json"); }

Status RequireAdmin(const Caller& c) {
  if (c.kind != Caller::Kind::kAdmin) {
    return absl::PermissionDeniedError("this operation needs an admin API token");
  }
  return OkStatus();
}

Status RequireAuthenticated(const Caller& c) {
  if (c.kind == Caller::Kind::kAnonymous) {
    return absl::UnauthenticatedError("this operation needs a node identity or an API token");
  }
  return OkStatus();
}

Status RequireNode(const Caller& c) {
  if (c.kind != Caller::Kind::kNode) {
    return absl::PermissionDeniedError("only a federation node may call this");
  }
  return OkStatus();
}

StatusOr<std::string> JobIdField(const Json& body) {
  CONSORT_ASSIGN_OR_RETURN(std::string id, GetString(body, "job_id", "$"));
  CONSORT_RETURN_IF_ERROR(engine::ValidateJobId(id));
  return id;
}

// The catalog as stored in the coordinator database.
class DbCatalog final : public engine::CatalogView {
 public:
  explicit DbCatalog(SqlDb& db) : db_(db) {}
  bool IsMember(const std::string& party) const override {
    // The coordinator takes part under its reserved name (SubmitJob checks it hosts a dealer).
    if (party == engine::kCoordinatorParty) return true;
    auto rows = db_.Query("SELECT 1 FROM members WHERE name = ?", {party});
    return rows.ok() && !rows->empty();
  }
  StatusOr<engine::DatasetInfo> Dataset(const std::string& owner,
                                        const std::string& name) const override {
    CONSORT_ASSIGN_OR_RETURN(auto rows,
                             db_.Query("SELECT info_json FROM datasets WHERE owner = ? AND name = ?",
                                       {owner, name}));
    if (rows.empty()) return absl::NotFoundError("no dataset " + owner + "/" + name);
    CONSORT_ASSIGN_OR_RETURN(Json j, ParseJson(AsText(rows[0][0]), "catalog"));
    return engine::DatasetInfo::FromJson(j);
  }

 private:
  SqlDb& db_;
};

}  // namespace

// A run of the coordinator's own part of a job (hosted_party.h).
struct Coordinator::HostedRun {
  std::string job_id;
  std::shared_ptr<HostedPartySession> session;
  std::thread thread;
  std::atomic<bool> done{false};
  std::atomic<bool> cancel_requested{false};
  std::atomic<bool> stopping{false};
};

Json CoordinatorConfig::ToJson() const {
  return {{"grpc_listen", grpc_listen},
          {"api_listen", api_listen},
          {"peer_listen", peer_listen},
          {"peer_advertise", peer_advertise},
          {"grpc_advertise", grpc_advertise},
          {"api_advertise", api_advertise},
          {"host_dealer", host_dealer},
          {"party_silence_timeout_ms", party_silence_timeout_ms},
          {"invite_ttl_ms", invite_ttl_ms}};
}

StatusOr<CoordinatorConfig> CoordinatorConfig::FromJson(const Json& j) {
  CoordinatorConfig c;
  if (!j.is_object()) return absl::InvalidArgumentError("coordinator config must be an object");
  for (const auto& [k, v] : j.items()) {
    if (k == "grpc_listen" && v.is_string()) c.grpc_listen = v;
    else if (k == "api_listen" && v.is_string()) c.api_listen = v;
    else if (k == "peer_listen" && v.is_string()) c.peer_listen = v;
    else if (k == "peer_advertise" && v.is_string()) c.peer_advertise = v;
    else if (k == "grpc_advertise" && v.is_string()) c.grpc_advertise = v;
    else if (k == "api_advertise" && v.is_string()) c.api_advertise = v;
    else if (k == "host_dealer" && v.is_boolean()) c.host_dealer = v;
    else if (k == "party_silence_timeout_ms" && v.is_number_integer()) c.party_silence_timeout_ms = v;
    else if (k == "invite_ttl_ms" && v.is_number_integer()) c.invite_ttl_ms = v;
    else return absl::InvalidArgumentError("coordinator config: unknown or mistyped field '" + k + "'");
  }
  return c;
}

Status Coordinator::Init(const std::string& home, const CoordinatorConfig& config) {
  crypto::InitCrypto();
  if (FileExists(ConfigPath(home))) {
    return absl::AlreadyExistsError(home + " already holds a coordinator");
  }
  // Addresses nodes cannot dial fail here, not at start.
  CONSORT_RETURN_IF_ERROR(
      net::AdvertisedAddress(config.grpc_listen, config.grpc_advertise, 1, "--advertise")
          .status());
  CONSORT_RETURN_IF_ERROR(
      net::AdvertisedAddress(config.api_listen, config.api_advertise, 1, "--api-advertise")
          .status());
  if (config.host_dealer) {
    CONSORT_RETURN_IF_ERROR(
        net::AdvertisedAddress(config.peer_listen, config.peer_advertise, 1, "--peer-advertise")
            .status());
  }
  CONSORT_RETURN_IF_ERROR(MakeDirs(home, 0700));
  CONSORT_RETURN_IF_ERROR(MakeDirs(JoinPath(home, "keys"), 0700));
  auto key = crypto::SigningKey::Generate();
  CONSORT_RETURN_IF_ERROR(WriteFileAtomic(JoinPath(home, "keys/signing.key"),
                                          HexEncode(key.seed().span()), 0600));
  CONSORT_ASSIGN_OR_RETURN(auto tls, crypto::GenerateTlsIdentity("consort-coordinator"));
  CONSORT_RETURN_IF_ERROR(WriteFileAtomic(JoinPath(home, "keys/tls.key"), tls.key_pem, 0600));
  CONSORT_RETURN_IF_ERROR(WriteFileAtomic(JoinPath(home, "keys/tls.crt"), tls.cert_pem, 0644));
  {
    CONSORT_ASSIGN_OR_RETURN(SqlDb db, SqlDb::Open(JoinPath(home, "coordinator.db")));
    CONSORT_RETURN_IF_ERROR(db.Exec(kSchema));
    std::string token = "cst_" + crypto::RandomHex(24);
    CONSORT_RETURN_IF_ERROR(db.Run(
        "INSERT INTO tokens (token_hash, name, role, created_ms) VALUES (?, 'admin', 'admin', ?)",
        {crypto::Sha256Hex(token), NowUnixMillis()}));
    CONSORT_RETURN_IF_ERROR(WriteFileAtomic(JoinPath(home, "admin.token"), token + "\n", 0600));
  }
  // The config is written last: its presence marks a complete initialization.
  return WriteFileAtomic(ConfigPath(home), config.ToJson().dump(2) + "\n", 0644);
}

StatusOr<std::unique_ptr<Coordinator>> Coordinator::Open(const std::string& home) {
  crypto::InitCrypto();
  auto text = ReadFile(ConfigPath(home));
  if (!text.ok()) {
    return absl::NotFoundError(home + " is not a coordinator home (run `consort coordinator init`)");
  }
  CONSORT_ASSIGN_OR_RETURN(Json cj, ParseJson(*text, ConfigPath(home)));
  std::unique_ptr<Coordinator> c(new Coordinator());
  c->home_ = home;
  CONSORT_ASSIGN_OR_RETURN(c->config_, CoordinatorConfig::FromJson(cj));
  c->grpc_advertise_ = c->config_.grpc_advertise;
  c->api_advertise_ = c->config_.api_advertise;
  CONSORT_ASSIGN_OR_RETURN(std::string seed_hex, ReadFile(JoinPath(home, "keys/signing.key")));
  while (!seed_hex.empty() && (seed_hex.back() == '\n' || seed_hex.back() == ' ')) seed_hex.pop_back();
  CONSORT_ASSIGN_OR_RETURN(Bytes seed, HexDecode(seed_hex));
  CONSORT_ASSIGN_OR_RETURN(auto key, crypto::SigningKey::FromSeed(seed));
  crypto::SecretBytes wipe(seed.data(), seed.size());
  std::fill(seed.begin(), seed.end(), 0);
  c->key_ = std::make_unique<crypto::SigningKey>(std::move(key));
  CONSORT_ASSIGN_OR_RETURN(c->tls_.key_pem, ReadFile(JoinPath(home, "keys/tls.key")));
  CONSORT_ASSIGN_OR_RETURN(c->tls_.cert_pem, ReadFile(JoinPath(home, "keys/tls.crt")));
  CONSORT_ASSIGN_OR_RETURN(c->tls_fingerprint_, crypto::CertificateFingerprint(c->tls_.cert_pem));
  CONSORT_ASSIGN_OR_RETURN(SqlDb db, SqlDb::Open(JoinPath(home, "coordinator.db")));
  c->db_ = std::make_unique<SqlDb>(std::move(db));
  CONSORT_RETURN_IF_ERROR(c->Migrate());
  CONSORT_ASSIGN_OR_RETURN(auto log, audit::LogStore::Open(c->db_.get(), c->key_->public_key()));
  c->log_ = std::make_unique<audit::LogStore>(std::move(log));
  return c;
}

Coordinator::~Coordinator() { StopScheduler(); }

Status Coordinator::Migrate() {
  CONSORT_RETURN_IF_ERROR(db_->Exec(kSchema));
  // Homes created before retries existed (an error means the column is there).
  (void)db_->Exec("ALTER TABLE jobs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0");
  return db_->Run("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
                  {std::to_string(kSchemaVersion)});
}

namespace {

// `bound` ("host:port") as announced under `advertise` (checked by SetAdvertised).
std::string Announced(const std::string& bound, const std::string& advertise) {
  if (advertise.empty()) return bound;
  const int port = std::atoi(bound.substr(bound.rfind(':') + 1).c_str());
  auto a = net::AdvertisedAddress(bound, advertise, port, "advertise");
  return a.ok() ? *a : bound;
}

}  // namespace

void Coordinator::set_bound_addresses(const std::string& grpc, const std::string& api) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!grpc.empty()) bound_grpc_ = Announced(grpc, grpc_advertise_);
  if (!api.empty()) bound_api_ = Announced(api, api_advertise_);
}

Status Coordinator::SetAdvertised(const std::string& grpc_listen,
                                  const std::string& grpc_advertise,
                                  const std::string& api_listen,
                                  const std::string& api_advertise) {
  CONSORT_RETURN_IF_ERROR(
      net::AdvertisedAddress(grpc_listen, grpc_advertise, 1, "--advertise").status());
  CONSORT_RETURN_IF_ERROR(
      net::AdvertisedAddress(api_listen, api_advertise, 1, "--api-advertise").status());
  std::lock_guard<std::mutex> lock(mu_);
  grpc_advertise_ = grpc_advertise;
  api_advertise_ = api_advertise;
  return OkStatus();
}

StatusOr<Caller> Coordinator::AuthenticateToken(const std::string& token) {
  std::lock_guard<std::mutex> lock(mu_);
  CONSORT_ASSIGN_OR_RETURN(auto rows, db_->Query("SELECT name FROM tokens WHERE token_hash = ?",
                                                 {crypto::Sha256Hex(token)}));
  if (rows.empty()) return absl::UnauthenticatedError("unknown API token");
  return Caller::Admin(AsText(rows[0][0]));
}

StatusOr<Caller> Coordinator::AuthenticateNode(const std::string& fp) {
  std::lock_guard<std::mutex> lock(mu_);
  CONSORT_ASSIGN_OR_RETURN(auto rows,
                           db_->Query("SELECT name FROM members WHERE tls_fingerprint = ?", {fp}));
  if (rows.empty()) return absl::UnauthenticatedError("certificate is not a registered node's");
  return Caller::Node(AsText(rows[0][0]));
}

bool Coordinator::IsRegisteredFingerprint(const std::string& fp) { return AuthenticateNode(fp).ok(); }

StatusOr<Json> Coordinator::Dispatch(const Caller& caller, const std::string& method,
                                     const Json& body_in) {
  // Bodies come from the network: a field of the wrong type makes nlohmann throw; that is the
  // caller's mistake (InvalidArgument), and no exception may leave this module.
  try {
    return DispatchUnchecked(caller, method, body_in);
  } catch (const Json::exception& e) {
    return absl::InvalidArgumentError("malformed request body for " + method + ": " + e.what());
  }
}

StatusOr<Json> Coordinator::DispatchUnchecked(const Caller& caller, const std::string& method,
                                              const Json& body_in) {
  const Json body = body_in.is_null() ? Json::object() : body_in;
  if (!body.is_object()) return absl::InvalidArgumentError("request body must be a JSON object");
  using Fn = StatusOr<Json> (Coordinator::*)(const Caller&, const Json&);
  static const std::map<std::string, Fn> kMethods = {
      {"info", &Coordinator::Info},
      {"invite.create", &Coordinator::CreateInvite},
      {"token.create", &Coordinator::CreateToken},
      {"token.list", &Coordinator::ListTokens},
      {"token.revoke", &Coordinator::RevokeToken},
      {"node.register", &Coordinator::RegisterNode},
      {"node.hello", &Coordinator::NodeHello},
      {"members.list", &Coordinator::ListMembers},
      {"dataset.register", &Coordinator::RegisterDataset},
      {"dataset.list", &Coordinator::ListDatasets},
      {"operator.list", &Coordinator::ListOperators},
      {"job.submit", &Coordinator::SubmitJob},
      {"job.list", &Coordinator::ListJobs},
      {"job.get", &Coordinator::GetJob},
      {"job.approve", &Coordinator::ApproveJob},
      {"job.reject", &Coordinator::RejectJob},
      {"job.cancel", &Coordinator::CancelJob},
      {"job.retry", &Coordinator::RetryJob},
      {"model.register", &Coordinator::RegisterModel},
      {"model.list", &Coordinator::ListModels},
      {"node.poll", &Coordinator::Poll},
      {"job.progress", &Coordinator::ReportProgress},
      {"job.report", &Coordinator::ReportOutcome},
      {"audit.range", &Coordinator::AuditRange},
  };
  auto it = kMethods.find(method);
  if (it == kMethods.end()) return absl::NotFoundError("unknown method '" + method + "'");

  if (method == "node.poll") {
    // Long poll: the node passes the state generation it last saw ("since"); the answer comes
    // at once if anything changed since then, else when something does or `wait_ms` passes.
    // (Answering at once whenever there is pending work would spin while a job runs.)
    int64_t wait_ms = std::clamp<int64_t>(body.value("wait_ms", int64_t{0}), 0, 30'000);
    int64_t since = body.value("since", int64_t{-1});
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait_until(lock, deadline, [&] {
      return static_cast<int64_t>(generation_) != since || stop_;
    });
    if (caller.kind == Caller::Kind::kNode) {
      (void)db_->Run("UPDATE members SET last_seen_ms = ? WHERE name = ?",
                     {NowUnixMillis(), caller.name});
    }
    auto r = Poll(caller, body);
    if (r.ok()) (*r)["generation"] = static_cast<int64_t>(generation_);
    return r;
  }

  std::lock_guard<std::mutex> lock(mu_);
  if (caller.kind == Caller::Kind::kNode) {
    (void)db_->Run("UPDATE members SET last_seen_ms = ? WHERE name = ?",
                   {NowUnixMillis(), caller.name});
  }
  return (this->*(it->second))(caller, body);
}

void Coordinator::Notify() {
  ++generation_;
  changed_.notify_all();
}

// --- audit -------------------------------------------------------------------------------

Status Coordinator::AppendCoordinatorEntry(const std::string& kind, const Json& body) {
  auto entry = audit::MakeAuthorPart(kind, "coordinator", NowUnixMillis(), body, *key_);
  CONSORT_RETURN_IF_ERROR(entry.status());
  return log_->Append(*entry).status();
}

Status Coordinator::AppendAuthoredEntry(const Json& signed_entry, const std::string& author,
                                        const std::string& kind) {
  CONSORT_ASSIGN_OR_RETURN(auto entry, audit::Entry::FromSubmissionJson(signed_entry));
  if (entry.author != author) {
    return absl::PermissionDeniedError("audit entry is authored by '" + entry.author +
                                       "', not by the caller '" + author + "'");
  }
  if (entry.kind != kind) {
    return absl::InvalidArgumentError("audit entry kind must be '" + kind + "', got '" +
                                      entry.kind + "'");
  }
  return log_->Append(entry).status();
}

// --- methods -------------------------------------------------------------------------------

StatusOr<Json> Coordinator::Info(const Caller&, const Json&) {
  return Json{{"name", "coordinator"},
              {"version", kVersion},
              {"tls_fingerprint", tls_fingerprint_},
              {"signing_key", crypto::EncodePublicKey(key_->public_key())},
              {"grpc_listen", bound_grpc_.empty() ? config_.grpc_listen : bound_grpc_},
              {"api_listen", bound_api_.empty() ? config_.api_listen : bound_api_},
              {"peer_address", bound_peer_},
              {"hosts_dealer", config_.host_dealer && !bound_peer_.empty()}};
}

StatusOr<Json> Coordinator::CreateInvite(const Caller& c, const Json& body) {
  CONSORT_RETURN_IF_ERROR(RequireAdmin(c));
  CONSORT_ASSIGN_OR_RETURN(std::string name, GetString(body, "name", "$"));
  CONSORT_RETURN_IF_ERROR(engine::ValidateName(name, "$.name"));
  if (name == engine::kCoordinatorParty) {
    return absl::InvalidArgumentError(std::string("$.name: '") + engine::kCoordinatorParty +
                                      "' is reserved for the coordinator itself");
  }
  CONSORT_ASSIGN_OR_RETURN(auto existing, db_->Query("SELECT 1 FROM members WHERE name = ?", {name}));
  if (!existing.empty()) return absl::AlreadyExistsError("a node named '" + name + "' is already registered");
  int64_t ttl = config_.invite_ttl_ms;
  if (body.contains("ttl_hours")) {
    if (!body["ttl_hours"].is_number() || body["ttl_hours"].get<double>() <= 0) {
      return absl::InvalidArgumentError("$.ttl_hours must be a positive number");
    }
    ttl = static_cast<int64_t>(body["ttl_hours"].get<double>() * 3600 * 1000);
  }
  Invite inv;
  inv.name = name;
  inv.grpc_address = bound_grpc_.empty() ? config_.grpc_listen : bound_grpc_;
  inv.api_address = bound_api_.empty() ? config_.api_listen : bound_api_;
  inv.tls_fingerprint = tls_fingerprint_;
  inv.coordinator_key = crypto::EncodePublicKey(key_->public_key());
  inv.secret = crypto::RandomHex(32);
  int64_t now = NowUnixMillis();
  CONSORT_RETURN_IF_ERROR(db_->Run(
      "INSERT INTO invites (secret_hash, name, created_ms, expires_ms) VALUES (?, ?, ?, ?)",
      {crypto::Sha256Hex(inv.secret), name, now, now + ttl}));
  CONSORT_RETURN_IF_ERROR(AppendCoordinatorEntry(
      "invite.created", {{"name", name}, {"expires_at", FormatRfc3339(now + ttl)}, {"by", c.name}}));
  CONSORT_ASSIGN_OR_RETURN(std::string token, inv.Encode());
  return Json{{"name", name}, {"token", token}, {"expires_at", FormatRfc3339(now + ttl)}};
}

StatusOr<Json> Coordinator::CreateToken(const Caller& c, const Json& body) {
  CONSORT_RETURN_IF_ERROR(RequireAdmin(c));
  CONSORT_ASSIGN_OR_RETURN(std::string name, GetString(body, "name", "$"));
  CONSORT_RETURN_IF_ERROR(engine::ValidateName(name, "$.name"));
  CONSORT_ASSIGN_OR_RETURN(auto existing, db_->Query("SELECT 1 FROM tokens WHERE name = ?", {name}));
  if (!existing.empty()) return absl::AlreadyExistsError("an API token named '" + name + "' exists");
  // Only the hash is stored: the token is shown once, here.
  std::string token = "cst_" + crypto::RandomHex(24);
  CONSORT_RETURN_IF_ERROR(InTransaction(*db_, [&]() -> Status {
    CONSORT_RETURN_IF_ERROR(db_->Run(
        "INSERT INTO tokens (token_hash, name, role, created_ms) VALUES (?, ?, 'admin', ?)",
        {crypto::Sha256Hex(token), name, NowUnixMillis()}));
    return AppendCoordinatorEntry("token.created", {{"name", name}, {"by", c.name}});
  }));
  return Json{{"name", name}, {"token", token}};
}

StatusOr<Json> Coordinator::ListTokens(const Caller& c, const Json&) {
  CONSORT_RETURN_IF_ERROR(RequireAdmin(c));
  CONSORT_ASSIGN_OR_RETURN(auto rows, db_->Query("SELECT name, created_ms FROM tokens ORDER BY name"));
  Json out = Json::array();
  for (const auto& r : rows) {
    out.push_back({{"name", AsText(r[0])}, {"created_at", FormatRfc3339(AsInt(r[1]))}});
  }
  return Json{{"tokens", out}};
}

StatusOr<Json> Coordinator::RevokeToken(const Caller& c, const Json& body) {
  CONSORT_RETURN_IF_ERROR(RequireAdmin(c));
  CONSORT_ASSIGN_OR_RETURN(std::string name, GetString(body, "name", "$"));
  if (name == c.name) {
    return absl::FailedPreconditionError("a token cannot revoke itself; use another admin token");
  }
  CONSORT_RETURN_IF_ERROR(InTransaction(*db_, [&]() -> Status {
    CONSORT_RETURN_IF_ERROR(db_->Run("DELETE FROM tokens WHERE name = ?", {name}));
    if (db_->changes() == 0) return absl::NotFoundError("no API token named '" + name + "'");
    return AppendCoordinatorEntry("token.revoked", {{"name", name}, {"by", c.name}});
  }));
  return Json{{"name", name}, {"revoked", true}};
}

StatusOr<Json> Coordinator::RegisterNode(const Caller&, const Json& body) {
  CONSORT_ASSIGN_OR_RETURN(std::string token, GetString(body, "token", "$"));
  CONSORT_ASSIGN_OR_RETURN(std::string cert, GetString(body, "tls_cert_pem", "$"));
  CONSORT_ASSIGN_OR_RETURN(const Json* entry_json, GetObject(body, "entry", "$"));
  CONSORT_ASSIGN_OR_RETURN(Invite inv, Invite::Decode(token));
  CONSORT_ASSIGN_OR_RETURN(
      auto rows, db_->Query("SELECT name, expires_ms, used_ms FROM invites WHERE secret_hash = ?",
                            {crypto::Sha256Hex(inv.secret)}));
  if (rows.empty()) return absl::UnauthenticatedError("invite token is not valid");
  std::string name = AsText(rows[0][0]);
  if (!std::holds_alternative<std::monostate>(rows[0][2])) {
    return absl::UnauthenticatedError("invite token has already been used");
  }
  if (AsInt(rows[0][1]) < NowUnixMillis()) return absl::UnauthenticatedError("invite token has expired");

  CONSORT_ASSIGN_OR_RETURN(auto entry, audit::Entry::FromSubmissionJson(*entry_json));
  if (entry.kind != "node.registered" || entry.author != name) {
    return absl::InvalidArgumentError("registration entry must be kind node.registered by '" + name + "'");
  }
  CONSORT_ASSIGN_OR_RETURN(std::string body_name, GetString(entry.body, "name", "$.entry.body"));
  CONSORT_ASSIGN_OR_RETURN(std::string key_text, GetString(entry.body, "signing_key", "$.entry.body"));
  CONSORT_ASSIGN_OR_RETURN(std::string fp, GetString(entry.body, "tls_fingerprint", "$.entry.body"));
  if (body_name != name) {
    return absl::PermissionDeniedError("this invite is for '" + name + "', not '" + body_name + "'");
  }
  CONSORT_ASSIGN_OR_RETURN(std::string cert_fp, crypto::CertificateFingerprint(cert));
  if (cert_fp != fp) {
    return absl::InvalidArgumentError("tls_cert_pem does not match the signed tls_fingerprint");
  }
  CONSORT_RETURN_IF_ERROR(crypto::DecodePublicKey(key_text).status());
  int64_t now = NowUnixMillis();
  CONSORT_RETURN_IF_ERROR(InTransaction(*db_, [&]() -> Status {
    CONSORT_RETURN_IF_ERROR(log_->Append(entry).status());
    CONSORT_RETURN_IF_ERROR(db_->Run(
        "INSERT INTO members (name, signing_key, tls_fingerprint, tls_cert_pem, registered_ms) "
        "VALUES (?, ?, ?, ?, ?)",
        {name, key_text, fp, cert, now}));
    return db_->Run("UPDATE invites SET used_ms = ? WHERE secret_hash = ?",
                    {now, crypto::Sha256Hex(inv.secret)});
  }));
  CONSORT_LOG(INFO) << "node '" << name << "' registered";
  RefreshPeer(name);
  Notify();
  CONSORT_ASSIGN_OR_RETURN(Json members, ListMembers(Caller::Node(name), Json::object()));
  return Json{{"name", name},
              {"members", members["members"]},
              {"coordinator_key", crypto::EncodePublicKey(key_->public_key())}};
}

StatusOr<Json> Coordinator::NodeHello(const Caller& c, const Json& body) {
  CONSORT_RETURN_IF_ERROR(RequireNode(c));
  CONSORT_ASSIGN_OR_RETURN(std::string address, GetString(body, "address", "$"));
  if (address.size() > 256) return absl::InvalidArgumentError("$.address is too long");
  CONSORT_RETURN_IF_ERROR(
      db_->Run("UPDATE members SET address = ? WHERE name = ?", {address, c.name}));
  RefreshPeer(c.name);
  Notify();
  return Json{{"name", c.name}};
}

StatusOr<Json> Coordinator::ListMembers(const Caller& c, const Json&) {
  CONSORT_RETURN_IF_ERROR(RequireAuthenticated(c));
  CONSORT_ASSIGN_OR_RETURN(
      auto rows, db_->Query("SELECT name, signing_key, tls_fingerprint, address, registered_ms, "
                            "last_seen_ms, tls_cert_pem FROM members ORDER BY name"));
  Json out = Json::array();
  for (const auto& r : rows) {
    out.push_back({{"name", AsText(r[0])},
                   {"signing_key", AsText(r[1])},
                   {"tls_fingerprint", AsText(r[2])},
                   {"address", AsText(r[3])},
                   {"registered_at", FormatRfc3339(AsInt(r[4]))},
                   {"last_seen", AsInt(r[5]) ? FormatRfc3339(AsInt(r[5])) : ""},
                   {"tls_cert_pem", AsText(r[6])}});
  }
  // Where nodes reach the coordinator's own part in jobs (its dealer); nodes pin the
  // coordinator certificate they already trust, never a fingerprint from this reply.
  return Json{{"members", out}, {"coordinator", {{"peer_address", bound_peer_}}}};
}

StatusOr<Json> Coordinator::RegisterDataset(const Caller& c, const Json& body) {
  CONSORT_RETURN_IF_ERROR(RequireNode(c));
  CONSORT_ASSIGN_OR_RETURN(const Json* entry_json, GetObject(body, "entry", "$"));
  CONSORT_ASSIGN_OR_RETURN(auto entry, audit::Entry::FromSubmissionJson(*entry_json));
  if (entry.kind != "dataset.registered" || entry.author != c.name) {
    return absl::PermissionDeniedError("dataset entry must be kind dataset.registered by '" +
                                       c.name + "'");
  }
  CONSORT_ASSIGN_OR_RETURN(auto info, engine::DatasetInfo::FromJson(entry.body));
  if (info.owner != c.name) {
    return absl::PermissionDeniedError("node '" + c.name + "' cannot register a dataset for '" +
                                       info.owner + "'");
  }
  CONSORT_RETURN_IF_ERROR(engine::ValidateName(info.name, "dataset name"));
  CONSORT_RETURN_IF_ERROR(InTransaction(*db_, [&]() -> Status {
    CONSORT_RETURN_IF_ERROR(log_->Append(entry).status());
    return db_->Run(
        "INSERT OR REPLACE INTO datasets (owner, name, info_json, registered_ms) VALUES (?,?,?,?)",
        {info.owner, info.name, info.ToJson().dump(), NowUnixMillis()});
  }));
  return Json{{"owner", info.owner}, {"name", info.name}};
}

StatusOr<Json> Coordinator::ListDatasets(const Caller& c, const Json& body) {
  CONSORT_RETURN_IF_ERROR(RequireAuthenticated(c));
  std::string owner = body.value("owner", "");
  CONSORT_ASSIGN_OR_RETURN(
      auto rows, owner.empty()
                     ? db_->Query("SELECT info_json FROM datasets ORDER BY owner, name")
                     : db_->Query("SELECT info_json FROM datasets WHERE owner = ? ORDER BY name",
                                  {owner}));
  Json out = Json::array();
  for (const auto& r : rows) {
    CONSORT_ASSIGN_OR_RETURN(Json j, ParseJson(AsText(r[0]), "catalog"));
    out.push_back(j);
  }
  return Json{{"datasets", out}};
}

StatusOr<Json> Coordinator::ListOperators(const Caller&, const Json&) {
  Json out = Json::array();
  for (const auto* op : engine::OperatorRegistry::Global().List()) out.push_back(op->info().ToJson());
  return Json{{"operators", out}};
}

StatusOr<Json> Coordinator::SubmitJob(const Caller& c, const Json& body) {
  if (c.kind == Caller::Kind::kAnonymous) {
    return absl::UnauthenticatedError("submitting a job needs a node identity or an API token");
  }
  if (!body.contains("spec")) return absl::InvalidArgumentError("missing field $.spec");
  const Json& doc = body["spec"];
  CONSORT_ASSIGN_OR_RETURN(engine::JobSpec spec, engine::ParseJobSpec(doc));
  DbCatalog catalog(*db_);
  CONSORT_RETURN_IF_ERROR(engine::ValidateJob(spec, catalog));
  const bool hosted = spec.parties.count(engine::kCoordinatorParty) > 0;
  if (hosted && !config_.host_dealer) {
    return absl::FailedPreconditionError(
        "this coordinator does not act as a dealer (\"host_dealer\": false in coordinator.json); "
        "name a non-colluding node with {\"role\": \"dealer\"} instead");
  }
  if (hosted && bound_peer_.empty()) {
    return absl::FailedPreconditionError(
        "the coordinator's peer endpoint is not running, so it cannot act as a dealer");
  }
  CONSORT_ASSIGN_OR_RETURN(std::string id, engine::ComputeJobId(doc));
  CONSORT_ASSIGN_OR_RETURN(auto existing, db_->Query("SELECT state FROM jobs WHERE id = ?", {id}));
  if (!existing.empty()) {
    return absl::AlreadyExistsError("job " + id.substr(0, 12) +
                                    " was already submitted (add a different \"nonce\" to run the "
                                    "same spec again)");
  }
  CONSORT_ASSIGN_OR_RETURN(std::string canonical, CanonicalJson(doc));
  std::string submitter = (c.kind == Caller::Kind::kNode ? "node:" : "api:") + c.name;
  int64_t now = NowUnixMillis();
  CONSORT_RETURN_IF_ERROR(InTransaction(*db_, [&]() -> Status {
    CONSORT_RETURN_IF_ERROR(db_->Run(
        "INSERT INTO jobs (id, spec_json, operator, name, state, submitted_by, created_ms, "
        "updated_ms) VALUES (?, ?, ?, ?, 'proposed', ?, ?, ?)",
        {id, canonical, spec.op, spec.name, submitter, now, now}));
    for (const auto& party : spec.PartyNames()) {
      CONSORT_RETURN_IF_ERROR(
          db_->Run("INSERT INTO job_parties (job_id, party) VALUES (?, ?)", {id, party}));
    }
    CONSORT_RETURN_IF_ERROR(AppendCoordinatorEntry(
        "job.submitted", {{"job_id", id}, {"submitted_by", submitter}, {"spec", doc}}));
    return hosted ? ApproveAsCoordinator(id, 0) : OkStatus();
  }));
  CONSORT_LOG(INFO) << "job " << id.substr(0, 12) << " (" << spec.op << ") proposed by " << submitter;
  Notify();
  return Json{{"job_id", id}, {"state", "proposed"}};
}

StatusOr<Json> Coordinator::JobJson(const std::string& id, bool with_spec) {
  CONSORT_ASSIGN_OR_RETURN(
      auto rows, db_->Query("SELECT spec_json, operator, name, state, reason, submitted_by, "
                            "created_ms, updated_ms, attempt FROM jobs WHERE id = ?",
                            {id}));
  if (rows.empty()) return absl::NotFoundError("no job " + id);
  const auto& r = rows[0];
  CONSORT_ASSIGN_OR_RETURN(Json spec, ParseJson(AsText(r[0]), "job spec"));
  Json j = {{"job_id", id},
            {"operator", AsText(r[1])},
            {"name", AsText(r[2])},
            {"state", AsText(r[3])},
            {"reason", AsText(r[4])},
            {"submitted_by", AsText(r[5])},
            {"created_at", FormatRfc3339(AsInt(r[6]))},
            {"updated_at", FormatRfc3339(AsInt(r[7]))},
            {"attempt", AsInt(r[8])},
            {"parties", Json::array()},
            {"outputs", spec.value("outputs", Json::object())},
            {"approvals", Json::object()},
            {"progress", Json::object()}};
  CONSORT_ASSIGN_OR_RETURN(
      auto parties, db_->Query("SELECT party, decision, signature, reason, run_state, fraction, "
                               "stage FROM job_parties WHERE job_id = ? ORDER BY party",
                               {id}));
  Json sigs = Json::object();
  for (const auto& p : parties) {
    std::string party = AsText(p[0]);
    j["parties"].push_back(party);
    j["approvals"][party] = AsText(p[1]);
    if (!AsText(p[2]).empty()) sigs[party] = AsText(p[2]);
    double fraction = std::holds_alternative<double>(p[5]) ? std::get<double>(p[5])
                                                           : static_cast<double>(AsInt(p[5]));
    j["progress"][party] = {{"run_state", AsText(p[4])}, {"fraction", fraction},
                            {"stage", AsText(p[6])}};
    if (AsText(p[1]) == "rejected") j["rejections"][party] = AsText(p[3]);
  }
  if (with_spec) {
    j["spec"] = spec;
    j["signatures"] = sigs;
  }
  return j;
}

StatusOr<Json> Coordinator::ListJobs(const Caller& c, const Json& body) {
  CONSORT_RETURN_IF_ERROR(RequireAuthenticated(c));
  std::string state = body.value("state", "");
  if (!state.empty()) CONSORT_RETURN_IF_ERROR(ParseJobState(state).status());
  CONSORT_ASSIGN_OR_RETURN(
      auto rows, state.empty()
                     ? db_->Query("SELECT id FROM jobs ORDER BY created_ms DESC LIMIT 500")
                     : db_->Query("SELECT id FROM jobs WHERE state = ? ORDER BY created_ms DESC "
                                  "LIMIT 500",
                                  {state}));
  Json out = Json::array();
  for (const auto& r : rows) {
    CONSORT_ASSIGN_OR_RETURN(Json j, JobJson(AsText(r[0]), false));
    out.push_back(std::move(j));
  }
  return Json{{"jobs", out}};
}

StatusOr<Json> Coordinator::GetJob(const Caller& c, const Json& body) {
  CONSORT_RETURN_IF_ERROR(RequireAuthenticated(c));
  CONSORT_ASSIGN_OR_RETURN(std::string id, JobIdField(body));
  return JobJson(id, true);
}

StatusOr<JobState> Coordinator::StateOf(const std::string& id) {
  CONSORT_ASSIGN_OR_RETURN(auto rows, db_->Query("SELECT state FROM jobs WHERE id = ?", {id}));
  if (rows.empty()) return absl::NotFoundError("no job " + id);
  return ParseJobState(AsText(rows[0][0]));
}

Status Coordinator::SetState(const std::string& id, JobState to, const std::string& reason) {
  CONSORT_ASSIGN_OR_RETURN(JobState from, StateOf(id));
  CONSORT_RETURN_IF_ERROR(CheckTransition(from, to));
  CONSORT_RETURN_IF_ERROR(db_->Run("UPDATE jobs SET state = ?, reason = ?, updated_ms = ? WHERE id = ?",
                                   {JobStateName(to), reason, NowUnixMillis(), id}));
  Json body = {{"job_id", id}, {"from", JobStateName(from)}, {"to", JobStateName(to)}};
  if (!reason.empty()) body["reason"] = reason;
  CONSORT_RETURN_IF_ERROR(AppendCoordinatorEntry("job.state", body));
  CONSORT_LOG(INFO) << "job " << id.substr(0, 12) << ": " << JobStateName(from) << " -> "
                    << JobStateName(to) << (reason.empty() ? "" : " (" + reason + ")");
  Notify();
  return OkStatus();
}

StatusOr<std::string> Coordinator::PartyForDecision(const Caller& c, const Json& body,
                                                    const std::string& id) {
  if (c.kind == Caller::Kind::kAnonymous) {
    return absl::UnauthenticatedError("approving needs a node identity or an API token");
  }
  std::string party = body.value("party", c.kind == Caller::Kind::kNode ? c.name : "");
  if (party.empty()) return absl::InvalidArgumentError("missing field $.party");
  if (c.kind == Caller::Kind::kNode && party != c.name) {
    return absl::PermissionDeniedError("node '" + c.name + "' cannot decide for '" + party + "'");
  }
  CONSORT_ASSIGN_OR_RETURN(auto rows, db_->Query("SELECT decision FROM job_parties WHERE job_id = ? "
                                                 "AND party = ?",
                                                 {id, party}));
  if (rows.empty()) return absl::NotFoundError("'" + party + "' is not a party of job " + id.substr(0, 12));
  if (AsText(rows[0][0]) != "pending") {
    return absl::AlreadyExistsError("'" + party + "' has already " + AsText(rows[0][0]) + " job " +
                                    id.substr(0, 12));
  }
  CONSORT_ASSIGN_OR_RETURN(JobState state, StateOf(id));
  if (state != JobState::kProposed) {
    return absl::FailedPreconditionError("job " + id.substr(0, 12) + " is " + JobStateName(state) +
                                         "; only proposed jobs take decisions");
  }
  return party;
}

StatusOr<crypto::PublicKey> Coordinator::MemberKey(const std::string& party) {
  CONSORT_ASSIGN_OR_RETURN(auto rows,
                           db_->Query("SELECT signing_key FROM members WHERE name = ?", {party}));
  if (rows.empty()) return absl::NotFoundError("no member '" + party + "'");
  return crypto::DecodePublicKey(AsText(rows[0][0]));
}

StatusOr<Json> Coordinator::ApproveJob(const Caller& c, const Json& body) {
  CONSORT_ASSIGN_OR_RETURN(std::string id, JobIdField(body));
  CONSORT_ASSIGN_OR_RETURN(std::string party, PartyForDecision(c, body, id));
  CONSORT_ASSIGN_OR_RETURN(std::string sig_text, GetString(body, "signature", "$"));
  CONSORT_ASSIGN_OR_RETURN(auto sig, crypto::DecodeSignature(sig_text));
  CONSORT_ASSIGN_OR_RETURN(auto key, MemberKey(party));
  CONSORT_ASSIGN_OR_RETURN(auto attempt_rows, db_->Query("SELECT attempt FROM jobs WHERE id = ?", {id}));
  const int64_t attempt = attempt_rows.empty() ? 0 : AsInt(attempt_rows[0][0]);
  Status v = crypto::VerifyFor(key, "job-approval", AsBytes(engine::ApprovalMessage(id, attempt)), sig);
  if (!v.ok()) {
    return absl::UnauthenticatedError("approval signature for job " + id.substr(0, 12) +
                                      (attempt ? " attempt " + std::to_string(attempt) : "") +
                                      " does not verify under " + party + "'s key");
  }
  CONSORT_RETURN_IF_ERROR(InTransaction(*db_, [&]() -> Status {
    return RecordApproval(id, party, sig_text, attempt,
                          c.kind == Caller::Kind::kNode ? "node" : "api:" + c.name);
  }));
  Notify();
  return JobJson(id, false);
}

Status Coordinator::RecordApproval(const std::string& id, const std::string& party,
                                   const std::string& sig_text, int64_t attempt,
                                   const std::string& via) {
  CONSORT_RETURN_IF_ERROR(db_->Run("UPDATE job_parties SET decision = 'approved', signature = ? "
                                   "WHERE job_id = ? AND party = ?",
                                   {sig_text, id, party}));
  CONSORT_RETURN_IF_ERROR(AppendCoordinatorEntry(
      "job.approved", {{"job_id", id}, {"party", party}, {"signature", sig_text},
                       {"attempt", attempt}, {"via", via}}));
  CONSORT_ASSIGN_OR_RETURN(auto pending, db_->Query("SELECT COUNT(*) FROM job_parties WHERE job_id = ? "
                                                    "AND decision != 'approved'",
                                                    {id}));
  if (AsInt(pending[0][0]) == 0) {
    CONSORT_RETURN_IF_ERROR(SetState(id, JobState::kApproved, ""));
    // Jobs run as soon as they are approved; a later issue adds schedules (cron).
    CONSORT_RETURN_IF_ERROR(SetState(id, JobState::kScheduled, ""));
    CONSORT_RETURN_IF_ERROR(db_->Run("UPDATE job_parties SET last_report_ms = ? WHERE job_id = ?",
                                     {NowUnixMillis(), id}));
  }
  return OkStatus();
}

Status Coordinator::ApproveAsCoordinator(const std::string& id, int64_t attempt) {
  // The coordinator's signature commits it to dealing for exactly this run of this spec; nodes
  // verify it under the coordinator key they pinned at registration.
  const std::string sig = crypto::EncodeSignature(
      key_->SignFor("job-approval", AsBytes(engine::ApprovalMessage(id, attempt))));
  return RecordApproval(id, engine::kCoordinatorParty, sig, attempt, "coordinator");
}

StatusOr<Json> Coordinator::RejectJob(const Caller& c, const Json& body) {
  CONSORT_ASSIGN_OR_RETURN(std::string id, JobIdField(body));
  CONSORT_ASSIGN_OR_RETURN(std::string party, PartyForDecision(c, body, id));
  CONSORT_ASSIGN_OR_RETURN(std::string reason, GetString(body, "reason", "$"));
  if (reason.empty() || reason.size() > 1000) {
    return absl::InvalidArgumentError("$.reason must be 1 to 1000 characters");
  }
  CONSORT_ASSIGN_OR_RETURN(std::string sig_text, GetString(body, "signature", "$"));
  CONSORT_ASSIGN_OR_RETURN(auto sig, crypto::DecodeSignature(sig_text));
  CONSORT_ASSIGN_OR_RETURN(auto key, MemberKey(party));
  if (!crypto::VerifyFor(key, "job-rejection", AsBytes(id + "\n" + reason), sig).ok()) {
    return absl::UnauthenticatedError("rejection signature does not verify under " + party +
                                      "'s key");
  }
  CONSORT_RETURN_IF_ERROR(InTransaction(*db_, [&]() -> Status {
    CONSORT_RETURN_IF_ERROR(db_->Run("UPDATE job_parties SET decision = 'rejected', signature = ?, "
                                     "reason = ? WHERE job_id = ? AND party = ?",
                                     {sig_text, reason, id, party}));
    CONSORT_RETURN_IF_ERROR(AppendCoordinatorEntry(
        "job.rejected",
        {{"job_id", id}, {"party", party}, {"reason", reason}, {"signature", sig_text}}));
    return SetState(id, JobState::kRejected, party + ": " + reason);
  }));
  return JobJson(id, false);
}

StatusOr<Json> Coordinator::CancelJob(const Caller& c, const Json& body) {
  CONSORT_ASSIGN_OR_RETURN(std::string id, JobIdField(body));
  CONSORT_RETURN_IF_ERROR(RequireAuthenticated(c));
  if (c.kind == Caller::Kind::kNode) {
    CONSORT_ASSIGN_OR_RETURN(auto rows, db_->Query("SELECT 1 FROM job_parties WHERE job_id = ? AND "
                                                   "party = ?",
                                                   {id, c.name}));
    if (rows.empty()) {
      return absl::PermissionDeniedError("only a party of the job or an admin may cancel it");
    }
  }
  std::string reason = body.value("reason", "cancelled by " + c.name);
  CONSORT_RETURN_IF_ERROR(InTransaction(*db_, [&]() -> Status {
    return SetState(id, JobState::kCancelled, reason);
  }));
  return JobJson(id, false);
}

StatusOr<Json> Coordinator::RetryJob(const Caller& c, const Json& body) {
  CONSORT_ASSIGN_OR_RETURN(std::string id, JobIdField(body));
  CONSORT_RETURN_IF_ERROR(RequireAuthenticated(c));
  if (c.kind == Caller::Kind::kNode) {
    CONSORT_ASSIGN_OR_RETURN(auto rows, db_->Query("SELECT 1 FROM job_parties WHERE job_id = ? AND "
                                                   "party = ?",
                                                   {id, c.name}));
    if (rows.empty()) {
      return absl::PermissionDeniedError("only a party of the job or an admin may retry it");
    }
  }
  CONSORT_RETURN_IF_ERROR(InTransaction(*db_, [&]() -> Status {
    CONSORT_ASSIGN_OR_RETURN(JobState state, StateOf(id));
    if (state != JobState::kFailed) {
      return absl::FailedPreconditionError("only a failed job can be retried; job " +
                                           id.substr(0, 12) + " is " + JobStateName(state));
    }
    // Every party must have finished the previous attempt, or two attempts would overlap.
    CONSORT_ASSIGN_OR_RETURN(auto busy, db_->Query("SELECT party FROM job_parties WHERE job_id = ? "
                                                   "AND run_state = 'started' ORDER BY party",
                                                   {id}));
    if (!busy.empty()) {
      return absl::FailedPreconditionError("party '" + AsText(busy[0][0]) +
                                           "' has not finished the previous attempt yet; retry "
                                           "when it has reported (or is restarted)");
    }
    // A party that already has its output does not run the job again.
    CONSORT_ASSIGN_OR_RETURN(auto done, db_->Query("SELECT party FROM job_parties WHERE job_id = ? "
                                                   "AND run_state = 'succeeded' ORDER BY party",
                                                   {id}));
    if (!done.empty()) {
      return absl::FailedPreconditionError("party '" + AsText(done[0][0]) +
                                           "' completed the job; submit a new job instead");
    }
    // The coordinator's own part counts as a party: its previous run must have ended, and it
    // must still be willing and able to deal.
    CONSORT_ASSIGN_OR_RETURN(auto hosted, db_->Query("SELECT 1 FROM job_parties WHERE job_id = ? "
                                                     "AND party = ?",
                                                     {id, engine::kCoordinatorParty}));
    if (!hosted.empty()) {
      auto run = hosted_.find(id);
      if (run != hosted_.end() && !run->second->done) {
        return absl::FailedPreconditionError(
            "the coordinator's dealer has not finished the previous attempt yet; retry when it "
            "has reported");
      }
      if (!config_.host_dealer || bound_peer_.empty()) {
        return absl::FailedPreconditionError(
            "this coordinator does not act as a dealer now (\"host_dealer\" or its peer "
            "endpoint); submit a new job with a node as the dealer");
      }
    }
    CONSORT_ASSIGN_OR_RETURN(auto rows, db_->Query("SELECT attempt FROM jobs WHERE id = ?", {id}));
    int64_t attempt = AsInt(rows[0][0]) + 1;
    int64_t now = NowUnixMillis();
    // A retry is a new run: every party signs it again (standing rules sign automatically).
    CONSORT_RETURN_IF_ERROR(db_->Run("UPDATE jobs SET state = 'proposed', reason = '', attempt = ?, "
                                     "updated_ms = ? WHERE id = ?",
                                     {attempt, now, id}));
    CONSORT_RETURN_IF_ERROR(db_->Run("UPDATE job_parties SET decision = 'pending', signature = '', "
                                     "reason = '', run_state = '', fraction = 0, stage = '', "
                                     "last_report_ms = ? WHERE job_id = ?",
                                     {now, id}));
    std::string reason = "retry " + std::to_string(attempt) + " requested by " + c.name;
    std::string why = body.value("reason", "");
    if (why.size() > 1000) return absl::InvalidArgumentError("$.reason is longer than 1000 characters");
    if (!why.empty()) reason += ": " + why;
    CONSORT_RETURN_IF_ERROR(AppendCoordinatorEntry(
        "job.state", {{"job_id", id}, {"from", "failed"}, {"to", "proposed"}, {"reason", reason},
                      {"attempt", attempt}}));
    CONSORT_LOG(INFO) << "job " << id.substr(0, 12) << ": failed -> proposed (" << reason << ")";
    return hosted.empty() ? OkStatus() : ApproveAsCoordinator(id, attempt);
  }));
  Notify();
  return JobJson(id, false);
}

StatusOr<Json> Coordinator::RegisterModel(const Caller& c, const Json& body) {
  CONSORT_RETURN_IF_ERROR(RequireNode(c));
  CONSORT_ASSIGN_OR_RETURN(const Json* entry_json, GetObject(body, "entry", "$"));
  CONSORT_ASSIGN_OR_RETURN(auto entry, audit::Entry::FromSubmissionJson(*entry_json));
  if (entry.kind != "model.registered" || entry.author != c.name) {
    return absl::PermissionDeniedError("model entry must be kind model.registered by '" + c.name + "'");
  }
  CONSORT_ASSIGN_OR_RETURN(std::string owner, GetString(entry.body, "owner", "$.entry.body"));
  CONSORT_ASSIGN_OR_RETURN(std::string name, GetString(entry.body, "name", "$.entry.body"));
  CONSORT_ASSIGN_OR_RETURN(std::string job_id, GetString(entry.body, "job_id", "$.entry.body"));
  CONSORT_ASSIGN_OR_RETURN(const Json* metadata, GetObject(entry.body, "metadata", "$.entry.body"));
  if (owner != c.name) {
    return absl::PermissionDeniedError("node '" + c.name + "' cannot register a model for '" + owner + "'");
  }
  CONSORT_RETURN_IF_ERROR(engine::ValidateName(name, "model name"));
  CONSORT_RETURN_IF_ERROR(engine::ValidateJobId(job_id));
  if (metadata->dump().size() > 64 * 1024) {
    return absl::InvalidArgumentError("model metadata is larger than 64 KiB (keep weights out of it)");
  }
  CONSORT_ASSIGN_OR_RETURN(auto party, db_->Query("SELECT 1 FROM job_parties WHERE job_id = ? AND "
                                                  "party = ?",
                                                  {job_id, c.name}));
  if (party.empty()) {
    return absl::PermissionDeniedError("'" + c.name + "' is not a party of job " + job_id.substr(0, 12));
  }
  CONSORT_RETURN_IF_ERROR(InTransaction(*db_, [&]() -> Status {
    CONSORT_ASSIGN_OR_RETURN(auto rows, db_->Query("SELECT 1 FROM models WHERE owner = ? AND name = ?",
                                                   {owner, name}));
    if (!rows.empty()) {
      return absl::AlreadyExistsError("'" + owner + "' already has a model named '" + name + "'");
    }
    CONSORT_RETURN_IF_ERROR(log_->Append(entry).status());
    return db_->Run("INSERT INTO models (owner, name, job_id, metadata_json, registered_ms) "
                    "VALUES (?, ?, ?, ?, ?)",
                    {owner, name, job_id, metadata->dump(), NowUnixMillis()});
  }));
  return Json{{"owner", owner}, {"name", name}};
}

StatusOr<Json> Coordinator::ListModels(const Caller& c, const Json& body) {
  CONSORT_RETURN_IF_ERROR(RequireAuthenticated(c));
  std::string owner = body.value("owner", "");
  CONSORT_ASSIGN_OR_RETURN(
      auto rows,
      owner.empty()
          ? db_->Query("SELECT owner, name, job_id, metadata_json, registered_ms FROM models "
                       "ORDER BY name, owner")
          : db_->Query("SELECT owner, name, job_id, metadata_json, registered_ms FROM models "
                       "WHERE owner = ? ORDER BY name",
                       {owner}));
  Json out = Json::array();
  for (const auto& r : rows) {
    CONSORT_ASSIGN_OR_RETURN(Json meta, ParseJson(AsText(r[3]), "model metadata"));
    out.push_back({{"owner", AsText(r[0])}, {"name", AsText(r[1])}, {"job_id", AsText(r[2])},
                   {"metadata", meta}, {"registered_at", FormatRfc3339(AsInt(r[4]))}});
  }
  return Json{{"models", out}};
}

StatusOr<Json> Coordinator::Poll(const Caller& c, const Json&) {
  CONSORT_RETURN_IF_ERROR(RequireNode(c));
  CONSORT_ASSIGN_OR_RETURN(int64_t audit_size, log_->Size());
  // A digest of who is reachable where: a node refreshes its peer directory when it changes,
  // so it knows a new member's certificate before any job with it starts.
  CONSORT_ASSIGN_OR_RETURN(auto members,
                           db_->Query("SELECT name, address, tls_fingerprint FROM members "
                                      "ORDER BY name"));
  std::string roster = bound_peer_;
  for (const auto& m : members) {
    roster += "\n" + AsText(m[0]) + "@" + AsText(m[1]) + "#" + AsText(m[2]);
  }
  Json out = {{"approve", Json::array()}, {"run", Json::array()}, {"abort", Json::array()},
              {"audit_size", audit_size}, {"members_version", crypto::Sha256Hex(roster).substr(0, 16)}};
  CONSORT_ASSIGN_OR_RETURN(
      auto rows, db_->Query("SELECT j.id, j.state, p.decision, p.run_state FROM jobs j JOIN "
                            "job_parties p ON p.job_id = j.id WHERE p.party = ? AND "
                            "(j.state IN ('proposed','scheduled','running') OR "
                            "(j.state IN ('failed','cancelled') AND p.run_state = 'started')) "
                            "ORDER BY j.created_ms",
                            {c.name}));
  for (const auto& r : rows) {
    std::string id = AsText(r[0]), state = AsText(r[1]), decision = AsText(r[2]),
                run = AsText(r[3]);
    if (state == "proposed" && decision == "pending") out["approve"].push_back(id);
    if ((state == "scheduled" || state == "running") && run != "succeeded" && run != "failed") {
      out["run"].push_back(id);
    }
    if ((state == "failed" || state == "cancelled") && run == "started") out["abort"].push_back(id);
  }
  return out;
}

StatusOr<Json> Coordinator::ReportProgress(const Caller& c, const Json& body) {
  CONSORT_RETURN_IF_ERROR(RequireNode(c));
  CONSORT_ASSIGN_OR_RETURN(std::string id, JobIdField(body));
  double fraction = body.value("fraction", 0.0);
  if (!(fraction >= 0.0 && fraction <= 1.0)) {
    return absl::InvalidArgumentError("$.fraction must be within [0, 1]");
  }
  std::string stage = body.value("stage", "");
  if (stage.size() > 64) stage.resize(64);
  CONSORT_RETURN_IF_ERROR(db_->Run("UPDATE job_parties SET fraction = ?, stage = ?, last_report_ms = ? "
                                   "WHERE job_id = ? AND party = ?",
                                   {fraction, stage, NowUnixMillis(), id, c.name}));
  if (db_->changes() == 0) return absl::NotFoundError("'" + c.name + "' is not a party of job " + id.substr(0, 12));
  CONSORT_ASSIGN_OR_RETURN(JobState state, StateOf(id));
  return Json{{"state", JobStateName(state)}};
}

StatusOr<Json> Coordinator::ReportOutcome(const Caller& c, const Json& body) {
  CONSORT_RETURN_IF_ERROR(RequireNode(c));
  CONSORT_ASSIGN_OR_RETURN(std::string id, JobIdField(body));
  CONSORT_ASSIGN_OR_RETURN(std::string outcome, GetString(body, "outcome", "$"));
  if (outcome != "started" && outcome != "succeeded" && outcome != "failed") {
    return absl::InvalidArgumentError("$.outcome must be started, succeeded or failed");
  }
  std::string reason = body.value("reason", "");
  if (reason.size() > 2000) reason.resize(2000);
  CONSORT_ASSIGN_OR_RETURN(auto rows, db_->Query("SELECT run_state FROM job_parties WHERE job_id = ? "
                                                 "AND party = ?",
                                                 {id, c.name}));
  if (rows.empty()) return absl::NotFoundError("'" + c.name + "' is not a party of job " + id.substr(0, 12));
  CONSORT_ASSIGN_OR_RETURN(JobState state, StateOf(id));
  CONSORT_RETURN_IF_ERROR(InTransaction(*db_, [&]() -> Status {
    CONSORT_RETURN_IF_ERROR(db_->Run("UPDATE job_parties SET run_state = ?, last_report_ms = ?, "
                                     "fraction = CASE WHEN ? = 'succeeded' THEN 1.0 ELSE fraction END "
                                     "WHERE job_id = ? AND party = ?",
                                     {outcome, NowUnixMillis(), outcome, id, c.name}));
    if (IsTerminal(state)) {
      // Late report on a finished job: recorded only. One refinement: when the job failed
      // because a peer saw this party close its link, this party's own reason is the cause.
      if (state == JobState::kFailed && outcome == "failed" && !reason.empty()) {
        CONSORT_ASSIGN_OR_RETURN(auto cur, db_->Query("SELECT reason FROM jobs WHERE id = ?", {id}));
        const std::string current = cur.empty() ? "" : AsText(cur[0][0]);
        if (current.find("peer " + c.name + " ") != std::string::npos &&
            reason.find("peer ") == std::string::npos) {
          CONSORT_RETURN_IF_ERROR(db_->Run("UPDATE jobs SET reason = ? WHERE id = ?",
                                           {c.name + ": " + reason, id}));
        }
      }
      return OkStatus();
    }
    if (outcome == "started") {
      if (state == JobState::kScheduled) return SetState(id, JobState::kRunning, "");
      return OkStatus();
    }
    if (outcome == "failed") {
      return SetState(id, JobState::kFailed, c.name + ": " + (reason.empty() ? "failed" : reason));
    }
    // succeeded: record the node's signed delivery entry, then finish when every party has.
    if (body.contains("entry")) {
      CONSORT_RETURN_IF_ERROR(AppendAuthoredEntry(body["entry"], c.name, "result.delivered"));
    }
    CONSORT_ASSIGN_OR_RETURN(auto left, db_->Query("SELECT COUNT(*) FROM job_parties WHERE job_id = ? "
                                                   "AND run_state != 'succeeded'",
                                                   {id}));
    if (AsInt(left[0][0]) == 0) {
      if (state == JobState::kScheduled) CONSORT_RETURN_IF_ERROR(SetState(id, JobState::kRunning, ""));
      return SetState(id, JobState::kSucceeded, "");
    }
    return OkStatus();
  }));
  Notify();
  CONSORT_ASSIGN_OR_RETURN(JobState now_state, StateOf(id));
  return Json{{"state", JobStateName(now_state)}};
}

StatusOr<Json> Coordinator::AuditRange(const Caller& c, const Json& body) {
  CONSORT_RETURN_IF_ERROR(RequireAuthenticated(c));
  int64_t from = body.value("from", int64_t{0});
  int64_t limit = std::clamp<int64_t>(body.value("limit", int64_t{500}), 1, 1000);
  if (from < 0) return absl::InvalidArgumentError("$.from must be >= 0");
  CONSORT_ASSIGN_OR_RETURN(auto entries, log_->Range(from, limit));
  Json arr = Json::array();
  for (const auto& e : entries) arr.push_back(e.ToJson());
  CONSORT_ASSIGN_OR_RETURN(auto head, log_->SignHead(*key_, NowUnixMillis()));
  return Json{{"entries", arr}, {"size", head.size}, {"head", head.ToJson()}};
}

// --- peer endpoint and hosted parties --------------------------------------------------------

void Coordinator::RefreshPeer(const std::string& name) {
  if (!peers_) return;
  auto rows = db_->Query("SELECT address, tls_fingerprint FROM members WHERE name = ?", {name});
  if (!rows.ok() || rows->empty() || AsText((*rows)[0][0]).empty()) return;
  Status st = peers_->Put({name, AsText((*rows)[0][0]), AsText((*rows)[0][1])});
  if (!st.ok()) CONSORT_LOG(WARNING) << "peer directory: " << name << ": " << st;
}

Status Coordinator::StartPeerEndpoint(const std::string& listen_address,
                                      const std::string& advertise) {
  // Refuse an address nodes cannot dial before binding anything.
  CONSORT_RETURN_IF_ERROR(
      net::AdvertisedAddress(listen_address, advertise, 1, "--peer-advertise").status());
  auto directory = std::make_shared<net::StaticPeerDirectory>();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (transport_) return absl::FailedPreconditionError("the peer endpoint is already running");
    peers_ = directory;
    CONSORT_ASSIGN_OR_RETURN(auto rows, db_->Query("SELECT name FROM members"));
    for (const auto& r : rows) RefreshPeer(AsText(r[0]));
  }
  net::TlsConfig tls{tls_.key_pem, tls_.cert_pem};
  CONSORT_ASSIGN_OR_RETURN(auto transport, net::PeerTransport::Start(engine::kCoordinatorParty,
                                                                     listen_address, tls, directory));
  CONSORT_ASSIGN_OR_RETURN(
      std::string address,
      net::AdvertisedAddress(listen_address, advertise, transport->port(), "--peer-advertise"));
  std::lock_guard<std::mutex> lock(mu_);
  transport_ = std::shared_ptr<net::PeerTransport>(std::move(transport));
  bound_peer_ = std::move(address);
  CONSORT_LOG(INFO) << "coordinator peer endpoint (dealer) on " << bound_peer_;
  Notify();
  return OkStatus();
}

std::string Coordinator::peer_address() {
  std::lock_guard<std::mutex> lock(mu_);
  return bound_peer_;
}

void Coordinator::TendHostedParties() {
  std::lock_guard<std::mutex> lock(mu_);
  if (stop_) return;
  const int64_t now = NowUnixMillis();
  for (auto it = hosted_.begin(); it != hosted_.end();) {
    HostedRun& run = *it->second;
    if (run.done) {
      if (run.thread.joinable()) run.thread.join();
      it = hosted_.erase(it);
      continue;
    }
    // Heartbeat: the coordinator's part reports like a node's, so silence timeouts apply
    // uniformly (a stuck hosted run is never mistaken for a silent one).
    std::string stage = run.session->stage();
    if (stage.size() > 64) stage.resize(64);
    (void)db_->Run("UPDATE job_parties SET fraction = ?, stage = ?, last_report_ms = ? WHERE "
                   "job_id = ? AND party = ? AND run_state = 'started'",
                   {run.session->fraction(), stage, now, run.job_id, engine::kCoordinatorParty});
    auto state = StateOf(run.job_id);
    if (state.ok() && IsTerminal(*state) && !run.cancel_requested.exchange(true)) {
      // The job ended elsewhere: unblock the dealer (closing links may wait; not under mu_).
      std::thread([session = run.session] { session->Cancel(); }).detach();
    }
    ++it;
  }
  auto rows = db_->Query(
      "SELECT j.id, j.state, j.spec_json, p.run_state FROM jobs j JOIN job_parties p ON "
      "p.job_id = j.id WHERE p.party = ? AND ((j.state IN ('scheduled','running') AND "
      "p.run_state NOT IN ('succeeded','failed')) OR (j.state IN ('failed','cancelled') AND "
      "p.run_state = 'started')) ORDER BY j.created_ms",
      {engine::kCoordinatorParty});
  if (!rows.ok()) return;
  for (const auto& r : *rows) {
    const std::string id = AsText(r[0]), state = AsText(r[1]), run_state = AsText(r[3]);
    if (hosted_.count(id)) continue;
    if (run_state == "started") {
      // Started by a coordinator process that is gone: it cannot be continued (the data
      // parties' links to it broke); end it so that the job can be retried.
      (void)ReportOutcome(Caller::Node(engine::kCoordinatorParty),
                          {{"job_id", id}, {"outcome", "failed"},
                           {"reason", "the coordinator restarted during the job"}});
      continue;
    }
    if (state != "scheduled" && state != "running") continue;
    if (!transport_ || !config_.host_dealer) {
      (void)ReportOutcome(Caller::Node(engine::kCoordinatorParty),
                          {{"job_id", id}, {"outcome", "failed"},
                           {"reason", "this coordinator does not act as a dealer now"}});
      continue;
    }
    auto doc = ParseJson(AsText(r[2]), "job spec");
    auto spec = doc.ok() ? engine::ParseJobSpec(*doc) : StatusOr<engine::JobSpec>(doc.status());
    if (!spec.ok()) {
      (void)ReportOutcome(Caller::Node(engine::kCoordinatorParty),
                          {{"job_id", id}, {"outcome", "failed"},
                           {"reason", std::string(spec.status().message())}});
      continue;
    }
    auto run = std::make_shared<HostedRun>();
    run->job_id = id;
    std::weak_ptr<net::PeerTransport> weak = transport_;
    run->session = std::make_shared<HostedPartySession>(
        id, *spec,
        [weak, id](const std::string& peer) -> StatusOr<std::unique_ptr<net::Link>> {
          auto transport = weak.lock();
          if (!transport) return absl::UnavailableError("the coordinator's peer endpoint stopped");
          return transport->Connect(id, peer);
        },
        net::kDefaultLinkTimeout);
    hosted_[id] = run;
    run->thread = std::thread([this, run] { ExecuteHostedRun(*run); });
  }
}

void Coordinator::ExecuteHostedRun(HostedRun& run) {
  const std::string short_id = run.job_id.substr(0, 12);
  auto report = [&](const std::string& outcome, const std::string& reason) {
    Json body = {{"job_id", run.job_id}, {"outcome", outcome}};
    if (!reason.empty()) body["reason"] = reason;
    auto r = Dispatch(Caller::Node(engine::kCoordinatorParty), "job.report", body);
    if (!r.ok()) CONSORT_LOG(WARNING) << "job " << short_id << ": report " << outcome << ": " << r.status();
  };
  report("started", "");
  const engine::JobSpec& spec = run.session->spec();
  CONSORT_LOG(INFO) << "job " << short_id << ": the coordinator deals for " << spec.op;
  auto op = engine::OperatorRegistry::Global().Find(spec.op);
  Status st;
  try {
    st = op.ok() ? (*op)->Run(*run.session) : op.status();
  } catch (const std::exception& e) {
    // Nothing an operator throws may take the coordinator down.
    st = absl::InternalError(std::string("the dealer side threw: ") + e.what());
  } catch (...) {
    st = absl::InternalError("the dealer side threw");
  }
  const uint64_t sent = run.session->bytes_sent();
  run.session->CloseLinks();
  if (!st.ok() && run.cancel_requested &&
      (st.code() == absl::StatusCode::kCancelled || st.code() == absl::StatusCode::kUnavailable ||
       st.code() == absl::StatusCode::kDeadlineExceeded)) {
    st = run.stopping ? absl::CancelledError("the coordinator stopped during the job")
                      : absl::CancelledError("job aborted (failed or cancelled elsewhere)");
  }
  if (st.ok()) {
    CONSORT_LOG(INFO) << "job " << short_id << ": dealing done, sent " << sent << " bytes";
    report("succeeded", "");
  } else {
    CONSORT_LOG(WARNING) << "job " << short_id << ": dealing failed: " << st;
    report("failed", std::string(st.message()));
  }
  run.done = true;
}

// --- scheduler -------------------------------------------------------------------------------

void Coordinator::CheckTimeouts() {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t cutoff = NowUnixMillis() - config_.party_silence_timeout_ms;
  auto rows = db_->Query("SELECT j.id, p.party, j.state FROM jobs j JOIN job_parties p ON "
                         "p.job_id = j.id WHERE j.state IN ('scheduled','running') AND "
                         "p.run_state NOT IN ('succeeded','failed') AND p.last_report_ms < ?",
                         {cutoff});
  if (!rows.ok()) return;
  std::set<std::string> done;
  for (const auto& r : *rows) {
    std::string id = AsText(r[0]);
    if (!done.insert(id).second) continue;
    std::string reason = AsText(r[1]) + " stopped reporting for " +
                         std::to_string(config_.party_silence_timeout_ms / 1000) + " s";
    Status st = InTransaction(*db_, [&] { return SetState(id, JobState::kFailed, reason); });
    if (!st.ok()) CONSORT_LOG(WARNING) << "timeout of job " << id.substr(0, 12) << ": " << st;
  }
}

void Coordinator::StartScheduler() {
  if (scheduler_.joinable()) return;
  stop_ = false;
  {
    // Parties of jobs that were running when the coordinator stopped get a fresh grace period.
    std::lock_guard<std::mutex> lock(mu_);
    (void)db_->Run("UPDATE job_parties SET last_report_ms = ? WHERE job_id IN (SELECT id FROM jobs "
                   "WHERE state IN ('scheduled','running'))",
                   {NowUnixMillis()});
  }
  scheduler_ = std::thread([this] {
    while (!stop_) {
      CheckTimeouts();
      TendHostedParties();
      std::unique_lock<std::mutex> lock(mu_);
      changed_.wait_for(lock, std::chrono::seconds(1), [&] { return stop_.load(); });
    }
  });
}

void Coordinator::StopScheduler() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    changed_.notify_all();
  }
  if (scheduler_.joinable()) scheduler_.join();
  // Hosted runs end with the process: cancel them (their jobs fail, naming the reason), wait
  // for their reports, then stop the peer endpoint.
  std::vector<std::shared_ptr<HostedRun>> runs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [_, run] : hosted_) runs.push_back(run);
  }
  for (auto& run : runs) {
    run->stopping = true;
    run->cancel_requested = true;
    run->session->Cancel();
  }
  for (auto& run : runs) {
    if (run->thread.joinable()) run->thread.join();
  }
  std::shared_ptr<net::PeerTransport> transport;
  {
    std::lock_guard<std::mutex> lock(mu_);
    hosted_.clear();
    transport = transport_;
  }
  if (transport) transport->Shutdown();
}

void Coordinator::WaitForChange(int64_t timeout_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  uint64_t gen = generation_;
  changed_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                    [&] { return generation_ != gen || stop_; });
}

}  // namespace consort::coordinator
