#pragma once
// The audit log in SQLite. The coordinator sequences entries with Append(); every node keeps a
// replica that it extends with Ingest() and re-verifies with VerifyLog() (verify.h).
//
// Flow:  author ──SubmissionJson()──► coordinator: Append() assigns seq/prev, stores
//        node ◄──Range() pages + SignHead()── coordinator;  node: Ingest(), RecordSignedHead()
//
// Tables (created by Open):
//   audit_log  (seq INTEGER PRIMARY KEY, entry_json TEXT, chain_hash BLOB,
//               author_digest BLOB UNIQUE)  entry_json is the canonical full entry (leaf bytes);
//               author_digest = Entry::AuthorDigest(), an index that refuses replayed statements
//   audit_keys (name TEXT PRIMARY KEY, signing_key BLOB, registered_seq INTEGER)  derived from
//               node.registered entries; used by Append/Ingest, re-derived by VerifyLog
//   audit_heads(size INTEGER PRIMARY KEY, chain_hash BLOB, time_ms INTEGER, signature BLOB)
//               coordinator-signed heads a replica has accepted (detects truncation)
//   audit_meta (key TEXT PRIMARY KEY, value BLOB)  the pinned coordinator key
//
// Security model: the coordinator is trusted to order entries but not to author them: every
// entry carries its author's signature, and a replica accepts nothing it cannot verify itself.
// Signed heads bind the coordinator to (size, chain hash): two valid heads of the same size with
// different hashes are proof of equivocation. Not yet: Merkle inclusion/consistency proofs and
// node co-signed checkpoints (RFC 6962 log; the leaf hash is already RFC 6962's).
// Leaks: entries are public to every federation member (they carry metadata, never data values).

#include <cstdint>
#include <optional>
#include <vector>

#include "consort/audit/entry.h"
#include "consort/common/json.h"
#include "consort/common/sqlite.h"
#include "consort/common/status.h"
#include "consort/crypto/sign.h"

namespace consort::audit {

// Largest page Range() returns.
inline constexpr int64_t kMaxRangeLimit = 1000;

struct LogHead {
  int64_t size = 0;                // number of entries
  Digest256 chain_hash = kZeroHash;  // chain hash of entry size-1; zeros when empty
};

// The coordinator's signed statement "my log has `size` entries ending in `chain_hash`".
// Signed message (purpose "audit-head"): u64le(size) || chain_hash || u64le(time_ms).
// JSON: {"chain_hash":"<64 hex>","sig":"<base64url>","size":N,"time_ms":N}.
struct SignedHead {
  int64_t size = 0;
  Digest256 chain_hash = kZeroHash;
  int64_t time_ms = 0;
  crypto::Signature sig{};

  static Bytes Message(int64_t size, const Digest256& chain_hash, int64_t time_ms);
  static SignedHead Sign(const LogHead& head, int64_t time_ms, const crypto::SigningKey& key);
  // Unauthenticated unless `sig` is `coordinator_key`'s signature.
  Status Verify(const crypto::PublicKey& coordinator_key) const;
  LogHead head() const { return LogHead{size, chain_hash}; }

  Json ToJson() const;
  // InvalidArgument naming the field.
  static StatusOr<SignedHead> FromJson(const Json& json);
};

// Not thread-safe (like SqlDb). `db` is borrowed and must outlive the store. Append and Ingest
// are atomic: inside the caller's open transaction they use a savepoint (so they commit or roll
// back together with the caller's own writes); otherwise their own BEGIN IMMEDIATE transaction.
class LogStore {
 public:
  // Creates the tables if needed and pins `coordinator_key`. FailedPrecondition if the database
  // is already pinned to a different coordinator key; storage errors as SqlDb returns them.
  static StatusOr<LogStore> Open(SqlDb* db, const crypto::PublicKey& coordinator_key);

  // Sequencer: checks the author part of `submission` and appends it with the next seq and
  // prev (any seq/prev in `submission` are ignored). Returns the stored entry.
  // InvalidArgument (malformed), Unauthenticated (bad author signature), PermissionDenied
  // (unknown author, or a node.registered not authored by the node it registers),
  // AlreadyExists (the same statement is already logged, or the name is registered with a
  // different key).
  StatusOr<Entry> Append(const Entry& submission);

  // Replica: adds entries received from the coordinator. The batch must be contiguous and start
  // at or before Size(); entries below Size() must equal the stored ones (DataLoss "equivocation
  // at seq N" otherwise); new ones must chain on (prev) and carry valid author signatures.
  // All or nothing. Returns how many entries were new. DataLoss (gap, prev mismatch,
  // equivocation, replayed statement, key changed), Unauthenticated, PermissionDenied,
  // InvalidArgument (unsequenced/malformed entry); messages name the seq.
  StatusOr<int64_t> Ingest(const std::vector<Entry>& entries);

  // Up to min(limit, kMaxRangeLimit) entries from seq `from` (fewer at the end of the log).
  // InvalidArgument if from < 0 or limit < 1; DataLoss if a stored entry is malformed.
  StatusOr<std::vector<Entry>> Range(int64_t from, int64_t limit) const;
  StatusOr<int64_t> Size() const;
  StatusOr<LogHead> Head() const;

  // The coordinator's signature over Head(). InvalidArgument if `coordinator` is not the key
  // this store is pinned to.
  StatusOr<SignedHead> SignHead(const crypto::SigningKey& coordinator, int64_t time_ms) const;
  // Replica: keeps a coordinator-signed head that matches the local log, so later truncation
  // or rewriting of the replica is detected. Unauthenticated (bad signature),
  // FailedPrecondition (head.size > Size(): ingest the entries first), DataLoss (the head does
  // not match the local chain: equivocation or local tampering).
  Status RecordSignedHead(const SignedHead& head);
  // The largest recorded signed head, if any.
  StatusOr<std::optional<SignedHead>> LatestSignedHead() const;

  // The registered signing key of party `name` (from the derived key table).
  StatusOr<std::optional<crypto::PublicKey>> NodeKey(const std::string& name) const;

  const crypto::PublicKey& coordinator_key() const { return coordinator_key_; }
  SqlDb* db() const { return db_; }

 private:
  LogStore(SqlDb* db, const crypto::PublicKey& key) : db_(db), coordinator_key_(key) {}
  StatusOr<Digest256> ChainAt(int64_t size) const;
  StatusOr<Entry> LoadEntry(int64_t seq) const;
  StatusOr<std::optional<int64_t>> FindAuthorDigest(const Digest256& digest) const;
  Status Insert(const Entry& e, const std::optional<NodeRegistration>& new_registration);

  SqlDb* db_;
  crypto::PublicKey coordinator_key_;
};

}  // namespace consort::audit
