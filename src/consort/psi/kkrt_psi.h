#pragma once
// Two-party PSI from a batched oblivious PRF (OT extension): Kolesnikov, Kumaresan, Rosulek,
// Trieu, "Efficient Batched Oblivious PRF with Applications to Private Set Intersection",
// CCS 2016, section 5 (PSI from BaRK-OPRF with 3-way cuckoo hashing, no stash; the OPRF is
// ot/kkrt_oprf.h, the hashing psi/internal/cuckoo.h).
//
// Roles: the OPRF receiver R holds Y (n_r items), the OPRF sender S holds X (n_s items).
// Every item is first hashed to a 128-bit digest d = BLAKE2b-128(item) personalised with the
// session domain (job id), so values from different jobs never match.
// Message flow:
//   R <-> S  handshake: tag, version, role, my output, the peer's output, |set|, chunk size,
//            SHA-256(domain), a random tie-break nonce; each side checks the other's view
//            is the mirror image (FailedPrecondition if not)                (76 B each way)
//   R: cuckoo-hashes Y into B = CuckooBins(n_r) bins; bin b holds (y, h) with b = h_h(y)
//   base OTs + code seed (ot/kkrt_oprf.h)                    (R: 40 B; S: 16 KiB + 20 B)
//   R -> S   OPRF correction matrix, chunk by chunk (`chunk_bins` bins each)   (64 B per bin)
//            R keeps F_b(d_y ^ tweak_h) for each occupied bin, truncated to L bytes
//   S -> R   for every x in X (in a secret random order) and h in {0,1,2}:
//            F_{h_h(x)}(d_x ^ tweak_h), truncated to L bytes, in batches   (3 L B per item)
//   R: y is in X iff its value is among S's values (the OPRF input binds y and h, and each
//      bin has its own key, so only the same item in the same bin with the same h matches)
//   R -> S   only if S's output is kIntersection: the positions (in S's secret order) of S's
//            values that matched (4 B each + 8); if S's output is kSize: the count (8 B)
// Rounds: handshake + base OTs (1.5) + 2 streamed flights (+1 for S's output).
// L = ceil((40 + log2(3 n_s n_r)) / 8) bytes, at least 8, at most 16 (KkrtPsiValueBytes): a
// false match among the 3 n_s n_r pairs has probability below 2^-40.
//
// Security: semi-honest; 128-bit computational (base OTs: CDH in ristretto255 and random
// oracle; AES-128 as PRG and PRF; BLAKE2b as correlation-robust hash / random oracle);
// 40-bit statistical (truncation, cuckoo hashing failure, code distance). Not secure against
// a malicious peer (e.g. R may put arbitrary inputs in bins; S may send arbitrary values, R may
// report arbitrary positions back); every peer message is nonetheless validated.
// Leaks: both set sizes to both parties. R always learns which of its own items are in the
// intersection (inherent to the OPRF receiver, even when its declared output is only kSize).
// S learns, with output kIntersection, which of its items matched (R sends the positions) and
// with kSize only the count; with kNone nothing. S's values for items outside the
// intersection are pseudorandom to R. Cuckoo failure (< 2^-40) aborts the run with Internal
// and reveals that it happened.

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "consort/common/status.h"
#include "consort/net/link.h"
#include "consort/psi/psi.h"

namespace consort::psi {

inline constexpr uint32_t kKkrtPsiVersion = 1;
// Upper bound on either set (cuckoo indices in 30 bits, bins in 32).
inline constexpr uint64_t kKkrtPsiMaxSetSize = uint64_t{1} << 28;

// kAuto: decided in the handshake (an explicit peer role wins; else the larger output, and
// on a tie a random nonce) - for callers without a shared party order.
enum class KkrtRole : uint8_t { kAuto = 0, kOprfReceiver = 1, kOprfSender = 2 };

// The role of a party: the one with the larger output (intersection > size > none) is the
// OPRF receiver; on a tie, the first party (e.g. by name, JobSpec::PartyNames) is.
KkrtRole ChooseKkrtRole(PsiOutput mine, PsiOutput peer, bool i_am_first);

struct KkrtPsiOptions {
  KkrtRole role = KkrtRole::kAuto;
  PsiOutput my_output = PsiOutput::kIntersection;
  PsiOutput peer_output = PsiOutput::kNone;
  // Job id (or any string both parties agree on); keys every hash.
  std::string domain;
  // Bins per OT-extension chunk (the OPRF receiver's value is used): a multiple of 128 in
  // [128, ot::kKkrtMaxChunk]. Memory is O(chunk) for the extension matrix.
  size_t chunk_bins = size_t{1} << 16;
  // OPRF sender only: target size of its array of (item, hash) pairs bucketed by chunk (4 B
  // each); the sender makes one pass over its digests per that many pairs. >= 1.
  uint64_t sender_bucket_entries = uint64_t{1} << 23;
  // Called from the calling thread with the fraction done, in [0, 1], non-decreasing.
  std::function<void(double)> progress;
  // When set to true (from any thread) the run stops at the next chunk with Cancelled.
  const std::atomic<bool>* cancelled = nullptr;
};

// Runs one party of KKRT PSI over `link` with this party's `items` (distinct byte strings;
// the caller serializes composite keys). Blocks until done; single-threaded. The link must
// not be used by anyone else meanwhile.
// With both outputs kNone only the handshake runs (each party learns the other's size).
// Errors: InvalidArgument (duplicate items, bad options, or a malformed peer message),
// FailedPrecondition (handshake mismatch: version, domain, roles or outputs), Internal (cuckoo
// failure, < 2^-40), Unavailable (peer closed or disconnected), DeadlineExceeded (link timeout),
// Cancelled. On any error the link is closed so that the peer fails promptly (with Unavailable).
StatusOr<PsiResult> RunKkrtPsi(net::Link& link, const std::vector<std::string>& items,
                               const KkrtPsiOptions& opts);

// L: bytes kept of each OPRF value (see the file comment).
size_t KkrtPsiValueBytes(uint64_t n_receiver, uint64_t n_sender);

// Exact bytes (message payloads) the party in `role` (resolved, not kAuto) sends in a run
// with these set sizes and outputs that finds `intersection_size` common items:
//   both outputs kNone: 76 (handshake only);
//   OPRF receiver: 76 + 40 + 64 * CuckooBins(n_receiver) + (8 if the sender's output is kSize;
//                  8 + 4 * intersection_size if it is kIntersection);
//   OPRF sender:   76 + 32 * 512 + 20 + 3 * n_sender * KkrtPsiValueBytes(...).
uint64_t KkrtPsiBytesSent(KkrtRole role, uint64_t n_receiver, uint64_t n_sender,
                          PsiOutput receiver_output, PsiOutput sender_output,
                          uint64_t intersection_size);

}  // namespace consort::psi
