// The size-only flow (internal/size_only_psi.h) against a scripted peer: what a receiver
// accepts from the wire. Correctness against plaintext, resume and cleanup are tested through
// RunBucketedEcdhPsi in bucketed_psi_test.cc.
#include "consort/psi/internal/size_only_psi.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "consort/common/bytes.h"
#include "consort/common/test_temp_dir.h"
#include "consort/crypto/curve25519.h"
#include "consort/crypto/random.h"
#include "consort/net/link.h"
#include "consort/psi/ecdh_psi.h"
#include "consort/psi/internal/bucketed_psi_wire.h"
#include "consort/psi/internal/size_only_psi_wire.h"

namespace consort::psi::internal {
namespace {

// A fresh directory, removed with its contents at the end of the test.
using TempDir = TestTempDir;

Bytes Hello(uint64_t keys, uint32_t pm) {
  Bytes h;
  h.push_back(kMsgSizeHello);
  AppendU32(h, kSizeOnlyVersion);
  AppendU64(h, keys);
  AppendU32(h, 64);                        // budget MiB
  Bytes id = crypto::RandomBytes(16);      // mask id
  h.insert(h.end(), id.begin(), id.end());
  h.insert(h.end(), 16, 0);                // no progress on the receiver's stream
  AppendU32(h, 0);
  AppendU32(h, 0);
  h.push_back(0);
  AppendU32(h, pm);
  EXPECT_EQ(h.size(), kSizeHelloBytes);
  return h;
}

Bytes Batch(uint8_t type, uint32_t part, uint32_t count, bool last, const Bytes& payload) {
  Bytes m;
  m.push_back(type);
  AppendU32(m, part);
  AppendU32(m, count);
  m.push_back(last ? 1 : 0);
  m.insert(m.end(), payload.begin(), payload.end());
  return m;
}

// `n` valid masked points (hashes of distinct strings).
Bytes Points(size_t n) {
  auto enc = crypto::Curve25519Encoder::Create(AsBytes(std::string_view("test")));
  EXPECT_TRUE(enc.ok());
  std::vector<std::string> msgs;
  for (size_t i = 0; i < n; ++i) msgs.push_back("p" + std::to_string(i));
  std::vector<crypto::X25519Point> pts(n);
  enc->Encode(std::span<const std::string>(msgs), std::span<crypto::X25519Point>(pts));
  Bytes out;
  for (const auto& p : pts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// Next message from the party under test that is not a keepalive.
Bytes RecvReal(net::Link& link) {
  while (true) {
    auto m = link.Recv();
    EXPECT_TRUE(m.ok()) << m.status();
    if (!m.ok()) return {};
    if (m->size() == 1 && (*m)[0] == kMsgBucketKeepalive) continue;
    return *std::move(m);
  }
}

// Runs a size-only receiver with keys "k0".."k2" against `script`, which plays the peer.
Status RunAgainst(const std::function<void(net::Link&)>& script, uint64_t peer_rows = 100) {
  TempDir dir;
  auto [mine, theirs] = net::CreateInMemoryLinkPair("me", "peer");
  mine->set_timeout(std::chrono::milliseconds(5000));
  theirs->set_timeout(std::chrono::milliseconds(5000));
  SizeOnlyOptions o;
  o.my_output = PsiOutput::kSize;
  o.peer_output = PsiOutput::kNone;
  o.domain = "job";
  o.scratch_dir = dir.path();
  o.binding = "b";
  o.memory_budget_mb = 64;
  o.my_keys = 3;
  o.peer_rows = peer_rows;
  o.load_bucket = [](uint32_t) -> StatusOr<std::vector<std::string>> {
    return std::vector<std::string>{"k0", "k1", "k2"};
  };
  std::thread peer([&, link = theirs.get()] {
    script(*link);
    // Whatever happens, let the party under test finish.
    link->Close();
  });
  StatusOr<SizeOnlyResult> r = RunSizeOnlyPsi(*mine, o);
  peer.join();
  return r.status();
}

TEST(SizeOnlyWire, HelloAndBatchesMatchTheDocumentedLayout) {
  const Bytes h = Hello(12345, 7);  // laid out by hand above
  auto d = so::DecodeHello(h);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->version, kSizeOnlyVersion);
  EXPECT_EQ(d->keys, 12345u);
  EXPECT_EQ(d->budget_mb, 64u);
  EXPECT_EQ(d->pm, 7u);
  EXPECT_EQ(d->peer_done, 0u);
  EXPECT_EQ(so::EncodeHello(*d), h);
  EXPECT_EQ(so::DecodeHello(ByteSpan(h).first(h.size() - 1)).status().code(),
            absl::StatusCode::kInvalidArgument);

  const Bytes payload(3 * 5, 9);
  const Bytes b = Batch(kMsgSizeDoubled, 4, 3, true, payload);
  EXPECT_EQ(so::EncodeBatch(kMsgSizeDoubled, 4, 3, true, payload.data(), payload.size()), b);
  auto v = so::DecodeBatch(b, kMsgSizeDoubled, 4, 5);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->count, 3u);
  EXPECT_TRUE(v->last);
  EXPECT_EQ(so::DecodeBatch(b, kMsgSizeDoubled, 4, 4).status().code(),
            absl::StatusCode::kInvalidArgument);  // 15 bytes are not 3 values of 4
  EXPECT_EQ(so::DecodeBatch(b, kMsgSizeMasked, 4, 5).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(so::DecodeBatch(b, kMsgSizeDoubled, 5, 5).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SizeOnlyPsi, PeerSendingMoreMaskedValuesThanItAnnouncedIsInvalidArgument) {
  Status st = RunAgainst([](net::Link& link) {
    RecvReal(link);  // hello
    ASSERT_TRUE(link.Send(Hello(1, 1)).ok());
    ASSERT_TRUE(link.Send(Batch(kMsgSizeMasked, 0, 2, true, Points(2))).ok());
    (void)link.Recv();  // until the party closes
  });
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(),
            "size-only PSI: the peer sent more masked values than the 1 keys it announced");
}

TEST(SizeOnlyPsi, MaskedBatchForTheWrongPartitionIsInvalidArgument) {
  Status st = RunAgainst([](net::Link& link) {
    RecvReal(link);
    ASSERT_TRUE(link.Send(Hello(2, 1)).ok());
    ASSERT_TRUE(link.Send(Batch(kMsgSizeMasked, 1, 1, true, Points(1))).ok());
    (void)link.Recv();
  });
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), "size-only PSI: masked batch for partition 1, expected 0");
}

TEST(SizeOnlyPsi, RepeatedMaskedValueIsInvalidArgument) {
  // One value sent twice would land twice in the same doubled partition: refused.
  Status st = RunAgainst([](net::Link& link) {
    RecvReal(link);
    ASSERT_TRUE(link.Send(Hello(2, 1)).ok());
    Bytes one = Points(1), twice = one;
    twice.insert(twice.end(), one.begin(), one.end());
    ASSERT_TRUE(link.Send(Batch(kMsgSizeMasked, 0, 2, true, twice)).ok());
    (void)link.Recv();
  });
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(),
            "size-only PSI: masked partition 0 is not sorted, distinct and in its range");
}

TEST(SizeOnlyPsi, ImplausibleHelloIsInvalidArgument) {
  // More partitions than the peer's keys could need at the smallest budget.
  Status st = RunAgainst([](net::Link& link) {
    RecvReal(link);
    ASSERT_TRUE(link.Send(Hello(1, 5)).ok());
    (void)link.Recv();
  });
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(),
            "size-only PSI: the peer announced 5 masked partitions for 1 keys, at most 1");
  // More distinct keys than the rows it announced in the plan.
  st = RunAgainst(
      [](net::Link& link) {
        RecvReal(link);
        ASSERT_TRUE(link.Send(Hello(2, 1)).ok());
        (void)link.Recv();
      },
      /*peer_rows=*/1);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), "size-only PSI: the peer announced 2 distinct keys in 1 rows");
}

TEST(SizeOnlyPsi, LowOrderMaskedPointIsInvalidArgument) {
  Status st = RunAgainst([](net::Link& link) {
    RecvReal(link);
    ASSERT_TRUE(link.Send(Hello(1, 1)).ok());
    ASSERT_TRUE(link.Send(Batch(kMsgSizeMasked, 0, 1, true, Bytes(32, 0))).ok());  // u = 0
    (void)link.Recv();
  });
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message().rfind("size-only PSI: masked partition 0: ", 0), 0u) << st;
}

TEST(SizeOnlyPsi, UnsortedReturnedPartitionIsInvalidArgument) {
  // T for 3 and 1 keys: 6 bytes.
  ASSERT_EQ(EcdhPsiReturnBytes(3, 1), 6u);
  Status st = RunAgainst([](net::Link& link) {
    RecvReal(link);
    ASSERT_TRUE(link.Send(Hello(1, 1)).ok());
    ASSERT_TRUE(link.Send(Batch(kMsgSizeMasked, 0, 1, true, Points(1))).ok());
    // The party's 3 masked values (one partition: 3 keys fit a 64 MiB budget).
    Bytes m = RecvReal(link);
    ASSERT_EQ(m.size(), kSizeBatchHeader + 3 * 32);
    Bytes values = {9, 9, 9, 9, 9, 9, 1, 1, 1, 1, 1, 1, 5, 5, 5, 5, 5, 5};
    ASSERT_TRUE(link.Send(Batch(kMsgSizeDoubled, 0, 3, true, values)).ok());
    (void)link.Recv();
  });
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), "size-only PSI: doubled partition 0 is not sorted");
}

TEST(SizeOnlyPsi, TooFewReturnedValuesIsInvalidArgument) {
  Status st = RunAgainst([](net::Link& link) {
    RecvReal(link);
    ASSERT_TRUE(link.Send(Hello(1, 1)).ok());
    ASSERT_TRUE(link.Send(Batch(kMsgSizeMasked, 0, 1, true, Points(1))).ok());
    RecvReal(link);
    ASSERT_TRUE(link.Send(Batch(kMsgSizeDoubled, 0, 2, true, Bytes(12, 7))).ok());
    (void)link.Recv();
  });
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(),
            "size-only PSI: the peer returned 2 values for the 3 keys this party sent");
}

TEST(SizeOnlyPsi, MalformedHelloIsInvalidArgument) {
  Status st = RunAgainst([](net::Link& link) {
    RecvReal(link);
    ASSERT_TRUE(link.Send(Bytes{kMsgSizeHello, 1, 2, 3}).ok());
    (void)link.Recv();
  });
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(),
            "size-only PSI: malformed hello (4 bytes, expected 62 starting with 'S')");
}

TEST(SizeOnlyPsi, PartitionsFollowTheBudget) {
  EXPECT_EQ(SizeOnlyPartitions(0, 32, 64), 1u);
  // 2^24 keys x 32 B = 512 MiB in parts of 1 GiB / 8 = 128 MiB.
  EXPECT_EQ(SizeOnlyPartitions(uint64_t{1} << 24, 32, 1024), 4u);
  EXPECT_EQ(SizeOnlyPartitions(uint64_t{1} << 24, 32, 1024) ,
            SizeOnlyPartitions((uint64_t{1} << 24) - 1, 32, 1024));
  EXPECT_EQ(SizeOnlyPartitions(100'000'000, 32, 1024), 24u);
  EXPECT_EQ(SizeOnlyPartitions(uint64_t{1} << 40, 32, 64), uint32_t{1} << 16);
}

}  // namespace
}  // namespace consort::psi::internal
