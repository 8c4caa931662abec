#include "consort/audit/log_store.h"

#include <gtest/gtest.h>

#include <optional>

#include "consort/audit/internal/test_util.h"
#include "consort/audit/verify.h"

namespace consort::audit {
namespace {

using testing::Federation;
using testing::TempDir;

bool Contains(const Status& st, std::string_view s) {
  return std::string(st.message()).find(s) != std::string::npos;
}

class LogStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = SqlDb::Open(dir_.File("coordinator.db"));
    ASSERT_TRUE(db.ok()) << db.status();
    db_.emplace(std::move(*db));
    auto store = LogStore::Open(&*db_, f_.coordinator.public_key());
    ASSERT_TRUE(store.ok()) << store.status();
    store_.emplace(std::move(*store));
  }

  // Appends `n` scripted entries.
  void AppendScript(int n) {
    for (const Entry& e : f_.Script(n)) {
      auto st = store_->Append(e);
      ASSERT_TRUE(st.ok()) << st.status();
    }
  }

  std::vector<Entry> All(const LogStore& s) {
    std::vector<Entry> out;
    auto size = s.Size();
    EXPECT_TRUE(size.ok());
    for (int64_t from = 0; from < *size; from += 7) {
      auto page = s.Range(from, 7);
      EXPECT_TRUE(page.ok()) << page.status();
      out.insert(out.end(), page->begin(), page->end());
    }
    return out;
  }

  // A second, empty store (a replica) in its own database file.
  LogStore Replica(const std::string& file) {
    auto db = SqlDb::Open(dir_.File(file));
    CONSORT_CHECK(db.ok());
    replica_dbs_.push_back(std::make_unique<SqlDb>(std::move(*db)));
    auto store = LogStore::Open(replica_dbs_.back().get(), f_.coordinator.public_key());
    CONSORT_CHECK(store.ok());
    return std::move(*store);
  }

  TempDir dir_;
  Federation f_;
  std::optional<SqlDb> db_;
  std::optional<LogStore> store_;
  std::vector<std::unique_ptr<SqlDb>> replica_dbs_;
};

TEST_F(LogStoreTest, AppendSequencesAndChains) {
  auto head0 = store_->Head();
  ASSERT_TRUE(head0.ok());
  EXPECT_EQ(head0->size, 0);
  EXPECT_EQ(head0->chain_hash, kZeroHash);

  std::vector<Entry> script = f_.Script(10);
  Digest256 chain = kZeroHash;
  for (size_t i = 0; i < script.size(); ++i) {
    auto e = store_->Append(script[i]);
    ASSERT_TRUE(e.ok()) << e.status();
    EXPECT_EQ(e->seq, static_cast<int64_t>(i));
    EXPECT_EQ(e->prev, chain);
    EXPECT_EQ(e->SignedBytes(), script[i].SignedBytes());
    chain = ChainHashOf(chain, e->LeafHash());
  }
  auto head = store_->Head();
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->size, 10);
  EXPECT_EQ(head->chain_hash, chain);
  EXPECT_EQ(*store_->Size(), 10);

  std::vector<Entry> all = All(*store_);
  ASSERT_EQ(all.size(), 10u);
  EXPECT_EQ(all[9].ChainHash(), chain);
  auto key = store_->NodeKey("bank");
  ASSERT_TRUE(key.ok());
  ASSERT_TRUE(key->has_value());
  EXPECT_EQ(**key, f_.bank.public_key());
  EXPECT_FALSE(store_->NodeKey("mallory")->has_value());
}

TEST_F(LogStoreTest, AppendRejectsForgedSignatureAsUnauthenticated) {
  AppendScript(6);
  // "bank" entry signed by the insurer's key.
  auto forged = MakeAuthorPart("job.approved", "bank", 1, {{"job", "x"}}, f_.insurer);
  ASSERT_TRUE(forged.ok());
  EXPECT_EQ(store_->Append(*forged).status().code(), absl::StatusCode::kUnauthenticated);
  // A genuine entry with one signature byte flipped.
  Entry flipped = f_.Make("job.approved", "bank", 2, {{"job", "x"}});
  flipped.sig[10] ^= 1;
  EXPECT_EQ(store_->Append(flipped).status().code(), absl::StatusCode::kUnauthenticated);
  // A "coordinator" entry signed by a node.
  auto fake_coord = MakeAuthorPart("job.state", "coordinator", 3, Json::object(), f_.bank);
  EXPECT_EQ(store_->Append(*fake_coord).status().code(), absl::StatusCode::kUnauthenticated);
  // A registration whose signature is not by the key it registers.
  auto bad_reg = MakeAuthorPart("node.registered", "carol", 4,
                                testing::RegistrationBody("carol", f_.mallory), f_.bank);
  EXPECT_EQ(store_->Append(*bad_reg).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(*store_->Size(), 6);
}

TEST_F(LogStoreTest, AppendRejectsUnknownAuthorAsPermissionDenied) {
  AppendScript(6);
  auto e = MakeAuthorPart("job.approved", "mallory", 1, {{"job", "x"}}, f_.mallory);
  ASSERT_TRUE(e.ok());
  Status st = store_->Append(*e).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(Contains(st, "unknown author \"mallory\"")) << st;
  // Registering someone else's name is refused too.
  auto other = MakeAuthorPart("node.registered", "mallory", 2,
                              testing::RegistrationBody("carol", f_.mallory), f_.mallory);
  EXPECT_EQ(store_->Append(*other).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(*store_->Size(), 6);
}

TEST_F(LogStoreTest, RegistrationIsSelfAuthenticatingAndKeyIsPinned) {
  AppendScript(6);
  auto carol = MakeAuthorPart("node.registered", "carol", 1,
                              testing::RegistrationBody("carol", f_.mallory), f_.mallory);
  ASSERT_TRUE(store_->Append(*carol).ok());
  auto by_carol = MakeAuthorPart("job.approved", "carol", 2, {{"job", "x"}}, f_.mallory);
  EXPECT_TRUE(store_->Append(*by_carol).ok());
  // Same key again (e.g. a new address) is fine.
  Json moved = testing::RegistrationBody("carol", f_.mallory);
  moved["address"] = "carol.example:9000";
  EXPECT_TRUE(
      store_->Append(*MakeAuthorPart("node.registered", "carol", 3, moved, f_.mallory)).ok());
  // Taking over "bank" with another key is refused.
  auto takeover = MakeAuthorPart("node.registered", "bank", 4,
                                 testing::RegistrationBody("bank", f_.mallory), f_.mallory);
  Status st = store_->Append(*takeover).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(Contains(st, "different signing key")) << st;
  EXPECT_EQ(*store_->Size(), 9);
}

TEST_F(LogStoreTest, AppendRejectsReplayAndMalformed) {
  std::vector<Entry> script = f_.Script(8);
  for (const Entry& e : script) ASSERT_TRUE(store_->Append(e).ok());
  Status st = store_->Append(script[6]).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(Contains(st, "seq 6")) << st;
  Entry bad = script[7];
  bad.kind = "Not A Kind";
  EXPECT_EQ(store_->Append(bad).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*store_->Size(), 8);
}

TEST_F(LogStoreTest, OpenPinsTheCoordinatorKeyAndPersists) {
  AppendScript(6);
  EXPECT_EQ(LogStore::Open(&*db_, f_.bank.public_key()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // Reopen from the file: state (entries, keys) survives.
  store_.reset();
  db_.reset();
  auto db = SqlDb::Open(dir_.File("coordinator.db"));
  ASSERT_TRUE(db.ok());
  auto store = LogStore::Open(&*db, f_.coordinator.public_key());
  ASSERT_TRUE(store.ok());
  EXPECT_EQ(*store->Size(), 6);
  EXPECT_TRUE(store->Append(f_.Make("job.approved", "bank", 99, {{"job", "after"}})).ok());
  EXPECT_TRUE(VerifyLog(*store, f_.coordinator.public_key()).ok);
}

TEST_F(LogStoreTest, AppendJoinsTheCallersTransaction) {
  AppendScript(6);
  ASSERT_TRUE(db_->Exec("BEGIN IMMEDIATE").ok());
  ASSERT_TRUE(store_->Append(f_.Make("job.approved", "bank", 1, {{"job", "a"}})).ok());
  // A failing append inside the transaction leaves the earlier append of the same transaction.
  EXPECT_FALSE(store_->Append(f_.Make("job.approved", "bank", 1, {{"job", "a"}})).ok());
  EXPECT_EQ(*store_->Size(), 7);
  ASSERT_TRUE(db_->Exec("ROLLBACK").ok());
  EXPECT_EQ(*store_->Size(), 6);
  EXPECT_TRUE(VerifyLog(*store_, f_.coordinator.public_key()).ok);
}

TEST_F(LogStoreTest, RangeValidatesArguments) {
  AppendScript(6);
  EXPECT_EQ(store_->Range(-1, 5).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Range(0, 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(store_->Range(6, 5)->empty());
  EXPECT_EQ(store_->Range(4, 1000000)->size(), 2u);
}

TEST_F(LogStoreTest, ReplicaIngestsPagesAndMatchesTheCoordinator) {
  AppendScript(50);
  LogStore replica = Replica("replica.db");
  for (int64_t from = 0; from < 50; from += 16) {
    auto page = store_->Range(from, 16);
    ASSERT_TRUE(page.ok());
    auto added = replica.Ingest(*page);
    ASSERT_TRUE(added.ok()) << added.status();
    EXPECT_EQ(*added, static_cast<int64_t>(page->size()));
  }
  EXPECT_EQ(replica.Head()->chain_hash, store_->Head()->chain_hash);
  EXPECT_EQ(replica.Head()->size, 50);
  VerifyReport r = VerifyLog(replica, f_.coordinator.public_key());
  EXPECT_TRUE(r.ok) << r.reason;
  EXPECT_EQ(r.entries_checked, 50);
  // Re-sending an overlapping page is harmless.
  auto again = replica.Ingest(*store_->Range(40, 10));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0);
}

TEST_F(LogStoreTest, IngestRejectsGapsAsDataLossAndStoresNothing) {
  AppendScript(20);
  LogStore replica = Replica("replica.db");
  ASSERT_TRUE(replica.Ingest(*store_->Range(0, 10)).ok());
  // Batch starting past the replica's head.
  Status st = replica.Ingest(*store_->Range(11, 5)).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(Contains(st, "gap")) << st;
  // Hole inside a batch.
  std::vector<Entry> holey = *store_->Range(10, 5);
  holey.erase(holey.begin() + 2);
  st = replica.Ingest(holey).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(Contains(st, "expected seq 12, got seq 13")) << st;
  EXPECT_EQ(*replica.Size(), 10);  // nothing from the failed batch was kept
}

TEST_F(LogStoreTest, IngestDetectsEquivocation) {
  AppendScript(12);
  LogStore replica = Replica("replica.db");
  ASSERT_TRUE(replica.Ingest(*store_->Range(0, 12)).ok());
  // The coordinator shows the replica a different history from seq 8 on.
  LogStore fork = Replica("fork.db");
  std::vector<Entry> script = f_.Script(12);
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(fork.Append(script[i]).ok());
  ASSERT_TRUE(fork.Append(f_.Make("job.state", "coordinator", 1, {{"forked", true}})).ok());
  for (int i = 8; i < 12; ++i) ASSERT_TRUE(fork.Append(script[i]).ok());
  Status st = replica.Ingest(*fork.Range(5, 8)).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(Contains(st, "equivocation at seq 8")) << st;
  EXPECT_EQ(*replica.Size(), 12);
}

TEST_F(LogStoreTest, IngestChecksPrevSignaturesAndAuthors) {
  AppendScript(10);
  LogStore replica = Replica("replica.db");
  ASSERT_TRUE(replica.Ingest(*store_->Range(0, 8)).ok());
  std::vector<Entry> next = *store_->Range(8, 2);

  std::vector<Entry> bad_prev = next;
  bad_prev[0].prev[0] ^= 1;
  Status st = replica.Ingest(bad_prev).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(Contains(st, "seq 8: prev does not match")) << st;

  std::vector<Entry> bad_sig = next;
  bad_sig[1].sig[3] ^= 0x40;
  st = replica.Ingest(bad_sig).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(Contains(st, "seq 9")) << st;

  // A correctly chained entry by an author the log never registered.
  Entry stranger = *MakeAuthorPart("job.approved", "mallory", 1, Json::object(), f_.mallory);
  stranger.seq = 8;
  stranger.prev = replica.Head()->chain_hash;
  st = replica.Ingest({stranger}).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(Contains(st, "unknown author")) << st;

  // A re-registration of "bank" under another key.
  Json body = testing::RegistrationBody("bank", f_.mallory);
  Entry takeover = *MakeAuthorPart("node.registered", "bank", 1, body, f_.mallory);
  takeover.seq = 8;
  takeover.prev = replica.Head()->chain_hash;
  st = replica.Ingest({takeover}).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(Contains(st, "key changed")) << st;

  // Unsequenced entries are not accepted from the coordinator.
  Entry unsequenced = f_.Make("job.approved", "bank", 1, Json::object());
  EXPECT_EQ(replica.Ingest({unsequenced}).status().code(), absl::StatusCode::kInvalidArgument);

  EXPECT_EQ(*replica.Size(), 8);
  ASSERT_TRUE(replica.Ingest(next).ok());
  EXPECT_EQ(replica.Head()->chain_hash, store_->Head()->chain_hash);
}

TEST_F(LogStoreTest, SignedHeads) {
  AppendScript(10);
  auto head = store_->SignHead(f_.coordinator, 1234);
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->size, 10);
  EXPECT_TRUE(head->Verify(f_.coordinator.public_key()).ok());
  EXPECT_EQ(head->Verify(f_.bank.public_key()).code(), absl::StatusCode::kUnauthenticated);
  SignedHead tampered = *head;
  tampered.size = 9;
  EXPECT_EQ(tampered.Verify(f_.coordinator.public_key()).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(store_->SignHead(f_.bank, 1).status().code(), absl::StatusCode::kInvalidArgument);

  auto json_back = SignedHead::FromJson(head->ToJson());
  ASSERT_TRUE(json_back.ok()) << json_back.status();
  EXPECT_EQ(json_back->chain_hash, head->chain_hash);
  EXPECT_EQ(json_back->sig, head->sig);
  EXPECT_EQ(json_back->time_ms, 1234);
  Json extra = head->ToJson();
  extra["x"] = 1;
  EXPECT_EQ(SignedHead::FromJson(extra).status().code(), absl::StatusCode::kInvalidArgument);
  Json neg = head->ToJson();
  neg["size"] = -1;
  auto neg_st = SignedHead::FromJson(neg).status();
  EXPECT_EQ(neg_st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(neg_st, "$.size")) << neg_st;

  LogStore replica = Replica("replica.db");
  ASSERT_TRUE(replica.Ingest(*store_->Range(0, 8)).ok());
  EXPECT_EQ(replica.RecordSignedHead(*head).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(replica.RecordSignedHead(tampered).code(), absl::StatusCode::kUnauthenticated);
  ASSERT_TRUE(replica.Ingest(*store_->Range(8, 2)).ok());
  ASSERT_TRUE(replica.RecordSignedHead(*head).ok());
  auto latest = replica.LatestSignedHead();
  ASSERT_TRUE(latest.ok() && latest->has_value());
  EXPECT_EQ((*latest)->size, 10);
  EXPECT_EQ((*latest)->sig, head->sig);
  // A validly signed head that disagrees with the replica is equivocation evidence.
  SignedHead other = SignedHead::Sign(LogHead{10, Digest256{}}, 5, f_.coordinator);
  Status st = replica.RecordSignedHead(other);
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(Contains(st, "equivocation")) << st;
}

}  // namespace
}  // namespace consort::audit
