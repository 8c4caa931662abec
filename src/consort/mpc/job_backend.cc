#include "consort/mpc/job_backend.h"

#include <algorithm>

#include "consort/mpc/dealer.h"
#include "consort/mpc/three_party.h"
#include "consort/mpc/two_party.h"

namespace consort::mpc {

struct JobBackend::Impl {
  std::unique_ptr<TwoPartyBackend> two_party;
  std::unique_ptr<Backend> other;  // three-party backend
  std::unique_ptr<Dealer> dealer;
  net::Link* to_party0 = nullptr;
  net::Link* to_party1 = nullptr;
  bool closed = false;
};

StatusOr<JobMpcPlan> PlanJobMpc(const engine::JobSpec& spec) {
  JobMpcPlan plan;
  plan.data_parties = spec.DataPartyNames();
  std::vector<std::string> dealers = spec.PartiesWithRole(kDealerRole);
  if (plan.data_parties.size() == 2) {
    if (dealers.size() != 1) {
      return absl::InvalidArgumentError(
          "$.parties: two data parties need exactly one party with {\"role\": \"dealer\"} (found " +
          std::to_string(dealers.size()) + ")");
    }
    plan.mode = JobMpcMode::kTwoPartyDealer;
    plan.dealer = dealers[0];
    return plan;
  }
  if (plan.data_parties.size() == 3) {
    if (!dealers.empty()) {
      return absl::InvalidArgumentError(
          "$.parties: three data parties use three-party sharing and take no dealer (remove "
          "party '" + dealers[0] + "')");
    }
    plan.mode = JobMpcMode::kThreeParty;
    return plan;
  }
  return absl::InvalidArgumentError("$.parties: MPC needs two data parties and a dealer, or three "
                                    "data parties (found " +
                                    std::to_string(plan.data_parties.size()) + " data parties)");
}

JobBackend::~JobBackend() = default;

StatusOr<std::unique_ptr<JobBackend>> JobBackend::Open(engine::Session& session, FixedPoint fxp) {
  CONSORT_ASSIGN_OR_RETURN(JobMpcPlan plan, PlanJobMpc(session.spec()));
  std::unique_ptr<JobBackend> jb(new JobBackend());
  jb->plan_ = plan;
  jb->impl_ = std::make_unique<Impl>();
  const std::string& self = session.self();
  auto it = std::find(plan.data_parties.begin(), plan.data_parties.end(), self);
  jb->party_ = it == plan.data_parties.end() ? -1
                                             : static_cast<int>(it - plan.data_parties.begin());

  if (plan.mode == JobMpcMode::kThreeParty) {
    if (jb->party_ < 0) {
      return absl::FailedPreconditionError("party '" + self + "' has no part in this job's MPC");
    }
    int me = jb->party_;
    CONSORT_ASSIGN_OR_RETURN(net::Link * next, session.Peer(plan.data_parties[(me + 1) % 3]));
    CONSORT_ASSIGN_OR_RETURN(net::Link * prev, session.Peer(plan.data_parties[(me + 2) % 3]));
    CONSORT_ASSIGN_OR_RETURN(jb->impl_->other, ThreePartyBackend::Create(me, *next, *prev, fxp));
    return jb;
  }

  if (self == plan.dealer) {
    CONSORT_ASSIGN_OR_RETURN(jb->impl_->to_party0, session.Peer(plan.data_parties[0]));
    CONSORT_ASSIGN_OR_RETURN(jb->impl_->to_party1, session.Peer(plan.data_parties[1]));
    jb->impl_->dealer = std::make_unique<Dealer>();
    return jb;
  }
  if (jb->party_ < 0) {
    return absl::FailedPreconditionError("party '" + self + "' has no part in this job's MPC");
  }
  CONSORT_ASSIGN_OR_RETURN(net::Link * dealer_link, session.Peer(plan.dealer));
  CONSORT_ASSIGN_OR_RETURN(net::Link * peer_link,
                           session.Peer(plan.data_parties[1 - jb->party_]));
  CONSORT_ASSIGN_OR_RETURN(std::unique_ptr<TripleSource> triples,
                           ConnectToDealer(jb->party_, *dealer_link));
  CONSORT_ASSIGN_OR_RETURN(jb->impl_->two_party,
                           TwoPartyBackend::Create(jb->party_, *peer_link, std::move(triples), fxp));
  return jb;
}

Backend& JobBackend::backend() {
  CONSORT_CHECK(!is_dealer());
  if (impl_->two_party) return *impl_->two_party;
  CONSORT_CHECK(impl_->other != nullptr);
  return *impl_->other;
}

Status JobBackend::ServeDealer() {
  if (!is_dealer() || !impl_->dealer) {
    return absl::FailedPreconditionError("ServeDealer called at a data party");
  }
  // The dealer idles while the data parties do local work or a long PSI before their first
  // request; a failing or cancelled party closes its links, which ends the wait (Unavailable).
  for (net::Link* l : {impl_->to_party0, impl_->to_party1}) {
    l->set_timeout(std::max(l->timeout(), kDealerIdleTimeout));
  }
  return RunDealer(*impl_->dealer, *impl_->to_party0, *impl_->to_party1);
}

Status JobBackend::Close() {
  if (is_dealer() || impl_->closed) return OkStatus();
  impl_->closed = true;
  if (impl_->two_party) return impl_->two_party->Close();
  return OkStatus();
}

}  // namespace consort::mpc
