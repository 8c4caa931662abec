#include "consort/psi/ecdh_psi.h"
#include "consort/psi/kkrt_psi.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <random>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"

#include "consort/crypto/curve25519.h"
#include "consort/crypto/hash.h"
#include "consort/psi/internal/ecdh_psi_wire.h"
#include "consort/psi/plaintext_psi.h"

namespace consort::psi {
namespace {

using ::testing::Combine;
using ::testing::TestParamInfo;
using ::testing::Values;
using ::testing::ValuesIn;
using ::testing::WithParamInterface;

constexpr PsiOutput kNone = PsiOutput::kNone;
constexpr PsiOutput kSize = PsiOutput::kSize;
constexpr PsiOutput kInter = PsiOutput::kIntersection;

// Two sets with exactly `overlap` common items, each in a random order (test data, not keys).
std::pair<std::vector<std::string>, std::vector<std::string>> MakeSets(size_t n_a, size_t n_b,
                                                                       size_t overlap,
                                                                       uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto token = [&](const char* prefix, size_t i) {
    return std::string(prefix) + std::to_string(i) + "/" + std::to_string(rng() % 1000000);
  };
  std::vector<std::string> a, b;
  for (size_t i = 0; i < overlap; ++i) {
    std::string c = token("common-", i);
    a.push_back(c);
    b.push_back(c);
  }
  for (size_t i = overlap; i < n_a; ++i) a.push_back(token("a-", i));
  for (size_t i = overlap; i < n_b; ++i) b.push_back(token("b-", i));
  std::shuffle(a.begin(), a.end(), rng);
  std::shuffle(b.begin(), b.end(), rng);
  return {a, b};
}

// ---- One suite for every two-party PSI protocol: a new protocol only adds an instantiation.

struct PsiParams {
  PsiOutput mine, peer;
  size_t batch;
  int threads;
};

struct PsiProtocol {
  std::string name;
  std::function<StatusOr<PsiResult>(net::Link&, const std::vector<std::string>&,
                                    const PsiParams&)>
      run;
  // Exact bytes a party sends (my size, my params, peer size, peer params), if specified.
  std::function<uint64_t(uint64_t, const PsiParams&, uint64_t, const PsiParams&)> bytes_sent;
};

PsiProtocol EcdhProtocol() {
  return {"Ecdh",
          [](net::Link& link, const std::vector<std::string>& items, const PsiParams& p) {
            EcdhPsiOptions o;
            o.my_output = p.mine;
            o.peer_output = p.peer;
            o.domain = "job-test";
            o.batch_size = p.batch;
            o.threads = p.threads;
            return RunEcdhPsi(link, items, o);
          },
          [](uint64_t n_me, const PsiParams& me, uint64_t n_peer, const PsiParams& peer) {
            return EcdhPsiBytesSent(n_me, me.batch, n_peer, peer.batch, me.mine, me.peer);
          }};
}

struct Scenario {
  std::string name;
  size_t n_a, n_b, overlap;
  PsiOutput out_a, out_b;
  size_t batch_a = 4096, batch_b = 4096;
  int threads = 1;
};

std::vector<Scenario> Scenarios() {
  std::vector<Scenario> s = {
      {"EmptyBoth", 0, 0, 0, kInter, kInter},
      {"EmptyA", 0, 100, 0, kInter, kInter},
      {"EmptyB", 100, 0, 0, kInter, kSize},
      {"Disjoint", 300, 200, 0, kInter, kInter, 64, 64},
      {"Identical", 250, 250, 250, kInter, kInter, 100, 100},
      {"OneElementMatch", 1, 1, 1, kInter, kInter},
      {"OneElementNoMatch", 1, 1, 0, kInter, kInter},
      {"OneVsMany", 1, 5000, 1, kInter, kInter},
      {"ManyVsOne", 5000, 1, 1, kSize, kInter},
      {"FewThousandTwoThreads", 3000, 2000, 1000, kInter, kInter, 512, 700, 2},
  };
  const std::pair<PsiOutput, const char*> outs[] = {
      {kNone, "None"}, {kSize, "Size"}, {kInter, "Intersection"}};
  for (auto [oa, na] : outs) {
    for (auto [ob, nb] : outs) {
      s.push_back({std::string("A") + na + "B" + nb, 200, 150, 60, oa, ob, 32, 50});
    }
  }
  return s;
}

void PrintTo(const Scenario& s, std::ostream* os) { *os << s.name; }
void PrintTo(const PsiProtocol& p, std::ostream* os) { *os << p.name; }

class PsiProtocolTest : public ::testing::TestWithParam<std::tuple<PsiProtocol, Scenario>> {};

void ExpectMatchesReference(const PsiResult& got, const PsiResult& ref, PsiOutput out,
                            const char* who) {
  SCOPED_TRACE(who);
  EXPECT_EQ(got.peer_size, ref.peer_size);
  EXPECT_EQ(got.intersection_size, out == kNone ? 0 : ref.intersection_size);
  if (out == kInter) {
    EXPECT_EQ(got.matched, ref.matched);
  } else {
    EXPECT_TRUE(got.matched.empty());
  }
}

TEST_P(PsiProtocolTest, MatchesPlaintextReference) {
  const auto& [proto, sc] = GetParam();
  auto [a, b] = MakeSets(sc.n_a, sc.n_b, sc.overlap, /*seed=*/sc.n_a * 7919 + sc.n_b);
  const PsiParams pa{sc.out_a, sc.out_b, sc.batch_a, sc.threads};
  const PsiParams pb{sc.out_b, sc.out_a, sc.batch_b, sc.threads};
  auto [la, lb] = net::CreateInMemoryLinkPair("a", "b");
  la->set_timeout(std::chrono::seconds(30));
  lb->set_timeout(std::chrono::seconds(30));
  StatusOr<PsiResult> rb = absl::UnknownError("not run");
  std::thread tb([&, &lb = lb] { rb = proto.run(*lb, b, pb); });
  StatusOr<PsiResult> ra = proto.run(*la, a, pa);
  tb.join();
  ASSERT_TRUE(ra.ok()) << ra.status();
  ASSERT_TRUE(rb.ok()) << rb.status();
  ExpectMatchesReference(*ra, PlaintextIntersect(a, b), sc.out_a, "party A");
  ExpectMatchesReference(*rb, PlaintextIntersect(b, a), sc.out_b, "party B");
  if (proto.bytes_sent) {
    EXPECT_EQ(la->bytes_sent(), proto.bytes_sent(a.size(), pa, b.size(), pb));
    EXPECT_EQ(lb->bytes_sent(), proto.bytes_sent(b.size(), pb, a.size(), pa));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Ecdh, PsiProtocolTest, Combine(Values(EcdhProtocol()), ValuesIn(Scenarios())),
    [](const TestParamInfo<PsiProtocolTest::ParamType>& info) {
      return std::get<0>(info.param).name + "_" + std::get<1>(info.param).name;
    });

// The same scenarios for KKRT16 (roles settled in its handshake; its exact byte counts, which
// depend on the role and the intersection, are checked in kkrt_psi_test.cc).
PsiProtocol KkrtProtocol() {
  return {"Kkrt",
          [](net::Link& link, const std::vector<std::string>& items, const PsiParams& p) {
            KkrtPsiOptions o;
            o.role = KkrtRole::kAuto;
            o.my_output = p.mine;
            o.peer_output = p.peer;
            o.domain = "job-test";
            return RunKkrtPsi(link, items, o);
          },
          nullptr};
}

INSTANTIATE_TEST_SUITE_P(
    Kkrt, PsiProtocolTest, Combine(Values(KkrtProtocol()), ValuesIn(Scenarios())),
    [](const TestParamInfo<PsiProtocolTest::ParamType>& info) {
      return std::get<0>(info.param).name + "_" + std::get<1>(info.param).name;
    });

// ---- ECDH-PSI specifics

struct TwoResults {
  StatusOr<PsiResult> a = absl::UnknownError("not run");
  StatusOr<PsiResult> b = absl::UnknownError("not run");
};

TwoResults RunPair(const std::vector<std::string>& a, const std::vector<std::string>& b,
                   const EcdhPsiOptions& oa, const EcdhPsiOptions& ob) {
  auto [la, lb] = net::CreateInMemoryLinkPair("a", "b");
  la->set_timeout(std::chrono::seconds(20));
  lb->set_timeout(std::chrono::seconds(20));
  TwoResults r;
  std::thread tb([&, &lb = lb] { r.b = RunEcdhPsi(*lb, b, ob); });
  r.a = RunEcdhPsi(*la, a, oa);
  tb.join();
  return r;
}

EcdhPsiOptions Opts(PsiOutput mine, PsiOutput peer, std::string domain = "job-1") {
  EcdhPsiOptions o;
  o.my_output = mine;
  o.peer_output = peer;
  o.domain = std::move(domain);
  return o;
}

TEST(EcdhPsi, ReturnBytesKeepFortyBitsAboveTheProductOfSizes) {
  EXPECT_EQ(EcdhPsiReturnBytes(0, 0), 5u);
  EXPECT_EQ(EcdhPsiReturnBytes(1, 1), 6u);                // 40 + 1 + 1 bits
  EXPECT_EQ(EcdhPsiReturnBytes(1u << 20, 1u << 20), 11u);  // 40 + 21 + 21 = 82 bits
  EXPECT_EQ(EcdhPsiReturnBytes(kEcdhPsiMaxSetSize, kEcdhPsiMaxSetSize), 14u);
  for (uint64_t na : {1ull, 1000ull, 1ull << 20, 1ull << 32}) {
    for (uint64_t nb : {1ull, 77ull, 1ull << 16}) {
      const double need = 40 + std::log2(static_cast<double>(na) * static_cast<double>(nb));
      EXPECT_GE(8.0 * EcdhPsiReturnBytes(na, nb), need);
      EXPECT_EQ(EcdhPsiReturnBytes(na, nb), EcdhPsiReturnBytes(nb, na));
    }
  }
}

TEST(EcdhPsi, MismatchedOutputsFailBothSidesWithFailedPrecondition) {
  auto [a, b] = MakeSets(10, 10, 5, 1);
  // A thinks B learns the size; B thinks it learns the intersection.
  auto r = RunPair(a, b, Opts(kInter, kSize), Opts(kInter, kInter));
  EXPECT_EQ(r.a.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(r.b.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.a.status().message().find("output mismatch"), std::string_view::npos)
      << r.a.status();
  EXPECT_NE(r.a.status().message().find("intersection"), std::string_view::npos)
      << r.a.status();
}

TEST(EcdhPsi, DifferentDomainsFailWithFailedPrecondition) {
  auto [a, b] = MakeSets(10, 10, 5, 2);
  auto r = RunPair(a, b, Opts(kInter, kInter, "job-1"), Opts(kInter, kInter, "job-2"));
  EXPECT_EQ(r.a.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(r.b.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.a.status().message().find("domain"), std::string_view::npos);
}

TEST(EcdhPsi, DuplicateItemsAreInvalidAndThePeerSeesUnavailable) {
  std::vector<std::string> a = {"x", "y", "x"}, b = {"x"};
  auto r = RunPair(a, b, Opts(kInter, kInter), Opts(kInter, kInter));
  EXPECT_EQ(r.a.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.a.status().message().find("items 0 and 2"), std::string_view::npos)
      << r.a.status();
  EXPECT_EQ(r.b.status().code(), absl::StatusCode::kUnavailable);
}

TEST(EcdhPsi, BadOptionsAreInvalid) {
  auto [la, lb] = net::CreateInMemoryLinkPair("a", "b");
  EcdhPsiOptions o = Opts(kInter, kInter);
  o.batch_size = 0;
  EXPECT_EQ(RunEcdhPsi(*la, {"x"}, o).status().code(), absl::StatusCode::kInvalidArgument);
  auto [lc, ld] = net::CreateInMemoryLinkPair("a", "b");
  o = Opts(kInter, kInter);
  o.threads = 0;
  EXPECT_EQ(RunEcdhPsi(*lc, {"x"}, o).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(EcdhPsi, ProgressIsMonotoneAndEndsAtOne) {
  auto [a, b] = MakeSets(600, 400, 100, 3);
  std::vector<double> seen;
  EcdhPsiOptions oa = Opts(kInter, kNone);
  oa.batch_size = 64;
  oa.progress = [&](double f) { seen.push_back(f); };
  auto r = RunPair(a, b, oa, Opts(kNone, kInter));
  ASSERT_TRUE(r.a.ok()) << r.a.status();
  ASSERT_GT(seen.size(), 10u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_GE(seen.front(), 0.0);
  EXPECT_EQ(seen.back(), 1.0);
  EXPECT_EQ(r.a->intersection_size, 100u);
}

TEST(EcdhPsi, CancellationStopsWithCancelledAndThePeerSeesUnavailable) {
  auto [a, b] = MakeSets(4000, 4000, 10, 4);
  std::atomic<bool> cancel{false};
  EcdhPsiOptions oa = Opts(kInter, kInter);
  oa.batch_size = 64;
  oa.cancelled = &cancel;
  oa.progress = [&](double f) {
    if (f > 0.05) cancel = true;
  };
  auto r = RunPair(a, b, oa, Opts(kInter, kInter));
  EXPECT_EQ(r.a.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(r.b.status().code(), absl::StatusCode::kUnavailable);
}

// ---- A scripted peer that speaks the wire format directly.

class FakePeerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto [x, y] = net::CreateInMemoryLinkPair("real", "fake", 1024);
    real_ = std::move(x);
    fake_ = std::move(y);
    real_->set_timeout(std::chrono::seconds(10));
    fake_->set_timeout(std::chrono::seconds(10));
  }
  void TearDown() override {
    if (peer_.joinable()) peer_.join();
  }

  internal::Handshake PeerHandshake(uint64_t size, PsiOutput peer_mine = kNone,
                                    PsiOutput peer_theirs = kInter) {
    internal::Handshake h;
    h.version = kEcdhPsiVersion;
    h.set_size = size;
    h.my_output = peer_mine;
    h.peer_output = peer_theirs;
    h.batch_size = 4096;
    h.domain_hash = crypto::Sha256(std::string_view("job-1"));
    return h;
  }

  // Valid masked points for `count` peer elements.
  static Bytes MaskedPayload(size_t count) {
    auto enc = crypto::Curve25519Encoder::Create(AsBytes("fake-peer"));
    std::vector<std::string> msgs;
    for (size_t i = 0; i < count; ++i) msgs.push_back(absl::StrCat("p", i));
    std::vector<crypto::X25519Point> pts(count);
    enc->Encode(std::span<const std::string>(msgs), pts);
    Bytes out;
    for (auto& p : pts) out.insert(out.end(), p.begin(), p.end());
    return out;
  }

  // Runs the fake peer: send handshake, read the real party's handshake, then `script`.
  void StartPeer(Bytes handshake, std::function<void(net::Link&)> script) {
    peer_ = std::thread([this, handshake = std::move(handshake), script = std::move(script)] {
      ASSERT_TRUE(fake_->Send(handshake).ok());
      ASSERT_TRUE(fake_->Recv().ok());
      script(*fake_);
      // Drain until the real party closes the link.
      while (fake_->Recv().ok()) {
      }
    });
  }

  StatusOr<PsiResult> RunReal(size_t n = 5, PsiOutput mine = kInter, PsiOutput peer = kNone) {
    std::vector<std::string> items;
    for (size_t i = 0; i < n; ++i) items.push_back(absl::StrCat("r", i));
    EcdhPsiOptions o = Opts(mine, peer);
    o.cancelled = &cancel_;
    auto r = RunEcdhPsi(*real_, items, o);
    return r;
  }

  std::unique_ptr<net::Link> real_, fake_;
  std::thread peer_;
  std::atomic<bool> cancel_{false};
};

TEST_F(FakePeerTest, MalformedHandshakeIsInvalidArgument) {
  StartPeer(Bytes{'H', 1, 2, 3}, [](net::Link&) {});
  auto r = RunReal();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("handshake"), std::string_view::npos);
}

TEST_F(FakePeerTest, VersionMismatchIsFailedPrecondition) {
  auto h = PeerHandshake(3);
  h.version = 99;
  StartPeer(internal::EncodeHandshake(h), [](net::Link&) {});
  auto r = RunReal();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("version"), std::string_view::npos);
}

TEST_F(FakePeerTest, WrongLengthBatchIsInvalidArgument) {
  StartPeer(internal::EncodeHandshake(PeerHandshake(3)), [](net::Link& l) {
    Bytes payload = MaskedPayload(3);
    payload.resize(2 * 32 + 5);  // count says 3, payload holds 2 points and change
    (void)l.Send(internal::EncodeBatch(internal::kMsgMasked, 0, 3, payload));
  });
  auto r = RunReal();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("carries 69 bytes, expected 96"), std::string_view::npos)
      << r.status();
}

TEST_F(FakePeerTest, MoreElementsThanAnnouncedIsInvalidArgument) {
  StartPeer(internal::EncodeHandshake(PeerHandshake(3)), [](net::Link& l) {
    (void)l.Send(internal::EncodeBatch(internal::kMsgMasked, 0, 4, MaskedPayload(4)));
  });
  auto r = RunReal();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("4 elements, expected 3"), std::string_view::npos)
      << r.status();
}

TEST_F(FakePeerTest, ExtraBatchBeyondAnnouncedSizeIsInvalidArgument) {
  auto h = PeerHandshake(3);
  h.batch_size = 2;
  StartPeer(internal::EncodeHandshake(h), [](net::Link& l) {
    Bytes p = MaskedPayload(2);
    (void)l.Send(internal::EncodeBatch(internal::kMsgMasked, 0, 2, p));
    (void)l.Send(internal::EncodeBatch(internal::kMsgMasked, 1, 2, p));  // only 1 left
  });
  auto r = RunReal();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("batch 1 has 2 elements, expected 1"),
            std::string_view::npos)
      << r.status();
}

TEST_F(FakePeerTest, OutOfOrderBatchIsInvalidArgument) {
  auto h = PeerHandshake(4);
  h.batch_size = 2;
  StartPeer(internal::EncodeHandshake(h), [](net::Link& l) {
    (void)l.Send(internal::EncodeBatch(internal::kMsgMasked, 1, 2, MaskedPayload(2)));
  });
  auto r = RunReal();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("out of order"), std::string_view::npos) << r.status();
}

TEST_F(FakePeerTest, LowOrderOrNonCanonicalPointIsInvalidArgument) {
  StartPeer(internal::EncodeHandshake(PeerHandshake(3)), [](net::Link& l) {
    Bytes p = MaskedPayload(3);
    std::fill(p.begin() + 32, p.begin() + 64, 0);  // point 1 = u 0, of order 2
    (void)l.Send(internal::EncodeBatch(internal::kMsgMasked, 0, 3, p));
  });
  auto r = RunReal();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("low order"), std::string_view::npos) << r.status();
}

TEST_F(FakePeerTest, UnexpectedReturnAndUnknownTypeAreInvalidArgument) {
  // The real party receives nothing, yet the peer sends it a returned batch.
  StartPeer(internal::EncodeHandshake(PeerHandshake(1, kInter, kNone)), [](net::Link& l) {
    (void)l.Send(internal::EncodeBatch(internal::kMsgReturned, 0, 5, Bytes(5 * 6)));
  });
  auto r = RunReal(5, kNone, kInter);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("receives no output"), std::string_view::npos)
      << r.status();
}

TEST_F(FakePeerTest, UnknownMessageTypeIsInvalidArgument) {
  StartPeer(internal::EncodeHandshake(PeerHandshake(3)), [](net::Link& l) {
    (void)l.Send(internal::EncodeBatch('Z', 0, 3, MaskedPayload(3)));
  });
  auto r = RunReal();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("message type"), std::string_view::npos) << r.status();
}

TEST_F(FakePeerTest, PeerClosingMidProtocolIsUnavailable) {
  auto h = PeerHandshake(4);
  h.batch_size = 2;
  StartPeer(internal::EncodeHandshake(h), [](net::Link& l) {
    (void)l.Send(internal::EncodeBatch(internal::kMsgMasked, 0, 2, MaskedPayload(2)));
    l.Close();
  });
  auto r = RunReal();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
}

TEST_F(FakePeerTest, SilentPeerCanBeCancelled) {
  StartPeer(internal::EncodeHandshake(PeerHandshake(3)), [this](net::Link&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    cancel_ = true;
  });
  auto r = RunReal();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled) << r.status();
}

TEST(PlaintextPsi, ReportsAscendingMatchesAndSizes) {
  auto r = PlaintextIntersect({"d", "a", "b", "z"}, {"b", "c", "d"});
  EXPECT_EQ(r.matched, (std::vector<size_t>{0, 2}));
  EXPECT_EQ(r.intersection_size, 2u);
  EXPECT_EQ(r.peer_size, 3u);
  EXPECT_EQ(PlaintextIntersect({}, {"x"}).intersection_size, 0u);
}

}  // namespace
}  // namespace consort::psi
