#pragma once
// Unbalanced PSI: a client with a small set X learns X ∩ Y against a server with a large set Y
// that is encoded ONCE, with a long-lived OPRF key, and reused by every later job.
//
// OPRF: 2HashDH (DH-OPRF), S. Jarecki, A. Kiayias, H. Krawczyk, "Round-Optimal
// Password-Protected Secret Sharing and T-PAKE in the Password-Only Model", ASIACRYPT 2014
// (section 3); the same construction as RFC 9497 section 3.3.1 (base mode), here over X25519:
//   F_k(x) = Trunc_T(SHA-256("CONSORT-V01-UPSI-OUT" | u32 |x| | x | X25519(k, H(x))))
// with H = RFC 9380 curve25519_XMD:SHA-512_ELL2_NU_ (crypto/curve25519.h), DST
// "CONSORT-V01-UPSI-with-" + suite + ":" + hex(preprocessing id). Blinding uses a clamped pair
// c * d = 1 mod l (internal/x25519_blind.h), because X25519 clamps every scalar it is given.
// Unbalanced use of a DH-OPRF with a server-side encoded set follows e.g. Kiss, Liu, Schneider,
// Asokan, Pinkas, "Private Set Intersection for Unequal Set Sizes with Mobile Applications",
// PoPETs 2017 (section 4, ECC-based OPRF).
//
// Preparation (server, once per dataset): k random; E = sorted {F_k(y) : y in Y}, serialized
// compactly (the leading 0-2 bytes of each value are implied by a bucket directory); stored
// with k and the caller's fingerprint (UnbalancedPsiServerSet::Save / LoadOrPrepare).
// Per job:
//   C -> S  hello: version, SHA-256(domain), |X|, batch size, id + digest of the encoded set
//           the client has cached (zeros if none)
//   S -> C  hello: version, id, |Y|, T, max client size, |E| bytes, SHA-256(E), send flag
//   S -> C  E in chunks, only if the client's cached id/digest differ (then cached by C)
//   C -> S  X25519(c, H(x)) for x in X, in batches (32 B each; a window of 8 in flight)
//   S -> C  X25519(k, .) of each, same order (32 B each)
//   C       unblinds with d, hashes to F_k(x), looks it up in E.
// Rounds: 1 (hello) + ceil(|X| / batch) pipelined round trips. Bytes: 32 |X| each way plus
// headers, and |E| once per preprocessing (Unbalanced*BytesSent, checked by the tests). Work: the
// server does |X| X25519 per job (|Y| hash-to-curve + |Y| X25519 once, on `threads` threads); the
// client |X| hash-to-curve + 2|X| X25519. T = ceil((40 + bits(|Y|) + bits(max_client_size)) / 8)
// bytes: for any client of up to max_client_size items, a false match has probability below 2^-40
// per job.
//
// Security: semi-honest client and server; 128-bit computational: the OPRF is secure in the
// random-oracle model under the one-more (gap) Diffie-Hellman assumption in the prime-order
// subgroup of Curve25519 (JKK14), with H modelled as a random oracle (the nonuniform
// Elligator 2 encoding only approximates one); 40-bit statistical (truncation). A malicious
// client could query any items it likes, up to max_client_size per job (no rate limiting
// beyond that). The server's key is long-lived: it is kept in a 0600 file and wiped (file
// overwritten with zeros) when the preprocessing is replaced.
// Leaks: the client learns X ∩ Y (which of its items are in Y; with a "size" output it still
// computes this locally and stores only the count) and |Y|; the server learns |X| and whether
// the client already held the current encoded set. The encoded set E alone lets the client
// test nothing: each value needs k, which the client only applies through the server, within
// a job, to the items it sends in that job. Across jobs over the same preprocessing the
// client learns the membership of the union of all items it ever queried.
// The server sends its hello (with |Y|) before it has checked the client's, so that both sides
// fail with the same precise FailedPrecondition on a mismatch (domain, version, sizes). A
// mismatched client thus still learns |Y|; this is deliberate: only the client named in the
// job both owners signed (authenticated by its pinned certificate) can connect, and |Y| is
// what it learns in every run of that job anyway.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "consort/common/bytes.h"
#include "consort/common/json.h"
#include "consort/common/status.h"
#include "consort/crypto/random.h"
#include "consort/net/link.h"
#include "consort/psi/psi.h"

namespace consort::psi {

inline constexpr uint32_t kUnbalancedPsiVersion = 1;
inline constexpr uint64_t kUnbalancedPsiMaxServerSize = (uint64_t{1} << 32) - 1;
inline constexpr uint64_t kUnbalancedPsiMaxClientSize = uint64_t{1} << 24;
inline constexpr uint64_t kUnbalancedPsiDefaultMaxClientSize = uint64_t{1} << 20;

struct UnbalancedPsiPrepareOptions {
  // The largest client set a job may bring (bounds the truncation), 1 .. 2^24.
  uint64_t max_client_size = kUnbalancedPsiDefaultMaxClientSize;
  int threads = 2;
  // Equal items (across Add batches) are merged instead of failing Finish with InvalidArgument.
  bool dedupe = false;
  // Items expected in total, for progress only (0 = unknown: no progress until Finish).
  uint64_t expected_items = 0;
  std::function<void(double)> progress;
  const std::atomic<bool>* cancelled = nullptr;
};

// The server's preprocessing: the OPRF key k and the encoded set E. Move-only; wipes k on
// destruction. Not thread-safe for concurrent use of one object.
class UnbalancedPsiServerSet {
 public:
  UnbalancedPsiServerSet(UnbalancedPsiServerSet&&) noexcept;
  UnbalancedPsiServerSet& operator=(UnbalancedPsiServerSet&&) noexcept;
  ~UnbalancedPsiServerSet();

  // Streams items into a new preprocessing: Add() any number of batches, then Finish().
  // Items must be distinct across all batches (InvalidArgument from Finish otherwise) unless
  // opts.dedupe. Memory: 16 B per item until Finish, plus the encoded set.
  class Builder {
   public:
    explicit Builder(const UnbalancedPsiPrepareOptions& opts);
    ~Builder();
    // Encodes a batch on opts.threads threads. Cancelled; InvalidArgument past 2^32 - 1 items.
    Status Add(std::span<const std::string> items);
    StatusOr<UnbalancedPsiServerSet> Finish();

   private:
    struct State;
    std::unique_ptr<State> s_;
  };

  // Prepare from one vector (Builder underneath).
  static StatusOr<UnbalancedPsiServerSet> Prepare(const std::vector<std::string>& items,
                                                  const UnbalancedPsiPrepareOptions& opts);

  // Writes dir/meta.json, dir/key.bin (mode 0600) and dir/set.bin atomically, creating `dir`
  // (0700). An existing key.bin is first overwritten with zeros. `tag` (e.g. the dataset
  // fingerprint and key options) is stored in meta.json for the caller to compare. Internal
  // on I/O errors.
  Status Save(const std::string& dir, const Json& tag) const;
  // Loads what Save wrote (E stays on disk until a client needs it). NotFound if there is no
  // preprocessing in `dir`; DataLoss if it is corrupt (bad key size, meta mismatch).
  static StatusOr<UnbalancedPsiServerSet> Load(const std::string& dir);

  // Overwrites dir/key.bin with zeros and removes dir's preprocessing files (the key is
  // "wiped on replacement"). OK if there is none.
  static Status Wipe(const std::string& dir);

  const std::string& id() const;  // 32 hex characters, random per preparation
  uint64_t size() const;          // |Y|
  size_t value_bytes() const;     // T
  uint64_t max_client_size() const;
  uint64_t encoded_bytes() const;  // |E| as sent to a client
  const Json& tag() const;         // what Save stored (null after Prepare)
  // Wall-clock seconds the preparation took (stored in meta.json; 0 if unknown).
  double prepare_seconds() const;

  // E, serialized (reads dir/set.bin for a loaded set). DataLoss if the file does not match
  // its digest.
  StatusOr<Bytes> EncodedSet() const;
  const std::array<uint8_t, 32>& encoded_digest() const;
  // X25519(k, points[i]) in place. InvalidArgument naming the index for a non-canonical,
  // twist or low-order point. Thread-safe (const).
  Status Evaluate(std::span<std::array<uint8_t, 32>> points) const;

 private:
  struct State;
  explicit UnbalancedPsiServerSet(std::unique_ptr<State> s);
  std::unique_ptr<State> s_;
};

// Loads the preprocessing in `dir` if its tag and max_client_size equal `tag` and
// opts.max_client_size; otherwise (absent, different, or corrupt) wipes it, prepares a new one
// by calling `feed` with a Builder (feed calls Add with every item) and saves it. *reused tells
// which happened. Errors: those of feed, Builder and Save.
StatusOr<UnbalancedPsiServerSet> LoadOrPrepareUnbalancedPsiSet(
    const std::string& dir, const Json& tag,
    const std::function<Status(UnbalancedPsiServerSet::Builder&)>& feed,
    const UnbalancedPsiPrepareOptions& opts, bool* reused);

struct UnbalancedPsiServerOptions {
  std::string domain;  // job id; must equal the client's
  int threads = 2;
  std::function<void(double)> progress;
  const std::atomic<bool>* cancelled = nullptr;
};

struct UnbalancedPsiServerResult {
  uint64_t client_size = 0;
  bool sent_encoded_set = false;  // false: the client had it cached
  uint64_t bytes_sent = 0;
};

// Runs the server side of one job over `link`. Errors: InvalidArgument (malformed client
// message; a client set above the preprocessing's max_client_size), FailedPrecondition
// (version or domain mismatch), DataLoss (local E corrupt), Unavailable, DeadlineExceeded,
// Cancelled. On error the link is closed.
StatusOr<UnbalancedPsiServerResult> RunUnbalancedPsiServer(net::Link& link,
                                                           const UnbalancedPsiServerSet& set,
                                                           const UnbalancedPsiServerOptions& opts);

struct UnbalancedPsiClientOptions {
  std::string domain;  // job id; must equal the server's
  // Directory where the client keeps the server's encoded set across jobs ("" = never cache;
  // fetch it every job). One set per directory: a new server id replaces the old file.
  std::string cache_dir;
  size_t batch_size = 4096;  // 1 .. 2^16
  int threads = 1;
  // The largest encoded set accepted from a server (InvalidArgument above it).
  uint64_t max_encoded_bytes = uint64_t{4} << 30;
  std::function<void(double)> progress;
  const std::atomic<bool>* cancelled = nullptr;
};

struct UnbalancedPsiClientResult {
  PsiResult psi;  // matched (ascending indices into items), intersection_size, peer_size = |Y|
  bool used_cached_set = false;
  std::string server_set_id;
  uint64_t encoded_bytes_received = 0;
};

// Runs the client side. `items`: canonical, distinct byte strings. Errors: InvalidArgument
// (duplicates, bad options, malformed server message or encoded set), FailedPrecondition
// (version or domain mismatch), DataLoss (the cached encoded set no longer matches its
// digest; the file is removed so the next job fetches it again), Internal (cache I/O),
// Unavailable, DeadlineExceeded, Cancelled. On error the link is closed.
StatusOr<UnbalancedPsiClientResult> RunUnbalancedPsiClient(net::Link& link,
                                                           const std::vector<std::string>& items,
                                                           const UnbalancedPsiClientOptions& opts);

// Exact bytes one side sends in a successful job: the client with n_client items in batches of
// `batch`; the server likewise, plus the encoded set if it is sent (encoded_bytes, 0 if not).
uint64_t UnbalancedPsiClientBytesSent(uint64_t n_client, size_t batch);
uint64_t UnbalancedPsiServerBytesSent(uint64_t n_client, size_t batch, uint64_t encoded_bytes);

// T for a server set of n_server items and clients of up to max_client items.
size_t UnbalancedPsiValueBytes(uint64_t n_server, uint64_t max_client);

}  // namespace consort::psi
