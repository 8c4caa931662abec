// The node daemon: peer link server, coordinator long-poll loop, standing approvals, job runs.

#include <chrono>
#include <filesystem>
#include <optional>
#include <thread>

#include "consort/audit/entry.h"
#include "consort/audit/log_store.h"
#include "consort/common/files.h"
#include "consort/common/logging.h"
#include "consort/common/time.h"
#include "consort/engine/operator.h"
#include "consort/net/address.h"
#include "consort/net/control_client.h"
#include "consort/net/grpc_transport.h"
#include "consort/net/peer_directory.h"
#include "consort/node/node.h"
#include "consort/node/node_session.h"

namespace consort::node {
namespace {

bool Retryable(const Status& s) {
  return s.code() == absl::StatusCode::kUnavailable ||
         s.code() == absl::StatusCode::kDeadlineExceeded;
}

// Peers as the coordinator's registry lists them, with each certificate fingerprint checked
// against the node's own verified audit log (the registration the peer signed itself).
class NodeDirectory final : public net::PeerDirectory {
 public:
  explicit NodeDirectory(Node& node) : node_(node) {}

  StatusOr<net::PeerInfo> Lookup(const std::string& name) override {
    {
      auto found = inner_.Lookup(name);
      if (found.ok()) return found;
    }
    CONSORT_RETURN_IF_ERROR(Refresh());
    return inner_.Lookup(name);
  }
  StatusOr<std::string> NameForFingerprint(const std::string& fp) override {
    return inner_.NameForFingerprint(fp);
  }

  // The coordinator's reply is not trusted to be well-formed: a malformed one is an error
  // (InvalidArgument), never an exception (Refresh also runs at start-up and on job threads).
  Status Refresh() {
    try {
      return RefreshUnchecked();
    } catch (const Json::exception& e) {
      return absl::InvalidArgumentError(std::string("malformed members.list reply: ") + e.what());
    }
  }

 private:
  Status RefreshUnchecked() {
    CONSORT_ASSIGN_OR_RETURN(Json members, node_.Call("members.list", Json::object()));
    CONSORT_ASSIGN_OR_RETURN(auto registered, RegisteredFingerprints());
    for (const auto& m : members.value("members", Json::array())) {
      std::string name = m.value("name", ""), fp = m.value("tls_fingerprint", ""),
                  addr = m.value("address", "");
      if (name.empty() || name == node_.name() || name == engine::kCoordinatorParty ||
          addr.empty()) {
        continue;
      }
      auto it = registered.find(name);
      if (it == registered.end() || it->second != fp) {
        CONSORT_LOG(WARNING) << "registry entry of " << name
                             << " does not match its audit-log registration; ignoring it";
        continue;
      }
      (void)inner_.Put({name, addr, fp});
    }
    // The coordinator's own part in jobs (the dealer, when a job names it) is reached at the
    // address it announces, authenticated by the certificate this node pinned when it joined.
    const Json* coordinator = members.contains("coordinator") && members["coordinator"].is_object()
                                  ? &members["coordinator"]
                                  : nullptr;
    const std::string coordinator_addr =
        coordinator && coordinator->contains("peer_address") &&
                (*coordinator)["peer_address"].is_string()
            ? (*coordinator)["peer_address"].get<std::string>()
            : "";
    if (!coordinator_addr.empty()) {
      Status st = inner_.Put({engine::kCoordinatorParty, coordinator_addr,
                              node_.config().coordinator_fingerprint});
      if (!st.ok()) CONSORT_LOG(WARNING) << "coordinator peer endpoint: " << st;
    }
    return OkStatus();
  }

  StatusOr<std::map<std::string, std::string>> RegisteredFingerprints() {
    CONSORT_RETURN_IF_ERROR(node_.SyncAudit().status());
    return node_.RegisteredFingerprints();
  }

  Node& node_;
  net::StaticPeerDirectory inner_;
};

}  // namespace

struct Node::Run {
  std::string job_id;
  std::thread thread;
  std::atomic<bool> done{false};
  std::atomic<bool> abort{false};
  std::mutex mu;
  std::shared_ptr<NodeSession> session;
};

StatusOr<std::map<std::string, std::string>> Node::RegisteredFingerprints() {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, std::string> out;
  CONSORT_ASSIGN_OR_RETURN(int64_t size, log_->Size());
  for (int64_t from = 0; from < size;) {
    CONSORT_ASSIGN_OR_RETURN(auto entries, log_->Range(from, 1000));
    if (entries.empty()) break;
    for (const auto& e : entries) {
      if (e.kind != audit::kKindNodeRegistered) continue;
      auto reg = audit::NodeRegistration::FromBody(e.body);
      if (reg.ok()) out[reg->name] = reg->tls_fingerprint;
    }
    from += static_cast<int64_t>(entries.size());
  }
  return out;
}

// Calls the coordinator, retrying while it is unreachable (e.g. restarting) for up to
// `patience`; a coordinator restart mid-job must not lose a node's report.
StatusOr<Json> Node::CallPatiently(const std::string& method, const Json& body,
                                   std::chrono::seconds patience) {
  auto deadline = std::chrono::steady_clock::now() + patience;
  auto backoff = std::chrono::milliseconds(250);
  while (true) {
    auto r = Call(method, body);
    if (r.ok() || !Retryable(r.status()) || std::chrono::steady_clock::now() >= deadline) return r;
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(4000));
  }
}

void Node::HandleApproval(const std::string& job_id) {
  if (!engine::ValidateJobId(job_id).ok()) return;
  auto job = Call("job.get", {{"job_id", job_id}});
  if (!job.ok()) return;
  {
    // Already decided here (for this attempt: a retry is signed again).
    std::lock_guard<std::mutex> lock(mu_);
    auto rows = db_->Query("SELECT 1 FROM decisions WHERE job_id = ? AND attempt >= ?",
                           {job_id, job->value("attempt", int64_t{0})});
    if (rows.ok() && !rows->empty()) return;
  }
  auto id = engine::ComputeJobId((*job)["spec"]);
  auto spec = engine::ParseJobSpec((*job)["spec"]);
  if (!id.ok() || *id != job_id || !spec.ok()) {
    CONSORT_LOG(WARNING) << "job " << job_id.substr(0, 12) << ": spec does not match its id; ignoring";
    return;
  }
  std::string why;
  auto rule = MatchPolicy(*spec, &why);
  if (rule.ok() && rule->has_value()) {
    auto r = ApproveJob(job_id, "policy:" + std::to_string((*rule)->id));
    if (r.ok()) {
      CONSORT_LOG(INFO) << "job " << job_id.substr(0, 12) << " approved by standing policy rule "
                        << (*rule)->id;
    } else {
      CONSORT_LOG(WARNING) << "job " << job_id.substr(0, 12) << ": approval failed: " << r.status();
    }
    return;
  }
  std::lock_guard<std::mutex> lock(runs_mu_);
  if (waiting_logged_.insert(job_id).second) {
    CONSORT_LOG(INFO) << "job " << job_id.substr(0, 12) << " waits for a person (consort job approve "
                      << job_id.substr(0, 12) << "...): " << why;
  }
}

void Node::StartRun(const std::string& job_id) {
  std::lock_guard<std::mutex> lock(runs_mu_);
  auto existing = runs_.find(job_id);
  if (existing != runs_.end()) {
    if (!existing->second->done) return;
    // A finished earlier attempt: the job was retried (`consort job retry`).
    if (existing->second->thread.joinable()) existing->second->thread.join();
    runs_.erase(existing);
  }
  auto run = std::make_shared<Run>();
  run->job_id = job_id;
  runs_[job_id] = run;
  run->thread = std::thread([this, run] {
    try {
      ExecuteRun(*run);
    } catch (const Json::exception& e) {
      CONSORT_LOG(WARNING) << "job " << run->job_id.substr(0, 12) << ": malformed reply: " << e.what();
      (void)Call("job.report", {{"job_id", run->job_id}, {"outcome", "failed"},
                                {"reason", "malformed reply from the coordinator"}});
      run->done = true;
    }
  });
}

void Node::ExecuteRun(Run& run) {
  const std::string& job_id = run.job_id;
  const std::string short_id = job_id.substr(0, 12);
  auto report = [&](const std::string& outcome, const std::string& reason, const Json& entry) {
    Json body = {{"job_id", job_id}, {"outcome", outcome}};
    if (!reason.empty()) body["reason"] = reason;
    if (!entry.is_null()) body["entry"] = entry;
    auto r = CallPatiently("job.report", body, std::chrono::seconds(600));
    if (!r.ok()) CONSORT_LOG(WARNING) << "job " << short_id << ": report " << outcome << ": " << r.status();
  };
  auto record = [&](const std::string& state, const std::string& reason, uint64_t sent, uint64_t recv) {
    std::lock_guard<std::mutex> lock(mu_);
    (void)db_->Run("UPDATE runs SET state = ?, reason = ?, finished_ms = ?, bytes_sent = ?, "
                   "bytes_received = ? WHERE job_id = ?",
                   {state, reason, NowUnixMillis(), static_cast<int64_t>(sent),
                    static_cast<int64_t>(recv), job_id});
  };
  auto finish = [&] { run.done = true; };

  auto job = CallPatiently("job.get", {{"job_id", job_id}}, std::chrono::seconds(60));
  if (!job.ok()) {
    CONSORT_LOG(WARNING) << "job " << short_id << ": cannot fetch it: " << job.status();
    report("failed", "cannot fetch the job: " + std::string(job.status().message()), Json());
    return finish();
  }
  const int64_t attempt = job->value("attempt", int64_t{0});

  // A run of this attempt that this node started before it was restarted cannot be continued
  // (its peers have moved on): report how it ended instead of running it twice. A retry is a
  // new attempt and runs again (operators resume from their checkpoints in ScratchDir()).
  std::optional<std::pair<std::string, std::string>> previous;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto rows = db_->Query("SELECT state, reason, attempt FROM runs WHERE job_id = ?", {job_id});
    // A job this node completed is never run again, whatever attempt the coordinator names.
    if (rows.ok() && !rows->empty() &&
        (AsInt((*rows)[0][2]) >= attempt || AsText((*rows)[0][0]) == "succeeded")) {
      previous.emplace(AsText((*rows)[0][0]), AsText((*rows)[0][1]));
    } else {
      (void)db_->Run("INSERT OR REPLACE INTO runs (job_id, state, started_ms, attempt) "
                     "VALUES (?, 'running', ?, ?)",
                     {job_id, NowUnixMillis(), attempt});
    }
  }
  if (previous) {
    bool succeeded = previous->first == "succeeded";
    std::string reason = succeeded ? ""
                         : previous->first == "running" ? "node restarted during the job"
                                                        : previous->second;
    if (previous->first == "running") record("failed", reason, 0, 0);
    report(succeeded ? "succeeded" : "failed", reason, Json());
    return finish();
  }

  report("started", "", Json());
  auto spec = VerifyJobForRun(job_id, *job);
  if (!spec.ok()) {
    CONSORT_LOG(WARNING) << "job " << short_id << " refused: " << spec.status();
    record("failed", std::string(spec.status().message()), 0, 0);
    report("failed", std::string(spec.status().message()), Json());
    return finish();
  }
  auto op = engine::OperatorRegistry::Global().Find(spec->op);
  if (!op.ok()) {
    record("failed", std::string(op.status().message()), 0, 0);
    report("failed", std::string(op.status().message()), Json());
    return finish();
  }
  auto session = std::make_shared<NodeSession>(*this, job_id, *spec, transport_,
                                               std::chrono::milliseconds(config_.link_timeout_ms));
  {
    std::lock_guard<std::mutex> lock(run.mu);
    run.session = session;
  }
  if (run.abort) session->Cancel();
  CONSORT_LOG(INFO) << "job " << short_id << ": running " << spec->op;

  // Heartbeat: progress to the coordinator once a second (keeps the job alive there).
  std::atomic<bool> heartbeat_stop{false};
  std::thread heartbeat([&] {
    while (!heartbeat_stop) {
      (void)Call("job.progress",
                 {{"job_id", job_id}, {"fraction", session->fraction()}, {"stage", session->stage()}});
      for (int i = 0; i < 10 && !heartbeat_stop; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  double t0 = MonotonicSeconds();
  Status st = (*op)->Run(*session);
  double seconds = MonotonicSeconds() - t0;
  uint64_t sent = session->bytes_sent(), received = session->bytes_received();
  session->CloseLinks();
  heartbeat_stop = true;
  heartbeat.join();

  // An abort closes the links: the operator then fails with Cancelled/Unavailable, which says
  // nothing. Any other error is the operator's own finding (e.g. bad input) and is kept.
  if (!st.ok() && run.abort &&
      (st.code() == absl::StatusCode::kCancelled || st.code() == absl::StatusCode::kUnavailable ||
       st.code() == absl::StatusCode::kDeadlineExceeded)) {
    st = absl::CancelledError("job aborted (failed or cancelled elsewhere)");
  }
  if (st.ok()) {
    record("succeeded", "", sent, received);
    RemoveScratchDir(job_id);  // checkpoints are only kept for a retry
    Json entry;
    if (session->delivered()) {
      auto e = audit::MakeAuthorPart("result.delivered", config_.name, NowUnixMillis(),
                                     {{"job_id", job_id}, {"party", config_.name},
                                      {"output", *spec->OutputFor(config_.name)}},
                                     *key_);
      if (e.ok()) entry = e->SubmissionJson();
    }
    CONSORT_LOG(INFO) << "job " << short_id << ": done in " << seconds << " s, sent " << sent
                      << " bytes";
    report("succeeded", "", entry);
  } else {
    CONSORT_LOG(WARNING) << "job " << short_id << " failed: " << st;
    record("failed", std::string(st.message()), sent, received);
    report("failed", std::string(st.message()), Json());
  }
  finish();
}

void Node::AbortRun(const std::string& job_id) {
  std::shared_ptr<Run> run;
  {
    std::lock_guard<std::mutex> lock(runs_mu_);
    auto it = runs_.find(job_id);
    if (it == runs_.end()) {
      // Not running here (e.g. the node restarted): just record the end.
      (void)Call("job.report", {{"job_id", job_id}, {"outcome", "failed"}, {"reason", "aborted"}});
      return;
    }
    run = it->second;
  }
  run->abort = true;
  std::shared_ptr<NodeSession> session;
  {
    std::lock_guard<std::mutex> lock(run->mu);
    session = run->session;
  }
  // Closing links may wait for streams to end; keep the poll loop responsive.
  if (session) std::thread([session] { session->Cancel(); }).detach();
}

void Node::ReapRuns() {
  std::lock_guard<std::mutex> lock(runs_mu_);
  for (auto& [id, run] : runs_) {
    if (run->done && run->thread.joinable()) run->thread.join();
  }
}

void Node::PruneScratch() {
  // scratch/<job> holds raw keys and checkpoints. Keep it only while a retry may use it: drop it
  // for jobs whose run here succeeded or that were never run here, and for failed runs that
  // finished more than kScratchRetention ago.
  constexpr int64_t kScratchRetentionMs = int64_t{7} * 24 * 3600 * 1000;
  std::error_code ec;
  std::filesystem::directory_iterator it(JoinPath(home_, "scratch"), ec);
  if (ec) return;
  const int64_t now = NowUnixMillis();
  for (const auto& entry : it) {
    const std::string job_id = entry.path().filename().string();
    if (!engine::ValidateJobId(job_id).ok()) continue;
    bool keep = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto rows = db_->Query("SELECT state, finished_ms FROM runs WHERE job_id = ?", {job_id});
      if (rows.ok() && !rows->empty()) {
        const std::string state = AsText((*rows)[0][0]);
        keep = state == "running" ||
               (state == "failed" && now - AsInt((*rows)[0][1]) < kScratchRetentionMs);
      }
    }
    if (!keep) {
      CONSORT_LOG(INFO) << "removing the scratch directory of job " << job_id.substr(0, 12);
      RemoveScratchDir(job_id);
    }
  }
}

Status Node::Serve(const std::atomic<bool>& stop) {
  PruneScratch();
  auto directory = std::make_shared<NodeDirectory>(*this);
  net::TlsConfig tls{tls_.key_pem, tls_.cert_pem};
  CONSORT_ASSIGN_OR_RETURN(auto transport,
                           net::PeerTransport::Start(config_.name, config_.peer_listen, tls, directory));
  transport_ = std::shared_ptr<net::PeerTransport>(std::move(transport));
  CONSORT_ASSIGN_OR_RETURN(
      const std::string address,
      net::AdvertisedAddress(config_.peer_listen, config_.peer_advertise, transport_->port(),
                             "peer_advertise in node.json"));
  CONSORT_LOG(INFO) << "node " << config_.name << ": peer links on " << config_.peer_listen
                    << " (port " << transport_->port() << "), announced as " << address;

  // Announce our address; wait for the coordinator if it is not up yet.
  while (!stop) {
    auto r = Call("node.hello", {{"address", address}});
    if (r.ok()) break;
    if (!Retryable(r.status())) return r.status();
    CONSORT_LOG(WARNING) << "coordinator not reachable yet: " << r.status().message();
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  (void)SyncAudit();
  (void)directory->Refresh();
  CONSORT_LOG(INFO) << "node " << config_.name << " ready";

  int64_t failures = 0;
  int64_t since = -1;  // the coordinator state generation last seen (long poll)
  std::string members_seen;  // the coordinator's members_version last refreshed
  while (!stop) {
    auto poll = Call("node.poll", {{"wait_ms", 1000}, {"since", since}});
    if (!poll.ok()) {
      if (failures++ % 10 == 0) CONSORT_LOG(WARNING) << "poll: " << poll.status();
      if (!Retryable(poll.status())) {
        if (poll.status().code() == absl::StatusCode::kUnauthenticated ||
            poll.status().code() == absl::StatusCode::kPermissionDenied) {
          return poll.status();
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      continue;
    }
    if (failures > 0) {
      CONSORT_LOG(INFO) << "coordinator reachable again";
      failures = 0;
      (void)Call("node.hello", {{"address", address}});
    }
    // The coordinator is not trusted to send well-formed replies: a malformed one is logged
    // and skipped, never allowed to stop the node.
    try {
      auto ids = [&](const char* key) {
        std::vector<std::string> out;
        for (const auto& id : poll->value(key, Json::array())) {
          if (id.is_string() && engine::ValidateJobId(id.get<std::string>()).ok()) out.push_back(id);
        }
        return out;
      };
      for (const auto& id : ids("abort")) AbortRun(id);
      for (const auto& id : ids("approve")) HandleApproval(id);
      since = poll->value("generation", int64_t{-1});
      std::vector<std::string> new_runs;
      {
        std::lock_guard<std::mutex> lock(runs_mu_);
        for (const auto& id : ids("run")) {
          // A finished run of a job the coordinator lists again is a retry (a new attempt).
          auto it = runs_.find(id);
          if (it == runs_.end() || it->second->done) new_runs.push_back(id);
        }
      }
      const std::string members_version = poll->value("members_version", "");
      if (!new_runs.empty() || members_version != members_seen) {
        // A new member or address: learn it now, before a job with it starts (a peer's
        // certificate unknown here is refused in the TLS handshake).
        if (directory->Refresh().ok()) members_seen = members_version;
      }
      for (const auto& id : new_runs) StartRun(id);
      int64_t local = 0;
      {
        std::lock_guard<std::mutex> lock(mu_);
        local = log_->Size().value_or(0);
      }
      if (poll->value("audit_size", int64_t{0}) > local) {
        auto s = SyncAudit();
        if (!s.ok()) CONSORT_LOG(ERROR) << "audit replica: " << s.status();
      }
    } catch (const Json::exception& e) {
      CONSORT_LOG(WARNING) << "malformed reply from the coordinator: " << e.what();
    }
    ReapRuns();
  }

  // Shutting down: cancel what runs, wait for it, stop the peer server.
  std::vector<std::shared_ptr<Run>> runs;
  {
    std::lock_guard<std::mutex> lock(runs_mu_);
    for (auto& [_, r] : runs_) runs.push_back(r);
  }
  for (auto& r : runs) {
    r->abort = true;
    std::lock_guard<std::mutex> lock(r->mu);
    if (r->session) r->session->Cancel();
  }
  for (auto& r : runs) {
    if (r->thread.joinable()) r->thread.join();
  }
  transport_->Shutdown();
  CONSORT_LOG(INFO) << "node " << config_.name << " stopped";
  return OkStatus();
}

Node::~Node() {
  std::lock_guard<std::mutex> lock(runs_mu_);
  for (auto& [_, r] : runs_) {
    r->abort = true;
    if (r->thread.joinable()) r->thread.join();
  }
}

}  // namespace consort::node
