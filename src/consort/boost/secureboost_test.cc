#include "consort/boost/secureboost.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <thread>

#include "consort/boost/internal/testdata.h"
#include "consort/boost/internal/wire.h"
#include "consort/boost/plaintext_gbdt.h"
#include "consort/fl/metrics.h"

namespace consort::boost {
namespace {

// Tests use 1024-bit Paillier keys (GenerateForTesting) to stay fast; the protocol is the same.
SecureBoostOptions TestOptions() {
  SecureBoostOptions o;
  o.key_bits = 1024;
  o.noise_window_bits = 8;
  return o;
}

struct JointRun {
  StatusOr<GbdtModel> guest = absl::UnknownError("not run");
  std::vector<StatusOr<SecureBoostHostModel>> hosts;
  std::vector<double> raw;
};

JointRun TrainJointly(const FeatureMatrix& guest_x, const std::vector<double>& y,
                 const std::vector<FeatureMatrix>& host_x, const BoostParams& p,
                 SecureBoostOptions opts = TestOptions(), BoostParams host_p = {},
                 bool same_params = true) {
  JointRun run;
  std::vector<std::unique_ptr<net::Link>> g_links, h_links;
  std::vector<net::Link*> g_ptrs;
  for (size_t h = 0; h < host_x.size(); ++h) {
    auto [a, b] = net::CreateInMemoryLinkPair("guest", "host" + std::to_string(h));
    g_ptrs.push_back(a.get());
    g_links.push_back(std::move(a));
    h_links.push_back(std::move(b));
  }
  run.hosts.resize(host_x.size(), absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  for (size_t h = 0; h < host_x.size(); ++h) {
    threads.emplace_back([&, h] {
      run.hosts[h] =
          TrainSecureBoostHost(host_x[h], *h_links[h], same_params ? p : host_p, opts);
    });
  }
  run.guest = TrainSecureBoostGuest(guest_x, y, g_ptrs, p, opts, &run.raw);
  for (auto& t : threads) t.join();
  return run;
}

StatusOr<std::vector<double>> PredictJointly(const GbdtModel& gm, const FeatureMatrix& guest_x,
                                             const std::vector<SecureBoostHostModel>& hm,
                                             const std::vector<FeatureMatrix>& host_x) {
  std::vector<std::unique_ptr<net::Link>> g_links, h_links;
  std::vector<net::Link*> g_ptrs;
  for (size_t h = 0; h < host_x.size(); ++h) {
    auto [a, b] = net::CreateInMemoryLinkPair("guest", gm.hosts[h]);
    g_ptrs.push_back(a.get());
    g_links.push_back(std::move(a));
    h_links.push_back(std::move(b));
  }
  std::vector<Status> st(host_x.size());
  std::vector<std::thread> threads;
  for (size_t h = 0; h < host_x.size(); ++h) {
    threads.emplace_back(
        [&, h] { st[h] = PredictSecureBoostHost(hm[h], host_x[h], *h_links[h], TestOptions()); });
  }
  auto raw = PredictSecureBoostGuest(gm, guest_x, g_ptrs, TestOptions());
  for (auto& t : threads) t.join();
  for (const auto& s : st) {
    if (!s.ok()) return s;
  }
  return raw;
}

TEST(SecureBoost, BreastMatchesPlaintextGbdtAndPredictsJointly) {
  auto d = testdata::LoadHetero("breast");
  ASSERT_TRUE(d.ok()) << d.status();
  BoostParams p;
  p.num_trees = 12;  // 30 trees at 2048 bits: bench/fl/boost (--data breast); this keeps it < 60 s
  p.max_depth = 3;
  p.seed = 42;
  SecureBoostOptions opts = TestOptions();
  opts.shuffle_host_features = false;  // same candidate order as the plaintext trainer
  JointRun run = TrainJointly(d->guest, d->labels, {d->host}, p, opts);
  ASSERT_TRUE(run.guest.ok()) << run.guest.status();
  ASSERT_TRUE(run.hosts[0].ok()) << run.hosts[0].status();

  std::vector<double> plain_raw;
  auto plain = TrainPlaintextGbdt(testdata::Joined(*d), d->labels, p, &plain_raw);
  ASSERT_TRUE(plain.ok());
  // Lossless: identical fixed-point sums give identical trees and scores.
  ASSERT_EQ(run.raw.size(), plain_raw.size());
  for (size_t i = 0; i < plain_raw.size(); ++i) EXPECT_DOUBLE_EQ(run.raw[i], plain_raw[i]) << i;
  auto auc = fl::Auc(run.raw, d->labels);
  auto plain_auc = fl::Auc(plain_raw, d->labels);
  ASSERT_TRUE(auc.ok() && plain_auc.ok());
  EXPECT_GE(*auc, 0.990);
  EXPECT_NEAR(*auc, *plain_auc, 0.01 * *plain_auc);
  // Some splits are the host's (it holds 20 of the 30 features).
  EXPECT_GT(run.hosts[0]->splits.size(), 0u);

  // Joint prediction on the training rows reproduces the training scores.
  std::vector<SecureBoostHostModel> hm = {*run.hosts[0]};
  auto pred = PredictJointly(*run.guest, d->guest, hm, {d->host});
  ASSERT_TRUE(pred.ok()) << pred.status();
  for (size_t i = 0; i < pred->size(); ++i) EXPECT_NEAR((*pred)[i], run.raw[i], 1e-9) << i;
  // Models survive serialization.
  auto gm2 = GbdtModel::Parse(run.guest->Serialize());
  auto hm2 = SecureBoostHostModel::Parse(run.hosts[0]->Serialize());
  ASSERT_TRUE(gm2.ok() && hm2.ok());
  auto pred2 = PredictJointly(*gm2, d->guest, {*hm2}, {d->host});
  ASSERT_TRUE(pred2.ok());
  EXPECT_EQ(*pred2, *pred);
}

TEST(SecureBoost, TwoHostsMissingValuesAndSubsampling) {
  // Label depends on a host-1 feature (with missing values) and a host-2 feature.
  const size_t n = 300;
  FeatureMatrix g, h1, h2;
  g.names = {"g0"};
  h1.names = {"a"};
  h2.names = {"b", "c"};
  g.columns.resize(1);
  h1.columns.resize(1);
  h2.columns.resize(2);
  std::vector<double> y;
  for (size_t i = 0; i < n; ++i) {
    const double a = (i * 7 % 100) / 100.0, b = (i * 13 % 97) / 97.0;
    const bool miss = i % 9 == 0;
    g.columns[0].push_back((i * 31 % 89) / 89.0);
    h1.columns[0].push_back(miss ? std::nan("") : a);
    h2.columns[0].push_back(b);
    h2.columns[1].push_back((i * 17 % 83) / 83.0);
    y.push_back((miss || a > 0.6) && b > 0.3 ? 1.0 : 0.0);
  }
  BoostParams p;
  p.num_trees = 6;
  p.max_depth = 3;
  p.subsample = 0.8;
  p.seed = 5;
  p.min_child_weight = 0.1;
  SecureBoostOptions opts = TestOptions();
  opts.shuffle_host_features = false;
  JointRun run = TrainJointly(g, y, {h1, h2}, p, opts);
  ASSERT_TRUE(run.guest.ok()) << run.guest.status();
  ASSERT_TRUE(run.hosts[0].ok() && run.hosts[1].ok());
  FeatureMatrix joined = g;
  for (const auto* h : {&h1, &h2}) {
    for (size_t f = 0; f < h->features(); ++f) {
      joined.names.push_back(h->names[f]);
      joined.columns.push_back(h->columns[f]);
    }
  }
  std::vector<double> plain_raw;
  auto plain = TrainPlaintextGbdt(joined, y, p, &plain_raw);
  ASSERT_TRUE(plain.ok());
  for (size_t i = 0; i < n; ++i) EXPECT_DOUBLE_EQ(run.raw[i], plain_raw[i]) << i;
  auto auc = fl::Auc(run.raw, y);
  ASSERT_TRUE(auc.ok());
  EXPECT_GT(*auc, 0.97);
  EXPECT_GT(run.hosts[0]->splits.size(), 0u);
  EXPECT_GT(run.hosts[1]->splits.size(), 0u);
  // Prediction on rows with missing values takes the learned direction at the host.
  auto pred = PredictJointly(*run.guest, g, {*run.hosts[0], *run.hosts[1]}, {h1, h2});
  ASSERT_TRUE(pred.ok()) << pred.status();
  for (size_t i = 0; i < n; ++i) EXPECT_NEAR((*pred)[i], run.raw[i], 1e-9) << i;
}

TEST(SecureBoost, RowCountAndParameterMismatchAreFailedPrecondition) {
  FeatureMatrix g, h;
  g.names = {"g"};
  h.names = {"h"};
  g.columns = {{1, 2, 3, 4}};
  h.columns = {{1, 2, 3}};
  std::vector<double> y = {0, 1, 0, 1};
  BoostParams p;
  p.num_trees = 1;
  JointRun run = TrainJointly(g, y, {h}, p);
  EXPECT_EQ(run.hosts[0].status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(run.guest.status().code(), absl::StatusCode::kUnavailable);
  h.columns = {{1, 2, 3, 4}};
  BoostParams other = p;
  other.bins = 16;
  run = TrainJointly(g, y, {h}, p, TestOptions(), other, false);
  EXPECT_EQ(run.hosts[0].status().code(), absl::StatusCode::kFailedPrecondition);
  // Bad labels never reach the wire.
  std::vector<double> bad = {0, 1, 2, 1};
  run = TrainJointly(g, bad, {h}, p);
  EXPECT_EQ(run.guest.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(run.hosts[0].status().code(), absl::StatusCode::kUnavailable);
}

TEST(SecureBoost, MalformedGuestMessagesAreInvalidArgument) {
  FeatureMatrix h;
  h.names = {"h"};
  h.columns = {{1, 2, 3, 4}};
  BoostParams p;
  p.num_trees = 1;
  for (int c = 0; c < 3; ++c) {
    auto [a, b] = net::CreateInMemoryLinkPair("guest", "host");
    Bytes msg;
    if (c == 0) {
      msg = Bytes{1, 2, 3};  // truncated hello
    } else if (c == 1) {
      msg = Bytes{77};  // unknown type
    } else {
      msg = {};  // empty
    }
    ASSERT_TRUE(a->Send(msg).ok());
    auto m = TrainSecureBoostHost(h, *b, p, TestOptions());
    EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument) << c << m.status();
  }
  // A host that answers a hello with garbage: the guest fails with InvalidArgument.
  FeatureMatrix g;
  g.names = {"g"};
  g.columns = {{1, 2, 3, 4}};
  auto [a, b] = net::CreateInMemoryLinkPair("guest", "host");
  std::thread t([&] {
    (void)b->Recv();
    (void)b->Send(Bytes{2, 1});  // ack with a truncated feature count
  });
  std::vector<net::Link*> hosts = {a.get()};
  auto m = TrainSecureBoostGuest(g, std::vector<double>{0, 1, 0, 1}, hosts, p, TestOptions());
  t.join();
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SecureBoost, CancelledGuestStopsAndTheHostSeesThePeerGone) {
  FeatureMatrix g, h;
  g.names = {"g"};
  h.names = {"h"};
  g.columns = {{1, 2, 3, 4, 5, 6}};
  h.columns = {{6, 5, 4, 3, 2, 1}};
  std::atomic<bool> cancel{true};
  SecureBoostOptions guest_opts = TestOptions();
  guest_opts.cancelled = &cancel;
  BoostParams p;
  p.num_trees = 2;
  auto [a, b] = net::CreateInMemoryLinkPair("guest", "host");
  StatusOr<SecureBoostHostModel> hm = absl::UnknownError("not run");
  std::thread host([&] { hm = TrainSecureBoostHost(h, *b, p, TestOptions()); });
  std::vector<net::Link*> links = {a.get()};
  auto gm = TrainSecureBoostGuest(g, std::vector<double>{0, 1, 0, 1, 1, 0}, links, p, guest_opts);
  host.join();
  EXPECT_EQ(gm.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(hm.status().code(), absl::StatusCode::kUnavailable);
}

TEST(SecureBoost, PredictionQueriesOutOfRangeAreRejected) {
  SecureBoostHostModel hm;
  hm.features = {"h"};
  hm.splits = {HostSplit{0, 1.5, false}};
  FeatureMatrix h;
  h.names = {"h"};
  h.columns = {{1, 2}};
  auto [a, b] = net::CreateInMemoryLinkPair("guest", "host");
  std::thread t([&] {
    (void)a->Send(internal::Writer(internal::Msg::kPredictHello).U64(2).bytes());
    (void)a->Recv();
    (void)a->Send(internal::Writer(internal::Msg::kPredictQuery).U32(1).U32(5).U32(0).bytes());
  });
  Status st = PredictSecureBoostHost(hm, h, *b);
  t.join();
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace consort::boost
