#pragma once
// Size-only streaming ECDH-PSI (PSI-cardinality at any size): the flow that
// psi/bucketed_psi.h runs when no party receives "intersection" and at least one receives
// "size". Internal to psi/; bucketed_psi.h documents it for users.
//
// Why not bucket by bucket: a receiver comparing bucket by bucket learns the intersection size
// of every bucket, i.e. for each hash bucket of its own keys how many matched. Here nothing is
// compared until every value of both sets has been masked, and everything a receiver compares
// is sorted by value, so it cannot tie a match to a bucket, a batch or a row.
//
// Flow (A and B symmetric; a, b: one secret X25519 scalar per party for the whole job):
//   S1 local  every distinct key k (bucket by bucket, from the first pass's files): H(k)^a,
//             spilled into Pm "masked" partition files by the value's first 8 bytes. The scalar
//             and this stage's completion are checkpointed in the scratch directory.
//   hello     A <-> B 'S': version, distinct keys, budget, a random 16-byte mask id, and how
//             many of the peer's masked partitions this party already processed under which
//             peer mask id (resume).
//   S2        A -> B 'M' batches: each masked partition, sorted by value (concurrently both
//             ways). B raises each value to b and spills the first T bytes of H(k)^ab into Pd
//             "doubled" partition files by value; after each of A's partitions it fsyncs them
//             and checkpoints. T = EcdhPsiReturnBytes(|X|, |Y|): 40 statistical bits over all
//             |X||Y| pairs. Pd is agreed from both sizes and the smaller budget.
//   S3        A -> B 'D' batches, only if B receives: A's doubled partitions, each sorted
//             (these are B's keys doubly masked). B merges each with its own doubled partition
//             of the same index (A's keys doubly masked) and counts equal values.
//   Keepalive 'K' every timeout/4 whenever a party waits on its own work.
// Work per party: |own| hash-to-curve + (|own| + |peer|) X25519, as ECDH-PSI.
// Bytes per party: 62 (hello) + 32 per own key + T per peer key if the peer receives, plus 9 B
// per batch (at most `batch` values) and per partition.
// Memory: one partition being sorted or merged (Pm, Pd chosen so that it is at most 1/8 of
// the budget), I/O buffers capped at 1/4 of the budget. Disk: 32 B per own key + T per peer key.
// Resume: a rerun of the same job with the scratch directory kept skips S1 (same scalar, read
// from the checkpoint) and the peer's masked partitions already processed, as long as the peer
// kept its own state (same mask id); S3 is always redone. The scalar lies in the scratch
// directory (mode 0600, next to the bucket files, which hold the keys in the clear) until the
// run ends, when every file of this flow is removed.
//
// Security: semi-honest; DDH on Curve25519 with hash-to-curve as a random oracle (as
// psi/ecdh_psi.h). Leaks: both parties' distinct key counts (and row counts, from the plan);
// a receiver learns |X ∩ Y|; per-partition counts are of pseudorandom values and carry nothing
// about keys. Neither party learns the other's bucket histogram.

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "consort/common/status.h"
#include "consort/net/link.h"
#include "consort/psi/internal/size_only_psi_wire.h"
#include "consort/psi/psi.h"

namespace consort::psi::internal {

struct SizeOnlyOptions {
  PsiOutput my_output = PsiOutput::kNone;    // kNone or kSize
  PsiOutput peer_output = PsiOutput::kNone;  // kNone or kSize
  std::string domain;                        // job id
  std::string scratch_dir;
  // What the checkpoint is bound to (job, input, keys, outputs); a state bound to anything
  // else is ignored.
  std::string binding;
  size_t memory_budget_mb = 1024;
  size_t batch_size = 4096;
  int threads = 1;
  // 0: partitions from the sizes and the budget. Otherwise the number of masked and doubled
  // partitions itself (tests; both parties must force the same value).
  uint32_t force_partitions = 0;
  uint32_t buckets = 1;  // the first pass's files
  uint64_t my_keys = 0;  // distinct keys over all buckets
  uint64_t peer_rows = 0;  // as the peer announced in the plan (bounds its distinct keys)
  // The distinct keys of bucket b (any order).
  std::function<StatusOr<std::vector<std::string>>(uint32_t)> load_bucket;
  std::function<void(double, const std::string&)> progress;  // fraction, stage
  const std::atomic<bool>* cancelled = nullptr;
};

struct SizeOnlyResult {
  uint64_t peer_keys = 0;
  uint64_t intersection = 0;  // if this party receives
  bool masking_resumed = false;
  uint32_t peer_partitions_resumed = 0;
  uint32_t masked_partitions = 0, doubled_partitions = 0;
};

// Runs this party's side (see the file comment). Errors as RunBucketedEcdhPsi; malformed or
// inconsistent peer messages are InvalidArgument naming what is wrong.
StatusOr<SizeOnlyResult> RunSizeOnlyPsi(net::Link& link, const SizeOnlyOptions& opts);

// Partitions for `values` values of `bytes` each so that one partition is at most budget / 8.
uint32_t SizeOnlyPartitions(uint64_t values, size_t bytes, size_t budget_mb);

}  // namespace consort::psi::internal
