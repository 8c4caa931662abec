#include "consort/psi/multiparty_psi.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <random>
#include <set>
#include <thread>
#include <tuple>

#include "consort/psi/internal/multiparty_psi_wire.h"

namespace consort::psi {
namespace {

constexpr PsiOutput kNone = PsiOutput::kNone;
constexpr PsiOutput kSize = PsiOutput::kSize;
constexpr PsiOutput kInter = PsiOutput::kIntersection;

// A full mesh of in-memory links among n parties: links[i][j] is i's end towards j.
struct Mesh {
  std::vector<std::vector<std::unique_ptr<net::Link>>> owned;
  std::vector<std::vector<net::Link*>> links;
  explicit Mesh(size_t n, std::chrono::milliseconds timeout = std::chrono::milliseconds(20'000))
      : owned(n), links(n, std::vector<net::Link*>(n, nullptr)) {
    for (auto& o : owned) o.resize(n);
    for (size_t i = 0; i < n; ++i) {
      for (size_t j = i + 1; j < n; ++j) {
        auto [a, b] = net::CreateInMemoryLinkPair("p" + std::to_string(i), "p" + std::to_string(j));
        a->set_timeout(timeout);
        b->set_timeout(timeout);
        links[i][j] = a.get();
        links[j][i] = b.get();
        owned[i][j] = std::move(a);
        owned[j][i] = std::move(b);
      }
    }
  }
};

std::vector<StatusOr<MultipartyPsiResult>> RunAll(const std::vector<std::vector<std::string>>& sets,
                                                  const std::vector<PsiOutput>& outputs,
                                                  size_t leader, size_t batch = 64,
                                                  int threads = 1,
                                                  std::chrono::milliseconds timeout =
                                                      std::chrono::milliseconds(20'000)) {
  const size_t n = sets.size();
  Mesh mesh(n, timeout);
  std::vector<StatusOr<MultipartyPsiResult>> out(n, absl::UnknownError("not run"));
  std::vector<MultipartyPsiOptions> opts(n);
  std::vector<std::thread> ts;
  for (size_t i = 0; i < n; ++i) {
    opts[i].self = i;
    opts[i].leader = leader;
    opts[i].outputs = outputs;
    opts[i].domain = "job-1";
    opts[i].batch_size = batch;
    opts[i].threads = threads;
    ts.emplace_back([&, i] { out[i] = RunMultipartyPsi(mesh.links[i], sets[i], opts[i]); });
  }
  for (auto& t : ts) t.join();
  return out;
}

// n sets over a shared universe: each element of the universe is in each set with prob. p;
// `common` extra elements are in every set.
std::vector<std::vector<std::string>> RandomSets(size_t n, size_t universe, double p, size_t common,
                                                 uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::bernoulli_distribution in(p);
  std::vector<std::vector<std::string>> sets(n);
  for (size_t u = 0; u < universe; ++u) {
    for (size_t i = 0; i < n; ++i) {
      if (in(rng)) sets[i].push_back("item-" + std::to_string(u));
    }
  }
  for (size_t c = 0; c < common; ++c) {
    for (auto& s : sets) s.push_back("common-" + std::to_string(c));
  }
  for (auto& s : sets) std::shuffle(s.begin(), s.end(), rng);
  return sets;
}

// Plaintext reference: ascending indices of sets[i] whose item is in every set.
std::vector<size_t> Expected(const std::vector<std::vector<std::string>>& sets, size_t i) {
  std::vector<size_t> r;
  for (size_t k = 0; k < sets[i].size(); ++k) {
    bool all = true;
    for (const auto& s : sets) all &= std::find(s.begin(), s.end(), sets[i][k]) != s.end();
    if (all) r.push_back(k);
  }
  return r;
}

void CheckAgainstPlaintext(const std::vector<std::vector<std::string>>& sets,
                           const std::vector<PsiOutput>& outputs, size_t leader, size_t batch = 64,
                           int threads = 1) {
  auto res = RunAll(sets, outputs, leader, batch, threads);
  for (size_t i = 0; i < sets.size(); ++i) {
    ASSERT_TRUE(res[i].ok()) << "party " << i << ": " << res[i].status();
    const auto expected = Expected(sets, i);
    EXPECT_EQ(res[i]->set_sizes.size(), sets.size());
    for (size_t j = 0; j < sets.size(); ++j) EXPECT_EQ(res[i]->set_sizes[j], sets[j].size());
    switch (outputs[i]) {
      case kNone:
        EXPECT_EQ(res[i]->intersection_size, 0u);
        EXPECT_TRUE(res[i]->matched.empty());
        break;
      case kSize:
        EXPECT_EQ(res[i]->intersection_size, expected.size()) << "party " << i;
        EXPECT_TRUE(res[i]->matched.empty());
        break;
      case kInter:
        EXPECT_EQ(res[i]->matched, expected) << "party " << i;
        EXPECT_EQ(res[i]->intersection_size, expected.size());
        break;
    }
  }
}

TEST(MultipartyPsi, KeepalivesHoldLinksThatCarryNothingUntilTheResult) {
  // Party 0 (the leader) sends party 2 nothing between the sizes and the result, and party 2
  // sends party 1 nothing at all before its end marker: with 3 x ~8000 items the run lasts
  // over a second, longer than the 500 ms link timeout. Keepalives every 125 ms carry them.
  const auto sets = RandomSets(3, 11000, 0.7, 25, 77);
  auto res = RunAll(sets, {kInter, kInter, kSize}, 0, 256, 1, std::chrono::milliseconds(500));
  ASSERT_TRUE(res[0].ok() && res[1].ok() && res[2].ok())
      << res[0].status() << " / " << res[1].status() << " / " << res[2].status();
  EXPECT_EQ(res[0]->matched, Expected(sets, 0));
  EXPECT_EQ(res[2]->intersection_size, Expected(sets, 2).size());
}

TEST(MultipartyPsi, ThreePartiesMatchPlaintext) {
  auto sets = RandomSets(3, 600, 0.6, 20, 1);
  CheckAgainstPlaintext(sets, {kInter, kInter, kInter}, 0);
}

TEST(MultipartyPsi, FivePartiesMixedOutputsAnyLeader) {
  auto sets = RandomSets(5, 400, 0.8, 10, 2);
  CheckAgainstPlaintext(sets, {kInter, kSize, kNone, kInter, kSize}, 2);
  CheckAgainstPlaintext(sets, {kInter, kSize, kNone, kInter, kSize}, 4, /*batch=*/7,
                        /*threads=*/2);
  // A leader that receives rows keeps its list order (tested separately from the shuffled case).
  CheckAgainstPlaintext(sets, {kInter, kSize, kNone, kInter, kSize}, 0, 1000);
}

TEST(MultipartyPsi, EmptyDisjointIdenticalAndSingleton) {
  CheckAgainstPlaintext({{}, {"a", "b"}, {"a"}}, {kInter, kInter, kSize}, 0);
  CheckAgainstPlaintext({{}, {}, {}}, {kInter, kSize, kInter}, 1);
  CheckAgainstPlaintext({{"a", "b"}, {"c", "d"}, {"e"}}, {kInter, kInter, kInter}, 0);
  std::vector<std::string> same = {"x", "y", "z", "w"};
  CheckAgainstPlaintext({same, same, same, same}, {kInter, kSize, kInter, kInter}, 3);
  CheckAgainstPlaintext({{"only"}, {"only"}, {"only"}}, {kInter, kInter, kInter}, 1, 1);
  CheckAgainstPlaintext({{"only"}, {"only", "x"}, {"y"}}, {kInter, kInter, kInter}, 2);
}

TEST(MultipartyPsi, SkewedSizes) {
  // 1 : 1000 : 500, with the small set fully inside both others.
  std::vector<std::vector<std::string>> sets(3);
  for (int i = 0; i < 1000; ++i) sets[1].push_back("k" + std::to_string(i));
  for (int i = 0; i < 1000; i += 2) sets[2].push_back("k" + std::to_string(i));
  sets[0] = {"k10"};
  CheckAgainstPlaintext(sets, {kInter, kSize, kInter}, 1, 128, 2);
  sets[0] = {"k11"};
  CheckAgainstPlaintext(sets, {kInter, kSize, kInter}, 0, 128);
}

TEST(MultipartyPsi, DuplicateItemsAreInvalidArgument) {
  auto res = RunAll({{"a", "a"}, {"a"}, {"a"}}, {kInter, kInter, kInter}, 0);
  EXPECT_EQ(res[0].status().code(), absl::StatusCode::kInvalidArgument);
  // The others fail promptly because party 0 closed its links (Unavailable, not a timeout).
  EXPECT_EQ(res[1].status().code(), absl::StatusCode::kUnavailable) << res[1].status();
}

TEST(MultipartyPsi, MismatchedOutputsAreFailedPrecondition) {
  Mesh mesh(3);
  std::vector<StatusOr<MultipartyPsiResult>> out(3, absl::UnknownError(""));
  std::vector<std::thread> ts;
  std::vector<std::vector<std::string>> sets = {{"a"}, {"a"}, {"a"}};
  std::vector<MultipartyPsiOptions> opts(3);
  for (size_t i = 0; i < 3; ++i) {
    opts[i].self = i;
    opts[i].outputs = {kInter, kInter, i == 2 ? kSize : kInter};
    opts[i].domain = "d";
    ts.emplace_back([&, i] { out[i] = RunMultipartyPsi(mesh.links[i], sets[i], opts[i]); });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(out[0].status().code(), absl::StatusCode::kFailedPrecondition) << out[0].status();
}

TEST(MultipartyPsi, BadOptionsAreInvalidArgument) {
  Mesh mesh(2);
  MultipartyPsiOptions o;
  o.outputs = {kInter, kInter};
  EXPECT_EQ(RunMultipartyPsi(mesh.links[0], {"a"}, o).status().code(),
            absl::StatusCode::kInvalidArgument);
  Mesh mesh3(3);
  o.outputs = {kInter, kInter, kInter};
  o.batch_size = 0;
  EXPECT_EQ(RunMultipartyPsi(mesh3.links[0], {"a"}, o).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Plays the leader (party 0) of a 3-party run by hand, against real parties 1 and 2, to send
// malformed messages.
class ScriptedLeader {
 public:
  ScriptedLeader() : mesh_(3) {
    for (size_t i = 1; i < 3; ++i) {
      opts_[i].self = i;
      opts_[i].outputs = {kInter, kInter, kInter};
      opts_[i].domain = "d";
      opts_[i].batch_size = 4;
    }
  }
  void Start() {
    for (size_t i = 1; i < 3; ++i) {
      ts_.emplace_back(
          [this, i] { out_[i] = RunMultipartyPsi(mesh_.links[i], sets_[i], opts_[i]); });
    }
  }
  void Join() {
    for (auto& t : ts_) t.join();
  }
  net::Link& to(size_t i) { return *mesh_.links[0][i]; }
  Mesh mesh_;
  std::vector<std::vector<std::string>> sets_ = {{}, {"a", "b"}, {"a", "c", "d"}};
  MultipartyPsiOptions opts_[3];
  StatusOr<MultipartyPsiResult> out_[3] = {absl::UnknownError(""), absl::UnknownError(""),
                                           absl::UnknownError("")};
  std::vector<std::thread> ts_;
};

TEST(MultipartyPsi, MalformedLeaderMessagesAreInvalidArgument) {
  {  // A sizes message of the wrong length.
    ScriptedLeader s;
    s.Start();
    ASSERT_TRUE(s.to(1).Recv().ok());
    ASSERT_TRUE(s.to(2).Recv().ok());
    Bytes bad = internal::mp::EncodeSizes({1, 2, 3});
    bad.pop_back();
    ASSERT_TRUE(s.to(1).Send(bad).ok());
    ASSERT_TRUE(s.to(2).Send(internal::mp::EncodeSizes({0, 2, 3})).ok());
    s.Join();
    EXPECT_EQ(s.out_[1].status().code(), absl::StatusCode::kInvalidArgument) << s.out_[1].status();
  }
  {  // A wrong size for the party itself.
    ScriptedLeader s;
    s.Start();
    ASSERT_TRUE(s.to(1).Recv().ok());
    ASSERT_TRUE(s.to(2).Recv().ok());
    ASSERT_TRUE(s.to(1).Send(internal::mp::EncodeSizes({0, 5, 3})).ok());
    s.to(2).Close();
    s.Join();
    EXPECT_EQ(s.out_[1].status().code(), absl::StatusCode::kInvalidArgument) << s.out_[1].status();
  }
  {  // A ring batch that claims the wrong count. (Party 2 gets nothing malformed: had it failed
     // first, party 1 could see its closed link before the bad batch; that race made this flaky.)
    ScriptedLeader s;
    s.Start();
    ASSERT_TRUE(s.to(1).Recv().ok());
    ASSERT_TRUE(s.to(2).Recv().ok());
    ASSERT_TRUE(s.to(1).Send(internal::mp::EncodeSizes({1, 2, 3})).ok());
    ASSERT_TRUE(s.to(2).Send(internal::mp::EncodeSizes({1, 2, 3})).ok());
    Bytes pts(64, 9);
    ASSERT_TRUE(s.to(1).Send(internal::mp::EncodeBatch(internal::mp::kRing, 0, 0, 2, pts)).ok());
    s.Join();
    EXPECT_EQ(s.out_[1].status().code(), absl::StatusCode::kInvalidArgument) << s.out_[1].status();
    // Party 2 fails once party 1 has closed its links.
    EXPECT_NE(s.out_[2].status().code(), absl::StatusCode::kOk);
  }
}

// The leader's result arrives in chunks of batch_size positions (one message of 2^22 positions
// outgrew net::kMaxMessageBytes in a 3 x 2^24 run). Party 1 (5 items, batch 4) is owed 5.
StatusOr<MultipartyPsiResult> Party1AgainstResultChunks(const std::vector<Bytes>& chunks) {
  ScriptedLeader s;
  s.sets_ = {{}, {"a", "b", "c", "d", "e"}, {}};
  s.Start();
  EXPECT_TRUE(s.to(1).Recv().ok());
  EXPECT_TRUE(s.to(2).Recv().ok());
  for (size_t i = 1; i < 3; ++i) {
    EXPECT_TRUE(s.to(i).Send(internal::mp::EncodeSizes({0, 5, 0})).ok());
  }
  for (const Bytes& c : chunks) EXPECT_TRUE(s.to(1).Send(c).ok());
  EXPECT_TRUE(s.to(2).Send(internal::mp::EncodeResult(0, 0, {})).ok());
  for (size_t i = 1; i < 3; ++i) EXPECT_TRUE(s.to(i).Send(Bytes{internal::mp::kEnd}).ok());
  s.Join();
  return s.out_[1];
}

TEST(MultipartyPsi, ResultArrivesInChunksOfTheBatchSize) {
  using internal::mp::EncodeResult;
  const std::vector<uint32_t> first = {0, 1, 2, 3}, last = {4}, five = {0, 1, 2, 3, 4};
  const std::vector<uint32_t> shifted = {1, 2, 3, 4}, zero = {0};
  auto ok = Party1AgainstResultChunks({EncodeResult(5, 0, first), EncodeResult(5, 1, last)});
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->intersection_size, 5u);
  EXPECT_EQ(ok->matched, (std::vector<size_t>{0, 1, 2, 3, 4}));

  auto expect_error = [](const StatusOr<MultipartyPsiResult>& r, const std::string& text) {
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
    EXPECT_NE(std::string(r.status().message()).find(text), std::string::npos) << r.status();
  };
  expect_error(Party1AgainstResultChunks({EncodeResult(5, 1, last)}),
               "result chunk 1 out of order, expected 0");
  expect_error(Party1AgainstResultChunks({EncodeResult(5, 0, five)}),
               "result chunk 0 has 5 positions, expected 4");
  expect_error(Party1AgainstResultChunks({EncodeResult(5, 0, first), EncodeResult(6, 1, last)}),
               "result chunk 1 announces size 6, chunk 0 said 5");
  expect_error(Party1AgainstResultChunks({EncodeResult(9, 0, first)}),
               "result size 9 exceeds this party's 5 items");
  expect_error(Party1AgainstResultChunks({EncodeResult(5, 0, first), EncodeResult(5, 1, last),
                                          EncodeResult(5, 2, {})}),
               "a result chunk from the leader after the whole result");
  // Positions must still ascend across chunks.
  expect_error(Party1AgainstResultChunks({EncodeResult(5, 0, shifted),
                                          EncodeResult(5, 1, zero)}),
               "the leader's result is inconsistent");
}

// Plays party 2 of a 3-party run (leader 0) by hand.
std::pair<Status, Status> LeaderAgainstBadHello(const Bytes& hello) {
  Mesh mesh(3);
  std::vector<std::vector<std::string>> sets = {{"a"}, {"a"}, {}};
  MultipartyPsiOptions o[2];
  StatusOr<MultipartyPsiResult> out[2] = {absl::UnknownError(""), absl::UnknownError("")};
  std::vector<std::thread> ts;
  for (size_t i = 0; i < 2; ++i) {
    o[i].self = i;
    o[i].outputs = {kInter, kInter, kInter};
    o[i].domain = "d";
    ts.emplace_back([&, i] { out[i] = RunMultipartyPsi(mesh.links[i], sets[i], o[i]); });
  }
  (void)mesh.links[2][0]->Send(hello);
  for (auto& t : ts) t.join();
  return {out[0].status(), out[1].status()};
}

TEST(MultipartyPsi, BadHelloIsInvalidArgumentOrFailedPrecondition) {
  internal::mp::Hello h;
  h.version = kMultipartyPsiVersion;
  h.parties = 3;
  h.sender = 2;
  h.leader = 0;
  h.batch_size = 4096;
  auto [leader, other] = LeaderAgainstBadHello(Bytes(20, 'h'));
  EXPECT_EQ(leader.code(), absl::StatusCode::kInvalidArgument) << leader;
  EXPECT_EQ(other.code(), absl::StatusCode::kUnavailable) << other;
  // Right shape, but another configuration (domain and outputs digest all zero).
  std::tie(leader, other) = LeaderAgainstBadHello(internal::mp::EncodeHello(h));
  EXPECT_EQ(leader.code(), absl::StatusCode::kFailedPrecondition) << leader;
  h.version = 99;
  std::tie(leader, other) = LeaderAgainstBadHello(internal::mp::EncodeHello(h));
  EXPECT_EQ(leader.code(), absl::StatusCode::kFailedPrecondition) << leader;
  EXPECT_NE(std::string(leader.message()).find("version 99"), std::string::npos) << leader;
  h.version = kMultipartyPsiVersion;
  h.sender = 1;  // claims to be someone else
  std::tie(leader, other) = LeaderAgainstBadHello(internal::mp::EncodeHello(h));
  EXPECT_EQ(leader.code(), absl::StatusCode::kFailedPrecondition) << leader;
}

TEST(MultipartyPsi, CancellationStopsEveryParty) {
  auto sets = RandomSets(3, 3000, 0.9, 0, 5);
  Mesh mesh(3);
  std::atomic<bool> cancel{false};
  std::vector<StatusOr<MultipartyPsiResult>> out(3, absl::UnknownError(""));
  std::vector<MultipartyPsiOptions> opts(3);
  std::vector<std::thread> ts;
  for (size_t i = 0; i < 3; ++i) {
    opts[i].self = i;
    opts[i].outputs = {kInter, kInter, kInter};
    opts[i].domain = "d";
    opts[i].batch_size = 16;
    if (i == 1) {
      opts[i].cancelled = &cancel;
      opts[i].progress = [&](double f) {
        if (f > 0.1) cancel = true;
      };
    }
    ts.emplace_back([&, i] { out[i] = RunMultipartyPsi(mesh.links[i], sets[i], opts[i]); });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(out[1].status().code(), absl::StatusCode::kCancelled) << out[1].status();
  // The others see party 1's links close.
  EXPECT_EQ(out[0].status().code(), absl::StatusCode::kUnavailable) << out[0].status();
  EXPECT_EQ(out[2].status().code(), absl::StatusCode::kUnavailable) << out[2].status();
}

TEST(MultipartyPsi, BytesSentMatchTheFormula) {
  auto sets = RandomSets(4, 300, 0.7, 5, 9);
  const std::vector<PsiOutput> outputs = {kInter, kSize, kNone, kInter};
  const size_t leader = 2, batch = 16;
  Mesh mesh(4);
  std::vector<StatusOr<MultipartyPsiResult>> out(4, absl::UnknownError(""));
  std::vector<MultipartyPsiOptions> opts(4);
  std::vector<std::thread> ts;
  for (size_t i = 0; i < 4; ++i) {
    opts[i].self = i;
    opts[i].leader = leader;
    opts[i].outputs = outputs;
    opts[i].domain = "d";
    opts[i].batch_size = batch;
    ts.emplace_back([&, i] { out[i] = RunMultipartyPsi(mesh.links[i], sets[i], opts[i]); });
  }
  for (auto& t : ts) t.join();
  std::vector<uint64_t> sizes;
  for (const auto& s : sets) sizes.push_back(s.size());
  for (size_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(out[i].ok()) << out[i].status();
    uint64_t sent = 0;
    for (size_t j = 0; j < 4; ++j) {
      if (j != i) sent += mesh.links[i][j]->bytes_sent();
    }
    uint64_t results = 0;
    if (i == leader) {
      for (size_t j = 0; j < 4; ++j) {
        if (j != leader) results += MultipartyPsiResultBytes(out[j]->matched.size(), batch);
      }
    }
    EXPECT_EQ(sent, MultipartyPsiBytesSent(sizes, i, leader, batch) + results) << "party " << i;
  }
}

TEST(MultipartyPsi, PeersAndTruncation) {
  EXPECT_EQ(MultipartyPsiPeers(5, 2, 0), (std::vector<size_t>{0, 1, 3}));
  EXPECT_EQ(MultipartyPsiPeers(5, 0, 0), (std::vector<size_t>{1, 2, 3, 4}));
  EXPECT_EQ(MultipartyPsiPeers(3, 1, 0), (std::vector<size_t>{0, 2}));
  EXPECT_EQ(MultipartyPsiTruncBytes({0, 0, 0}), 5u);
  // 3 x 2^16 = 196608 < 2^18: 40 + 36 bits -> 10 bytes.
  EXPECT_EQ(MultipartyPsiTruncBytes({65536, 65536, 65536}), 10u);
}

}  // namespace
}  // namespace consort::psi
