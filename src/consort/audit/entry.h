#pragma once
// Audit log entries: the unit of Consort's append-only, hash-chained, signed audit log.
//
// An entry has two parts:
//  * the author part {kind, author, time_ms, body}, signed by its author (a node, or the
//    coordinator) with crypto::SignFor("audit-entry", CanonicalJson(author part)). The signature
//    `sig` travels with the entry; the coordinator cannot alter what an author said.
//  * the sequencer part {seq, prev} that the coordinator adds: seq is the 0-based position in
//    the log and prev the lowercase-hex chain hash of entry seq-1 (64 zeros for seq 0).
//
// Wire and storage form, one JSON object with exactly these fields (canonical JSON, keys sorted):
//   {"author":"bank","body":{...},"kind":"job.approved","prev":"<64 lowercase hex>",
//    "seq":7,"sig":"<Ed25519 signature, canonical base64url, 86 chars>","time_ms":1700000000000}
// A submission (what an author sends to the coordinator before sequencing) is the same object
// without "seq" and "prev".
//
// Hashes (RFC 6962 section 2.1 for the leaf, so a later Merkle tree needs no format change):
//   leaf_hash(e) = SHA-256(0x00 || CanonicalJson(full entry))
//   chain(e)     = SHA-256(chain(entry seq-1) || leaf_hash(e)), with chain(entry -1) = 32 zero bytes
// The leaf covers seq and prev, so the chain binds both the order and the content of every entry.
//
// Field rules (FromJson rejects anything else with InvalidArgument naming the field):
//   kind     1-64 chars, dot-separated segments of [a-z0-9_], e.g. "job.state"
//   author   "coordinator", or a party name: 1-64 chars of [A-Za-z0-9._-] starting alphanumeric
//   time_ms  integer in [0, 2^63)       body  JSON object, canonical form <= kMaxBodyBytes
//   seq      integer in [0, 2^63)       prev  64 lowercase hex    sig  as above
// Trust: a "node.registered" entry is self-authenticating: author == body.name and it is signed
// by body.signing_key (see NodeRegistration). Every other entry is signed by the coordinator key
// (author "coordinator") or by the key of an earlier "node.registered" entry of that author.

#include <cstdint>
#include <string>
#include <string_view>

#include "consort/common/bytes.h"
#include "consort/common/json.h"
#include "consort/common/status.h"
#include "consort/crypto/hash.h"
#include "consort/crypto/sign.h"

namespace consort::audit {

using crypto::Digest256;

inline constexpr std::string_view kEntryPurpose = "audit-entry";  // author signatures
inline constexpr std::string_view kHeadPurpose = "audit-head";    // coordinator signed heads
inline constexpr std::string_view kCoordinatorAuthor = "coordinator";
inline constexpr std::string_view kKindNodeRegistered = "node.registered";
inline constexpr size_t kMaxBodyBytes = 1 << 20;
inline constexpr size_t kMaxNameLength = 64;

// The chain hash before the first entry: 32 zero bytes.
inline constexpr Digest256 kZeroHash{};

// True for "coordinator" or a valid party name (see field rules above).
bool IsValidAuthor(std::string_view author);
// True for a valid party name; "coordinator" is reserved and is not one.
bool IsValidPartyName(std::string_view name);
bool IsValidKind(std::string_view kind);

// SHA-256(0x00 || entry_bytes): the RFC 6962 leaf hash.
Digest256 LeafHashOf(ByteSpan entry_bytes);
// SHA-256(prev || leaf).
Digest256 ChainHashOf(const Digest256& prev, const Digest256& leaf);

struct Entry {
  // Author part.
  std::string kind;
  std::string author;
  int64_t time_ms = 0;
  Json body = Json::object();
  crypto::Signature sig{};
  // Sequencer part; seq < 0 means not yet sequenced (a submission).
  int64_t seq = -1;
  Digest256 prev{};

  bool sequenced() const { return seq >= 0; }

  // Parses a full, sequenced entry from untrusted JSON. InvalidArgument naming the field
  // ("$.prev must be 64 lowercase hex characters", "unknown field $.x", ...).
  static StatusOr<Entry> FromJson(const Json& json);
  // Parses a submission (no seq/prev allowed). InvalidArgument naming the field.
  static StatusOr<Entry> FromSubmissionJson(const Json& json);

  // Field rules for the author part, or for the whole entry if sequenced. InvalidArgument.
  Status Validate() const;

  // {author, body, kind, time_ms}: what the author signs (in canonical form).
  Json AuthorPartJson() const;
  // The author part plus "sig": what an author submits to the coordinator.
  Json SubmissionJson() const;
  // The full entry. Requires sequenced().
  Json ToJson() const;

  // The bytes the author signs: CanonicalJson(AuthorPartJson()). The *Bytes/Hash functions
  // require Validate().ok() (they abort on a body that is not valid UTF-8: a programmer error).
  Bytes SignedBytes() const;
  // SHA-256 of SignedBytes(); identifies the author's statement (replay detection).
  Digest256 AuthorDigest() const;
  // CanonicalJson(ToJson()). Requires sequenced().
  Bytes LeafBytes() const;
  Digest256 LeafHash() const;
  // ChainHashOf(prev, LeafHash()). Requires sequenced().
  Digest256 ChainHash() const;

  // OK if `sig` is `key`'s "audit-entry" signature over SignedBytes(); Unauthenticated otherwise.
  Status VerifyAuthorSignature(const crypto::PublicKey& key) const;
};

// A fresh, signed, unsequenced entry. InvalidArgument if a field breaks the rules.
StatusOr<Entry> MakeAuthorPart(std::string_view kind, std::string_view author, int64_t time_ms,
                               Json body, const crypto::SigningKey& key);

// The body of a "node.registered" entry:
//   {"name":"bank","signing_key":"<base64url Ed25519 public key>",
//    "tls_fingerprint":"<64 lowercase hex: SHA-256 of the TLS certificate DER>",
//    "address":"host:port"}
// Extra body fields are allowed (and signed) but ignored here.
struct NodeRegistration {
  std::string name;
  crypto::PublicKey signing_key{};
  std::string tls_fingerprint;
  std::string address;

  // InvalidArgument naming the field ("$.body.signing_key: ...").
  static StatusOr<NodeRegistration> FromBody(const Json& body);
  Json ToBody() const;
};

}  // namespace consort::audit
