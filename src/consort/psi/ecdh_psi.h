#pragma once
// Two-party ECDH-PSI: Diffie-Hellman-based private set intersection.
//
// Papers: C. Meadows, "A More Efficient Cryptographic Matchmaking Protocol for Use in the
// Absence of a Continuously Available Third Party", IEEE S&P 1986; B. Huberman, M. Franklin,
// T. Hogg, "Enhancing Privacy and Trust in Electronic Communities", ACM EC 1999 (section 4).
// Group: Curve25519 u-coordinates (crypto/curve25519.h); H = RFC 9380
// curve25519_XMD:SHA-512_ELL2_NU_ with DST "CONSORT-V01-ECDH-PSI-with-" + suite + ":" +
// domain, so values from different jobs never match.
//
// Message flow (party A holds X, secret scalar a; party B holds Y, secret scalar b):
//   A <-> B  handshake: version, |set|, my output, the peer's output, batch size, SHA-256(domain)
//            (each side checks the other's view is the mirror image: FailedPrecondition if not)
//   A  -> B  H(x)^a for x in X, in a secret random order, in batches      (32 B per element)
//   B  -> A  H(y)^b for y in Y, likewise, concurrently                      (32 B per element)
//   B  -> A  H(x)^ab, truncated to T bytes, only if A's output is not kNone: in A's order when
//            A's output is kIntersection (streamed batch by batch), or after one global CSPRNG
//            shuffle when it is kSize                                        (T B per element)
//   A  -> B  H(y)^ab likewise if B's output is not kNone.
//   A receiver compares its returned H(x)^ab with the H(y)^ab it computed itself from H(y)^b.
// Rounds: handshake + 2 message flights (everything after the handshake is streamed).
// Work per party: |X| hash-to-curve + (|X| + |Y|) X25519 multiplications.
// T = ceil((40 + bits(|X|) + bits(|Y|)) / 8) bytes (EcdhPsiReturnBytes): a false match between
// any of the |X||Y| pairs has probability below 2^-40. A caller that runs several instances
// (bucketed_psi.h: one per bucket) adds bits(instances) (EcdhPsiOptions::extra_return_bits) so
// that the bound holds over all of them together.
// Bytes sent per party: see EcdhPsiBytesSent (checked by the tests).
//
// Security: semi-honest (honest-but-curious) parties; 128-bit computational security from the
// DDH assumption in the prime-order subgroup of Curve25519, with H modelled as a random
// oracle; 40-bit statistical security for the truncation. Not secure against a malicious peer
// (it can, e.g., substitute its set or return garbage); peer messages are still fully
// validated, so a misbehaving peer gets an error, never memory-unsafe behaviour.
// Leaks: both set sizes to both parties. A receiver of kIntersection learns which of its own
// rows are in the intersection (and so its size); a receiver of kSize learns only |X ∩ Y|; a
// party with kNone learns only the peer's set size. Nobody learns which of the peer's rows
// matched (each party sends its own set in a secret random order).

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "consort/common/status.h"
#include "consort/net/link.h"
#include "consort/psi/psi.h"

namespace consort::psi {

inline constexpr uint32_t kEcdhPsiVersion = 1;
// Upper bound on either set (keeps T <= 14 bytes and indices in 32 bits).
inline constexpr uint64_t kEcdhPsiMaxSetSize = uint64_t{1} << 32;

struct EcdhPsiOptions {
  PsiOutput my_output = PsiOutput::kIntersection;
  PsiOutput peer_output = PsiOutput::kNone;
  // Job id (or any string both parties agree on); bound into the hash-to-curve DST.
  std::string domain;
  // Elements per message; 1 .. kMaxMessageBytes / 32 (about 500k).
  size_t batch_size = 4096;
  // Called from the calling thread with the fraction done, in [0, 1], non-decreasing.
  std::function<void(double)> progress;
  // When set to true (from any thread) the run stops at the next batch with Cancelled.
  const std::atomic<bool>* cancelled = nullptr;
  // Worker threads for hashing and scalar multiplication (1 = the calling thread only).
  int threads = 1;
  // Added to the 40 statistical bits of the truncation, in [0, 17]; both parties must use the
  // same value (it is not sent). See the file comment.
  int extra_return_bits = 0;
};

using EcdhPsiResult = PsiResult;

// Runs one party of ECDH-PSI over `link` with this party's `items` (canonical, distinct byte
// strings; the caller serializes composite keys). Blocks until done. Uses 2 I/O threads plus
// `threads` - 1 workers. The link must not be used by anyone else meanwhile.
// Errors: InvalidArgument (duplicate items, bad options, or a malformed peer message, naming
// what is wrong), FailedPrecondition (handshake mismatch: version, domain or outputs),
// Unavailable (peer closed or disconnected), DeadlineExceeded (link timeout), Cancelled.
// On any error the link is closed so that the peer fails promptly (with Unavailable).
StatusOr<EcdhPsiResult> RunEcdhPsi(net::Link& link, const std::vector<std::string>& items,
                                   const EcdhPsiOptions& opts);

// T: bytes kept of each doubly-masked value sent back (see the file comment).
size_t EcdhPsiReturnBytes(uint64_t n_a, uint64_t n_b, int extra_bits = 0);

// Exact bytes that a party with `my_size` items and batch size `my_batch` sends to a peer with
// `peer_size` items and batch size `peer_batch`, given what the peer receives.
uint64_t EcdhPsiBytesSent(uint64_t my_size, size_t my_batch, uint64_t peer_size,
                          size_t peer_batch, PsiOutput my_output, PsiOutput peer_output,
                          int extra_return_bits = 0);

}  // namespace consort::psi
