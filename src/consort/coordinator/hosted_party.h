#pragma once
// The coordinator's own part in a job. A spec may name the coordinator as its two-party MPC
// dealer ({"coordinator": {"role": "dealer"}}, engine::kCoordinatorParty): the coordinator then
// signs the job with its own key, and when the job is scheduled it runs the operator's dealer
// side over peer links, exactly as a dataless node would, and reports like one.
//
// HostedPartySession is the engine::Session it runs the operator with. It has no data, no
// scratch or cache space, and receives no output: those calls fail (FailedPrecondition /
// PermissionDenied) instead of touching the coordinator's disk. Its links are PeerTransport
// links of the coordinator's peer endpoint (Coordinator::StartPeerEndpoint), pinned to the
// registered nodes' certificates like every node-to-node link.
//
// Security model: the dealer role is semi-honest and must not collude with a data party (see
// mpc/job_backend.h); hosting it in the coordinator means trusting the coordinator's operator
// for exactly that, and nothing more: the dealer never receives inputs, shares or outputs.

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "consort/engine/session.h"
#include "consort/net/job_links.h"

namespace consort::coordinator {

class HostedPartySession final : public engine::Session {
 public:
  HostedPartySession(std::string job_id, engine::JobSpec spec, net::JobLinks::Connector connect,
                     std::chrono::milliseconds link_timeout);

  const std::string& job_id() const override { return job_id_; }
  const engine::JobSpec& spec() const override { return spec_; }
  const std::string& self() const override { return self_; }
  StatusOr<std::shared_ptr<const data::Table>> LoadInput() override;
  StatusOr<std::string> InputFingerprint() override;
  StatusOr<uint64_t> InputRows() override;
  StatusOr<std::string> ScratchDir() override;
  StatusOr<std::string> CacheDir(const std::string& key) override;
  StatusOr<net::Link*> Peer(const std::string& peer) override;
  void ReportProgress(double fraction, const std::string& stage) override;
  const std::atomic<bool>& cancelled() const override { return links_.cancelled_flag(); }
  Status StoreTable(const std::string& name, const data::Table& table) override;
  Status StoreSummary(const Json& summary) override;
  Status StoreTableFile(const std::string& name, const std::string& csv_path) override;
  Status StoreModel(const std::string& name, const Json& metadata, ByteSpan blob) override;
  StatusOr<engine::StoredModel> LoadModel(const std::string& name) override;

  // Thread-safe: closes the links so that a blocked operator returns.
  void Cancel() { links_.Cancel(); }
  void CloseLinks() { links_.CloseAll(); }
  double fraction() const { return fraction_.load(); }
  std::string stage() const;
  uint64_t bytes_sent() const { return links_.bytes_sent(); }

 private:
  std::string job_id_;
  engine::JobSpec spec_;
  std::string self_;
  net::JobLinks links_;
  std::atomic<double> fraction_{0};
  mutable std::mutex mu_;
  std::string stage_;
};

}  // namespace consort::coordinator
