#include "consort/psi/kkrt_psi.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <random>
#include <set>
#include <thread>

#include "consort/crypto/random.h"
#include "consort/ot/kkrt_oprf.h"
#include "consort/psi/internal/cuckoo.h"
#include "consort/psi/plaintext_psi.h"

namespace consort::psi {
namespace {

using internal::CuckooBin;
using internal::CuckooBins;
using internal::CuckooTable;

std::vector<std::string> Items(uint64_t first, uint64_t n, const std::string& prefix = "id-") {
  std::vector<std::string> v;
  for (uint64_t i = first; i < first + n; ++i) v.push_back(prefix + std::to_string(i));
  return v;
}

std::vector<std::string> Shuffled(std::vector<std::string> v, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::shuffle(v.begin(), v.end(), rng);
  return v;
}

struct Outcome {
  StatusOr<PsiResult> r;  // OPRF receiver
  StatusOr<PsiResult> s;  // OPRF sender
};

KkrtPsiOptions Opts(KkrtRole role, PsiOutput mine, PsiOutput peer, size_t chunk = 1 << 16) {
  KkrtPsiOptions o;
  o.role = role;
  o.my_output = mine;
  o.peer_output = peer;
  o.domain = "job-1";
  o.chunk_bins = chunk;
  return o;
}

Outcome RunPair(const std::vector<std::string>& r_items, const std::vector<std::string>& s_items,
                PsiOutput r_out = PsiOutput::kIntersection,
                PsiOutput s_out = PsiOutput::kIntersection, size_t chunk = 1 << 16) {
  auto [rl, sl] = net::CreateInMemoryLinkPair("r", "s");
  KkrtPsiOptions ro = Opts(KkrtRole::kOprfReceiver, r_out, s_out, chunk);
  KkrtPsiOptions so = Opts(KkrtRole::kOprfSender, s_out, r_out, chunk);
  Outcome o{absl::UnknownError(""), absl::UnknownError("")};
  std::thread t([&, &sl = sl] { o.s = RunKkrtPsi(*sl, s_items, so); });
  o.r = RunKkrtPsi(*rl, r_items, ro);
  t.join();
  return o;
}

void ExpectMatchesPlaintext(const std::vector<std::string>& r_items,
                            const std::vector<std::string>& s_items, size_t chunk = 1 << 16) {
  Outcome o = RunPair(r_items, s_items, PsiOutput::kIntersection, PsiOutput::kIntersection, chunk);
  ASSERT_TRUE(o.r.ok()) << o.r.status();
  ASSERT_TRUE(o.s.ok()) << o.s.status();
  PsiResult want_r = PlaintextIntersect(r_items, s_items);
  PsiResult want_s = PlaintextIntersect(s_items, r_items);
  EXPECT_EQ(o.r->matched, want_r.matched);
  EXPECT_EQ(o.r->intersection_size, want_r.intersection_size);
  EXPECT_EQ(o.r->peer_size, s_items.size());
  EXPECT_EQ(o.s->matched, want_s.matched);
  EXPECT_EQ(o.s->intersection_size, want_s.intersection_size);
  EXPECT_EQ(o.s->peer_size, r_items.size());
}

TEST(Cuckoo, PlacementNeverFailsAndEveryItemIsFound) {
  for (uint64_t n : {1u, 2u, 10u, 100u, 1000u, 4096u, 5000u, 1u << 16, 1u << 20}) {
    const int reps = n <= 5000 ? 50 : 2;
    for (int rep = 0; rep < reps; ++rep) {
      std::vector<ot::Block> d(n);
      crypto::RandomBytes(reinterpret_cast<uint8_t*>(d.data()), n * sizeof(ot::Block));
      const uint64_t bins = CuckooBins(n);
      ASSERT_EQ(bins % 128, 0u);
      auto t = CuckooTable::Build(d, bins);
      ASSERT_TRUE(t.ok()) << n << ": " << t.status();
      std::vector<int> seen(n, 0);
      for (uint64_t b = 0; b < bins; ++b) {
        if (!t->occupied(b)) continue;
        ASSERT_LT(t->item(b), n);
        ASSERT_EQ(CuckooBin(d[t->item(b)], t->hash_index(b), bins), b);
        ++seen[t->item(b)];
      }
      for (uint64_t i = 0; i < n; ++i) ASSERT_EQ(seen[i], 1) << "item " << i << " of " << n;
    }
  }
}

TEST(Cuckoo, BinsBoundTheDominantFailureEventsBelowTwoToMinus40) {
  for (uint64_t n = 1; n <= (uint64_t{1} << 28); n = n < 64 ? n + 1 : n * 5 / 4) {
    const double m = static_cast<double>(CuckooBins(n)), dn = static_cast<double>(n);
    EXPECT_GE(m, 1.35 * dn) << n;
    // Two items in one bin: n^2/2 pairs, m^-5 each.
    EXPECT_LE(std::log2(dn * dn / 2) - 5 * std::log2(m), -42.0) << n;
    // Three items in two bins: C(n,3) C(m,2) (2/m)^9.
    EXPECT_LE(std::log2(dn * dn * dn / 6 * m * m / 2) + 9 * (1 - std::log2(m)), -42.0) << n;
  }
}

TEST(Cuckoo, TooFewBinsIsInvalidArgument) {
  std::vector<ot::Block> d(10);
  EXPECT_EQ(CuckooTable::Build(d, 5).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(KkrtPsi, RandomSetsMatchPlaintext) {
  std::mt19937_64 rng(11);
  std::set<std::string> a, b;
  while (a.size() < 3000) a.insert("k" + std::to_string(rng() % 6000));
  while (b.size() < 2500) b.insert("k" + std::to_string(rng() % 6000));
  ExpectMatchesPlaintext(Shuffled({a.begin(), a.end()}, 1), Shuffled({b.begin(), b.end()}, 2));
}

TEST(KkrtPsi, ManySmallChunks) {
  // 2^14 items in chunks of 1024 bins: 22 chunks, the PRG streams carry across them.
  ExpectMatchesPlaintext(Shuffled(Items(0, 1 << 14), 3), Shuffled(Items(1 << 13, 1 << 14), 4),
                         1024);
}

TEST(KkrtPsi, SenderBucketsInManyGroups) {
  // 1024-bin chunks, and ~2 chunks per bucketing pass of the sender.
  auto a = Shuffled(Items(0, 5000), 6), b = Shuffled(Items(2500, 6000), 7);
  auto [rl, sl] = net::CreateInMemoryLinkPair("r", "s");
  KkrtPsiOptions ro =
      Opts(KkrtRole::kOprfReceiver, PsiOutput::kIntersection, PsiOutput::kIntersection, 1024);
  KkrtPsiOptions so =
      Opts(KkrtRole::kOprfSender, PsiOutput::kIntersection, PsiOutput::kIntersection, 1024);
  so.sender_bucket_entries = 2 * 3 * 6000 * 1024 / CuckooBins(5000);
  StatusOr<PsiResult> s = absl::UnknownError("");
  std::thread t([&, &sl = sl] { s = RunKkrtPsi(*sl, b, so); });
  auto r = RunKkrtPsi(*rl, a, ro);
  t.join();
  ASSERT_TRUE(r.ok() && s.ok()) << r.status() << s.status();
  EXPECT_EQ(r->matched, PlaintextIntersect(a, b).matched);
  EXPECT_EQ(s->matched, PlaintextIntersect(b, a).matched);
}

TEST(KkrtPsi, EmptySets) {
  ExpectMatchesPlaintext({}, {});
  ExpectMatchesPlaintext({}, Items(0, 10));
  ExpectMatchesPlaintext(Items(0, 10), {});
}

TEST(KkrtPsi, DisjointIdenticalAndOneElement) {
  ExpectMatchesPlaintext(Items(0, 500), Items(500, 500));
  ExpectMatchesPlaintext(Items(0, 500), Shuffled(Items(0, 500), 5));
  ExpectMatchesPlaintext({"only"}, {"only"});
  ExpectMatchesPlaintext({"only"}, {"other"});
}

TEST(KkrtPsi, Skewed1To1000BothWays) {
  auto small = Items(995, 10), large = Items(0, 10000);
  ExpectMatchesPlaintext(small, large);
  ExpectMatchesPlaintext(large, small);
}

TEST(KkrtPsi, ItemsOfAnyLengthAndBytes) {
  std::vector<std::string> a = {std::string(), std::string(1, '\0'), std::string(1000, 'x'), "abc",
                                std::string("a\0b", 3)};
  std::vector<std::string> b = {std::string(1, '\0'), std::string(999, 'x'), "abc",
                                std::string("a\0c", 3)};
  ExpectMatchesPlaintext(a, b);
}

TEST(KkrtPsi, SizeAndNoneOutputs) {
  auto a = Items(0, 300), b = Items(100, 300);
  Outcome o = RunPair(a, b, PsiOutput::kIntersection, PsiOutput::kSize);
  ASSERT_TRUE(o.r.ok() && o.s.ok()) << o.r.status() << o.s.status();
  EXPECT_EQ(o.s->intersection_size, 200u);
  EXPECT_TRUE(o.s->matched.empty());
  EXPECT_EQ(o.r->matched.size(), 200u);

  o = RunPair(a, b, PsiOutput::kSize, PsiOutput::kNone);
  ASSERT_TRUE(o.r.ok() && o.s.ok());
  EXPECT_EQ(o.r->intersection_size, 200u);
  EXPECT_TRUE(o.r->matched.empty());
  EXPECT_EQ(o.s->intersection_size, 0u);
  EXPECT_EQ(o.s->peer_size, 300u);
}

// Every output combination with roles left to the handshake (KkrtRole::kAuto), against the
// plaintext reference, and the exact bytes each party sends.
TEST(KkrtPsi, AutoRolesEveryOutputCombinationAndExactBytes) {
  const auto a = Shuffled(Items(0, 700), 8), b = Shuffled(Items(300, 500), 9);
  const PsiResult ref_a = PlaintextIntersect(a, b), ref_b = PlaintextIntersect(b, a);
  for (PsiOutput oa : {PsiOutput::kNone, PsiOutput::kSize, PsiOutput::kIntersection}) {
    for (PsiOutput ob : {PsiOutput::kNone, PsiOutput::kSize, PsiOutput::kIntersection}) {
      SCOPED_TRACE(std::string(PsiOutputName(oa)) + "/" + std::string(PsiOutputName(ob)));
      auto [la, lb] = net::CreateInMemoryLinkPair("a", "b");
      KkrtPsiOptions pa = Opts(KkrtRole::kAuto, oa, ob), pb = Opts(KkrtRole::kAuto, ob, oa);
      StatusOr<PsiResult> rb = absl::UnknownError("");
      std::thread t([&, &lb = lb] { rb = RunKkrtPsi(*lb, b, pb); });
      auto ra = RunKkrtPsi(*la, a, pa);
      t.join();
      ASSERT_TRUE(ra.ok() && rb.ok()) << ra.status() << rb.status();
      for (auto [got, ref, out] : {std::tuple{&*ra, &ref_a, oa}, std::tuple{&*rb, &ref_b, ob}}) {
        EXPECT_EQ(got->peer_size, ref->peer_size);
        EXPECT_EQ(got->intersection_size, out == PsiOutput::kNone ? 0 : ref->intersection_size);
        if (out == PsiOutput::kIntersection) {
          EXPECT_EQ(got->matched, ref->matched);
        } else {
          EXPECT_TRUE(got->matched.empty());
        }
      }
      // Who was the OPRF receiver? The larger output; on a tie either (random nonce).
      const uint64_t sent_a = la->bytes_sent(), sent_b = lb->bytes_sent();
      const bool a_receives =
          static_cast<int>(oa) > static_cast<int>(ob) ||
          (oa == ob && sent_a == KkrtPsiBytesSent(KkrtRole::kOprfReceiver, a.size(), b.size(), oa,
                                                  ob, ref_a.intersection_size));
      const uint64_t nr = a_receives ? a.size() : b.size(), ns = a_receives ? b.size() : a.size();
      const PsiOutput r_out = a_receives ? oa : ob, s_out = a_receives ? ob : oa;
      const uint64_t want_r =
          KkrtPsiBytesSent(KkrtRole::kOprfReceiver, nr, ns, r_out, s_out, ref_a.intersection_size);
      const uint64_t want_s =
          KkrtPsiBytesSent(KkrtRole::kOprfSender, nr, ns, r_out, s_out, ref_a.intersection_size);
      EXPECT_EQ(a_receives ? sent_a : sent_b, want_r);
      EXPECT_EQ(a_receives ? sent_b : sent_a, want_s);
    }
  }
}

TEST(KkrtPsi, RoleChoice) {
  using enum PsiOutput;
  EXPECT_EQ(ChooseKkrtRole(kIntersection, kSize, false), KkrtRole::kOprfReceiver);
  EXPECT_EQ(ChooseKkrtRole(kSize, kIntersection, true), KkrtRole::kOprfSender);
  EXPECT_EQ(ChooseKkrtRole(kNone, kSize, true), KkrtRole::kOprfSender);
  EXPECT_EQ(ChooseKkrtRole(kSize, kSize, true), KkrtRole::kOprfReceiver);
  EXPECT_EQ(ChooseKkrtRole(kSize, kSize, false), KkrtRole::kOprfSender);
}

TEST(KkrtPsi, ValueBytesCoverFortyBitsOfStatisticalSecurity) {
  EXPECT_EQ(KkrtPsiValueBytes(1, 1), 8u);                 // 40 + 2 bits, at least 8 bytes
  EXPECT_EQ(KkrtPsiValueBytes(1u << 20, 1u << 20), 11u);  // 40 + 22 + 20 = 82 bits
  EXPECT_EQ(KkrtPsiValueBytes(1u << 24, 1u << 24), 12u);  // 40 + 26 + 24 = 90 bits
  EXPECT_EQ(KkrtPsiValueBytes(1u << 28, 1u << 28), 13u);  // 40 + 30 + 28 = 98 bits
}

TEST(KkrtPsi, DuplicatesAreInvalidArgument) {
  Outcome o = RunPair({"a", "b", "a"}, {"a"});
  EXPECT_EQ(o.r.status().code(), absl::StatusCode::kInvalidArgument) << o.r.status();
  EXPECT_EQ(o.s.status().code(), absl::StatusCode::kUnavailable) << o.s.status();
}

TEST(KkrtPsi, HandshakeMismatchesAreFailedPrecondition) {
  auto [rl, sl] = net::CreateInMemoryLinkPair("r", "s");
  KkrtPsiOptions ro = Opts(KkrtRole::kOprfReceiver, PsiOutput::kIntersection, PsiOutput::kNone);
  KkrtPsiOptions so = Opts(KkrtRole::kOprfSender, PsiOutput::kNone, PsiOutput::kIntersection);
  so.domain = "job-2";
  StatusOr<PsiResult> s = absl::UnknownError("");
  std::vector<std::string> items = Items(0, 5);
  std::thread t([&, &sl = sl] { s = RunKkrtPsi(*sl, items, so); });
  auto r = RunKkrtPsi(*rl, items, ro);
  t.join();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();

  auto [rl2, sl2] = net::CreateInMemoryLinkPair("r", "s");
  so = Opts(KkrtRole::kOprfReceiver, PsiOutput::kNone, PsiOutput::kIntersection);  // same role
  std::thread t2([&, &sl2 = sl2] { s = RunKkrtPsi(*sl2, items, so); });
  r = RunKkrtPsi(*rl2, items, ro);
  t2.join();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();

  auto [rl3, sl3] = net::CreateInMemoryLinkPair("r", "s");
  so = Opts(KkrtRole::kOprfSender, PsiOutput::kSize, PsiOutput::kIntersection);  // not mirrored
  std::thread t3([&, &sl3 = sl3] { s = RunKkrtPsi(*sl3, items, so); });
  r = RunKkrtPsi(*rl3, items, ro);
  t3.join();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
}

TEST(KkrtPsi, BadOptionsAreInvalidArgument) {
  auto [rl, sl] = net::CreateInMemoryLinkPair("r", "s");
  auto o = Opts(static_cast<KkrtRole>(7), PsiOutput::kSize, PsiOutput::kNone);
  EXPECT_EQ(RunKkrtPsi(*rl, {}, o).status().code(), absl::StatusCode::kInvalidArgument);
  auto [rl2, sl2] = net::CreateInMemoryLinkPair("r", "s");
  o = Opts(KkrtRole::kOprfReceiver, PsiOutput::kSize, PsiOutput::kNone, 100);
  EXPECT_EQ(RunKkrtPsi(*rl2, {}, o).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(KkrtPsi, GarbageHandshakeIsInvalidArgument) {
  auto [rl, sl] = net::CreateInMemoryLinkPair("r", "s");
  ASSERT_TRUE(sl->Send(Bytes(59, 1)).ok());
  auto r = RunKkrtPsi(*rl, Items(0, 4),
                      Opts(KkrtRole::kOprfReceiver, PsiOutput::kIntersection, PsiOutput::kNone));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
}

// A hand-driven OPRF sender that follows the protocol up to the value batch, then sends
// `bad_values` instead.
TEST(KkrtPsi, MalformedValueBatchIsInvalidArgument) {
  auto [rl, sl] = net::CreateInMemoryLinkPair("r", "s");
  const auto items = Items(0, 100);
  StatusOr<PsiResult> r = absl::UnknownError("");
  std::thread t([&, &rl = rl] {
    r = RunKkrtPsi(*rl, items,
                   Opts(KkrtRole::kOprfReceiver, PsiOutput::kIntersection, PsiOutput::kNone));
  });
  // Mirror the receiver's handshake as an honest sender with 100 items would.
  auto hello = sl->Recv();
  ASSERT_TRUE(hello.ok());
  Bytes mine = *hello;
  mine[8] = static_cast<uint8_t>(KkrtRole::kOprfSender);
  std::swap(mine[9], mine[10]);
  ASSERT_TRUE(sl->Send(mine).ok());
  auto oprf = ot::KkrtOprfSender::Setup(*sl, "job-1");
  ASSERT_TRUE(oprf.ok()) << oprf.status();
  std::vector<ot::KkrtRow> q(CuckooBins(100));
  ASSERT_TRUE((*oprf)->Receive(q.size(), q).ok());
  ASSERT_TRUE(sl->Send(Bytes(7)).ok());  // not 300 values of L bytes
  t.join();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
}

TEST(KkrtPsi, MalformedPositionsAreInvalidArgument) {
  auto [rl, sl] = net::CreateInMemoryLinkPair("r", "s");
  const auto items = Items(0, 100);
  StatusOr<PsiResult> s = absl::UnknownError("");
  std::thread t([&, &sl = sl] {
    s = RunKkrtPsi(*sl, items,
                   Opts(KkrtRole::kOprfSender, PsiOutput::kIntersection, PsiOutput::kSize));
  });
  auto hello = rl->Recv();
  ASSERT_TRUE(hello.ok());
  Bytes mine = *hello;
  mine[8] = static_cast<uint8_t>(KkrtRole::kOprfReceiver);
  std::swap(mine[9], mine[10]);
  mine[20] = 0;  // chunk size 2^16 (little-endian 0x00 0x00 0x01 ...)
  mine[21] = 0;
  mine[22] = 1;
  ASSERT_TRUE(rl->Send(mine).ok());
  auto oprf = ot::KkrtOprfReceiver::Setup(*rl, "job-1");
  ASSERT_TRUE(oprf.ok()) << oprf.status();
  std::vector<ot::Block> in(CuckooBins(100));
  std::vector<ot::KkrtRow> tr(in.size());
  ASSERT_TRUE((*oprf)->Encode(in, tr).ok());
  ASSERT_TRUE(rl->Recv().ok());  // the 300 values
  Bytes head(8, 0);
  head[0] = 2;
  ASSERT_TRUE(rl->Send(head).ok());
  Bytes pos(8, 0);
  pos[0] = 5;
  pos[4] = 5;  // not ascending
  ASSERT_TRUE(rl->Send(pos).ok());
  t.join();
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << s.status();
}

TEST(KkrtPsi, CancellationStopsBothParties) {
  auto [rl, sl] = net::CreateInMemoryLinkPair("r", "s");
  std::atomic<bool> cancel{false};
  auto ro = Opts(KkrtRole::kOprfReceiver, PsiOutput::kIntersection, PsiOutput::kNone, 1024);
  ro.cancelled = &cancel;
  ro.progress = [&](double f) {
    if (f > 0.1) cancel = true;
  };
  auto so = Opts(KkrtRole::kOprfSender, PsiOutput::kNone, PsiOutput::kIntersection, 1024);
  const auto a = Items(0, 20000), b = Items(0, 20000);
  StatusOr<PsiResult> s = absl::UnknownError("");
  std::thread t([&, &sl = sl] { s = RunKkrtPsi(*sl, b, so); });
  auto r = RunKkrtPsi(*rl, a, ro);
  t.join();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled) << r.status();
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable) << s.status();
}

TEST(KkrtPsi, ClosedLinkIsUnavailable) {
  auto [rl, sl] = net::CreateInMemoryLinkPair("r", "s");
  sl->Close();
  auto r = RunKkrtPsi(*rl, Items(0, 4),
                      Opts(KkrtRole::kOprfReceiver, PsiOutput::kIntersection, PsiOutput::kNone));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
}

}  // namespace
}  // namespace consort::psi
