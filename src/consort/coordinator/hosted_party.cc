#include "consort/coordinator/hosted_party.h"

#include <algorithm>

namespace consort::coordinator {
namespace {

Status NoData() {
  return absl::FailedPreconditionError("the coordinator holds no data (it only deals)");
}
Status NoOutput() {
  return absl::PermissionDeniedError("the coordinator never receives job outputs");
}

}  // namespace

HostedPartySession::HostedPartySession(std::string job_id, engine::JobSpec spec,
                                       net::JobLinks::Connector connect,
                                       std::chrono::milliseconds link_timeout)
    : job_id_(std::move(job_id)),
      spec_(std::move(spec)),
      self_(engine::kCoordinatorParty),
      links_(std::move(connect), link_timeout) {}

StatusOr<std::shared_ptr<const data::Table>> HostedPartySession::LoadInput() { return NoData(); }
StatusOr<std::string> HostedPartySession::InputFingerprint() { return NoData(); }
StatusOr<uint64_t> HostedPartySession::InputRows() { return NoData(); }
StatusOr<std::string> HostedPartySession::ScratchDir() { return NoData(); }
StatusOr<std::string> HostedPartySession::CacheDir(const std::string&) { return NoData(); }

StatusOr<net::Link*> HostedPartySession::Peer(const std::string& peer) {
  if (!spec_.parties.count(peer) || peer == self_) {
    return absl::NotFoundError("'" + peer + "' is not a peer in this job");
  }
  return links_.Get(peer);
}

void HostedPartySession::ReportProgress(double fraction, const std::string& stage) {
  fraction_ = std::clamp(fraction, 0.0, 1.0);
  std::lock_guard<std::mutex> lock(mu_);
  stage_ = stage;
}

std::string HostedPartySession::stage() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stage_;
}

Status HostedPartySession::StoreTable(const std::string&, const data::Table&) { return NoOutput(); }
Status HostedPartySession::StoreSummary(const Json&) { return NoOutput(); }
Status HostedPartySession::StoreTableFile(const std::string&, const std::string&) {
  return NoOutput();
}
Status HostedPartySession::StoreModel(const std::string&, const Json&, ByteSpan) {
  return NoOutput();
}
StatusOr<engine::StoredModel> HostedPartySession::LoadModel(const std::string&) {
  return NoOutput();
}

}  // namespace consort::coordinator
