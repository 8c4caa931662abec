#include "consort/psi/unbalanced_psi.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <random>
#include <set>
#include <thread>

#include "consort/common/files.h"
#include "consort/common/test_temp_dir.h"
#include "consort/crypto/curve25519.h"
#include "consort/crypto/hash.h"
#include "consort/psi/internal/ecdh_psi_wire.h"
#include "consort/psi/internal/unbalanced_psi_wire.h"
#include "consort/crypto/x25519_blind.h"
#include "consort/psi/plaintext_psi.h"

namespace consort::psi {
namespace {

namespace u = internal::upsi;

// A fresh directory, removed with its contents at the end of the test.
using TempDir = TestTempDir;

std::vector<std::string> Items(const std::string& prefix, size_t lo, size_t hi) {
  std::vector<std::string> v;
  for (size_t i = lo; i < hi; ++i) v.push_back(prefix + std::to_string(i));
  return v;
}

UnbalancedPsiServerSet MustPrepare(const std::vector<std::string>& items,
                                   uint64_t max_client = 1 << 12) {
  UnbalancedPsiPrepareOptions o;
  o.max_client_size = max_client;
  auto s = UnbalancedPsiServerSet::Prepare(items, o);
  EXPECT_TRUE(s.ok()) << s.status();
  return *std::move(s);
}

struct JobOutcome {
  StatusOr<UnbalancedPsiServerResult> server = absl::UnknownError("");
  StatusOr<UnbalancedPsiClientResult> client = absl::UnknownError("");
  uint64_t client_bytes = 0;
};

JobOutcome RunJob(const UnbalancedPsiServerSet& set, const std::vector<std::string>& client,
                  const std::string& cache_dir, size_t batch = 100, int threads = 1) {
  auto [a, b] = net::CreateInMemoryLinkPair("client", "server");
  a->set_timeout(std::chrono::milliseconds(20'000));
  b->set_timeout(std::chrono::milliseconds(20'000));
  JobOutcome out;
  std::thread srv([&] {
    UnbalancedPsiServerOptions o;
    o.domain = "job";
    o.threads = threads;
    out.server = RunUnbalancedPsiServer(*b, set, o);
  });
  UnbalancedPsiClientOptions o;
  o.domain = "job";
  o.cache_dir = cache_dir;
  o.batch_size = batch;
  o.threads = threads;
  out.client = RunUnbalancedPsiClient(*a, client, o);
  srv.join();
  out.client_bytes = a->bytes_sent();
  return out;
}

void ExpectMatchesPlaintext(const std::vector<std::string>& server,
                            const std::vector<std::string>& client, size_t batch = 100,
                            int threads = 1) {
  auto set = MustPrepare(server);
  auto out = RunJob(set, client, "", batch, threads);
  ASSERT_TRUE(out.server.ok()) << out.server.status();
  ASSERT_TRUE(out.client.ok()) << out.client.status();
  PsiResult want = PlaintextIntersect(client, server);
  EXPECT_EQ(out.client->psi.matched, want.matched);
  EXPECT_EQ(out.client->psi.intersection_size, want.intersection_size);
  EXPECT_EQ(out.client->psi.peer_size, server.size());
  EXPECT_EQ(out.server->client_size, client.size());
  EXPECT_TRUE(out.server->sent_encoded_set);
  EXPECT_EQ(out.server->bytes_sent,
            UnbalancedPsiServerBytesSent(client.size(), batch, set.encoded_bytes()));
  EXPECT_EQ(out.client->encoded_bytes_received, set.encoded_bytes());
  EXPECT_EQ(out.client_bytes, UnbalancedPsiClientBytesSent(client.size(), batch));
}

TEST(UnbalancedPsi, MatchesPlaintextOnRandomSets) {
  std::mt19937_64 rng(3);
  std::vector<std::string> server, client;
  std::set<std::string> s;
  for (int i = 0; i < 20000; ++i) {
    std::string k = "k" + std::to_string(rng() % 60000);
    if (s.insert(k).second) server.push_back(k);
  }
  std::set<std::string> c;
  for (int i = 0; i < 700; ++i) {
    std::string k = "k" + std::to_string(rng() % 60000);
    if (c.insert(k).second) client.push_back(k);
  }
  ExpectMatchesPlaintext(server, client, 64, 2);
}

TEST(UnbalancedPsi, EdgeCases) {
  ExpectMatchesPlaintext(Items("a", 0, 300), {});                 // empty client
  ExpectMatchesPlaintext({}, Items("a", 0, 30));                  // empty server
  ExpectMatchesPlaintext({}, {});                                 // both empty
  ExpectMatchesPlaintext(Items("a", 0, 300), Items("b", 0, 30));  // disjoint
  ExpectMatchesPlaintext(Items("a", 0, 40), Items("a", 0, 40));   // identical
  ExpectMatchesPlaintext({"x"}, {"x"});                           // one element
  ExpectMatchesPlaintext({"x"}, {"y"});
  ExpectMatchesPlaintext(Items("a", 0, 70000), {"a5", "zz", "a69999"}, 1);  // 1 : 23000, D = 2
  ExpectMatchesPlaintext(Items("a", 0, 3000), Items("a", 2997, 3003), 1);   // skewed 1:1000
}

TEST(UnbalancedPsi, SecondJobUsesTheClientsCachedSet) {
  TempDir tmp;
  auto set = MustPrepare(Items("s", 0, 5000));
  auto first = RunJob(set, Items("s", 4990, 5010), tmp.File("client"));
  ASSERT_TRUE(first.client.ok()) << first.client.status();
  EXPECT_FALSE(first.client->used_cached_set);
  EXPECT_EQ(first.client->encoded_bytes_received, set.encoded_bytes());
  EXPECT_EQ(first.client->psi.intersection_size, 10u);

  auto second = RunJob(set, Items("s", 0, 3), tmp.File("client"));
  ASSERT_TRUE(second.client.ok()) << second.client.status();
  ASSERT_TRUE(second.server.ok()) << second.server.status();
  EXPECT_TRUE(second.client->used_cached_set);
  EXPECT_FALSE(second.server->sent_encoded_set);
  EXPECT_EQ(second.client->encoded_bytes_received, 0u);
  // Exactly the hello and 3 points: no set.
  EXPECT_EQ(second.server->bytes_sent, UnbalancedPsiServerBytesSent(3, 100, 0));
  EXPECT_EQ(first.server->bytes_sent, UnbalancedPsiServerBytesSent(20, 100, set.encoded_bytes()));
  EXPECT_EQ(second.client->psi.matched, (std::vector<size_t>{0, 1, 2}));

  // A new preprocessing (new key and id) replaces the client's cached copy.
  auto other = MustPrepare(Items("s", 100, 200));
  auto third = RunJob(other, Items("s", 0, 150), tmp.File("client"));
  ASSERT_TRUE(third.client.ok()) << third.client.status();
  EXPECT_FALSE(third.client->used_cached_set);
  EXPECT_EQ(third.client->psi.intersection_size, 50u);
}

TEST(UnbalancedPsi, CorruptClientCacheIsDataLossThenRefetched) {
  TempDir tmp;
  auto set = MustPrepare(Items("s", 0, 500));
  ASSERT_TRUE(RunJob(set, {"s1"}, tmp.File("c")).client.ok());
  const std::string file = JoinPath(tmp.File("c"), "encoded_set.bin");
  auto text = ReadFile(file);
  ASSERT_TRUE(text.ok());
  (*text)[text->size() - 1] ^= 1;
  ASSERT_TRUE(WriteFileAtomic(file, *text).ok());
  auto bad = RunJob(set, {"s1"}, tmp.File("c"));
  EXPECT_EQ(bad.client.status().code(), absl::StatusCode::kDataLoss) << bad.client.status();
  EXPECT_FALSE(FileExists(file));
  auto again = RunJob(set, {"s1"}, tmp.File("c"));
  ASSERT_TRUE(again.client.ok()) << again.client.status();
  EXPECT_FALSE(again.client->used_cached_set);
  EXPECT_EQ(again.client->psi.intersection_size, 1u);
}

TEST(UnbalancedPsi, PreprocessingIsReusedUntilTheTagChanges) {
  TempDir tmp;
  const std::string dir = tmp.File("server");
  int loads = 0;
  std::vector<std::string> items = Items("y", 0, 2000);
  auto load = [&](UnbalancedPsiServerSet::Builder& b) -> Status {
    ++loads;
    return b.Add(items);
  };
  UnbalancedPsiPrepareOptions o;
  o.max_client_size = 1000;
  bool reused = true;
  auto first = LoadOrPrepareUnbalancedPsiSet(dir, Json{{"fingerprint", "f1"}}, load, o, &reused);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(reused);
  EXPECT_EQ(loads, 1);
  struct stat st {};
  ASSERT_EQ(::stat(JoinPath(dir, "key.bin").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto old_key = ReadFile(JoinPath(dir, "key.bin"));
  ASSERT_TRUE(old_key.ok());

  auto second = LoadOrPrepareUnbalancedPsiSet(dir, Json{{"fingerprint", "f1"}}, load, o, &reused);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(reused);
  EXPECT_EQ(loads, 1);
  EXPECT_EQ(second->id(), first->id());
  EXPECT_EQ(second->encoded_digest(), first->encoded_digest());
  // The loaded set answers jobs exactly as the fresh one did.
  auto out = RunJob(*second, Items("y", 1990, 2010), "");
  ASSERT_TRUE(out.client.ok()) << out.client.status();
  EXPECT_EQ(out.client->psi.intersection_size, 10u);

  // The dataset changed: a new key, a new id, and the old key is overwritten with zeros before
  // its file is removed (a hard link taken beforehand still sees the old inode).
  const std::string old_inode = tmp.File("old_key_link");
  ASSERT_EQ(::link(JoinPath(dir, "key.bin").c_str(), old_inode.c_str()), 0);
  items = Items("y", 0, 10);
  auto third = LoadOrPrepareUnbalancedPsiSet(dir, Json{{"fingerprint", "f2"}}, load, o, &reused);
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_FALSE(reused);
  EXPECT_EQ(loads, 2);
  EXPECT_NE(third->id(), first->id());
  EXPECT_NE(*ReadFile(JoinPath(dir, "key.bin")), *old_key);
  EXPECT_EQ(*ReadFile(old_inode), std::string(32, '\0'));
  EXPECT_EQ(third->size(), 10u);

  // A corrupt key file is DataLoss for Load, and LoadOrPrepare starts over.
  ASSERT_TRUE(WriteFileAtomic(JoinPath(dir, "key.bin"), "short", 0600).ok());
  EXPECT_EQ(UnbalancedPsiServerSet::Load(dir).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(UnbalancedPsiServerSet::Load(tmp.File("none")).status().code(),
            absl::StatusCode::kNotFound);
  auto fourth = LoadOrPrepareUnbalancedPsiSet(dir, Json{{"fingerprint", "f2"}}, load, o, &reused);
  ASSERT_TRUE(fourth.ok()) << fourth.status();
  EXPECT_FALSE(reused);
}

TEST(UnbalancedPsi, DuplicateServerItemsAndBadOptionsAreInvalidArgument) {
  UnbalancedPsiPrepareOptions o;
  EXPECT_EQ(UnbalancedPsiServerSet::Prepare({"a", "b", "a"}, o).status().code(),
            absl::StatusCode::kInvalidArgument);
  o.max_client_size = 0;
  EXPECT_EQ(UnbalancedPsiServerSet::Prepare({"a"}, o).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto set = MustPrepare({"a"});
  auto dup = RunJob(set, {"q", "q"}, "");
  EXPECT_EQ(dup.client.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(dup.server.status().code(), absl::StatusCode::kUnavailable) << dup.server.status();
}

TEST(UnbalancedPsi, BuilderMergesDuplicatesAcrossBatchesOnlyWhenAsked) {
  UnbalancedPsiPrepareOptions o;
  UnbalancedPsiServerSet::Builder strict(o);
  ASSERT_TRUE(strict.Add(std::vector<std::string>{"a", "b"}).ok());
  ASSERT_TRUE(strict.Add(std::vector<std::string>{"a"}).ok());
  EXPECT_EQ(strict.Finish().status().code(), absl::StatusCode::kInvalidArgument);
  o.dedupe = true;
  UnbalancedPsiServerSet::Builder merging(o);
  ASSERT_TRUE(merging.Add(std::vector<std::string>{"a", "b"}).ok());
  ASSERT_TRUE(merging.Add(std::vector<std::string>{"a", "c"}).ok());
  auto set = merging.Finish();
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->size(), 3u);
  auto out = RunJob(*set, {"c", "d", "a"}, "");
  ASSERT_TRUE(out.client.ok()) << out.client.status();
  EXPECT_EQ(out.client->psi.matched, (std::vector<size_t>{0, 2}));
}

TEST(UnbalancedPsi, PreparationReportsProgressAndHonoursCancellation) {
  std::vector<double> seen;
  UnbalancedPsiPrepareOptions o;
  o.progress = [&](double f) { seen.push_back(f); };
  auto set = UnbalancedPsiServerSet::Prepare(Items("p", 0, 3 << 16), o);
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_GE(seen.size(), 3u);  // after each of the 3 chunks, and at the end
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_EQ(seen.back(), 1.0);
  std::atomic<bool> cancelled{true};
  o.cancelled = &cancelled;
  EXPECT_EQ(UnbalancedPsiServerSet::Prepare(Items("p", 0, 10), o).status().code(),
            absl::StatusCode::kCancelled);
}

TEST(UnbalancedPsi, ConcurrentPreparationsOfOneDirectoryPrepareOnce) {
  TempDir tmp;
  std::atomic<int> prepared{0};
  auto feed = [&](UnbalancedPsiServerSet::Builder& b) -> Status {
    ++prepared;
    return b.Add(Items("y", 0, 3000));
  };
  UnbalancedPsiPrepareOptions o;
  o.max_client_size = 100;
  std::vector<std::string> ids(3);
  std::vector<std::thread> ts;
  for (int i = 0; i < 3; ++i) {
    ts.emplace_back([&, i] {
      bool reused = false;
      auto s = LoadOrPrepareUnbalancedPsiSet(tmp.File("s"), Json{{"f", 1}}, feed, o, &reused);
      if (s.ok()) ids[i] = s->id();
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(prepared.load(), 1);
  EXPECT_FALSE(ids[0].empty());
  EXPECT_EQ(ids[0], ids[1]);
  EXPECT_EQ(ids[1], ids[2]);
}

TEST(UnbalancedPsi, ClientAboveMaxClientSizeIsInvalidArgumentOnBothSides) {
  auto set = MustPrepare(Items("a", 0, 10), /*max_client=*/4);
  auto out = RunJob(set, Items("a", 0, 5), "");
  EXPECT_EQ(out.client.status().code(), absl::StatusCode::kInvalidArgument) << out.client.status();
  EXPECT_EQ(out.server.status().code(), absl::StatusCode::kInvalidArgument) << out.server.status();
}

TEST(UnbalancedPsi, DomainMismatchIsFailedPrecondition) {
  auto set = MustPrepare({"a"});
  auto [a, b] = net::CreateInMemoryLinkPair("client", "server");
  StatusOr<UnbalancedPsiServerResult> srv = absl::UnknownError("");
  std::thread t([&] {
    UnbalancedPsiServerOptions o;
    o.domain = "job-1";
    srv = RunUnbalancedPsiServer(*b, set, o);
  });
  UnbalancedPsiClientOptions o;
  o.domain = "job-2";
  auto cli = RunUnbalancedPsiClient(*a, {"a"}, o);
  t.join();
  EXPECT_EQ(cli.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(srv.status().code(), absl::StatusCode::kFailedPrecondition);
}

// Plays the server by hand.
StatusOr<UnbalancedPsiClientResult> ClientAgainst(
    const std::function<void(net::Link&, const u::ClientHello&)>& script) {
  auto [a, b] = net::CreateInMemoryLinkPair("client", "server");
  a->set_timeout(std::chrono::milliseconds(5000));
  std::thread t([&, l = b.get()] {
    auto raw = l->Recv();
    if (!raw.ok()) return;
    auto ch = u::DecodeClientHello(*raw);
    if (ch.ok()) script(*l, *ch);
  });
  UnbalancedPsiClientOptions o;
  o.domain = "job";
  auto r = RunUnbalancedPsiClient(*a, {"a", "b"}, o);
  t.join();
  return r;
}

u::ServerHello HelloFor(const Bytes& blob, const u::ClientHello& ch, uint64_t n, uint64_t maxc) {
  u::ServerHello sh;
  sh.version = kUnbalancedPsiVersion;
  sh.domain_hash = ch.domain_hash;
  std::memcpy(sh.id.data(), blob.data() + 8, 16);
  sh.set_size = n;
  sh.value_bytes = static_cast<uint8_t>(UnbalancedPsiValueBytes(n, maxc));
  sh.max_client_size = maxc;
  sh.encoded_bytes = blob.size();
  sh.digest = crypto::Sha256(blob);
  sh.sending = true;
  return sh;
}

Bytes Chunk(const Bytes& blob) {
  Bytes m{u::kChunk};
  AppendU32(m, 0);
  m.insert(m.end(), blob.begin(), blob.end());
  return m;
}

TEST(UnbalancedPsi, MalformedServerMessagesAreInvalidArgument) {
  auto set = MustPrepare(Items("a", 0, 300), 16);
  Bytes blob = *set.EncodedSet();
  // A short hello.
  auto r = ClientAgainst([](net::Link& l, const u::ClientHello&) { (void)l.Send(Bytes(10, 'U')); });
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  // A set that does not match the announced digest.
  r = ClientAgainst([&](net::Link& l, const u::ClientHello& ch) {
    (void)l.Send(u::EncodeServerHello(HelloFor(blob, ch, 300, 16)));
    Bytes bad = blob;
    bad.back() ^= 1;
    (void)l.Send(Chunk(bad));
  });
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  // A set whose values are out of order (digest announced for the bad bytes).
  r = ClientAgainst([&](net::Link& l, const u::ClientHello& ch) {
    Bytes bad = blob;
    const size_t rest = set.value_bytes() - 1, values = bad.size() - 300 * rest;
    // Swap the first two values of a bucket that holds at least two.
    size_t first = 0;
    for (size_t b = 0; b < 256; ++b) {
      const uint32_t lo = ReadU32(&bad[u::kSetHeaderBytes + 4 * b]);
      if (ReadU32(&bad[u::kSetHeaderBytes + 4 * (b + 1)]) >= lo + 2) {
        first = lo;
        break;
      }
    }
    const size_t at = values + first * rest;
    std::swap_ranges(bad.begin() + at, bad.begin() + at + rest, bad.begin() + at + rest);
    (void)l.Send(u::EncodeServerHello(HelloFor(bad, ch, 300, 16)));
    (void)l.Send(Chunk(bad));
  });
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  // A truncation that does not match the announced sizes.
  r = ClientAgainst([&](net::Link& l, const u::ClientHello& ch) {
    auto sh = HelloFor(blob, ch, 300, 16);
    sh.value_bytes = 5;
    (void)l.Send(u::EncodeServerHello(sh));
  });
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  // "Not sending" when the client has nothing cached.
  r = ClientAgainst([&](net::Link& l, const u::ClientHello& ch) {
    auto sh = HelloFor(blob, ch, 300, 16);
    sh.sending = false;
    (void)l.Send(u::EncodeServerHello(sh));
  });
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  // An evaluated batch with the wrong count, then one with a low-order point.
  for (int variant = 0; variant < 2; ++variant) {
    r = ClientAgainst([&](net::Link& l, const u::ClientHello& ch) {
      (void)l.Send(u::EncodeServerHello(HelloFor(blob, ch, 300, 16)));
      (void)l.Send(Chunk(blob));
      (void)l.Recv();
      Bytes pts(64, 0);  // u = 0 is of low order
      (void)l.Send(internal::EncodeBatch(u::kEvaluated, 0, variant == 0 ? 1 : 2,
                                         ByteSpan(pts.data(), variant == 0 ? 32 : 64)));
    });
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  }
}

TEST(UnbalancedPsi, EncodedSetAboveTheClientsLimitIsInvalidArgument) {
  auto set = MustPrepare(Items("a", 0, 100));
  auto [a, b] = net::CreateInMemoryLinkPair("client", "server");
  StatusOr<UnbalancedPsiServerResult> srv = absl::UnknownError("");
  std::thread t([&, l = b.get()] {
    UnbalancedPsiServerOptions o;
    o.domain = "job";
    srv = RunUnbalancedPsiServer(*l, set, o);
  });
  UnbalancedPsiClientOptions o;
  o.domain = "job";
  o.max_encoded_bytes = set.encoded_bytes() - 1;
  auto cli = RunUnbalancedPsiClient(*a, {"a1"}, o);
  t.join();
  EXPECT_EQ(cli.status().code(), absl::StatusCode::kInvalidArgument) << cli.status();
  EXPECT_NE(srv.status().code(), absl::StatusCode::kOk);
}

TEST(UnbalancedPsi, TwistPointsAreRefusedByTheServerKey) {
  auto set = MustPrepare({"a"});
  // u = 2 is on the twist of Curve25519 (2^3 + 486662 * 2^2 + 2 is a non-square mod p).
  std::vector<std::array<uint8_t, 32>> pts(1);
  pts[0][0] = 2;
  ASSERT_FALSE(crypto::IsOnCurve25519(pts[0]));
  EXPECT_EQ(set.Evaluate(pts).code(), absl::StatusCode::kInvalidArgument);
  // A genuine curve point is accepted.
  auto enc = crypto::Curve25519Encoder::Create(AsBytes("t"));
  std::string m = "x";
  enc->Encode(std::span<const std::string>(&m, 1), pts);
  EXPECT_TRUE(set.Evaluate(pts).ok());
}

TEST(UnbalancedPsi, MalformedClientBatchIsInvalidArgument) {
  auto set = MustPrepare({"a"});
  auto [a, b] = net::CreateInMemoryLinkPair("client", "server");
  StatusOr<UnbalancedPsiServerResult> srv = absl::UnknownError("");
  std::thread t([&] {
    UnbalancedPsiServerOptions o;
    o.domain = "job";
    srv = RunUnbalancedPsiServer(*b, set, o);
  });
  u::ClientHello ch;
  ch.version = kUnbalancedPsiVersion;
  ch.domain_hash = crypto::Sha256(std::string_view("job"));
  ch.set_size = 2;
  ch.batch_size = 2;
  ASSERT_TRUE(a->Send(u::EncodeClientHello(ch)).ok());
  ASSERT_TRUE(a->Recv().ok());  // hello
  ASSERT_TRUE(a->Recv().ok());  // the set
  Bytes pts(32, 9);
  ASSERT_TRUE(a->Send(internal::EncodeBatch(u::kBlinded, 0, 1, pts)).ok());
  t.join();
  EXPECT_EQ(srv.status().code(), absl::StatusCode::kInvalidArgument) << srv.status();
}

TEST(UnbalancedPsi, EncodedSetParserRejectsBadDirectories) {
  std::vector<std::array<uint8_t, 16>> v(3);
  for (int i = 0; i < 3; ++i) v[i][0] = static_cast<uint8_t>(10 * i);
  u::Id id{};
  Bytes e = u::SerializeEncodedSet(id, 6, 16, v);
  auto view = u::ParseEncodedSet(e);
  ASSERT_TRUE(view.ok()) << view.status();
  EXPECT_TRUE(view->Contains(v[1].data()));
  std::array<uint8_t, 16> absent{};
  absent[0] = 11;
  EXPECT_FALSE(view->Contains(absent.data()));
  Bytes bad = e;
  bad.pop_back();
  EXPECT_EQ(u::ParseEncodedSet(bad).status().code(), absl::StatusCode::kInvalidArgument);
  bad = e;
  bad[u::kSetHeaderBytes] = 1;  // offsets[0] != 0
  EXPECT_EQ(u::ParseEncodedSet(bad).status().code(), absl::StatusCode::kInvalidArgument);
  bad = e;
  bad[8 + 16 + 8] = 4;  // T = 4
  EXPECT_EQ(u::ParseEncodedSet(bad).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(UnbalancedPsi, ValueBytes) {
  // 10^7 server items (24 bits), clients up to 2^20 (21 bits): 40 + 45 = 85 bits -> 11 bytes.
  EXPECT_EQ(UnbalancedPsiValueBytes(10'000'000, 1 << 20), 11u);
  EXPECT_EQ(UnbalancedPsiValueBytes(0, 1), 6u);
}

}  // namespace
}  // namespace consort::psi
