#pragma once
// Streaming, bucketed two-party ECDH-PSI for inputs larger than memory (10^7 .. 10^9 keys),
// with a memory budget and checkpoint/resume. The cryptography per bucket is exactly
// psi/ecdh_psi.h (RunEcdhPsi: same per-element path, same security); this layer splits both
// sets into B buckets by a public hash of the canonical key bytes, so that equal keys always
// land in the same bucket, and runs one ECDH-PSI per bucket.
//
// Flow (each party; A and B symmetric):
//   1. local, nothing sent but keepalives: stream the input (data::TableReader), serialize and
//      validate every key (data/keys.h; empty keys and bad encodings fail naming file:line,
//      never a value), spill (bucket hash, row, line, key) to the scratch directory; split it
//      into P local partitions by the bucket hash (P = this party's share of B) and detect
//      duplicate keys partition by partition, as equal keys share one (kError: InvalidArgument
//      naming the lines of the first duplicate pair, as data::ExtractKeys would; kDeduplicate:
//      one protocol element per distinct key). A bad input fails here, in seconds, before the
//      peer has received a byte; it sees the link close.
//   2. A <-> B  'B' plan: version, rows, working set in MiB, memory budget, forced bucket
//               count, outputs, SHA-256(domain)          (internal::kBucketPlanBytes each way)
//      Both compute the same B = BucketCount(...) from both announcements (B >= P unless B is
//      forced).
//   3. local: the partitions become B bucket files (renamed if B = P, else redistributed).
//   4. A <-> B  'R' resume: the number of buckets each has finished per its checkpoint (one
//               bound to this job, this input's fingerprint, B and the key options; others are
//               ignored with a log line). Both start at the smaller count.
//   5. for each bucket i from there: RunEcdhPsi over the bucket's distinct keys with domain
//      "<domain>/bucket/<i>" (its own 51-byte handshake, fresh scalars); matched rows are
//      appended to a results file (fsync), then the checkpoint is rewritten atomically.
// Size-only runs (no party receives "intersection", at least one "size"): steps 3-5 are
// replaced by internal/size_only_psi.h: one scalar per party, every key masked locally into
// value-sorted partitions, the masked sets exchanged, the doubly masked ones returned sorted
// by value and counted partition by partition. A "size" receiver then learns only the total,
// never a per-bucket count. It resumes from its own checkpoint (the masked set and the
// partitions of the peer's set already processed) and leaves nothing in the scratch directory.
//
// Memory: one bucket's distinct keys at a time (about key bytes + 160 B per own key + 24 B per
// peer key; keys are de-duplicated while a bucket is read, so a key repeated on many rows takes
// one entry), plus bounded I/O buffers (matched rows are streamed to the results file); B is
// chosen so that this fits half of the smaller budget.
// Rounds: 2 + B x (ECDH-PSI rounds). Bytes sent per party: 63 (plan) + 9 (resume) + the sum
// over the buckets run of EcdhPsiBytesSent(bucket sizes, extra_return_bits = ceil(log2 B)),
// plus a 1-byte keepalive
// every link timeout / 4 while the party works locally before the plan and the resume
// messages (so a peer with a much smaller input does not time out waiting).
//
// Security: as psi/ecdh_psi.h (semi-honest; 128-bit computational, DDH on Curve25519 with a
// random-oracle hash-to-curve). 40-bit statistical over all buckets together: each bucket's
// truncation carries ceil(log2 B) extra bits (EcdhPsiOptions::extra_return_bits).
// Leaks: everything ECDH-PSI leaks, per bucket: each party learns the peer's row count, its
// key bytes rounded up to MiB (which, with its budget, decide B), and its number of distinct
// keys in every bucket (a histogram of the peer's keys under a hash both parties can compute,
// keyed by the job id), and so the total. When the other party receives "intersection", a
// "size" receiver learns the intersection size of every bucket, not only the total (B is
// capped so that the smaller set keeps about kMinKeysPerBucket keys per bucket); in size-only
// runs it learns only the total, and neither party learns the other's per-bucket counts. An "intersection" receiver learns
// which of its rows matched (which implies the per-bucket sizes). With B = 1 the leakage is
// exactly that of psi/ecdh_psi.h plus the peer's row count.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "consort/common/status.h"
#include "consort/data/keys.h"
#include "consort/data/table.h"
#include "consort/data/table_reader.h"
#include "consort/net/link.h"
#include "consort/psi/psi.h"

namespace consort::psi {

inline constexpr uint32_t kBucketedPsiVersion = 2;
inline constexpr size_t kMinMemoryBudgetMb = 64;
inline constexpr size_t kMaxMemoryBudgetMb = size_t{1} << 20;  // 1 TiB
inline constexpr size_t kDefaultMemoryBudgetMb = 1024;
inline constexpr uint32_t kMaxBuckets = uint32_t{1} << 16;
// Unless B is forced, B <= max(1, min(rows_a, rows_b) / kMinKeysPerBucket): the per-bucket key
// counts each party learns are a histogram of the other's keys, and with few keys per bucket a
// guessed key whose bucket is empty would be ruled out. When this cap binds (very unequal
// sets), the larger party's working set may exceed its budget (logged); psi.unbalanced is the
// protocol for such jobs.
inline constexpr uint64_t kMinKeysPerBucket = 1024;
// Rows per party (keeps every bucket far below ECDH-PSI's 2^32 items).
inline constexpr uint64_t kBucketedPsiMaxRows = uint64_t{1} << 40;
// Working-set estimates per key (measured order of magnitude: the key strings, row lists,
// permutation, returned values and hash tables of one ECDH-PSI run).
inline constexpr uint64_t kOwnKeyOverhead = 160;
inline constexpr uint64_t kPeerKeyOverhead = 24;

// Opens this party's input for one pass (called once per pass; two or three passes a run).
using InputOpener = std::function<StatusOr<std::unique_ptr<data::TableReader>>()>;

struct BucketedPsiOptions {
  PsiOutput my_output = PsiOutput::kIntersection;
  PsiOutput peer_output = PsiOutput::kNone;
  // Job id (both parties agree on it); bound into every bucket's hash-to-curve domain, the
  // bucket hash and the checkpoint.
  std::string domain;
  std::vector<std::string> key_columns;  // composite keys allowed
  data::KeyOptions keys;
  // Memory budget per party in MiB, in [kMinMemoryBudgetMb, kMaxMemoryBudgetMb]; the smaller
  // of the two parties' budgets decides B.
  size_t memory_budget_mb = kDefaultMemoryBudgetMb;
  // 0: B from the budget and both parties' announcements. Otherwise B itself, in
  // [1, kMaxBuckets]; both parties must force the same value (FailedPrecondition if not). In
  // size-only runs: the number of masked and doubled value partitions.
  uint32_t force_buckets = 0;
  // Private, existing directory for spill, bucket, results and checkpoint files. Kept files
  // from an earlier run of the same job let it resume.
  std::string scratch_dir;
  // Fingerprint of this party's input; a checkpoint made over another input is ignored.
  std::string input_fingerprint;
  size_t psi_batch_size = 4096;  // EcdhPsiOptions::batch_size
  int threads = 1;               // EcdhPsiOptions::threads
  // Overall fraction in [0, 1] and a stage ("keys", "buckets", "bucket 3/17", ...).
  std::function<void(double, const std::string&)> progress;
  const std::atomic<bool>* cancelled = nullptr;
};

struct BucketedPsiResult {
  uint64_t my_rows = 0;
  uint64_t my_keys = 0;    // distinct keys (what the protocol compares)
  uint64_t peer_rows = 0;  // as the peer announced
  uint64_t peer_keys = 0;  // sum of the peer's per-bucket set sizes
  uint32_t buckets = 0;    // B
  uint32_t first_bucket = 0;  // where this run started (> 0: resumed from a checkpoint)
  uint32_t buckets_run = 0;   // buckets this call ran the protocol for
  // Why a checkpoint found on disk was not used ("" if none was found or it was used).
  std::string checkpoint_ignored;
  // kSize / kIntersection receivers: distinct keys in the intersection; 0 for kNone.
  uint64_t intersection_size = 0;
  // kIntersection receivers: rows carrying a matched key, and a file in the scratch
  // directory holding their 0-based input row numbers (u64 little-endian, buckets in order,
  // within a bucket in the order of its bucket file: ascending runs, not sorted; the readers
  // below accept any order). "" otherwise.
  uint64_t matched_rows = 0;
  std::string matched_rows_path;
  // Size-only runs (no "intersection" receiver; see the file comment): `buckets` counts the
  // masked value partitions, `buckets_run` is that count when this call masked its keys (0
  // when the masking was taken from an earlier run), and first_bucket stays 0.
  bool size_only = false;
  bool masking_resumed = false;
  uint32_t peer_partitions_resumed = 0;  // of the peer's masked stream, kept from a run before
};

// Runs one party of bucketed ECDH-PSI over `link` (see the file comment). Blocks; uses the
// link exclusively. Errors: InvalidArgument (bad input naming file:line, duplicate keys under
// kError, bad options, malformed peer messages), FailedPrecondition (the peer disagrees on
// version, domain, outputs or a forced B; the input changed while it was read), NotFound
// (key column), Unavailable / DeadlineExceeded (peer gone), Cancelled, Internal (I/O in the
// scratch directory). On error the link is closed so that the peer fails promptly.
StatusOr<BucketedPsiResult> RunBucketedEcdhPsi(net::Link& link, const InputOpener& open_input,
                                               const BucketedPsiOptions& opts);

// A party's working set for one ECDH-PSI over all of its keys, in MiB rounded up: key bytes
// plus kOwnKeyOverhead per row (what it announces).
uint64_t BucketNeedMib(uint64_t rows, uint64_t key_bytes);
// B for two parties announcing (rows, need MiB, budget MiB): the least B such that each
// party's share of one bucket (its need / B plus kPeerKeyOverhead per peer row / B) fits half
// of its own budget, in [1, kMaxBuckets]. Symmetric in the two parties.
uint32_t BucketCount(uint64_t rows_a, uint64_t need_mib_a, size_t budget_mb_a, uint64_t rows_b,
                     uint64_t need_mib_b, size_t budget_mb_b);

// The bucket of a canonical key under `domain`: a public hash (SHA-256 of a domain prefix and
// the key) mapped onto [0, buckets) by a 64x64-bit multiply-high.
uint32_t BucketOf(std::string_view domain, std::string_view key, uint32_t buckets);

// Writes the rows of this party's input (all columns) whose 0-based numbers are in the
// `matched_rows_path` file (u64 LE, any order; `matched_rows` of them) as CSV with a header to
// `csv_path`, in input order, streaming the input once per window of rows the budget allows
// (one window up to 2^29 rows per 64 MiB). Returns the number of rows written.
// DataLoss for a row number past the input's end or a short file; FailedPrecondition for an
// input without rows (no header to write); Internal on I/O errors.
StatusOr<uint64_t> WriteMatchedRowsCsv(const InputOpener& open_input,
                                       const std::string& matched_rows_path,
                                       uint64_t matched_rows, size_t memory_budget_mb,
                                       const std::string& csv_path);

// As WriteMatchedRowsCsv, into a Table in memory (for small results).
StatusOr<data::Table> CollectMatchedRows(const InputOpener& open_input,
                                         const std::string& matched_rows_path,
                                         uint64_t matched_rows);

}  // namespace consort::psi
