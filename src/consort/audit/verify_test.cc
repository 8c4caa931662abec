#include "consort/audit/verify.h"

#include <gtest/gtest.h>

#include <functional>
#include <optional>

#include "consort/audit/internal/test_util.h"

namespace consort::audit {
namespace {

using testing::Federation;
using testing::TempDir;

constexpr int kEntries = 50;

Bytes Blob(const Digest256& d) { return Bytes(d.begin(), d.end()); }

// A 50-entry log, tampered with directly in SQLite.
class VerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = SqlDb::Open(dir_.File("log.db"));
    ASSERT_TRUE(db.ok()) << db.status();
    db_.emplace(std::move(*db));
    auto store = LogStore::Open(&*db_, f_.coordinator.public_key());
    ASSERT_TRUE(store.ok()) << store.status();
    store_.emplace(std::move(*store));
    for (const Entry& e : f_.Script(kEntries)) ASSERT_TRUE(store_->Append(e).ok());
  }

  VerifyReport Verify() { return VerifyLog(*store_, f_.coordinator.public_key()); }

  Json RowJson(int64_t seq) {
    auto rows = db_->Query("SELECT entry_json FROM audit_log WHERE seq = ?", {seq});
    EXPECT_TRUE(rows.ok() && rows->size() == 1);
    return *ParseJson(AsText((*rows)[0][0]));
  }
  void SetRowJson(int64_t seq, const Json& j) {
    ASSERT_TRUE(db_->Run("UPDATE audit_log SET entry_json = ? WHERE seq = ?", {j.dump(), seq}).ok());
  }
  void Rewrite(int64_t seq, const std::function<void(Json&)>& mutate) {
    Json j = RowJson(seq);
    mutate(j);
    SetRowJson(seq, j);
  }
  // Inserts `e` at the end exactly as a sequencer would, bypassing every check.
  void InsertRaw(Entry e, std::optional<Bytes> author_digest = std::nullopt) {
    LogHead head = *store_->Head();
    e.seq = head.size;
    e.prev = head.chain_hash;
    ASSERT_TRUE(db_->Run("INSERT INTO audit_log VALUES (?, ?, ?, ?)",
                         {e.seq, ToString(e.LeafBytes()), Blob(e.ChainHash()),
                          author_digest.value_or(Blob(e.AuthorDigest()))})
                    .ok());
  }

  void ExpectBad(const VerifyReport& r, int64_t seq, std::string_view reason) {
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.first_bad_seq, seq) << r.reason;
    EXPECT_NE(r.reason.find(reason), std::string::npos) << r.reason;
    EXPECT_EQ(r.code, absl::StatusCode::kDataLoss);
    Status st = r.ToStatus();
    EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss);
    EXPECT_NE(st.message().find("seq " + std::to_string(seq) + ":"), std::string_view::npos) << st;
  }

  TempDir dir_;
  Federation f_;
  std::optional<SqlDb> db_;
  std::optional<LogStore> store_;
};

TEST_F(VerifyTest, AcceptsTheHonestLog) {
  VerifyReport r = Verify();
  EXPECT_TRUE(r.ok) << r.reason;
  EXPECT_EQ(r.entries_checked, kEntries);
  EXPECT_EQ(r.first_bad_seq, -1);
  EXPECT_TRUE(r.ToStatus().ok());
  EXPECT_TRUE(CheckLog(*store_, f_.coordinator.public_key()).ok());
}

TEST_F(VerifyTest, RejectsTheWrongTrustRoot) {
  // seq 0 is an invite by the coordinator.
  ExpectBad(VerifyLog(*store_, f_.bank.public_key()), 0, "author signature does not verify");
}

TEST_F(VerifyTest, DetectsModifiedBody) {
  Rewrite(20, [](Json& j) { j["body"]["job"] = "job-other"; });
  VerifyReport r = Verify();
  ExpectBad(r, 20, "author signature does not verify");
  EXPECT_EQ(r.entries_checked, 20);
}

TEST_F(VerifyTest, DetectsModifiedKind) {
  Rewrite(21, [](Json& j) { j["kind"] = "job.rejected"; });
  ExpectBad(Verify(), 21, "author signature does not verify");
}

TEST_F(VerifyTest, DetectsModifiedTime) {
  Rewrite(30, [](Json& j) { j["time_ms"] = j["time_ms"].get<int64_t>() + 1; });
  ExpectBad(Verify(), 30, "author signature does not verify");
}

TEST_F(VerifyTest, DetectsChangedAuthor) {
  // seq 7 is by insurer; claim bank said it.
  ASSERT_EQ(RowJson(7)["author"], "insurer");
  Rewrite(7, [](Json& j) { j["author"] = "bank"; });
  ExpectBad(Verify(), 7, "author signature does not verify");
}

TEST_F(VerifyTest, DetectsDeletedRow) {
  ASSERT_TRUE(db_->Run("DELETE FROM audit_log WHERE seq = 17").ok());
  ExpectBad(Verify(), 17, "missing entry");
}

TEST_F(VerifyTest, DetectsSwappedRows) {
  Json a = RowJson(10), b = RowJson(20);
  SetRowJson(10, b);
  SetRowJson(20, a);
  ExpectBad(Verify(), 10, "claims seq 20");
}

TEST_F(VerifyTest, DetectsReorderEvenWithSeqFieldsRewritten) {
  // Swap 10 and 11 and fix their seq fields: the prev chain still betrays the reorder.
  Json a = RowJson(10), b = RowJson(11);
  a["seq"] = 11;
  b["seq"] = 10;
  SetRowJson(10, b);
  SetRowJson(11, a);
  ExpectBad(Verify(), 10, "prev does not match the chain hash of seq 9");
}

TEST_F(VerifyTest, DetectsChangedSignatureByte) {
  Rewrite(33, [](Json& j) {
    auto sig = crypto::DecodeSignature(j["sig"].get<std::string>());
    ASSERT_TRUE(sig.ok());
    (*sig)[40] ^= 0x01;
    j["sig"] = crypto::EncodeSignature(*sig);
  });
  ExpectBad(Verify(), 33, "author signature does not verify");
}

TEST_F(VerifyTest, DetectsChangedStoredChainHash) {
  auto rows = db_->Query("SELECT chain_hash FROM audit_log WHERE seq = 25");
  Bytes h = std::get<Bytes>((*rows)[0][0]);
  h[0] ^= 0x80;
  ASSERT_TRUE(db_->Run("UPDATE audit_log SET chain_hash = ? WHERE seq = 25", {h}).ok());
  ExpectBad(Verify(), 25, "stored chain hash does not match");
}

TEST_F(VerifyTest, DetectsChangedStoredAuthorDigest) {
  ASSERT_TRUE(
      db_->Run("UPDATE audit_log SET author_digest = ? WHERE seq = 12", {Bytes(32, 7)}).ok());
  ExpectBad(Verify(), 12, "stored author digest");
}

TEST_F(VerifyTest, DetectsMalformedStoredEntry) {
  ASSERT_TRUE(db_->Run("UPDATE audit_log SET entry_json = '{\"seq\": 4' WHERE seq = 4").ok());
  ExpectBad(Verify(), 4, "malformed entry");
}

TEST_F(VerifyTest, DetectsForgedEntryByRegisteredAuthor) {
  // Correctly chained, claims to be by bank, signed by someone else.
  auto forged = MakeAuthorPart("job.approved", "bank", 1, {{"job", "x"}}, f_.mallory);
  InsertRaw(*forged);
  ExpectBad(Verify(), kEntries, "author signature does not verify");
}

TEST_F(VerifyTest, DetectsEntryByUnknownAuthor) {
  InsertRaw(*MakeAuthorPart("job.approved", "mallory", 1, {{"job", "x"}}, f_.mallory));
  ExpectBad(Verify(), kEntries, "unknown author \"mallory\"");
}

TEST_F(VerifyTest, DetectsKeyChange) {
  InsertRaw(*MakeAuthorPart("node.registered", "bank", 1,
                            testing::RegistrationBody("bank", f_.mallory), f_.mallory));
  ExpectBad(Verify(), kEntries, "key changed");
}

TEST_F(VerifyTest, DetectsReplayedStatement) {
  Entry again = *Entry::FromJson(RowJson(20));
  InsertRaw(again, Bytes(32, 1));  // a different digest column dodges the UNIQUE index
  ExpectBad(Verify(), kEntries, "duplicate entry: replays the statement logged at seq 20");
}

TEST_F(VerifyTest, DetectsTamperedKeyTable) {
  ASSERT_TRUE(db_->Run("UPDATE audit_keys SET signing_key = ? WHERE name = 'bank'",
                       {Bytes(f_.mallory.public_key().begin(), f_.mallory.public_key().end())})
                  .ok());
  ExpectBad(Verify(), 1, "key table entry for \"bank\"");
}

TEST_F(VerifyTest, SignedHeadExposesTruncation) {
  ASSERT_TRUE(store_->RecordSignedHead(*store_->SignHead(f_.coordinator, 1)).ok());
  ASSERT_TRUE(Verify().ok);
  ASSERT_TRUE(db_->Run("DELETE FROM audit_log WHERE seq = ?", {int64_t{kEntries - 1}}).ok());
  ExpectBad(Verify(), kEntries - 1, "log truncated");
}

// Removing an entry and re-sequencing everything after it yields an internally consistent
// chain (seq/prev are not author-signed); only the coordinator's signed head exposes it.
TEST_F(VerifyTest, SignedHeadExposesCleanRemoval) {
  ASSERT_TRUE(store_->RecordSignedHead(*store_->SignHead(f_.coordinator, 1)).ok());
  std::vector<Entry> rest = *store_->Range(31, kEntries);
  ASSERT_TRUE(db_->Run("DELETE FROM audit_log WHERE seq >= 30").ok());
  for (const Entry& e : rest) InsertRaw(e);
  // One new entry so the size matches the signed head again.
  InsertRaw(f_.Make("job.state", "coordinator", 5, {{"filler", true}}));
  ASSERT_EQ(*store_->Size(), kEntries);
  ExpectBad(Verify(), kEntries - 1, "signed head at size 50 does not match");
  // Without the signed head the rewritten chain is self-consistent.
  ASSERT_TRUE(db_->Run("DELETE FROM audit_heads").ok());
  EXPECT_TRUE(Verify().ok);
}

TEST_F(VerifyTest, DetectsForgedSignedHead) {
  SignedHead fake = SignedHead::Sign(*store_->Head(), 1, f_.mallory);
  ASSERT_TRUE(db_->Run("INSERT INTO audit_heads VALUES (?, ?, ?, ?)",
                       {fake.size, Blob(fake.chain_hash), fake.time_ms,
                        Bytes(fake.sig.begin(), fake.sig.end())})
                  .ok());
  ExpectBad(Verify(), kEntries - 1, "coordinator signature does not verify");
}

// ----- VerifyAgainst: the coordinator's log must extend the replica exactly.

class VerifyAgainstTest : public VerifyTest {
 protected:
  void SetUp() override {
    VerifyTest::SetUp();
    auto db = SqlDb::Open(dir_.File("replica.db"));
    ASSERT_TRUE(db.ok());
    replica_db_.emplace(std::move(*db));
    auto replica = LogStore::Open(&*replica_db_, f_.coordinator.public_key());
    ASSERT_TRUE(replica.ok());
    replica_.emplace(std::move(*replica));
    ASSERT_TRUE(replica_->Ingest(*store_->Range(0, 40)).ok());
  }
  VerifyReport Against(const std::vector<Entry>& fresh, const SignedHead* head = nullptr) {
    return VerifyAgainst(*replica_, fresh, f_.coordinator.public_key(), head);
  }

  std::optional<SqlDb> replica_db_;
  std::optional<LogStore> replica_;
};

TEST_F(VerifyAgainstTest, AcceptsAnExtension) {
  auto head = store_->SignHead(f_.coordinator, 9);
  VerifyReport full = Against(*store_->Range(0, kEntries), &*head);
  EXPECT_TRUE(full.ok) << full.reason;
  EXPECT_EQ(full.entries_checked, kEntries);
  VerifyReport suffix = Against(*store_->Range(35, kEntries), &*head);
  EXPECT_TRUE(suffix.ok) << suffix.reason;
  VerifyReport tail = Against(*store_->Range(40, kEntries), &*head);
  EXPECT_TRUE(tail.ok) << tail.reason;
  EXPECT_EQ(tail.entries_checked, kEntries);
}

TEST_F(VerifyAgainstTest, RejectsRollbackGapEquivocationAndBadHead) {
  ExpectBad(Against(*store_->Range(0, 30)), 30, "shorter than the replica");
  ExpectBad(Against(*store_->Range(42, 5)), 40, "gap");

  std::vector<Entry> forked = *store_->Range(30, kEntries);
  forked[5].body["job"] = "rewritten";  // seq 35
  ExpectBad(Against(forked), 35, "equivocation at seq 35");

  std::vector<Entry> bad_new = *store_->Range(30, kEntries);
  bad_new[15].sig[0] ^= 1;  // seq 45, beyond the replica
  ExpectBad(Against(bad_new), 45, "coordinator: author signature does not verify");

  SignedHead stale = *store_->SignHead(f_.coordinator, 1);
  stale.size = 49;
  stale.sig = f_.coordinator.SignFor(kHeadPurpose,
                                     SignedHead::Message(stale.size, stale.chain_hash, 1));
  ExpectBad(Against(*store_->Range(40, kEntries), &stale), kEntries - 1,
            "signed head (size 49) does not match");
}

TEST_F(VerifyAgainstTest, ReportsATamperedReplica) {
  ASSERT_TRUE(replica_db_->Run("DELETE FROM audit_log WHERE seq = 3").ok());
  ExpectBad(Against(*store_->Range(0, kEntries)), 3, "replica: missing entry");
}

}  // namespace
}  // namespace consort::audit
