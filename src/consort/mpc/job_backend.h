#pragma once
// Opens the MPC backend for one party of a job from its engine::Session, so that operators
// (joint statistics, vertical learning, ...) run one program over whichever MPC setting the
// job's spec asks for:
//
//   two data parties + one dataless party {"role": "dealer"}  ->  two-party additive sharing
//        with a Beaver-triple dealer (two_party.h, dealer.h). The dealer party runs
//        RunDealer over its links to both data parties; the data parties get a
//        TwoPartyBackend whose triple source is ConnectToDealer over their link to the dealer.
//        The dealer is a node, or the coordinator itself (party engine::kCoordinatorParty; it
//        runs the operator's dealer side in its own process, coordinator/hosted_party.h).
//   three data parties (no dealer)  ->  three-party replicated sharing (three_party.h, ABY3
//        style): party i's `next` link goes to data party (i+1) % 3, `prev` to (i+2) % 3.
//
// Party indices are the data parties in spec.DataPartyNames() order (sorted by name): party 0
// is the first data party. Every data party of the job runs the same program in the same order.
//
// Trust assumption (two-party mode): the dealer is semi-honest and does NOT collude with either
// data party. It never receives inputs, shares or outputs; it learns only the number and shapes
// of the triples the (public) program uses. A dealer colluding with one data party would learn
// the other party's inputs (dealer.h). Three-party mode: honest majority, semi-honest; no two
// parties collude. Security: 128-bit computational (AES-128-CTR PRG), see two_party.h.
// Leaks: nothing by itself; only what the program's Reveal / RevealTo calls reveal.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "consort/common/status.h"
#include "consort/engine/job_spec.h"
#include "consort/engine/session.h"
#include "consort/mpc/backend.h"
#include "consort/mpc/ring.h"

namespace consort::mpc {

inline constexpr const char* kDealerRole = engine::kDealerRole;
inline constexpr std::chrono::milliseconds kDealerIdleTimeout{6 * 3600 * 1000};

enum class JobMpcMode { kTwoPartyDealer, kThreeParty };

// The MPC setting of a spec: who computes, who deals.
struct JobMpcPlan {
  JobMpcMode mode = JobMpcMode::kTwoPartyDealer;
  std::vector<std::string> data_parties;  // index order
  std::string dealer;                     // "" in three-party mode
};

// Reads the plan from the spec: exactly two data parties and exactly one {"role": "dealer"}
// party, or exactly three data parties and no dealer. InvalidArgument naming what is wrong
// (e.g. "two data parties need a party with {\"role\": \"dealer\"}"). Dataless parties with
// other roles are left to the operator's own validation.
StatusOr<JobMpcPlan> PlanJobMpc(const engine::JobSpec& spec);

// One party's MPC for a job. Not thread-safe (one program thread, as Backend).
class JobBackend {
 public:
  // Opens this party's side: at a data party, runs the backend's setup with its peers (and,
  // in two-party mode, receives its seed from the dealer); at the dealer, only connects (call
  // ServeDealer). Errors: InvalidArgument (PlanJobMpc, or a malformed setup message),
  // FailedPrecondition (self is neither a data party nor the dealer), the links' Unavailable /
  // DeadlineExceeded.
  static StatusOr<std::unique_ptr<JobBackend>> Open(engine::Session& session, FixedPoint fxp);

  ~JobBackend();

  const JobMpcPlan& plan() const { return plan_; }
  bool is_dealer() const { return party_ < 0; }
  // This party's index among the data parties (-1 at the dealer).
  int party() const { return party_; }
  // The backend the program runs on. Only at data parties (CHECKs otherwise).
  Backend& backend();

  // Dealer only: serves triples until the data parties are done (OK), a link fails (its
  // status) or a message is malformed (InvalidArgument). FailedPrecondition at a data party.
  // Raises the dealer links' timeout to at least kDealerIdleTimeout: the data parties may
  // work for long (e.g. PSI alignment) before their first request.
  Status ServeDealer();

  // Data parties: ends the program (in two-party mode party 1 tells the dealer it is done, so
  // ServeDealer returns OK). Call once after the last operation. Idempotent.
  Status Close();

 private:
  JobBackend() = default;
  struct Impl;
  JobMpcPlan plan_;
  int party_ = -1;
  std::unique_ptr<Impl> impl_;
};

}  // namespace consort::mpc
