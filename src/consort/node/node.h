#pragma once
// The node: one per party, inside the party's network. It holds the party's identity keys,
// its dataset registry (sources stay local; only metadata goes to the catalog), its standing
// policy rules, its received results and its replica of the audit log, and it runs its side of
// every job - but only after verifying, by itself, every signature over the exact spec.
//
// Home directory layout (created by InitHome, mode 0700):
//   node.json            config: name, coordinator addresses and pins, peer listen address
//   keys/signing.key     Ed25519 seed (hex, 0600)        keys/tls.key, keys/tls.crt
//   node.db              SQLite (WAL): datasets, policies, decisions, runs, results, audit replica
//   results/             result tables (CSV) written for jobs this node received output from
//   models/<name>.model  this party's private part of each model it helped train (0600)
//   scratch/<job id>/    a job's working files (checkpoints); kept until the job succeeds
//   cache/<dataset>/<k>/ state reused across jobs over a dataset; emptied on re-registration
//
// One Node object per process. CLI commands (dataset add, job approve, ...) open the home
// directly while the daemon (`consort node start`, Serve()) may be running: SQLite serializes
// writers. Thread-safe: every public method may be called from any thread.

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "consort/common/json.h"
#include "consort/common/sqlite.h"
#include "consort/common/status.h"
#include "consort/crypto/sign.h"
#include "consort/crypto/tls_identity.h"
#include "consort/engine/job_spec.h"
#include "consort/engine/session.h"
#include "consort/node/policy.h"

namespace consort::audit {
class LogStore;
}
namespace consort::net {
class ControlClient;
class PeerTransport;
}  // namespace consort::net
namespace consort::data {
class Table;
}

namespace consort::node {

struct NodeConfig {
  std::string name;
  std::string coordinator_grpc;         // host:port
  std::string coordinator_api;          // host:port (REST, used only to register)
  std::string coordinator_fingerprint;  // pinned TLS certificate (hex SHA-256 of DER)
  std::string coordinator_key;          // pinned Ed25519 key (base64url): audit trust root
  std::string peer_listen = "127.0.0.1:0";
  // What peers dial: "" = the host of peer_listen with the bound port; "host" = that host with
  // the bound port; "host:port" as given (behind NAT or a port forward). Required when
  // peer_listen binds every interface (0.0.0.0, [::]). See net/address.h.
  std::string peer_advertise;
  // A peer that sends nothing for this long fails the job (a killed node is detected sooner,
  // when its connection breaks).
  int64_t link_timeout_ms = 120'000;

  Json ToJson() const;
  static StatusOr<NodeConfig> FromJson(const Json& j);
};

// Where a registered dataset's rows live. Rows are read at job time, never copied elsewhere.
struct DatasetSource {
  std::string kind;  // "csv" | "sqlite" | "result"
  std::string path;  // file path (absolute)
  std::string table; // sqlite only
  Json ToJson() const;
  static StatusOr<DatasetSource> FromJson(const Json& j);
};

struct LocalDataset {
  std::string name;
  DatasetSource source;
  Json info;  // DatasetInfo JSON (metadata as in the catalog)
  std::string fingerprint;
  bool published = false;  // registered in the federation catalog
};

class Node {
 public:
  // Creates a new home with fresh keys. AlreadyExists if `home` already holds a node.
  static Status InitHome(const std::string& home, const NodeConfig& config);
  // Opens an initialized home. NotFound if there is none.
  static StatusOr<std::unique_ptr<Node>> Open(const std::string& home);
  ~Node();

  const NodeConfig& config() const { return config_; }
  const std::string& name() const { return config_.name; }
  const crypto::SigningKey& signing_key() const { return *key_; }
  const crypto::TlsIdentity& tls_identity() const { return tls_; }
  const std::string& tls_fingerprint() const { return tls_fingerprint_; }
  const std::string& home() const { return home_; }

  // --- registration -------------------------------------------------------------------------
  // The self-signed "node.registered" audit submission sent with the invite token.
  StatusOr<Json> RegistrationEntry() const;

  // --- coordinator --------------------------------------------------------------------------
  // Calls a coordinator method over the pinned mutual-TLS control plane.
  StatusOr<Json> Call(const std::string& method, const Json& body);

  // --- datasets -----------------------------------------------------------------------------
  // Loads and validates the source, stores it in the local registry and publishes its metadata
  // (name, schema, row count, description; never rows) to the catalog, signed by this node.
  // AlreadyExists if the name is taken and !replace.
  StatusOr<LocalDataset> AddDataset(const std::string& name, const DatasetSource& source,
                                    const std::string& description, bool replace);
  StatusOr<std::vector<LocalDataset>> ListLocalDatasets();
  StatusOr<LocalDataset> FindLocalDataset(const std::string& name);
  // Reads a dataset's rows. FailedPrecondition if the file changed since registration.
  StatusOr<std::shared_ptr<const data::Table>> LoadDataset(const std::string& name,
                                                           const std::vector<std::string>& columns);

  // --- jobs ---------------------------------------------------------------------------------
  // Submits a spec (adds a random "nonce" if it has none, so a re-run is a new job).
  StatusOr<Json> SubmitJob(Json spec);
  // Fetches the job, checks that its spec hashes to `job_id`, that this node is a party and
  // that its dataset and columns exist here; then signs and sends the decision.
  StatusOr<Json> ApproveJob(const std::string& job_id, const std::string& via);
  StatusOr<Json> RejectJob(const std::string& job_id, const std::string& reason);
  // Everything a node checks before touching data for a job: the spec hashes to the id, every
  // party's approval signature verifies under the key the audit log registered for it, and this
  // node's own decision is on record. FailedPrecondition / Unauthenticated naming the problem.
  StatusOr<engine::JobSpec> VerifyJobForRun(const std::string& job_id, const Json& job);

  // --- policies -----------------------------------------------------------------------------
  StatusOr<PolicyRule> AddPolicy(PolicyRule rule);
  StatusOr<std::vector<PolicyRule>> ListPolicies();
  Status RemovePolicy(int64_t id);
  // The first rule that allows this node to sign `spec`, if any; `why` lists why none did.
  StatusOr<std::optional<PolicyRule>> MatchPolicy(const engine::JobSpec& spec, std::string* why);

  // --- results ------------------------------------------------------------------------------
  StatusOr<Json> Results(const std::string& job_id);
  Status StoreResultTable(const std::string& job_id, const std::string& name, const data::Table& t);
  Status StoreResultSummary(const std::string& job_id, const Json& summary);
  // Validates `csv_path` as CSV (streaming) and moves it into results/ as result dataset
  // `name`. Columns named like columns of local dataset `types_from` (if given) keep its types.
  // AlreadyExists if `name` is a dataset other than this job's result.
  Status StoreResultTableFile(const std::string& job_id, const std::string& name,
                              const std::string& csv_path, const std::string& types_from = "");

  // --- job working space --------------------------------------------------------------------
  // scratch/<job id>/ (created 0700). Kept across failures and retries; removed on success.
  StatusOr<std::string> ScratchDir(const std::string& job_id);
  void RemoveScratchDir(const std::string& job_id);
  // cache/<dataset>/<key>/ (created 0700); AddDataset empties cache/<dataset>/.
  StatusOr<std::string> CacheDir(const std::string& dataset, const std::string& key);

  // --- models -------------------------------------------------------------------------------
  // Stores this party's part of model `name` (trained by `job_id`) and publishes its metadata
  // (never the blob) to the catalog. AlreadyExists if the name is taken on this node. If the
  // coordinator is unreachable the model stays stored and unpublished, and the error says so.
  Status StoreModel(const std::string& job_id, const std::string& name, const Json& metadata,
                    ByteSpan blob);
  // NotFound if this node has no model `name`; DataLoss if its file is missing or altered.
  StatusOr<engine::StoredModel> LoadModel(const std::string& name);
  // [{name, job_id, metadata, created, published}] of the models stored on this node.
  StatusOr<Json> ListModels();

  // --- audit --------------------------------------------------------------------------------
  // Fetches new entries from the coordinator and ingests them (each re-verified). Returns the
  // replica's size. DataLoss on equivocation or a broken chain.
  StatusOr<int64_t> SyncAudit();
  // Re-verifies the whole local replica and its agreement with the coordinator's signed head.
  // Returns a JSON report {ok, entries, first_bad_seq?, reason?}.
  StatusOr<Json> VerifyAudit(bool sync_first);

  // --- daemon -------------------------------------------------------------------------------
  // Runs until `stop` is set: hosts the peer link server, announces its address, long-polls
  // the coordinator, applies standing policies, runs and aborts jobs.
  Status Serve(const std::atomic<bool>& stop);

  // Party name -> TLS fingerprint, from the node.registered entries of the verified replica.
  StatusOr<std::map<std::string, std::string>> RegisteredFingerprints();

 private:
  friend class JobRunner;
  Node() = default;
  Status Migrate();
  StatusOr<net::ControlClient*> Control();
  StatusOr<crypto::PublicKey> PartyKey(const std::string& party);
  struct Run;
  // OK unless `name` is a dataset other than a result of `job_id` (AlreadyExists).
  Status CheckResultName(const std::string& name, const std::string& job_id);
  StatusOr<Json> CallPatiently(const std::string& method, const Json& body,
                               std::chrono::seconds patience);
  void HandleApproval(const std::string& job_id);
  void StartRun(const std::string& job_id);
  void ExecuteRun(Run& run);
  void AbortRun(const std::string& job_id);
  void ReapRuns();
  // At start-up: removes scratch directories no retry can use (succeeded or unknown jobs, and
  // failed ones older than 7 days).
  void PruneScratch();

  std::string home_;
  NodeConfig config_;
  std::unique_ptr<crypto::SigningKey> key_;
  crypto::TlsIdentity tls_;
  std::string tls_fingerprint_;

  std::mutex mu_;  // guards db_, log_, control_
  std::unique_ptr<SqlDb> db_;
  std::unique_ptr<audit::LogStore> log_;
  std::unique_ptr<net::ControlClient> control_;

  // Daemon state.
  std::shared_ptr<net::PeerTransport> transport_;
  std::mutex runs_mu_;
  std::map<std::string, std::shared_ptr<Run>> runs_;
  std::set<std::string> waiting_logged_;
};

}  // namespace consort::node
