#pragma once
// PSI alignment: every party of a job learns which of its own rows carry a key that is present
// at ALL parties, in one order that every party derives by itself, so that row i of one
// party's aligned table and row i of every other party's aligned table carry the same key
// (the input to vertical joint statistics / vertical federated learning).
//
// Protocol (built on two-party ECDH-PSI, ecdh_psi.h; parties sorted by name, leader = first):
//   two parties:   one RunEcdhPsi with output kIntersection on both sides.
//   k >= 3:        round 1: the leader runs RunEcdhPsi with every other party P_i
//                  concurrently (leader kIntersection, P_i kNone) and keeps
//                  S = its keys that matched at every P_i (= the all-party intersection).
//                  round 2: the leader runs RunEcdhPsi with every P_i over S only
//                  (leader kNone, P_i kIntersection); P_i's matches are K_i ∩ S = S.
//   order:         every party sorts its matched keys by SHA-256(u64le(|domain|) || domain ||
//                  key): all parties hold the same key set, so they get the same order
//                  without exchanging anything further.
// Each PSI run is bound to its own domain (domain + "/align/2p", "/align/r1/<peer>",
// "/align/r2/<peer>"), so values from different runs never match.
// Rounds: two parties, one ECDH-PSI; k parties, two ECDH-PSI runs on the critical path.
//
// Security: semi-honest parties (as ecdh_psi.h); 128-bit computational (DDH on Curve25519),
// 40-bit statistical (truncated comparisons). A party colluding with the leader learns the
// leader's extra knowledge below.
// Leaks: every party learns which of its own rows are in the all-party intersection (and so
// its size). Two parties: both set sizes (distinct keys). k >= 3: every P_i learns the
// leader's number of distinct keys (round 1) and |S| (round 2); the leader learns every
// P_i's number of distinct keys and, for each P_i, which of the leader's own keys P_i holds
// (the pairwise intersections K_leader ∩ K_i), which is more than the all-party intersection.
// Non-leaders learn nothing about each other. Nobody learns the other parties' non-matching
// keys.

#include <atomic>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "consort/common/status.h"
#include "consort/data/keys.h"
#include "consort/data/table.h"
#include "consort/net/link.h"

namespace consort::engine {
class Session;
}

namespace consort::psi {

struct AlignOptions {
  // Job id (or any string all parties agree on): bound into every PSI run and the ordering.
  std::string domain;
  // Called with the fraction done, in [0, 1], non-decreasing; calls are serialized but may
  // come from the PSI worker threads.
  std::function<void(double)> progress;
  // When set to true (from any thread) the run stops with Cancelled.
  const std::atomic<bool>* cancelled = nullptr;
  // Worker threads per ECDH-PSI run (ecdh_psi.h).
  int threads = 1;
};

// Runs this party's side of the alignment. `keys` are this party's canonical keys, one per
// row, all distinct (data::ExtractKeys output); `peers` maps every other party's name to its
// link (each link used only by this call while it runs); `self` is this party's name. The
// party set is {self} ∪ peers (the leader is the smallest name), identical at all parties.
// Returns indices into `keys` of the all-party intersection, in the agreed order.
// Errors: InvalidArgument (no peers, a null link, duplicate keys, bad options, malformed peer
// messages), FailedPrecondition (parties disagree on the domain), Unavailable,
// DeadlineExceeded, Cancelled. On error every link is closed so that peers fail promptly.
StatusOr<std::vector<size_t>> AlignByPsi(const std::vector<std::string>& keys,
                                         const std::map<std::string, net::Link*>& peers,
                                         const std::string& self, const AlignOptions& opts);

// The agreed order of a set of keys (indices into `keys` sorted by the domain-bound hash).
// Exposed for tests and for operators that know the matched keys otherwise.
std::vector<size_t> AgreedOrder(const std::vector<std::string>& keys,
                                std::span<const size_t> subset, const std::string& domain);

// Convenience over a Session: extracts the keys of `table` on `key_columns` with `key_options`
// and aligns with the sessions of `parties` (all party names of the alignment, including
// self; the job's data parties), using the job id as domain, session progress (mapped into
// [progress_from, progress_to], stage "align") and cancellation. Returns row indices of
// `table` in the agreed order. Under DuplicateKeys::kDeduplicate a key carried by several
// rows is aligned through its first row (the others are left out; say so to users).
// Errors: as ExtractKeys and AlignByPsi; NotFound for a party without a link.
StatusOr<std::vector<uint32_t>> AlignSessionRows(engine::Session& session,
                                                 const data::Table& table,
                                                 std::span<const std::string> key_columns,
                                                 const data::KeyOptions& key_options,
                                                 const std::vector<std::string>& parties,
                                                 double progress_from = 0.0,
                                                 double progress_to = 1.0);

}  // namespace consort::psi
