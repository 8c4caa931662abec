#include "consort/ot/kkrt_oprf.h"

#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "consort/crypto/random.h"
#include "consort/ot/base_ot.h"
#include "consort/ot/internal/bit_transpose.h"

namespace consort::ot {
namespace {

bool Bit(const uint8_t* p, size_t i) { return (p[i / 8] >> (i % 8)) & 1; }

TEST(BitTranspose, MatchesNaiveTranspose) {
  std::mt19937_64 rng(1);
  for (auto [rows, cols] : {std::pair<size_t, size_t>{16, 8},
                            {512, 256},
                            {128, 512},
                            {48, 24},
                            {32, 136},
                            {512, 1024 + 64}}) {
    std::vector<uint8_t> in(rows * cols / 8), out(rows * cols / 8);
    for (auto& b : in) b = static_cast<uint8_t>(rng());
    internal::TransposeBits(in.data(), rows, cols, out.data());
    for (size_t r = 0; r < rows; ++r) {
      for (size_t c = 0; c < cols; ++c) {
        ASSERT_EQ(Bit(in.data() + r * cols / 8, c), Bit(out.data() + c * rows / 8, r))
            << rows << "x" << cols << " at " << r << "," << c;
      }
    }
  }
}

struct Pair {
  std::unique_ptr<KkrtOprfReceiver> receiver;
  std::unique_ptr<KkrtOprfSender> sender;
};

Pair SetupPair(net::Link& r_link, net::Link& s_link) {
  Pair p;
  StatusOr<std::unique_ptr<KkrtOprfSender>> s;
  std::thread t([&] { s = KkrtOprfSender::Setup(s_link, "job"); });
  auto r = KkrtOprfReceiver::Setup(r_link, "job");
  t.join();
  EXPECT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(s.ok()) << s.status();
  if (r.ok()) p.receiver = std::move(*r);
  if (s.ok()) p.sender = std::move(*s);
  return p;
}

std::vector<Block> RandomBlocks(size_t n) {
  std::vector<Block> v(n);
  crypto::RandomBytes(reinterpret_cast<uint8_t*>(v.data()), n * sizeof(Block));
  return v;
}

TEST(KkrtOprf, CorrelationHoldsAndOutputsAgree) {
  auto [rl, sl] = net::CreateInMemoryLinkPair("r", "s");
  Pair p = SetupPair(*rl, *sl);
  ASSERT_TRUE(p.receiver && p.sender);
  const KkrtRow s = p.sender->secret_for_testing();
  uint64_t base = 0;
  for (size_t n : {128u, 384u}) {  // two chunks: the PRG streams continue across calls
    std::vector<Block> in = RandomBlocks(n);
    std::vector<KkrtRow> t(n), q(n), c(n), other(n);
    Status sent;
    std::thread th([&] { sent = p.receiver->Encode(in, t); });
    Status got = p.sender->Receive(n, q);
    th.join();
    ASSERT_TRUE(sent.ok()) << sent;
    ASSERT_TRUE(got.ok()) << got;
    p.sender->Encode(in, c);
    std::vector<Block> in2 = RandomBlocks(n);
    p.sender->Encode(in2, other);
    for (size_t i = 0; i < n; ++i) {
      for (size_t k = 0; k < kKkrtCodeBlocks; ++k) {
        ASSERT_EQ(q[i].b[k], t[i].b[k] ^ (c[i].b[k] & s.b[k])) << i << "," << k;
      }
      EXPECT_EQ(p.receiver->Output(base + i, t[i]), p.sender->Evaluate(base + i, q[i], c[i]));
      EXPECT_FALSE(p.receiver->Output(base + i, t[i]) ==
                   p.sender->Evaluate(base + i, q[i], other[i]));
      // The same input in another instance gives an unrelated value.
      EXPECT_FALSE(p.receiver->Output(base + i, t[i]) ==
                   p.sender->Evaluate(base + i + 1, q[i], c[i]));
    }
    base += n;
  }
  EXPECT_EQ(p.receiver->instances(), 512u);
  EXPECT_EQ(p.sender->instances(), 512u);
}

TEST(KkrtOprf, CodewordsOfDistinctInputsAreFar) {
  KkrtCode code(Block{1, 2});
  std::vector<Block> in = RandomBlocks(200);
  std::vector<KkrtRow> c(200);
  code.Encode(in, c);
  for (size_t i = 1; i < c.size(); ++i) {
    int d = 0;
    for (size_t k = 0; k < kKkrtCodeBlocks; ++k) {
      d += __builtin_popcountll(c[i].b[k].lo ^ c[0].b[k].lo) +
           __builtin_popcountll(c[i].b[k].hi ^ c[0].b[k].hi);
    }
    EXPECT_GT(d, 128);  // expected 256; below 128 has probability < 2^-40
  }
}

TEST(KkrtOprf, WrongSizedCorrectionIsInvalidArgument) {
  auto [rl, sl] = net::CreateInMemoryLinkPair("r", "s");
  Pair p = SetupPair(*rl, *sl);
  ASSERT_TRUE(p.receiver && p.sender);
  ASSERT_TRUE(rl->Send(Bytes(100)).ok());
  std::vector<KkrtRow> q(128);
  EXPECT_EQ(p.sender->Receive(128, q).code(), absl::StatusCode::kInvalidArgument);
}

TEST(KkrtOprf, MalformedSeedIsInvalidArgument) {
  auto [rl, sl] = net::CreateInMemoryLinkPair("r", "s");
  StatusOr<std::unique_ptr<KkrtOprfReceiver>> r;
  std::thread t([&, &rl = rl] { r = KkrtOprfReceiver::Setup(*rl, "job"); });
  // Play the sender's base-OT part honestly, then send a seed message without its tag.
  auto keys = BaseOtReceiveRandom(*sl, std::vector<bool>(kKkrtCodeBits, false),
                                  "consort/ot/kkrt-base/v1:job");
  ASSERT_TRUE(keys.ok()) << keys.status();
  ASSERT_TRUE(sl->Send(Bytes(20, 0)).ok());
  t.join();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
}

TEST(KkrtOprf, PeerGoneIsUnavailable) {
  auto [rl, sl] = net::CreateInMemoryLinkPair("r", "s");
  sl->Close();
  auto r = KkrtOprfReceiver::Setup(*rl, "job");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
}

}  // namespace
}  // namespace consort::ot
