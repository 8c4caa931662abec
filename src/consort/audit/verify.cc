#include "consort/audit/verify.h"

#include <functional>
#include <map>
#include <optional>
#include <utility>

#include "consort/audit/internal/author_rules.h"
#include "consort/audit/internal/store_rows.h"

namespace consort::audit {
namespace {

// The verifier's own state, rebuilt from nothing but entries and the coordinator key.
class Walker {
 public:
  explicit Walker(const crypto::PublicKey& coordinator_key) : coordinator_key_(coordinator_key) {}

  // Checks `e` as the next entry (seq == size()) and advances. The returned message is a reason
  // for the report, without the seq.
  Status Next(const Entry& e) {
    if (e.seq != size_) {
      return absl::DataLossError("entry claims seq " + std::to_string(e.seq) + ", expected seq " +
                                 std::to_string(size_));
    }
    if (e.prev != chain_) {
      return absl::DataLossError(
          size_ == 0 ? std::string("prev does not match: seq 0 must have an all-zero prev")
                     : "prev does not match the chain hash of seq " + std::to_string(size_ - 1));
    }
    auto lookup = [this](const std::string& name) -> StatusOr<std::optional<crypto::PublicKey>> {
      auto it = keys_.find(name);
      if (it == keys_.end()) return std::optional<crypto::PublicKey>();
      return std::optional<crypto::PublicKey>(it->second.first);
    };
    CONSORT_ASSIGN_OR_RETURN(internal::AuthorCheck check,
                             internal::CheckAuthor(e, coordinator_key_, lookup));
    Digest256 digest = e.AuthorDigest();
    auto [it, inserted] = seen_.emplace(digest, e.seq);
    if (!inserted) {
      return absl::DataLossError("duplicate entry: replays the statement logged at seq " +
                                 std::to_string(it->second));
    }
    if (check.new_registration.has_value()) {
      keys_[check.new_registration->name] = {check.new_registration->signing_key, e.seq};
    }
    chain_ = e.ChainHash();
    ++size_;
    return OkStatus();
  }

  int64_t size() const { return size_; }
  const Digest256& chain() const { return chain_; }
  // name -> (signing key, seq of its registration)
  const std::map<std::string, std::pair<crypto::PublicKey, int64_t>>& keys() const {
    return keys_;
  }

 private:
  crypto::PublicKey coordinator_key_;
  int64_t size_ = 0;
  Digest256 chain_ = kZeroHash;
  std::map<std::string, std::pair<crypto::PublicKey, int64_t>> keys_;
  std::map<Digest256, int64_t> seen_;
};

void Fail(VerifyReport& r, int64_t seq, std::string reason,
          absl::StatusCode code = absl::StatusCode::kDataLoss) {
  r.ok = false;
  r.first_bad_seq = seq;
  r.reason = std::move(reason);
  r.code = code;
}

void FailStorage(VerifyReport& r, int64_t seq, const Status& st) {
  Fail(r, seq, "cannot read the log: " + std::string(st.message()), st.code());
}

// Checks recorded signed head `h` against the walker's state when the walker is at h.size.
bool CheckHead(const internal::RawHead& h, const Walker& w,
               const crypto::PublicKey& coordinator_key, VerifyReport& r) {
  const int64_t covered = h.size - 1;  // the last entry the head covers
  if (h.chain_hash.size() != 32 || h.sig.size() != 64) {
    Fail(r, covered, "signed head at size " + std::to_string(h.size) + " is malformed");
    return false;
  }
  SignedHead sh;
  sh.size = h.size;
  sh.time_ms = h.time_ms;
  std::copy(h.chain_hash.begin(), h.chain_hash.end(), sh.chain_hash.begin());
  std::copy(h.sig.begin(), h.sig.end(), sh.sig.begin());
  if (!sh.Verify(coordinator_key).ok()) {
    Fail(r, covered, "signed head at size " + std::to_string(h.size) +
                         ": coordinator signature does not verify");
    return false;
  }
  if (sh.chain_hash != w.chain()) {
    Fail(r, covered, "signed head at size " + std::to_string(h.size) +
                         " does not match the log's chain hash (entries were removed, "
                         "inserted or rewritten, or the coordinator equivocated)");
    return false;
  }
  return true;
}

// Walks every stored row of `store`; `on_entry` sees each entry after it verified and may fail
// the report (returning false). Returns false with `r` filled on the first failure.
bool VerifyStored(const LogStore& store, const crypto::PublicKey& coordinator_key, Walker& w,
                  VerifyReport& r, const std::function<bool(const Entry&)>& on_entry) {
  auto heads_or = internal::ReadHeads(store.db());
  if (!heads_or.ok()) {
    FailStorage(r, -1, heads_or.status());
    return false;
  }
  std::map<int64_t, internal::RawHead> heads;
  for (auto& h : *heads_or) heads[h.size] = std::move(h);
  if (auto it = heads.find(0); it != heads.end() && !CheckHead(it->second, w, coordinator_key, r)) {
    return false;
  }

  const Status stop = absl::CancelledError("stop");
  Status scan = internal::ScanRows(store.db(), [&](const internal::RawRow& row) -> Status {
    const int64_t seq = w.size();
    if (row.seq != seq) {
      Fail(r, seq,
           row.seq > seq ? "missing entry: the next stored entry is seq " + std::to_string(row.seq)
                         : "unexpected row seq " + std::to_string(row.seq));
      return stop;
    }
    auto json = ParseJson(row.entry_json, "audit_log");
    if (!json.ok()) {
      Fail(r, seq, "malformed entry: " + std::string(json.status().message()));
      return stop;
    }
    auto e = Entry::FromJson(*json);
    if (!e.ok()) {
      Fail(r, seq, "malformed entry: " + std::string(e.status().message()));
      return stop;
    }
    if (e->seq != row.seq) {
      Fail(r, seq, "entry claims seq " + std::to_string(e->seq) + " but is stored at seq " +
                       std::to_string(row.seq));
      return stop;
    }
    Status st = w.Next(*e);
    if (!st.ok()) {
      Fail(r, seq, std::string(st.message()));
      return stop;
    }
    if (row.chain_hash != Bytes(w.chain().begin(), w.chain().end())) {
      Fail(r, seq, "stored chain hash does not match the recomputed chain hash");
      return stop;
    }
    Digest256 digest = e->AuthorDigest();
    if (row.author_digest != Bytes(digest.begin(), digest.end())) {
      Fail(r, seq, "stored author digest does not match the entry");
      return stop;
    }
    if (auto it = heads.find(w.size());
        it != heads.end() && !CheckHead(it->second, w, coordinator_key, r)) {
      return stop;
    }
    if (on_entry && !on_entry(*e)) return stop;
    ++r.entries_checked;
    return OkStatus();
  });
  if (!r.ok) return false;
  if (!scan.ok()) {
    FailStorage(r, w.size(), scan);
    return false;
  }

  if (!heads.empty() && heads.rbegin()->first > w.size()) {
    Fail(r, w.size(),
         "log truncated: the coordinator signed a head of size " +
             std::to_string(heads.rbegin()->first) + " but only " + std::to_string(w.size()) +
             " entries are stored");
    return false;
  }

  // The derived key table must be exactly what the log implies.
  auto stored_keys = internal::ReadKeys(store.db());
  if (!stored_keys.ok()) {
    FailStorage(r, -1, stored_keys.status());
    return false;
  }
  std::map<std::string, std::pair<Bytes, int64_t>> stored;
  for (const auto& k : *stored_keys) stored[k.name] = {k.signing_key, k.registered_seq};
  for (const auto& [name, key_seq] : w.keys()) {
    auto it = stored.find(name);
    if (it == stored.end() ||
        it->second.first != Bytes(key_seq.first.begin(), key_seq.first.end()) ||
        it->second.second != key_seq.second) {
      Fail(r, key_seq.second, "key table entry for \"" + name + "\" does not match the log");
      return false;
    }
    stored.erase(it);
  }
  if (!stored.empty()) {
    Fail(r, stored.begin()->second.second,
         "key table has \"" + stored.begin()->first + "\", which the log never registered");
    return false;
  }
  return true;
}

}  // namespace

Status VerifyReport::ToStatus() const {
  if (ok) return OkStatus();
  std::string where =
      first_bad_seq >= 0 ? "audit log seq " + std::to_string(first_bad_seq) + ": " : "audit log: ";
  return Status(code, where + reason);
}

VerifyReport VerifyLog(const LogStore& store, const crypto::PublicKey& coordinator_key) {
  VerifyReport r;
  Walker w(coordinator_key);
  VerifyStored(store, coordinator_key, w, r, nullptr);
  return r;
}

Status CheckLog(const LogStore& store, const crypto::PublicKey& coordinator_key) {
  return VerifyLog(store, coordinator_key).ToStatus();
}

VerifyReport VerifyAgainst(const LogStore& replica, const std::vector<Entry>& coordinator_entries,
                           const crypto::PublicKey& coordinator_key,
                           const SignedHead* coordinator_head) {
  VerifyReport r;
  const auto& fresh = coordinator_entries;
  const int64_t start = fresh.empty() ? -1 : fresh[0].seq;
  for (size_t i = 0; i < fresh.size(); ++i) {
    const int64_t expected = start + static_cast<int64_t>(i);
    if (start < 0 || fresh[i].seq != expected) {
      Fail(r, std::max<int64_t>(expected, 0),
           "coordinator: entries are not a contiguous run (got seq " +
               std::to_string(fresh[i].seq) + ")");
      return r;
    }
    Status valid = fresh[i].Validate();
    if (!valid.ok()) {
      Fail(r, expected, "coordinator: malformed entry: " + std::string(valid.message()));
      return r;
    }
  }

  Walker w(coordinator_key);
  auto compare = [&](const Entry& mine) -> bool {
    if (start < 0 || mine.seq < start) return true;
    const size_t idx = static_cast<size_t>(mine.seq - start);
    if (idx >= fresh.size()) {
      Fail(r, mine.seq,
           "coordinator log is shorter than the replica: it lacks seq " +
               std::to_string(mine.seq) + " (rollback or fork)");
      return false;
    }
    if (fresh[idx].LeafBytes() != mine.LeafBytes()) {
      Fail(r, mine.seq, "equivocation at seq " + std::to_string(mine.seq) +
                            ": the coordinator's entry differs from the replica's");
      return false;
    }
    return true;
  };
  if (!VerifyStored(replica, coordinator_key, w, r, compare)) {
    if (r.reason.rfind("coordinator", 0) != 0 && r.reason.rfind("equivocation", 0) != 0) {
      r.reason = "replica: " + r.reason;
    }
    return r;
  }

  const int64_t replica_size = w.size();
  if (start > replica_size) {
    Fail(r, replica_size,
         "coordinator entries start at seq " + std::to_string(start) +
             " but the replica needs seq " + std::to_string(replica_size) + " next (gap)");
    return r;
  }
  for (size_t i = start < 0 ? 0 : static_cast<size_t>(replica_size - start); i < fresh.size();
       ++i) {
    Status st = w.Next(fresh[i]);
    if (!st.ok()) {
      Fail(r, fresh[i].seq, "coordinator: " + std::string(st.message()));
      return r;
    }
    ++r.entries_checked;
  }

  if (coordinator_head != nullptr) {
    if (!coordinator_head->Verify(coordinator_key).ok()) {
      Fail(r, -1, "coordinator: signed head does not verify");
      return r;
    }
    if (coordinator_head->size != w.size() || coordinator_head->chain_hash != w.chain()) {
      Fail(r, w.size() - 1,
           "coordinator: signed head (size " + std::to_string(coordinator_head->size) +
               ") does not match its entries (size " + std::to_string(w.size()) + ")");
      return r;
    }
  }
  return r;
}

}  // namespace consort::audit
