#include "consort/psi/bucketed_psi.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "consort/common/files.h"
#include "consort/common/test_temp_dir.h"
#include "consort/data/csv.h"
#include "consort/psi/ecdh_psi.h"
#include "consort/psi/internal/bucket_loader_stats.h"
#include "consort/psi/internal/bucketed_psi_wire.h"
#include "consort/psi/internal/size_only_psi.h"
#include "consort/crypto/hash.h"

namespace consort::psi {
namespace {

constexpr PsiOutput kNone = PsiOutput::kNone;
constexpr PsiOutput kSize = PsiOutput::kSize;
constexpr PsiOutput kInter = PsiOutput::kIntersection;

// A fresh directory, removed with its contents at the end of the test.
using TempDir = TestTempDir;

std::shared_ptr<const data::Table> Csv(const std::string& text) {
  auto t = data::ParseCsv(text, "t.csv");
  CONSORT_CHECK(t.ok());
  return std::make_shared<const data::Table>(*std::move(t));
}

// A table with column k (the key, string) and v (the row's position), one row per key.
std::shared_ptr<const data::Table> KeyTable(const std::vector<std::string>& keys) {
  std::string text = "k,v\n";
  for (size_t i = 0; i < keys.size(); ++i) text += keys[i] + "," + std::to_string(i) + "\n";
  return Csv(text);
}

// A link that dies (closes) once it has sent `limit` messages: a party killed mid-run.
class DyingLink final : public net::Link {
 public:
  DyingLink(net::Link& inner, uint64_t limit) : inner_(inner), limit_(limit) {
    set_timeout(inner.timeout());
  }
  const std::string& peer() const override { return inner_.peer(); }
  Status Send(ByteSpan m) override {
    // Or when it is about to send the first masked batch of partition die_at_masked_partition
    // (the size-only flow): a kill at a point that keepalives cannot shift.
    const bool masked_part = die_at_masked_partition >= 0 && m.size() >= 9 &&
                             m[0] == internal::kMsgSizeMasked &&
                             ReadU32(m.data() + 1) == uint32_t(die_at_masked_partition);
    if (sent_++ >= limit_ || masked_part) {
      inner_.Close();
      return absl::UnavailableError("killed");
    }
    return inner_.Send(m);
  }
  StatusOr<Bytes> Recv() override { return inner_.Recv(); }
  void Close() override { inner_.Close(); }

  int die_at_masked_partition = -1;

 private:
  net::Link& inner_;
  uint64_t limit_;
  std::atomic<uint64_t> sent_{0};
};

// Delays every batch: a party whose first pass is slow.
class SlowReader final : public data::TableReader {
 public:
  SlowReader(std::unique_ptr<data::TableReader> inner, std::chrono::milliseconds delay)
      : inner_(std::move(inner)), delay_(delay) {}
  StatusOr<bool> Next(data::Table* batch) override {
    std::this_thread::sleep_for(delay_);
    return inner_->Next(batch);
  }

 private:
  std::unique_ptr<data::TableReader> inner_;
  std::chrono::milliseconds delay_;
};

struct Party {
  std::shared_ptr<const data::Table> table;
  BucketedPsiOptions opts;
  std::chrono::milliseconds batch_delay{0};
  StatusOr<BucketedPsiResult> result = absl::UnknownError("not run");
  uint64_t bytes_sent = 0;
  std::vector<std::string> stages{};
};

BucketedPsiOptions Options(PsiOutput mine, PsiOutput peer, const std::string& scratch,
                           uint32_t buckets) {
  BucketedPsiOptions o;
  o.my_output = mine;
  o.peer_output = peer;
  o.domain = "job-1";
  o.key_columns = {"k"};
  o.scratch_dir = scratch;
  o.input_fingerprint = "fp";
  o.force_buckets = buckets;
  o.memory_budget_mb = kMinMemoryBudgetMb;
  o.psi_batch_size = 64;
  return o;
}

// Runs both parties; `kill_a_after` > 0 makes A's link die after that many sends.
void RunPair(Party& a, Party& b, uint64_t kill_a_after = 0,
             std::chrono::milliseconds timeout = std::chrono::milliseconds(10000),
             int kill_a_at_masked_partition = -1) {
  auto [la, lb] = net::CreateInMemoryLinkPair("a", "b");
  la->set_timeout(timeout);
  lb->set_timeout(timeout);
  DyingLink dying(*la, kill_a_after ? kill_a_after : UINT64_MAX);
  dying.die_at_masked_partition = kill_a_at_masked_partition;
  auto run = [](Party& p, net::Link& link) {
    InputOpener open = [&p]() -> StatusOr<std::unique_ptr<data::TableReader>> {
      auto slices = data::SliceTable(p.table, 7);
      if (p.batch_delay.count() == 0) return slices;
      return std::unique_ptr<data::TableReader>(
          std::make_unique<SlowReader>(std::move(slices), p.batch_delay));
    };
    p.stages.clear();
    p.opts.progress = [&p](double, const std::string& s) {
      if (p.stages.empty() || p.stages.back() != s) p.stages.push_back(s);
    };
    p.result = RunBucketedEcdhPsi(link, open, p.opts);
  };
  std::thread ta([&] { run(a, dying); });
  run(b, *lb);
  ta.join();
  a.bytes_sent = la->bytes_sent();
  b.bytes_sent = lb->bytes_sent();
}

// Row numbers in the results file, sorted.
std::vector<uint64_t> MatchedRows(const BucketedPsiResult& r) {
  std::vector<uint64_t> rows;
  auto text = ReadFile(r.matched_rows_path);
  EXPECT_TRUE(text.ok());
  if (!text.ok()) return rows;
  for (size_t i = 0; i + 8 <= text->size(); i += 8) {
    rows.push_back(ReadU64(reinterpret_cast<const uint8_t*>(text->data() + i)));
  }
  std::sort(rows.begin(), rows.end());
  return rows;
}

std::vector<uint64_t> PlainRows(const std::vector<std::string>& mine,
                                const std::vector<std::string>& theirs) {
  std::set<std::string> t(theirs.begin(), theirs.end());
  std::vector<uint64_t> rows;
  for (size_t i = 0; i < mine.size(); ++i) {
    if (t.count(mine[i])) rows.push_back(i);
  }
  return rows;
}

std::vector<std::string> RandomKeys(size_t n, const std::string& prefix, std::mt19937_64& rng) {
  std::set<std::string> seen;
  std::vector<std::string> out;
  while (out.size() < n) {
    std::string k = prefix + std::to_string(rng() % (n * 20 + 10));
    if (seen.insert(k).second) out.push_back(k);
  }
  return out;
}

void ExpectMatchesPlaintext(const std::vector<std::string>& xa,
                            const std::vector<std::string>& xb, uint32_t buckets,
                            PsiOutput out_a = kInter, PsiOutput out_b = kSize) {
  TempDir da, db;
  Party a{KeyTable(xa), Options(out_a, out_b, da.path(), buckets)};
  Party b{KeyTable(xb), Options(out_b, out_a, db.path(), buckets)};
  RunPair(a, b);
  ASSERT_TRUE(a.result.ok()) << a.result.status();
  ASSERT_TRUE(b.result.ok()) << b.result.status();
  const auto want = PlainRows(xa, xb);
  // No "intersection" receiver: the size-only flow (internal/size_only_psi.h).
  const bool size_only = out_a != kInter && out_b != kInter;
  EXPECT_EQ(a.result->size_only, size_only);
  EXPECT_EQ(b.result->size_only, size_only);
  EXPECT_EQ(a.result->buckets, buckets);
  EXPECT_EQ(a.result->buckets_run, buckets);
  EXPECT_EQ(a.result->first_bucket, 0u);
  EXPECT_EQ(a.result->my_rows, xa.size());
  EXPECT_EQ(a.result->peer_rows, xb.size());
  EXPECT_EQ(a.result->peer_keys, xb.size());
  EXPECT_EQ(b.result->peer_keys, xa.size());
  if (out_a == kInter) {
    EXPECT_EQ(MatchedRows(*a.result), want);
    EXPECT_EQ(a.result->matched_rows, want.size());
  }
  if (out_a != kNone) {
    EXPECT_EQ(a.result->intersection_size, want.size());
  }
  if (out_b != kNone) {
    EXPECT_EQ(b.result->intersection_size, want.size());
  } else {
    EXPECT_EQ(b.result->intersection_size, 0u);
  }
  // Only the results and the checkpoint stay behind (spill, partitions, buckets are gone).
  for (const auto& dir : {da.path(), db.path()}) {
    std::set<std::string> files;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      files.insert(e.path().filename().string());
    }
    if (size_only) {
      EXPECT_EQ(files, std::set<std::string>{});  // the scalar's state file included
    } else {
      EXPECT_EQ(files, (std::set<std::string>{"checkpoint.json", "matched.rows"}));
    }
  }
  // Progress names each bucket, or the size-only stages.
  const std::vector<std::string> want_stages =
      size_only ? std::vector<std::string>{"masking keys", "exchanging"}
                : std::vector<std::string>{"bucket " + std::to_string(buckets) + "/" +
                                           std::to_string(buckets)};
  for (const std::string& stage : want_stages) {
    EXPECT_NE(std::find(a.stages.begin(), a.stages.end(), stage), a.stages.end()) << stage;
  }
}

TEST(BucketedPsi, MatchesPlaintextForOneTwoAndSeventeenBuckets) {
  std::mt19937_64 rng(11);
  for (uint32_t buckets : {1u, 2u, 17u}) {
    SCOPED_TRACE(buckets);
    auto xa = RandomKeys(300, "k", rng), xb = RandomKeys(250, "k", rng);
    ExpectMatchesPlaintext(xa, xb, buckets);
    ExpectMatchesPlaintext(xb, xa, buckets, kSize, kInter);
    ExpectMatchesPlaintext(xa, xb, buckets, kInter, kInter);
    ExpectMatchesPlaintext(xa, xb, buckets, kNone, kSize);
    ExpectMatchesPlaintext(xa, xb, buckets, kSize, kSize);
    ExpectMatchesPlaintext(xa, xb, buckets, kSize, kNone);
  }
}

TEST(BucketedPsi, EdgeSets) {
  std::mt19937_64 rng(5);
  auto some = RandomKeys(40, "x", rng), other = RandomKeys(30, "y", rng);
  for (uint32_t buckets : {1u, 17u}) {
    SCOPED_TRACE(buckets);
    ExpectMatchesPlaintext({}, {}, buckets);
    ExpectMatchesPlaintext({}, some, buckets);
    ExpectMatchesPlaintext(some, {}, buckets);
    ExpectMatchesPlaintext(some, other, buckets);  // disjoint
    ExpectMatchesPlaintext(some, some, buckets);   // identical
    ExpectMatchesPlaintext({"solo"}, {"solo"}, buckets);
    // The same in the size-only flow.
    ExpectMatchesPlaintext({}, {}, buckets, kSize, kSize);
    ExpectMatchesPlaintext({}, some, buckets, kSize, kNone);
    ExpectMatchesPlaintext(some, {}, buckets, kNone, kSize);
    ExpectMatchesPlaintext(some, other, buckets, kSize, kSize);
    ExpectMatchesPlaintext(some, some, buckets, kSize, kSize);
    ExpectMatchesPlaintext({"solo"}, {"solo"}, buckets, kSize, kSize);
    ExpectMatchesPlaintext({"solo"}, some, buckets);
    auto big = RandomKeys(2000, "x", rng);  // skewed: 1 vs 2000 sharing one key
    ExpectMatchesPlaintext({big[1234]}, big, buckets);
  }
}

TEST(BucketedPsi, BucketCountFollowsBudgetAndIsSymmetric) {
  EXPECT_EQ(BucketCount(0, 0, 64, 0, 0, 64), 1u);
  EXPECT_EQ(BucketCount(1000, BucketNeedMib(1000, 20000), 64, 10, 1, 64), 1u);
  // 10^8 rows of 16-byte keys: 100M x 176 B = 16.4 GiB of working set.
  const uint64_t rows = 100'000'000;
  const uint64_t need = BucketNeedMib(rows, rows * 16);
  EXPECT_EQ(need, (rows * 176 + (1 << 20) - 1) >> 20);
  const uint32_t b1024 = BucketCount(rows, need, 1024, rows, need, 1024);
  EXPECT_EQ(b1024, (((need << 20) + rows * kPeerKeyOverhead) + (512u << 20) - 1) / (512u << 20));
  EXPECT_EQ(BucketCount(rows, need, 64, rows, need, 1024), BucketCount(rows, need, 1024, rows, need, 64));
  EXPECT_GT(BucketCount(rows, need, 64, rows, need, 1024), b1024);  // the smaller budget rules
  EXPECT_EQ(BucketCount(uint64_t{1} << 40, UINT64_MAX >> 20, 64, 1, 1, 64), kMaxBuckets);
  // Buckets are a public function of the key: the same key always lands in the same bucket.
  EXPECT_EQ(BucketOf("job", "abc", 17), BucketOf("job", "abc", 17));
  std::vector<int> hist(17);
  for (int i = 0; i < 17000; ++i) ++hist[BucketOf("job", std::to_string(i), 17)];
  for (int h : hist) EXPECT_NEAR(h, 1000, 200);
}

TEST(BucketedPsi, AutomaticBucketCountIsOneForSmallSets) {
  std::mt19937_64 rng(3);
  auto xa = RandomKeys(100, "k", rng), xb = RandomKeys(100, "k", rng);
  TempDir da, db;
  Party a{KeyTable(xa), Options(kInter, kNone, da.path(), 0)};
  Party b{KeyTable(xb), Options(kNone, kInter, db.path(), 0)};
  RunPair(a, b);
  ASSERT_TRUE(a.result.ok()) << a.result.status();
  EXPECT_EQ(a.result->buckets, 1u);
  EXPECT_EQ(MatchedRows(*a.result), PlainRows(xa, xb));
}

TEST(BucketedPsi, DuplicatesFailBeforeAnyCryptography) {
  // Keys repeat at lines (5, 9) and (3, 12): the pair whose second line comes first is (5, 9),
  // whichever buckets they land in; ExtractKeys on the whole table says the same.
  std::string text = "k,v\n";
  std::vector<std::string> keys = {"a", "p", "b", "q", "c", "d", "e", "q", "f", "g", "p"};
  for (size_t i = 0; i < keys.size(); ++i) text += keys[i] + "," + std::to_string(i) + "\n";
  auto whole = data::ExtractKeys(*Csv(text), std::vector<std::string>{"k"});
  ASSERT_EQ(whole.status().code(), absl::StatusCode::kInvalidArgument);
  for (uint32_t buckets : {1u, 17u}) {
    TempDir da, db;
    Party a{Csv(text), Options(kInter, kSize, da.path(), buckets)};
    Party b{KeyTable({"a", "b"}), Options(kSize, kInter, db.path(), buckets)};
    RunPair(a, b);
    ASSERT_EQ(a.result.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(a.result.status().message(), "t.csv: duplicate key in column(s) k at lines 5 and 9");
    EXPECT_EQ(a.result.status().message(), whole.status().message());
    EXPECT_EQ(b.result.status().code(), absl::StatusCode::kUnavailable) << b.result.status();
    // Nothing left A: no plan, no blinded element, no ECDH handshake.
    EXPECT_EQ(a.bytes_sent, 0u);
    EXPECT_LE(b.bytes_sent, internal::kBucketPlanBytes);
  }
  // Under "dedupe" the key is one element and every row carrying it is matched.
  TempDir da, db;
  Party a{Csv(text), Options(kInter, kNone, da.path(), 3)};
  a.opts.keys.duplicates = data::DuplicateKeys::kDeduplicate;
  Party b{KeyTable({"q", "zz"}), Options(kNone, kInter, db.path(), 3)};
  RunPair(a, b);
  ASSERT_TRUE(a.result.ok()) << a.result.status();
  EXPECT_EQ(a.result->intersection_size, 1u);
  EXPECT_EQ(a.result->my_keys, 9u);
  EXPECT_EQ(MatchedRows(*a.result), (std::vector<uint64_t>{3, 7}));
}

TEST(BucketedPsi, DedupeOfAKeyRepeatedManyTimesKeepsTheLoaderToDistinctKeys) {
  // One key on 200k rows among 1000 distinct others, under the smallest budget the options
  // allow: the first pass (duplicate check) and the bucket loads hold one entry per distinct
  // key, never one per row, and every row carrying a matched key is still reported.
  constexpr size_t kRepeats = 200'000, kOthers = 1000;
  std::vector<std::string> xa;
  xa.reserve(kRepeats + kOthers);
  for (size_t i = 0; i < kRepeats + kOthers; ++i) {
    xa.push_back(i % 201 == 7 && i / 201 < kOthers ? "o" + std::to_string(i / 201) : "hot");
  }
  ASSERT_EQ(std::set<std::string>(xa.begin(), xa.end()).size(), kOthers + 1);
  std::vector<std::string> xb = {"hot", "zz"};
  for (size_t i = 0; i < kOthers; i += 3) xb.push_back("o" + std::to_string(i));
  TempDir da, db;
  Party a{KeyTable(xa), Options(kInter, kSize, da.path(), 0)};
  a.opts.keys.duplicates = data::DuplicateKeys::kDeduplicate;
  ASSERT_EQ(a.opts.memory_budget_mb, kMinMemoryBudgetMb);
  Party b{KeyTable(xb), Options(kSize, kInter, db.path(), 0)};
  internal::ResetBucketLoaderPeakKeys();
  RunPair(a, b);
  ASSERT_TRUE(a.result.ok()) << a.result.status();
  ASSERT_TRUE(b.result.ok()) << b.result.status();
  const size_t want_keys = 1 + (kOthers + 2) / 3;  // "hot" and o0, o3, ..., o999
  EXPECT_EQ(a.result->my_rows, xa.size());
  EXPECT_EQ(a.result->my_keys, kOthers + 1);
  EXPECT_EQ(b.result->peer_keys, kOthers + 1);
  EXPECT_EQ(a.result->intersection_size, want_keys);
  EXPECT_EQ(b.result->intersection_size, want_keys);
  const auto want_rows = PlainRows(xa, xb);
  EXPECT_GT(want_rows.size(), kRepeats);
  EXPECT_EQ(a.result->matched_rows, want_rows.size());
  EXPECT_EQ(MatchedRows(*a.result), want_rows);
  // Loading all copies before de-duplicating would have held >= 200k keys in some load.
  const uint64_t peak = internal::BucketLoaderPeakKeys();
  EXPECT_GT(peak, 0u);
  EXPECT_LE(peak, kOthers + 1);
}

TEST(BucketedPsi, BadKeysFailBeforeTheHandshake) {
  TempDir da, db;
  Party a{Csv("k,v\nx,1\n\"\",2\n"), Options(kInter, kSize, da.path(), 2)};
  Party b{KeyTable({"x"}), Options(kSize, kInter, db.path(), 2)};
  RunPair(a, b);
  ASSERT_EQ(a.result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(a.result.status().message(), "t.csv:3: column 'k': empty key value");
  EXPECT_EQ(a.bytes_sent, 0u);
  EXPECT_EQ(b.result.status().code(), absl::StatusCode::kUnavailable);
}

TEST(BucketedPsi, PeerDisagreementsAreRejected) {
  TempDir da, db;
  Party a{KeyTable({"x"}), Options(kInter, kSize, da.path(), 2)};
  Party b{KeyTable({"x"}), Options(kSize, kInter, db.path(), 3)};
  RunPair(a, b);
  EXPECT_EQ(a.result.status().code(), absl::StatusCode::kFailedPrecondition);
  Party c{KeyTable({"x"}), Options(kInter, kSize, da.path(), 2)};
  Party d{KeyTable({"x"}), Options(kInter, kSize, db.path(), 2)};  // both claim "intersection"
  RunPair(c, d);
  EXPECT_EQ(c.result.status().code(), absl::StatusCode::kFailedPrecondition);
  Party e{KeyTable({"x"}), Options(kInter, kSize, da.path(), 2)};
  e.opts.memory_budget_mb = 1;
  Party f{KeyTable({"x"}), Options(kSize, kInter, db.path(), 2)};
  RunPair(e, f);
  EXPECT_EQ(e.result.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(BucketedPsi, MalformedPeerPlanIsInvalidArgument) {
  TempDir da;
  auto [la, lb] = net::CreateInMemoryLinkPair("a", "b");
  la->set_timeout(std::chrono::milliseconds(5000));
  auto table = KeyTable({"x"});
  StatusOr<BucketedPsiResult> r = absl::UnknownError("");
  std::thread t([&] {
    InputOpener open = [&]() -> StatusOr<std::unique_ptr<data::TableReader>> {
      return data::SliceTable(table, 10);
    };
    r = RunBucketedEcdhPsi(*la, open, Options(kInter, kSize, da.path(), 0));
  });
  ASSERT_TRUE(lb->Recv().ok());
  internal::BucketPlan p;
  p.version = kBucketedPsiVersion;
  p.rows = uint64_t{1} << 41;  // above the limit
  p.budget_mb = 64;
  p.my_output = kSize;
  p.peer_output = kInter;
  p.domain_hash = crypto::Sha256(std::string_view("job-1"));
  ASSERT_TRUE(lb->Send(internal::EncodeBucketPlan(p)).ok());
  t.join();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "bucketed PSI: the peer announced 2199023255552 rows, above 2^40");
}

TEST(BucketedPsi, KilledRunResumesFromTheCheckpointWithTheSameResult) {
  std::mt19937_64 rng(9);
  auto xa = RandomKeys(400, "k", rng), xb = RandomKeys(400, "k", rng);
  TempDir da, db;
  // Each bucket costs A 1 ECDH handshake + ceil(n/64) masked + returned batches; 12 sends in
  // A has finished a few of the 9 buckets.
  Party a{KeyTable(xa), Options(kInter, kSize, da.path(), 9)};
  Party b{KeyTable(xb), Options(kSize, kInter, db.path(), 9)};
  RunPair(a, b, /*kill_a_after=*/12);
  ASSERT_FALSE(a.result.ok());
  ASSERT_FALSE(b.result.ok());
  RunPair(a, b);
  ASSERT_TRUE(a.result.ok()) << a.result.status();
  ASSERT_TRUE(b.result.ok()) << b.result.status();
  EXPECT_GT(a.result->first_bucket, 0u);
  EXPECT_EQ(a.result->first_bucket, b.result->first_bucket);
  EXPECT_EQ(a.result->buckets_run, 9u - a.result->first_bucket);
  EXPECT_EQ(MatchedRows(*a.result), PlainRows(xa, xb));
  EXPECT_EQ(b.result->intersection_size, PlainRows(xa, xb).size());
  EXPECT_EQ(a.result->peer_keys, xb.size());
  EXPECT_EQ(a.result->checkpoint_ignored, "");

  // A third run over another input ignores the (finished) checkpoint and starts over.
  xa.push_back("fresh-key");
  a.table = KeyTable(xa);
  a.opts.input_fingerprint = "fp2";
  RunPair(a, b);
  ASSERT_TRUE(a.result.ok()) << a.result.status();
  EXPECT_EQ(a.result->checkpoint_ignored, "from another input (the dataset changed)");
  EXPECT_EQ(a.result->first_bucket, 0u);
  EXPECT_EQ(a.result->buckets_run, 9u);
  EXPECT_EQ(b.result->first_bucket, 0u);  // the peer starts over with it
  EXPECT_EQ(MatchedRows(*a.result), PlainRows(xa, xb));

  // A corrupted checkpoint is ignored too.
  std::string cp = JoinPath(da.path(), "checkpoint.json");
  auto text = ReadFile(cp);
  ASSERT_TRUE(text.ok());
  std::string bad = *text;
  bad[bad.find("\"done\":") + 7] = '1';
  ASSERT_TRUE(WriteFileAtomic(cp, bad).ok());
  RunPair(a, b);
  ASSERT_TRUE(a.result.ok()) << a.result.status();
  EXPECT_EQ(a.result->checkpoint_ignored, "corrupt (digest mismatch)");
  EXPECT_EQ(MatchedRows(*a.result), PlainRows(xa, xb));
}

TEST(BucketedPsi, SizeOnlyRunResumesWithItsMaskedSetAndThePeersProgress) {
  std::mt19937_64 rng(21);
  auto xa = RandomKeys(400, "k", rng), xb = RandomKeys(350, "k", rng);
  const uint64_t want = PlainRows(xa, xb).size();
  TempDir da, db;
  // 5 value partitions of about 80 masked values. A dies as it starts its masked partition 2:
  // partitions 0 and 1 are sent whole, and B processes and checkpoints them from its queue.
  Party a{KeyTable(xa), Options(kSize, kSize, da.path(), 5)};
  Party b{KeyTable(xb), Options(kSize, kSize, db.path(), 5)};
  const auto kill = std::chrono::milliseconds(10000);
  RunPair(a, b, 0, kill, /*kill_a_at_masked_partition=*/2);
  ASSERT_FALSE(a.result.ok());
  ASSERT_FALSE(b.result.ok());
  EXPECT_TRUE(std::filesystem::exists(JoinPath(da.path(), "size_only.state")));
  RunPair(a, b);
  ASSERT_TRUE(a.result.ok()) << a.result.status();
  ASSERT_TRUE(b.result.ok()) << b.result.status();
  EXPECT_TRUE(a.result->masking_resumed);
  EXPECT_TRUE(b.result->masking_resumed);
  EXPECT_EQ(a.result->buckets_run, 0u);
  EXPECT_EQ(b.result->peer_partitions_resumed, 2u);
  EXPECT_EQ(a.result->intersection_size, want);
  EXPECT_EQ(b.result->intersection_size, want);
  // Finished: nothing is left behind, the scalar's state file included.
  EXPECT_TRUE(std::filesystem::is_empty(da.path()));
  EXPECT_TRUE(std::filesystem::is_empty(db.path()));

  // A peer that lost its state masks afresh under a new scalar; B must then drop what it
  // computed from A's old masked values, not mix the two.
  RunPair(a, b, 0, kill, /*kill_a_at_masked_partition=*/2);
  ASSERT_FALSE(a.result.ok());
  std::filesystem::remove_all(da.path());
  std::filesystem::create_directories(da.path());
  RunPair(a, b);
  ASSERT_TRUE(a.result.ok()) << a.result.status();
  ASSERT_TRUE(b.result.ok()) << b.result.status();
  EXPECT_FALSE(a.result->masking_resumed);
  EXPECT_TRUE(b.result->masking_resumed);
  EXPECT_EQ(b.result->peer_partitions_resumed, 0u);
  EXPECT_EQ(a.result->intersection_size, want);
  EXPECT_EQ(b.result->intersection_size, want);
}

TEST(BucketedPsi, SizeOnlyReceiverFinishesAfterThePeerHasClosedItsLink) {
  // A receives nothing and finishes first (it only raises B's 20 values), then closes its
  // link, as a node does when an operator returns; B still raises A's 20000 values for about
  // 0.7 s. B must finish from what is queued, without trying to reach A (keepalives would go
  // out every 250 ms).
  std::mt19937_64 rng(8);
  auto xa = RandomKeys(20000, "k", rng), xb = RandomKeys(20, "k", rng);
  TempDir da, db;
  Party a{KeyTable(xa), Options(kNone, kSize, da.path(), 0)};
  Party b{KeyTable(xb), Options(kSize, kNone, db.path(), 0)};
  auto [la, lb] = net::CreateInMemoryLinkPair("a", "b");
  la->set_timeout(std::chrono::milliseconds(1000));
  lb->set_timeout(std::chrono::milliseconds(1000));
  auto run = [](Party& p, net::Link& link) {
    InputOpener open = [&p]() -> StatusOr<std::unique_ptr<data::TableReader>> {
      return data::SliceTable(p.table, 5000);
    };
    p.result = RunBucketedEcdhPsi(link, open, p.opts);
    link.Close();
  };
  std::thread ta([&, link = la.get()] { run(a, *link); });
  run(b, *lb);
  ta.join();
  ASSERT_TRUE(a.result.ok()) << a.result.status() << " / B: " << b.result.status();
  ASSERT_TRUE(b.result.ok()) << b.result.status();
  EXPECT_EQ(b.result->intersection_size, PlainRows(xa, xb).size());
}

TEST(BucketedPsi, KeepalivesCarryAPeerThroughALongFirstPass) {
  // A reads 8 batches at 150 ms each, 1.2 s in all; links time out after 400 ms of silence.
  std::mt19937_64 rng(4);
  auto xa = RandomKeys(50, "k", rng), xb = RandomKeys(5, "k", rng);
  TempDir da, db;
  Party a{KeyTable(xa), Options(kInter, kSize, da.path(), 1)};
  a.batch_delay = std::chrono::milliseconds(150);
  Party b{KeyTable(xb), Options(kSize, kInter, db.path(), 1)};
  RunPair(a, b, 0, std::chrono::milliseconds(400));
  ASSERT_TRUE(a.result.ok()) << a.result.status() << " / B: " << b.result.status();
  ASSERT_TRUE(b.result.ok()) << b.result.status();
  EXPECT_EQ(MatchedRows(*a.result), PlainRows(xa, xb));
  // Everything A sent beyond the plan, the resume message and the ECDH-PSI run: keepalives.
  const uint64_t ecdh = EcdhPsiBytesSent(xa.size(), 64, xb.size(), 64, kInter, kSize);
  const uint64_t keepalives =
      a.bytes_sent - internal::kBucketPlanBytes - internal::kBucketResumeBytes - ecdh;
  EXPECT_GE(keepalives, 8u);   // about 1.2 s / 100 ms
  EXPECT_LE(keepalives, 30u);
  EXPECT_EQ(b.bytes_sent, internal::kBucketPlanBytes + internal::kBucketResumeBytes +
                              EcdhPsiBytesSent(xb.size(), 64, xa.size(), 64, kSize, kInter));
}

TEST(BucketedPsi, TruncationKeepsFortyBitsOverAllBuckets) {
  // Bytes on the wire for 17 buckets: each bucket's returned values carry ceil(log2 17) = 5
  // more bits than a lone ECDH-PSI of that size would (here: one byte more each).
  std::mt19937_64 rng(8);
  auto xa = RandomKeys(200, "k", rng), xb = RandomKeys(150, "k", rng);
  TempDir da, db;
  Party a{KeyTable(xa), Options(kInter, kInter, da.path(), 17)};
  Party b{KeyTable(xb), Options(kInter, kInter, db.path(), 17)};
  RunPair(a, b);
  ASSERT_TRUE(a.result.ok()) << a.result.status();
  std::vector<uint64_t> na(17), nb(17);
  for (const auto& k : xa) ++na[BucketOf("job-1", "\x03" + std::string(1, char(k.size())) + std::string(3, '\0') + k, 17)];
  for (const auto& k : xb) ++nb[BucketOf("job-1", "\x03" + std::string(1, char(k.size())) + std::string(3, '\0') + k, 17)];
  uint64_t want = internal::kBucketPlanBytes + internal::kBucketResumeBytes, lone = want;
  for (int i = 0; i < 17; ++i) {
    want += EcdhPsiBytesSent(na[i], 64, nb[i], 64, kInter, kInter, 5);
    lone += EcdhPsiBytesSent(na[i], 64, nb[i], 64, kInter, kInter, 0);
  }
  EXPECT_EQ(a.bytes_sent, want);
  EXPECT_GT(want, lone);
  EXPECT_EQ(EcdhPsiReturnBytes(10, 10, 5), EcdhPsiReturnBytes(10, 10) + 1);
  EXPECT_EQ(EcdhPsiReturnBytes(uint64_t{1} << 32, uint64_t{1} << 32, 17), 16u);
  auto [la, lb] = net::CreateInMemoryLinkPair("a", "b");
  EcdhPsiOptions bad;
  bad.extra_return_bits = 18;
  EXPECT_EQ(RunEcdhPsi(*la, {"x"}, bad).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(BucketedPsi, MatchedRowsAsCsvOrTable) {
  auto table = Csv("id,name,score\n3,\"x, y\",1.5\n1,b,\n7,c,2\n9,d,3\n");
  TempDir dir;
  std::string rows_path = JoinPath(dir.path(), "rows");
  Bytes rows;
  for (uint64_t r : {3, 0, 2}) AppendU64(rows, r);
  ASSERT_TRUE(WriteFileAtomic(rows_path, std::string(rows.begin(), rows.end())).ok());
  InputOpener open = [&]() -> StatusOr<std::unique_ptr<data::TableReader>> {
    return data::SliceTable(table, 2);
  };
  std::string csv = JoinPath(dir.path(), "out.csv");
  auto n = WriteMatchedRowsCsv(open, rows_path, 3, 64, csv);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 3u);
  EXPECT_EQ(*ReadFile(csv), "id,name,score\n3,\"x, y\",1.5\n7,c,2.0\n9,d,3.0\n");
  auto t = CollectMatchedRows(open, rows_path, 3);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(*data::FormatCsv(*t), *ReadFile(csv));
  EXPECT_EQ(t->row_line(2), 5u);
  EXPECT_EQ(WriteMatchedRowsCsv(open, rows_path, 4, 64, csv).status().code(),
            absl::StatusCode::kDataLoss);
  AppendU64(rows, 4);  // past the end
  ASSERT_TRUE(WriteFileAtomic(rows_path, std::string(rows.begin(), rows.end())).ok());
  EXPECT_EQ(WriteMatchedRowsCsv(open, rows_path, 4, 64, csv).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(CollectMatchedRows(open, rows_path, 4).status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace consort::psi
