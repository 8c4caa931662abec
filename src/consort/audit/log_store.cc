#include "consort/audit/log_store.h"

#include <sqlite3.h>

#include <cstring>
#include <limits>
#include <string>

#include "consort/audit/internal/author_rules.h"
#include "consort/audit/internal/store_rows.h"

namespace consort::audit {
namespace {

constexpr std::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS audit_log (
  seq INTEGER PRIMARY KEY,
  entry_json TEXT NOT NULL,
  chain_hash BLOB NOT NULL,
  author_digest BLOB NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS audit_keys (
  name TEXT PRIMARY KEY,
  signing_key BLOB NOT NULL,
  registered_seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_heads (
  size INTEGER PRIMARY KEY,
  chain_hash BLOB NOT NULL,
  time_ms INTEGER NOT NULL,
  signature BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_meta (
  key TEXT PRIMARY KEY,
  value BLOB NOT NULL
);
)sql";

template <size_t N>
StatusOr<std::array<uint8_t, N>> FixedBlob(const Bytes& b, const std::string& what) {
  if (b.size() != N) {
    return absl::DataLossError(what + " is " + std::to_string(b.size()) + " bytes, expected " +
                               std::to_string(N));
  }
  std::array<uint8_t, N> out;
  std::memcpy(out.data(), b.data(), N);
  return out;
}

Bytes ToBlob(ByteSpan b) { return Bytes(b.begin(), b.end()); }

// Runs `body` atomically: a savepoint inside the caller's transaction, else BEGIN IMMEDIATE.
template <typename F>
Status Atomically(SqlDb& db, F&& body) {
  if (sqlite3_get_autocommit(db.raw()) != 0) return InTransaction(db, std::forward<F>(body));
  CONSORT_RETURN_IF_ERROR(db.Exec("SAVEPOINT consort_audit"));
  Status st = body();
  if (!st.ok()) {
    (void)db.Exec("ROLLBACK TO consort_audit; RELEASE consort_audit");
    return st;
  }
  return db.Exec("RELEASE consort_audit");
}

Status WithSeq(int64_t seq, const Status& st) {
  return Status(st.code(), "audit log seq " + std::to_string(seq) + ": " + std::string(st.message()));
}

StatusOr<int64_t> CheckedInt(const Json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end()) return absl::InvalidArgumentError(std::string("missing field $.") + key);
  if (it->is_number_unsigned() &&
      it->get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return static_cast<int64_t>(it->get<uint64_t>());
  }
  if (it->is_number_integer() && !it->is_number_unsigned() && it->get<int64_t>() >= 0) {
    return it->get<int64_t>();
  }
  return absl::InvalidArgumentError(std::string("$.") + key + " must be an integer in [0, 2^63)");
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// SignedHead

Bytes SignedHead::Message(int64_t size, const Digest256& chain_hash, int64_t time_ms) {
  Bytes m;
  AppendU64(m, static_cast<uint64_t>(size));
  m.insert(m.end(), chain_hash.begin(), chain_hash.end());
  AppendU64(m, static_cast<uint64_t>(time_ms));
  return m;
}

SignedHead SignedHead::Sign(const LogHead& head, int64_t time_ms, const crypto::SigningKey& key) {
  SignedHead h;
  h.size = head.size;
  h.chain_hash = head.chain_hash;
  h.time_ms = time_ms;
  h.sig = key.SignFor(kHeadPurpose, Message(h.size, h.chain_hash, h.time_ms));
  return h;
}

Status SignedHead::Verify(const crypto::PublicKey& coordinator_key) const {
  if (size < 0 || time_ms < 0) return absl::UnauthenticatedError("signed head has negative fields");
  if (!crypto::VerifyFor(coordinator_key, kHeadPurpose, Message(size, chain_hash, time_ms), sig)
           .ok()) {
    return absl::UnauthenticatedError("signed head: coordinator signature does not verify (size " +
                                      std::to_string(size) + ")");
  }
  return OkStatus();
}

Json SignedHead::ToJson() const {
  return Json{{"size", size},
              {"chain_hash", HexEncode(chain_hash)},
              {"time_ms", time_ms},
              {"sig", crypto::EncodeSignature(sig)}};
}

StatusOr<SignedHead> SignedHead::FromJson(const Json& json) {
  auto bad = [](const std::string& m) { return absl::InvalidArgumentError("signed head: " + m); };
  if (!json.is_object()) return bad("$ must be a JSON object");
  for (auto it = json.begin(); it != json.end(); ++it) {
    if (it.key() != "size" && it.key() != "chain_hash" && it.key() != "time_ms" &&
        it.key() != "sig") {
      return bad("unknown field $." + it.key());
    }
  }
  SignedHead h;
  auto size = CheckedInt(json, "size");
  if (!size.ok()) return bad(std::string(size.status().message()));
  h.size = *size;
  auto time = CheckedInt(json, "time_ms");
  if (!time.ok()) return bad(std::string(time.status().message()));
  h.time_ms = *time;
  auto hash = GetString(json, "chain_hash", "$");
  if (!hash.ok()) return bad(std::string(hash.status().message()));
  bool hex_ok = hash->size() == 64;
  for (char c : *hash) hex_ok = hex_ok && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  if (!hex_ok) return bad("$.chain_hash must be 64 lowercase hex characters");
  auto raw = HexDecode(*hash);
  if (!raw.ok()) return bad("$.chain_hash must be 64 lowercase hex characters");
  std::memcpy(h.chain_hash.data(), raw->data(), 32);
  auto sig_text = GetString(json, "sig", "$");
  if (!sig_text.ok()) return bad(std::string(sig_text.status().message()));
  auto sig = crypto::DecodeSignature(*sig_text);
  if (!sig.ok()) return bad("$.sig: " + std::string(sig.status().message()));
  if (crypto::EncodeSignature(*sig) != *sig_text) return bad("$.sig is not canonical base64url");
  h.sig = *sig;
  return h;
}

// ---------------------------------------------------------------------------------------------
// LogStore

StatusOr<LogStore> LogStore::Open(SqlDb* db, const crypto::PublicKey& coordinator_key) {
  CONSORT_CHECK(db != nullptr);
  Status st = Atomically(*db, [&]() -> Status {
    CONSORT_RETURN_IF_ERROR(db->Exec(kSchema));
    CONSORT_ASSIGN_OR_RETURN(
        auto rows, db->Query("SELECT value FROM audit_meta WHERE key = 'coordinator_key'"));
    if (rows.empty()) {
      return db->Run("INSERT INTO audit_meta (key, value) VALUES ('coordinator_key', ?)",
                     {ToBlob(coordinator_key)});
    }
    const SqlValue& v = rows[0][0];
    if (!std::holds_alternative<Bytes>(v) || std::get<Bytes>(v) != ToBlob(coordinator_key)) {
      return absl::FailedPreconditionError(
          db->path() + ": audit log is pinned to a different coordinator key than " +
          crypto::EncodePublicKey(coordinator_key));
    }
    return OkStatus();
  });
  if (!st.ok()) return st;
  return LogStore(db, coordinator_key);
}

StatusOr<Digest256> LogStore::ChainAt(int64_t size) const {
  if (size == 0) return kZeroHash;
  CONSORT_ASSIGN_OR_RETURN(auto rows, db_->Query("SELECT chain_hash FROM audit_log WHERE seq = ?",
                                                 {int64_t{size - 1}}));
  if (rows.empty() || !std::holds_alternative<Bytes>(rows[0][0])) {
    return absl::DataLossError("audit log has no chain hash for seq " + std::to_string(size - 1));
  }
  return FixedBlob<32>(std::get<Bytes>(rows[0][0]),
                       "stored chain hash of seq " + std::to_string(size - 1));
}

StatusOr<Entry> LogStore::LoadEntry(int64_t seq) const {
  CONSORT_ASSIGN_OR_RETURN(
      auto rows, db_->Query("SELECT entry_json FROM audit_log WHERE seq = ?", {int64_t{seq}}));
  if (rows.empty()) return absl::NotFoundError("no audit entry at seq " + std::to_string(seq));
  auto json = ParseJson(AsText(rows[0][0]), "audit_log");
  if (!json.ok()) return absl::DataLossError(WithSeq(seq, json.status()).message());
  auto e = Entry::FromJson(*json);
  if (!e.ok()) return absl::DataLossError(WithSeq(seq, e.status()).message());
  if (e->seq != seq) {
    return absl::DataLossError("audit log seq " + std::to_string(seq) +
                               ": stored entry claims seq " + std::to_string(e->seq));
  }
  return e;
}

StatusOr<std::optional<int64_t>> LogStore::FindAuthorDigest(const Digest256& digest) const {
  CONSORT_ASSIGN_OR_RETURN(auto rows, db_->Query("SELECT seq FROM audit_log WHERE author_digest = ?",
                                                 {ToBlob(digest)}));
  if (rows.empty()) return std::optional<int64_t>();
  return std::optional<int64_t>(AsInt(rows[0][0]));
}

StatusOr<std::optional<crypto::PublicKey>> LogStore::NodeKey(const std::string& name) const {
  CONSORT_ASSIGN_OR_RETURN(
      auto rows, db_->Query("SELECT signing_key FROM audit_keys WHERE name = ?", {name}));
  if (rows.empty()) return std::optional<crypto::PublicKey>();
  const SqlValue& v = rows[0][0];
  CONSORT_ASSIGN_OR_RETURN(
      crypto::PublicKey key,
      FixedBlob<32>(std::holds_alternative<Bytes>(v) ? std::get<Bytes>(v) : Bytes(),
                    "stored signing key of \"" + name + "\""));
  return std::optional<crypto::PublicKey>(key);
}

Status LogStore::Insert(const Entry& e, const std::optional<NodeRegistration>& new_registration) {
  Bytes leaf = e.LeafBytes();
  Digest256 chain = ChainHashOf(e.prev, LeafHashOf(leaf));
  CONSORT_RETURN_IF_ERROR(db_->Run(
      "INSERT INTO audit_log (seq, entry_json, chain_hash, author_digest) VALUES (?, ?, ?, ?)",
      {int64_t{e.seq}, ToString(leaf), ToBlob(chain), ToBlob(e.AuthorDigest())}));
  if (new_registration.has_value()) {
    CONSORT_RETURN_IF_ERROR(db_->Run(
        "INSERT INTO audit_keys (name, signing_key, registered_seq) VALUES (?, ?, ?)",
        {new_registration->name, ToBlob(new_registration->signing_key), int64_t{e.seq}}));
  }
  return OkStatus();
}

StatusOr<Entry> LogStore::Append(const Entry& submission) {
  CONSORT_RETURN_IF_ERROR(submission.Validate());
  Entry e = submission;
  auto lookup = [this](const std::string& name) { return NodeKey(name); };
  Status st = Atomically(*db_, [&]() -> Status {
    // For the sequencer a key change is a refused request, not corruption.
    if (e.kind == kKindNodeRegistered) {
      CONSORT_ASSIGN_OR_RETURN(NodeRegistration reg, NodeRegistration::FromBody(e.body));
      CONSORT_ASSIGN_OR_RETURN(std::optional<crypto::PublicKey> known, NodeKey(reg.name));
      if (known.has_value() && *known != reg.signing_key) {
        return absl::AlreadyExistsError("node \"" + reg.name +
                                        "\" is already registered with a different signing key "
                                        "(key rotation is not supported)");
      }
    }
    CONSORT_ASSIGN_OR_RETURN(internal::AuthorCheck check,
                             internal::CheckAuthor(e, coordinator_key_, lookup));
    CONSORT_ASSIGN_OR_RETURN(std::optional<int64_t> dup, FindAuthorDigest(e.AuthorDigest()));
    if (dup.has_value()) {
      return absl::AlreadyExistsError("the same signed statement is already logged at seq " +
                                      std::to_string(*dup));
    }
    CONSORT_ASSIGN_OR_RETURN(LogHead head, Head());
    e.seq = head.size;
    e.prev = head.chain_hash;
    return Insert(e, check.new_registration);
  });
  if (!st.ok()) return st;
  return e;
}

StatusOr<int64_t> LogStore::Ingest(const std::vector<Entry>& entries) {
  int64_t added = 0;
  auto lookup = [this](const std::string& name) { return NodeKey(name); };
  Status st = Atomically(*db_, [&]() -> Status {
    added = 0;
    if (entries.empty()) return OkStatus();
    CONSORT_ASSIGN_OR_RETURN(LogHead head, Head());
    const int64_t first = entries[0].seq;
    if (first < 0) return absl::InvalidArgumentError("audit ingest: entry 0 is not sequenced");
    if (first > head.size) {
      return absl::DataLossError("audit ingest: gap: replica has " + std::to_string(head.size) +
                                 " entries but the batch starts at seq " + std::to_string(first));
    }
    Digest256 chain = head.chain_hash;
    for (size_t i = 0; i < entries.size(); ++i) {
      const Entry& e = entries[i];
      const int64_t expected = first + static_cast<int64_t>(i);
      if (e.seq != expected) {
        return absl::DataLossError("audit ingest: gap: expected seq " + std::to_string(expected) +
                                   ", got seq " + std::to_string(e.seq));
      }
      Status valid = e.Validate();
      if (!valid.ok()) return WithSeq(e.seq, valid);
      if (e.seq < head.size) {
        CONSORT_ASSIGN_OR_RETURN(Entry stored, LoadEntry(e.seq));
        if (stored.LeafBytes() != e.LeafBytes()) {
          return absl::DataLossError("equivocation at seq " + std::to_string(e.seq) +
                                     ": the coordinator's entry differs from the replica's");
        }
        continue;
      }
      if (e.prev != chain) {
        return absl::DataLossError("audit log seq " + std::to_string(e.seq) +
                                   ": prev does not match the chain hash of seq " +
                                   std::to_string(e.seq - 1));
      }
      auto check = internal::CheckAuthor(e, coordinator_key_, lookup);
      if (!check.ok()) return WithSeq(e.seq, check.status());
      CONSORT_ASSIGN_OR_RETURN(std::optional<int64_t> dup, FindAuthorDigest(e.AuthorDigest()));
      if (dup.has_value()) {
        return absl::DataLossError("audit log seq " + std::to_string(e.seq) +
                                   ": duplicate entry: replays the statement logged at seq " +
                                   std::to_string(*dup));
      }
      CONSORT_RETURN_IF_ERROR(Insert(e, check->new_registration));
      chain = e.ChainHash();
      ++added;
    }
    return OkStatus();
  });
  if (!st.ok()) return st;
  return added;
}

StatusOr<std::vector<Entry>> LogStore::Range(int64_t from, int64_t limit) const {
  if (from < 0) return absl::InvalidArgumentError("audit range: from must be >= 0");
  if (limit < 1) return absl::InvalidArgumentError("audit range: limit must be >= 1");
  limit = std::min(limit, kMaxRangeLimit);
  CONSORT_ASSIGN_OR_RETURN(
      SqlStatement q,
      db_->Prepare("SELECT seq, entry_json FROM audit_log WHERE seq >= ? ORDER BY seq LIMIT ?"));
  CONSORT_RETURN_IF_ERROR(q.BindAll({int64_t{from}, int64_t{limit}}));
  std::vector<Entry> out;
  int64_t expected = from;
  while (true) {
    CONSORT_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    int64_t seq = q.ColumnInt(0);
    if (seq != expected) {
      return absl::DataLossError("audit log is missing seq " + std::to_string(expected));
    }
    auto json = ParseJson(q.ColumnText(1), "audit_log");
    if (!json.ok()) return absl::DataLossError(WithSeq(seq, json.status()).message());
    auto e = Entry::FromJson(*json);
    if (!e.ok()) return absl::DataLossError(WithSeq(seq, e.status()).message());
    if (e->seq != seq) {
      return absl::DataLossError("audit log seq " + std::to_string(seq) +
                                 ": stored entry claims seq " + std::to_string(e->seq));
    }
    out.push_back(std::move(*e));
    ++expected;
  }
  return out;
}

StatusOr<LogHead> LogStore::Head() const {
  CONSORT_ASSIGN_OR_RETURN(
      auto rows, db_->Query("SELECT seq, chain_hash FROM audit_log ORDER BY seq DESC LIMIT 1"));
  LogHead head;
  if (rows.empty()) return head;
  head.size = AsInt(rows[0][0]) + 1;
  const SqlValue& v = rows[0][1];
  CONSORT_ASSIGN_OR_RETURN(
      head.chain_hash,
      FixedBlob<32>(std::holds_alternative<Bytes>(v) ? std::get<Bytes>(v) : Bytes(),
                    "stored chain hash of seq " + std::to_string(head.size - 1)));
  return head;
}

StatusOr<int64_t> LogStore::Size() const {
  CONSORT_ASSIGN_OR_RETURN(LogHead head, Head());
  return head.size;
}

StatusOr<SignedHead> LogStore::SignHead(const crypto::SigningKey& coordinator,
                                        int64_t time_ms) const {
  if (coordinator.public_key() != coordinator_key_) {
    return absl::InvalidArgumentError("SignHead: key is not this log's coordinator key");
  }
  if (time_ms < 0) return absl::InvalidArgumentError("SignHead: time_ms must be >= 0");
  CONSORT_ASSIGN_OR_RETURN(LogHead head, Head());
  return SignedHead::Sign(head, time_ms, coordinator);
}

Status LogStore::RecordSignedHead(const SignedHead& head) {
  CONSORT_RETURN_IF_ERROR(head.Verify(coordinator_key_));
  return Atomically(*db_, [&]() -> Status {
    CONSORT_ASSIGN_OR_RETURN(int64_t size, Size());
    if (head.size > size) {
      return absl::FailedPreconditionError(
          "signed head covers " + std::to_string(head.size) + " entries but the replica has " +
          std::to_string(size) + "; ingest the entries first");
    }
    CONSORT_ASSIGN_OR_RETURN(Digest256 local, ChainAt(head.size));
    if (local != head.chain_hash) {
      return absl::DataLossError(
          "coordinator signed a head of size " + std::to_string(head.size) +
          " that does not match the local log (equivocation or local tampering)");
    }
    return db_->Run(
        "INSERT OR IGNORE INTO audit_heads (size, chain_hash, time_ms, signature) "
        "VALUES (?, ?, ?, ?)",
        {int64_t{head.size}, ToBlob(head.chain_hash), int64_t{head.time_ms}, ToBlob(head.sig)});
  });
}

StatusOr<std::optional<SignedHead>> LogStore::LatestSignedHead() const {
  CONSORT_ASSIGN_OR_RETURN(std::vector<internal::RawHead> heads, internal::ReadHeads(db_));
  if (heads.empty()) return std::optional<SignedHead>();
  const internal::RawHead& raw = heads.back();
  SignedHead h;
  h.size = raw.size;
  h.time_ms = raw.time_ms;
  CONSORT_ASSIGN_OR_RETURN(h.chain_hash, FixedBlob<32>(raw.chain_hash, "stored head chain hash"));
  CONSORT_ASSIGN_OR_RETURN(h.sig, FixedBlob<64>(raw.sig, "stored head signature"));
  return std::optional<SignedHead>(h);
}

// ---------------------------------------------------------------------------------------------
// Raw rows for the verifier.

namespace internal {

namespace {
Bytes BlobOrEmpty(const SqlStatement& q, int i) {
  return q.ColumnIsNull(i) ? Bytes() : q.ColumnBlob(i);
}
}  // namespace

Status ScanRows(SqlDb* db, const std::function<Status(const RawRow&)>& fn) {
  CONSORT_ASSIGN_OR_RETURN(
      SqlStatement q,
      db->Prepare("SELECT seq, entry_json, chain_hash, author_digest FROM audit_log ORDER BY seq"));
  while (true) {
    CONSORT_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return OkStatus();
    RawRow r;
    r.seq = q.ColumnInt(0);
    r.entry_json = q.ColumnText(1);
    r.chain_hash = BlobOrEmpty(q, 2);
    r.author_digest = BlobOrEmpty(q, 3);
    CONSORT_RETURN_IF_ERROR(fn(r));
  }
}

StatusOr<std::vector<RawKey>> ReadKeys(SqlDb* db) {
  CONSORT_ASSIGN_OR_RETURN(
      SqlStatement q,
      db->Prepare("SELECT name, signing_key, registered_seq FROM audit_keys ORDER BY name"));
  std::vector<RawKey> out;
  while (true) {
    CONSORT_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return out;
    out.push_back(RawKey{q.ColumnText(0), BlobOrEmpty(q, 1), q.ColumnInt(2)});
  }
}

StatusOr<std::vector<RawHead>> ReadHeads(SqlDb* db) {
  CONSORT_ASSIGN_OR_RETURN(
      SqlStatement q,
      db->Prepare("SELECT size, chain_hash, time_ms, signature FROM audit_heads ORDER BY size"));
  std::vector<RawHead> out;
  while (true) {
    CONSORT_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return out;
    out.push_back(RawHead{q.ColumnInt(0), BlobOrEmpty(q, 1), q.ColumnInt(2), BlobOrEmpty(q, 3)});
  }
}

}  // namespace internal
}  // namespace consort::audit
