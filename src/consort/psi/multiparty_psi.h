#pragma once
// k-party PSI (3 <= k <= 16): every party learns (if it receives an output) which of its own
// items are in the intersection of ALL parties' sets, by commutative (DH) encryption around a
// ring with a leader that compares.
//
// Papers: the two-party DH-PSI of C. Meadows (IEEE S&P 1986) and Huberman-Franklin-Hogg
// (ACM EC 1999, section 4), extended to k parties by passing each set around a ring of
// commutative encryptions, as in J. Vaidya and C. Clifton, "Secure set intersection
// cardinality with application to association rule mining", J. Computer Security 13(4), 2005
// (section 4). For context: L. Kissner and D. Song, "Privacy-Preserving Set Operations",
// CRYPTO 2005, avoid the leader's extra leakage below with threshold homomorphic encryption
// of polynomials, at a far higher cost.
// Group and hash: as psi/ecdh_psi.h (Curve25519 u-coordinates, RFC 9380 encode_to_curve with
// DST "CONSORT-V01-MP-PSI-with-" + suite + ":" + domain; X25519 secret scalars k_i).
//
// Parties P_0 .. P_{n-1} in ring order (the operator uses sorted party names); leader L.
//   P_i -> L        hello: version, n, i, L, |X_i|, batch size, SHA-256(domain, outputs)
//   L   -> P_i      sizes: |X_0| .. |X_{n-1}| (every party needs them to validate lists)
//   ring: P_o blinds its set in a secret random order, H(x)^{k_o}, and sends it to P_{o+1};
//         each P_j raises the list it receives (owner o) to k_j and forwards it to P_{j+1},
//         until the (n-1)-th hop P_{o-1}, which sends H(x)^{k_0 k_1 ... k_{n-1}}, truncated to
//         T bytes, to L. Lists are streamed batch by batch, so all n lists move concurrently.
//         When the leader's own output is not "intersection", P_{L-1} shuffles the leader's
//         list before delivering it (the leader could otherwise map positions to its rows).
//   L   -> P_i      result: |∩| (receivers of kSize / kIntersection) and, for kIntersection,
//                   the matched positions of P_i's list (positions in P_i's secret order;
//                   only P_i can map them to rows); kNone parties get an empty result.
//   every link ends with an end marker, so that nothing is left in flight; until then a link
//   with nothing to send for a quarter of its timeout carries a 1-byte keepalive (some links
//   carry nothing between the sizes and the result, i.e. for the whole ring).
// Rounds: 2 (hello, sizes) + n-1 pipelined hops + 1 (result).
// Work per party: |X_i| hash-to-curve + sum_j |X_j| X25519 multiplications.
// Bytes: P_i sends 32 B per element of every list except P_{i+1}'s, which it delivers to L at
// T B per element (MultipartyPsiBytesSent, checked by the tests); T =
// MultipartyPsiTruncBytes(sizes) = ceil((40 + 2 bits(sum |X_j|)) / 8): no two distinct values among
// all lists collide except with prob. < 2^-40.
//
// Security: semi-honest parties, no collusion (a coalition pooling keys can strip the
// encryption layers it holds); 128-bit computational (DDH in the prime-order subgroup of
// Curve25519, H a random oracle), 40-bit statistical (truncation).
// Leaks: every party learns every party's set size. A receiver of kIntersection learns which
// of its own items are in the all-party intersection; of kSize, only its size. The leader
// additionally learns, from the fully encrypted lists, the size of the intersection of every
// subset of parties (e.g. |X_1 ∩ X_2|, |X_0 ∩ X_2 ∩ X_3|); if the leader itself receives
// kIntersection, it also learns which of its own items lie in each of those
// sub-intersections. Non-leaders learn nothing from the lists they relay.

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "consort/common/status.h"
#include "consort/net/link.h"
#include "consort/psi/psi.h"

namespace consort::psi {

// 2: the leader's result travels in chunks of batch_size positions.
inline constexpr uint32_t kMultipartyPsiVersion = 2;
inline constexpr size_t kMultipartyPsiMinParties = 3;
inline constexpr size_t kMultipartyPsiMaxParties = 16;
// Upper bound on each set (indices in 32 bits).
inline constexpr uint64_t kMultipartyPsiMaxSetSize = uint64_t{1} << 32;

struct MultipartyPsiOptions {
  size_t self = 0;    // this party's position in the ring, [0, n)
  size_t leader = 0;  // the comparing party, [0, n)
  // One per party in ring order (n = outputs.size()); every party passes the same vector.
  std::vector<PsiOutput> outputs;
  // Job id (or any string all parties agree on); bound into the hash-to-curve DST.
  std::string domain;
  // Elements per message, 1 .. about 500k; every party must use the same value.
  size_t batch_size = 4096;
  // Worker threads for hashing and scalar multiplication (1 = the calling thread only).
  int threads = 1;
  // Called from the calling thread with the fraction done, in [0, 1], non-decreasing.
  std::function<void(double)> progress;
  // When set to true (from any thread) the run stops at the next message with Cancelled.
  const std::atomic<bool>* cancelled = nullptr;
};

struct MultipartyPsiResult {
  // Ascending indices into this party's items that are in every party's set; filled only
  // when this party's output is kIntersection.
  std::vector<size_t> matched;
  // |X_0 ∩ ... ∩ X_{n-1}| for kSize and kIntersection receivers; 0 for kNone.
  uint64_t intersection_size = 0;
  // Every party's set size, in ring order.
  std::vector<uint64_t> set_sizes;
};

// The parties `self` exchanges messages with: its ring neighbours and the leader (the leader:
// everyone). RunMultipartyPsi needs a link to each of them and to no one else.
std::vector<size_t> MultipartyPsiPeers(size_t n, size_t self, size_t leader);

// Runs this party's side. `links[j]` is the link to party j (ring order; links.size() == n);
// entries for parties outside MultipartyPsiPeers may be null. `items`: canonical, distinct
// byte strings. Blocks until done; uses one receive and one send thread per link plus
// `threads` - 1 workers. Received messages are buffered without bound (memory grows with the
// sets relayed: about 32 B per element in flight).
// Errors: InvalidArgument (duplicate items, bad options, or a malformed peer message, naming
// it), FailedPrecondition (hello mismatch: version, parties, leader, domain, outputs or batch
// size), Unavailable (a peer closed), DeadlineExceeded (link timeout), Cancelled. On any error
// every link is closed so that the peers fail promptly.
StatusOr<MultipartyPsiResult> RunMultipartyPsi(const std::vector<net::Link*>& links,
                                               const std::vector<std::string>& items,
                                               const MultipartyPsiOptions& opts);

// T: bytes kept of each fully encrypted value sent to the leader.
size_t MultipartyPsiTruncBytes(const std::vector<uint64_t>& set_sizes);

// Exact bytes party `self` sends over all its links in a successful run, except the leader's
// result messages (MultipartyPsiResultBytes to each other party).
uint64_t MultipartyPsiBytesSent(const std::vector<uint64_t>& set_sizes, size_t self, size_t leader,
                                size_t batch_size);

// Bytes of the leader's result to a party that gets `positions` matched positions back (0 for
// a size or no-output party): one 17-byte header per chunk of batch_size positions (at least
// one chunk), plus 4 bytes per position.
uint64_t MultipartyPsiResultBytes(uint64_t positions, size_t batch_size);

}  // namespace consort::psi
