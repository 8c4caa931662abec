#pragma once
// The coordinator: federation registry, dataset catalog (metadata only), job lifecycle,
// scheduler and audit-log sequencer. It never holds rows, shares, keys of others, or results.
//
// Every operation is a named method taking and returning JSON, so the gRPC control plane
// (nodes, authenticated by pinned mutual TLS) and the REST API (people and scripts,
// authenticated by bearer tokens) share one implementation and one set of checks:
//   StatusOr<Json> Dispatch(caller, "job.submit", {"spec": {...}})
// Methods and their bodies are listed in coordinator/methods.md.
//
// Thread-safe: every Dispatch call is serialized on one mutex; state lives in SQLite (WAL) in
// the home directory and survives restarts.

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "consort/common/json.h"
#include "consort/common/sqlite.h"
#include "consort/common/status.h"
#include "consort/crypto/sign.h"
#include "consort/crypto/tls_identity.h"
#include "consort/coordinator/job_state.h"

namespace consort::audit {
class LogStore;
}
namespace consort::net {
class PeerTransport;
class StaticPeerDirectory;
}  // namespace consort::net

namespace consort::coordinator {

struct CoordinatorConfig {
  std::string grpc_listen = "127.0.0.1:7400";  // nodes connect here (mutual TLS)
  std::string api_listen = "127.0.0.1:7443";   // REST API (HTTPS, bearer tokens)
  // Peer endpoint (pinned mutual TLS, as between nodes) over which the coordinator acts as the
  // two-party MPC dealer of jobs that name it ({"coordinator": {"role": "dealer"}}).
  std::string peer_listen = "127.0.0.1:0";
  // What nodes dial to reach that endpoint (net/address.h): "" = peer_listen's host with the
  // bound port, "host" or "host:port". Required when peer_listen binds every interface.
  std::string peer_advertise;
  // What nodes and API clients dial for the control plane and the REST API (invites carry
  // both): "" = the listen host with the bound port, "host" or "host:port" (net/address.h).
  // Required when grpc_listen / api_listen bind every interface.
  std::string grpc_advertise, api_advertise;
  // Whether this coordinator accepts jobs that name it as their dealer. When false such jobs
  // are refused at submission (FailedPrecondition) and the peer endpoint is not started.
  bool host_dealer = true;
  // A running job fails if a party reports nothing for this long.
  int64_t party_silence_timeout_ms = 60'000;
  // Invites expire after this long unless the request says otherwise.
  int64_t invite_ttl_ms = 7 * 24 * 3600 * 1000LL;

  Json ToJson() const;
  static StatusOr<CoordinatorConfig> FromJson(const Json& j);
};

// Who is calling. Nodes are identified by their pinned TLS certificate; API clients by token.
struct Caller {
  enum class Kind { kAnonymous, kNode, kAdmin } kind = Kind::kAnonymous;
  std::string name;  // node name, or token name for admins

  static Caller Node(std::string n) { return {Kind::kNode, std::move(n)}; }
  static Caller Admin(std::string n) { return {Kind::kAdmin, std::move(n)}; }
  static Caller Anonymous() { return {}; }
};

class Coordinator {
 public:
  // Creates a new coordinator home: config, signing key, TLS identity, database, and an admin
  // API token written to <home>/admin.token (0600). AlreadyExists if `home` is initialized.
  static Status Init(const std::string& home, const CoordinatorConfig& config);

  // Opens an initialized home. NotFound if it was never initialized.
  static StatusOr<std::unique_ptr<Coordinator>> Open(const std::string& home);
  ~Coordinator();

  // Runs one method. Errors carry canonical codes (see common/status.h and api/ for HTTP).
  StatusOr<Json> Dispatch(const Caller& caller, const std::string& method, const Json& body);

  // Maps a bearer token to an admin caller. Unauthenticated if unknown.
  StatusOr<Caller> AuthenticateToken(const std::string& token);
  // Maps a TLS client certificate fingerprint to a node caller. Unauthenticated if unknown.
  StatusOr<Caller> AuthenticateNode(const std::string& tls_fingerprint);
  // True if the fingerprint belongs to a registered node (used during the TLS handshake).
  bool IsRegisteredFingerprint(const std::string& tls_fingerprint);

  // Background work: times out silent parties and runs the coordinator's own (dealer) part of
  // scheduled jobs. Started by the server; stopped on destruction. StopScheduler also ends
  // hosted runs (their jobs fail: "the coordinator stopped during the job") and the peer
  // endpoint.
  void StartScheduler();
  void StopScheduler();

  // Starts the peer endpoint: a PeerTransport named "coordinator" with the coordinator's TLS
  // identity, accepting only registered nodes' certificates. Jobs naming the coordinator as
  // their dealer run over it (driven by the scheduler). Unavailable if the address cannot be
  // bound; FailedPrecondition if already started. `listen_address` "127.0.0.1:0" picks a port.
  Status StartPeerEndpoint(const std::string& listen_address, const std::string& advertise = "");
  // The advertised peer address ("" until StartPeerEndpoint).
  std::string peer_address();

  // The addresses actually bound (port 0 resolved); invites and `info` carry them as
  // advertised (SetAdvertised; by default the config's grpc_advertise / api_advertise).
  void set_bound_addresses(const std::string& grpc, const std::string& api);
  // Checks that nodes can dial the control plane and the API as they will be announced
  // (FailedPrecondition for a wildcard listen host without an advertise value, naming the flag;
  // InvalidArgument for a malformed one) and keeps the advertise values for
  // set_bound_addresses. Call before the servers start.
  Status SetAdvertised(const std::string& grpc_listen, const std::string& grpc_advertise,
                       const std::string& api_listen, const std::string& api_advertise);

  // Blocks until a job's state may have changed or `timeout_ms` passes (long polling).
  void WaitForChange(int64_t timeout_ms);

  const CoordinatorConfig& config() const { return config_; }
  const crypto::SigningKey& signing_key() const { return *key_; }
  const crypto::TlsIdentity& tls_identity() const { return tls_; }
  const std::string& tls_fingerprint() const { return tls_fingerprint_; }
  const std::string& home() const { return home_; }

 private:
  Coordinator() = default;
  Status Migrate();
  StatusOr<Json> DispatchUnchecked(const Caller& caller, const std::string& method, const Json& body);

  // Method implementations (coordinator.cc). All run with mu_ held.
  StatusOr<Json> CreateInvite(const Caller& c, const Json& body);
  StatusOr<Json> CreateToken(const Caller& c, const Json& body);
  StatusOr<Json> ListTokens(const Caller& c, const Json& body);
  StatusOr<Json> RevokeToken(const Caller& c, const Json& body);
  StatusOr<Json> RegisterNode(const Caller& c, const Json& body);
  StatusOr<Json> NodeHello(const Caller& c, const Json& body);
  StatusOr<Json> ListMembers(const Caller& c, const Json& body);
  StatusOr<Json> RegisterDataset(const Caller& c, const Json& body);
  StatusOr<Json> ListDatasets(const Caller& c, const Json& body);
  StatusOr<Json> SubmitJob(const Caller& c, const Json& body);
  StatusOr<Json> ListJobs(const Caller& c, const Json& body);
  StatusOr<Json> GetJob(const Caller& c, const Json& body);
  StatusOr<Json> ApproveJob(const Caller& c, const Json& body);
  StatusOr<Json> RejectJob(const Caller& c, const Json& body);
  StatusOr<Json> CancelJob(const Caller& c, const Json& body);
  StatusOr<Json> RetryJob(const Caller& c, const Json& body);
  StatusOr<Json> RegisterModel(const Caller& c, const Json& body);
  StatusOr<Json> ListModels(const Caller& c, const Json& body);
  StatusOr<Json> Poll(const Caller& c, const Json& body);
  StatusOr<Json> ReportProgress(const Caller& c, const Json& body);
  StatusOr<Json> ReportOutcome(const Caller& c, const Json& body);
  StatusOr<Json> AuditRange(const Caller& c, const Json& body);
  StatusOr<Json> ListOperators(const Caller& c, const Json& body);
  StatusOr<Json> Info(const Caller& c, const Json& body);

  // Helpers (mu_ held).
  StatusOr<JobState> StateOf(const std::string& job_id);
  // Checks the transition, stores it and appends a job.state audit entry.
  Status SetState(const std::string& job_id, JobState to, const std::string& reason);
  StatusOr<std::string> PartyForDecision(const Caller& c, const Json& body, const std::string& id);
  StatusOr<crypto::PublicKey> MemberKey(const std::string& party);
  Status AppendCoordinatorEntry(const std::string& kind, const Json& body);
  // Appends an entry signed by a node; PermissionDenied unless `author` wrote it.
  Status AppendAuthoredEntry(const Json& signed_entry, const std::string& author,
                             const std::string& kind);
  StatusOr<Json> JobJson(const std::string& job_id, bool with_spec);
  void CheckTimeouts();
  void Notify();
  // Records `party`'s verified approval of attempt `attempt`; schedules the job once every
  // party has approved. Inside a transaction.
  Status RecordApproval(const std::string& job_id, const std::string& party,
                        const std::string& signature, int64_t attempt, const std::string& via);
  // The coordinator signs its own part (dealer) of attempt `attempt`. Inside a transaction.
  Status ApproveAsCoordinator(const std::string& job_id, int64_t attempt);
  // Puts a member's address and certificate into the peer endpoint's directory.
  void RefreshPeer(const std::string& name);

  // Runs of the coordinator's own part of a job (hosted_party.h).
  struct HostedRun;
  // Scheduler tick (takes mu_): reaps finished runs, heartbeats running ones, cancels those
  // whose job ended, starts runs for newly scheduled jobs, and fails runs a previous process
  // left behind.
  void TendHostedParties();
  void ExecuteHostedRun(HostedRun& run);

  std::string home_;
  CoordinatorConfig config_;
  std::unique_ptr<crypto::SigningKey> key_;
  crypto::TlsIdentity tls_;
  std::string tls_fingerprint_;
  std::string bound_grpc_, bound_api_;
  std::string grpc_advertise_, api_advertise_;  // see SetAdvertised

  std::mutex mu_;
  std::condition_variable changed_;
  uint64_t generation_ = 0;
  std::unique_ptr<SqlDb> db_;
  std::unique_ptr<audit::LogStore> log_;

  std::atomic<bool> stop_{false};
  std::thread scheduler_;

  // Peer endpoint and hosted runs (guarded by mu_; the transport is thread-safe itself).
  std::shared_ptr<net::StaticPeerDirectory> peers_;
  std::shared_ptr<net::PeerTransport> transport_;
  std::string bound_peer_;
  std::map<std::string, std::shared_ptr<HostedRun>> hosted_;
};

}  // namespace consort::coordinator
