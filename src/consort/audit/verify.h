#pragma once
// Independent verification of an audit log replica.
//
// VerifyLog re-derives everything from the stored entries and the coordinator's public key (the
// node's trust root, from its invite); it trusts none of the store's derived columns or tables.
// Walking the log in seq order it checks, for each entry:
//   row seq contiguous from 0 ("missing entry"), the entry's own seq equals its row ("claims
//   seq"), prev equals the recomputed chain hash ("prev does not match"), the author signature
//   under the rules of internal/author_rules.h ("author signature does not verify", "unknown
//   author", "key changed"), no replayed statement ("duplicate entry"), the stored chain hash and
//   author digest equal the recomputed ones ("stored chain hash", "stored author digest"),
// and then every recorded coordinator-signed head ("signed head", "truncated") and the derived
// key table ("key table"). The first failure is reported with its seq.

#include <cstdint>
#include <string>
#include <vector>

#include "consort/audit/entry.h"
#include "consort/audit/log_store.h"
#include "consort/common/status.h"
#include "consort/crypto/sign.h"

namespace consort::audit {

struct VerifyReport {
  bool ok = true;
  // Entries that passed every check before the first failure (all of them when ok).
  int64_t entries_checked = 0;
  // The seq of the first bad or missing entry; -1 when ok or not tied to one entry.
  int64_t first_bad_seq = -1;
  std::string reason;
  // kOk; kDataLoss for any integrity failure; the storage error's code if reading failed.
  absl::StatusCode code = absl::StatusCode::kOk;

  // OK, or Status(code, "audit log seq N: reason").
  Status ToStatus() const;
};

// Verifies the whole store against `coordinator_key`. Reads only; never modifies the store.
VerifyReport VerifyLog(const LogStore& store, const crypto::PublicKey& coordinator_key);
// VerifyLog(...).ToStatus().
Status CheckLog(const LogStore& store, const crypto::PublicKey& coordinator_key);

// Prefix consistency: verifies the replica as VerifyLog does, then checks that
// `coordinator_entries` (a contiguous run of the coordinator's log starting at or before the
// replica's size) repeats every replica entry it overlaps byte for byte, reaches at least the
// replica's size (a shorter log is a rollback or fork), and that its new entries chain on and
// verify. If `coordinator_head` is given it must be validly signed and match the chain after
// the last entry. Reads only. first_bad_seq names the first seq where the logs diverge.
VerifyReport VerifyAgainst(const LogStore& replica, const std::vector<Entry>& coordinator_entries,
                           const crypto::PublicKey& coordinator_key,
                           const SignedHead* coordinator_head = nullptr);

}  // namespace consort::audit
