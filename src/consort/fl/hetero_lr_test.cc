#include "consort/fl/hetero_lr.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "consort/fl/internal/fate_data.h"
#include "consort/fl/internal/local_run.h"
#include "consort/fl/internal/lr_loop.h"
#include "consort/fl/internal/shared_ops.h"
#include "consort/fl/metrics.h"
#include "consort/mpc/plaintext_backend.h"
#include "consort/mpc/testing.h"
#include "consort/psi/align.h"
#include "gtest/gtest.h"

namespace consort::fl {
namespace {

using internal::HeteroSplit;

const HeteroSplit& Breast() {
  static const HeteroSplit s = [] {
    auto r = internal::LoadFateHetero("breast");
    CONSORT_CHECK(r.ok());
    return *r;
  }();
  return s;
}

LrParams BreastParams() {
  LrParams p;
  p.epochs = 10;
  p.batch_size = 64;
  p.learning_rate = 0.15;
  p.validation_fraction = 0.2;
  return p;
}

std::vector<double> Pick(const std::vector<double>& v, const std::vector<size_t>& rows) {
  std::vector<double> o;
  for (size_t r : rows) o.push_back(v[r]);
  return o;
}

struct Aucs {
  double train, validation;
};
Aucs PlainAucs(const Matrix& x, const std::vector<double>& y, const LrParams& p) {
  auto m = TrainPlaintextLr(x, y, p);
  CONSORT_CHECK(m.ok());
  std::vector<double> prob = m->PredictProba(x);
  return {*Auc(Pick(prob, m->report.train_rows), Pick(y, m->report.train_rows)),
          *Auc(Pick(prob, m->report.validation_rows), Pick(y, m->report.validation_rows))};
}

TEST(HeteroLrSigmoid, PiecewiseApproximationErrorAndMpcAgree) {
  double max_err = 0;
  for (int i = -1000; i <= 1000; ++i) {
    const double z = i / 100.0;
    max_err = std::max(max_err, std::fabs(internal::PiecewiseSigmoid(z) - internal::Sigmoid(z)));
  }
  EXPECT_LT(max_err, 0.0116);
  EXPECT_GT(max_err, 0.005);  // it is an approximation, not the exact function
  std::vector<double> zs = {-40, -5.5, -5, -2.2, -0.3, 0, 0.01, 0.9, 2.5, 4.99, 7, 30};
  for (auto mode : {mpc::testing::Mode::kTwoPartyInProcessDealer,
                    mpc::testing::Mode::kTwoPartyLinkDealer}) {
    auto run = mpc::testing::Run(mode, [&](mpc::Backend& be) -> StatusOr<std::vector<uint64_t>> {
      CONSORT_ASSIGN_OR_RETURN(
          mpc::Shared z,
          be.InputFixed(0, mpc::Shape::Vector(zs.size()), mpc::testing::InputOf(be, 0, zs)));
      CONSORT_ASSIGN_OR_RETURN(mpc::Shared p, internal::PiecewiseSigmoidShared(be, z));
      CONSORT_ASSIGN_OR_RETURN(mpc::RingTensor out, be.Reveal(p));
      return out.data;
    });
    ASSERT_TRUE(run.outputs[0].ok()) << run.outputs[0].status();
    const auto fxp = mpc::FixedPoint::Create().value();
    std::vector<double> got = fxp.Decode(*run.outputs[0]);
    for (size_t i = 0; i < zs.size(); ++i) {
      EXPECT_NEAR(got[i], internal::PiecewiseSigmoid(zs[i]), 1e-4) << zs[i];
    }
  }
}

void ExpectCloseToPlaintext(const internal::LocalHeteroRun& run, const LrParams& p) {
  ASSERT_TRUE(run.guest.ok()) << run.guest.status();
  ASSERT_TRUE(run.host.ok()) << run.host.status();
  const HeteroSplit& s = Breast();
  Aucs plain = PlainAucs(internal::JoinColumns(s.guest, s.host), s.labels, p);
  const auto& g = *run.guest;
  const double train = *Auc(g.train_scores, Pick(s.labels, g.report.train_rows));
  const double val = *Auc(g.validation_scores, Pick(s.labels, g.report.validation_rows));
  EXPECT_GE(train, 0.987);
  EXPECT_GE(val, 0.987);
  EXPECT_NEAR(train, plain.train, 0.01 * plain.train);
  EXPECT_NEAR(val, plain.validation, 0.01 * plain.validation);
  EXPECT_EQ(run.host->train_scores.size(), 0u);  // only the guest gets scores
  EXPECT_EQ(g.model.weights.size(), s.guest.cols);
  EXPECT_EQ(run.host->model.weights.size(), s.host.cols);
}

class HeteroLrMpcSigmoid : public ::testing::TestWithParam<MpcSigmoid> {};

TEST_P(HeteroLrMpcSigmoid, BreastMatchesPlaintextTrainer) {
  const HeteroSplit& s = Breast();
  LrParams p = BreastParams();
  auto run = internal::RunHeteroLrLocal(HeteroLrVariant::kMpc, s.guest, s.labels, s.host, p, {},
                                        GetParam());
  ExpectCloseToPlaintext(run, p);
  // Each party's weights are close to the plaintext model's (piecewise sigmoid, fixed point).
  auto plain = TrainPlaintextLr(internal::JoinColumns(s.guest, s.host), s.labels, p);
  ASSERT_TRUE(plain.ok());
  // Accurate sigmoid (|err| 4e-5): only fixed-point rounding separates the weights.
  const double tol = GetParam() == MpcSigmoid::kAccurate ? 0.01 : 0.1;
  for (size_t c = 0; c < s.guest.cols; ++c) {
    EXPECT_NEAR(run.guest->model.weights[c], plain->weights[c], tol) << c;
  }
  for (size_t c = 0; c < s.host.cols; ++c) {
    EXPECT_NEAR(run.host->model.weights[c], plain->weights[s.guest.cols + c], tol) << c;
  }
}

INSTANTIATE_TEST_SUITE_P(Sigmoids, HeteroLrMpcSigmoid,
                         ::testing::Values(MpcSigmoid::kAccurate, MpcSigmoid::kPiecewise));

TEST(HeteroLrPaillier, BreastMatchesPlaintextTrainer) {
  const HeteroSplit& s = Breast();
  LrParams p = BreastParams();
  p.epochs = 3;
  PaillierOptions opt;
  opt.key_bits = 1024;
  opt.insecure_small_keys_for_testing = true;
  auto run = internal::RunHeteroLrLocal(HeteroLrVariant::kPaillier, s.guest, s.labels, s.host,
                                        p, opt);
  ExpectCloseToPlaintext(run, p);
}

TEST(HeteroLrPaillier, SmallKeysNeedTheTestingFlag) {
  const HeteroSplit& s = Breast();
  PaillierOptions opt;
  opt.key_bits = 1024;
  auto run = internal::RunHeteroLrLocal(HeteroLrVariant::kPaillier, s.guest, s.labels, s.host,
                                        BreastParams(), opt);
  EXPECT_EQ(run.guest.status().code(), absl::StatusCode::kInvalidArgument);
}

// PSI alignment of shuffled ids with rows missing on either side, then training on the
// aligned rows: same quality as on the pre-aligned data.
TEST(HeteroLrMpc, ShuffledAndDroppedRowsAlignedByPsi) {
  const HeteroSplit& s = Breast();
  // Host: rows in a shuffled order, 30 rows dropped. Guest: 20 other rows dropped.
  std::vector<size_t> host_order = internal::Permutation(s.host.rows, 99, 1);
  host_order.resize(host_order.size() - 30);
  std::vector<size_t> guest_rows;
  for (size_t r = 0; r < s.guest.rows; ++r) {
    if (r % 28 != 5) guest_rows.push_back(r);
  }
  auto keys_of = [](const std::vector<int64_t>& ids, const std::vector<size_t>& rows) {
    std::vector<std::string> k;
    for (size_t r : rows) k.push_back(std::to_string(ids[r]));
    return k;
  };
  std::vector<std::string> gk = keys_of(s.guest_ids, guest_rows), hk = keys_of(s.host_ids, host_order);
  auto [lg, lh] = net::CreateInMemoryLinkPair("guest", "host");
  psi::AlignOptions opts;
  opts.domain = "hetero-lr-test";
  StatusOr<std::vector<size_t>> ha = absl::UnknownError("");
  std::thread t([&, &lh = lh] { ha = psi::AlignByPsi(hk, {{"guest", lh.get()}}, "host", opts); });
  auto ga = psi::AlignByPsi(gk, {{"host", lg.get()}}, "guest", opts);
  t.join();
  ASSERT_TRUE(ga.ok()) << ga.status();
  ASSERT_TRUE(ha.ok()) << ha.status();
  ASSERT_EQ(ga->size(), ha->size());
  ASSERT_LT(ga->size(), s.guest.rows - 40);
  std::vector<size_t> g_idx, h_idx;
  for (size_t i : *ga) g_idx.push_back(guest_rows[i]);
  for (size_t i : *ha) h_idx.push_back(host_order[i]);
  for (size_t i = 0; i < g_idx.size(); ++i) ASSERT_EQ(s.guest_ids[g_idx[i]], s.host_ids[h_idx[i]]);
  Matrix gx = s.guest.Rows(g_idx), hx = s.host.Rows(h_idx);
  std::vector<double> y = Pick(s.labels, g_idx);
  LrParams p = BreastParams();
  auto run = internal::RunHeteroLrLocal(HeteroLrVariant::kMpc, gx, y, hx, p);
  ASSERT_TRUE(run.guest.ok()) << run.guest.status();
  ASSERT_TRUE(run.host.ok()) << run.host.status();
  Aucs plain = PlainAucs(internal::JoinColumns(gx, hx), y, p);
  const double val = *Auc(run.guest->validation_scores, Pick(y, run.guest->report.validation_rows));
  EXPECT_GE(val, 0.98);
  EXPECT_NEAR(val, plain.validation, 0.01 * plain.validation);
}

// A guest and two hosts (the breast host's columns split in two) over three-party replicated
// sharing: same quality as the plaintext trainer on the joined columns.
TEST(HeteroLrMpc, GuestAndTwoHostsOverThreeParties) {
  const HeteroSplit& s = Breast();
  Matrix h1 = s.host.Columns(0, 10), h2 = s.host.Columns(10, 20);
  LrParams p = BreastParams();
  p.tolerance = 1e-9;  // monitoring on: the guest gets sum of the hosts' scores each epoch
  auto run = internal::RunHeteroLrLocalThreeParty(s.guest, s.labels, h1, h2, p);
  ASSERT_TRUE(run.guest.ok()) << run.guest.status();
  ASSERT_TRUE(run.hosts[0].ok()) << run.hosts[0].status();
  ASSERT_TRUE(run.hosts[1].ok()) << run.hosts[1].status();
  Aucs plain = PlainAucs(internal::JoinColumns(s.guest, s.host), s.labels, p);
  const auto& g = *run.guest;
  const double train = *Auc(g.train_scores, Pick(s.labels, g.report.train_rows));
  const double val = *Auc(g.validation_scores, Pick(s.labels, g.report.validation_rows));
  EXPECT_GE(train, 0.987);
  EXPECT_GE(val, 0.987);
  EXPECT_NEAR(train, plain.train, 0.01 * plain.train);
  EXPECT_NEAR(val, plain.validation, 0.01 * plain.validation);
  EXPECT_EQ(g.report.monitored_loss.size(), static_cast<size_t>(g.report.epochs_run));
  EXPECT_EQ(run.hosts[0]->model.weights.size(), 10u);
  EXPECT_EQ(run.hosts[1]->model.weights.size(), 10u);
  auto plain_model = TrainPlaintextLr(internal::JoinColumns(s.guest, s.host), s.labels, p);
  ASSERT_TRUE(plain_model.ok());
  for (size_t c = 0; c < 10; ++c) {
    EXPECT_NEAR(run.hosts[1]->model.weights[c], plain_model->weights[s.guest.cols + 10 + c], 0.01);
  }
}

// A run interrupted after epoch 3 of 6 (the guest cancels), then retried with the same
// checkpoint directories: both parties resume from epoch 3 and reach the plaintext quality.
TEST(HeteroLrMpc, ResumesFromCheckpointsAfterAnInterruptedRun) {
  const HeteroSplit& s = Breast();
  LrParams p = BreastParams();
  p.epochs = 6;
  p.tolerance = 1e-12;  // monitoring on: the stop rule's state is checkpointed too
  char gt[] = "/tmp/fl_ckpt_guest_XXXXXX", ht[] = "/tmp/fl_ckpt_host_XXXXXX";
  ASSERT_NE(mkdtemp(gt), nullptr);
  ASSERT_NE(mkdtemp(ht), nullptr);
  std::atomic<bool> cancel{false};
  HeteroLrHooks gh, hh;
  gh.checkpoint_dir = gt;
  hh.checkpoint_dir = ht;
  gh.cancelled = &cancel;
  gh.progress = [&](double f) {
    if (f >= 0.5 - 1e-9) cancel = true;
  };
  auto first = internal::RunHeteroLrLocal(HeteroLrVariant::kMpc, s.guest, s.labels, s.host, p,
                                          {}, MpcSigmoid::kAccurate, gh, hh);
  EXPECT_EQ(first.guest.status().code(), absl::StatusCode::kCancelled);
  EXPECT_FALSE(first.host.ok());
  EXPECT_TRUE(std::filesystem::exists(std::string(gt) + "/fl-hetero-lr-3.json"));
  EXPECT_TRUE(std::filesystem::exists(std::string(ht) + "/fl-hetero-lr-3.json"));
  EXPECT_FALSE(std::filesystem::exists(std::string(gt) + "/fl-hetero-lr-1.json"));  // pruned
  gh.cancelled = nullptr;
  gh.progress = nullptr;
  auto second = internal::RunHeteroLrLocal(HeteroLrVariant::kMpc, s.guest, s.labels, s.host, p,
                                           {}, MpcSigmoid::kAccurate, gh, hh);
  ASSERT_TRUE(second.guest.ok()) << second.guest.status();
  ASSERT_TRUE(second.host.ok()) << second.host.status();
  EXPECT_EQ(second.guest->resumed_from_epoch, 3);
  EXPECT_EQ(second.host->resumed_from_epoch, 3);
  EXPECT_EQ(second.guest->report.epochs_run, 6);
  EXPECT_EQ(second.guest->report.monitored_loss.size(), 6u);
  auto plain = TrainPlaintextLr(internal::JoinColumns(s.guest, s.host), s.labels, p);
  ASSERT_TRUE(plain.ok());
  for (size_t c = 0; c < s.host.cols; ++c) {
    EXPECT_NEAR(second.host->model.weights[c], plain->weights[s.guest.cols + c], 0.01) << c;
  }
  // A retry after the last epoch (e.g. storing the model failed) resumes at the end.
  auto again = internal::RunHeteroLrLocal(HeteroLrVariant::kMpc, s.guest, s.labels, s.host, p,
                                          {}, MpcSigmoid::kAccurate, gh, hh);
  ASSERT_TRUE(again.guest.ok()) << again.guest.status();
  EXPECT_EQ(again.guest->resumed_from_epoch, 6);
  EXPECT_EQ(again.host->model.weights, second.host->model.weights);
  // Other parameters: the checkpoints do not apply (digest), training starts from scratch.
  p.learning_rate = 0.1;
  auto third = internal::RunHeteroLrLocal(HeteroLrVariant::kMpc, s.guest, s.labels, s.host, p,
                                          {}, MpcSigmoid::kAccurate, gh, hh);
  ASSERT_TRUE(third.guest.ok()) << third.guest.status();
  EXPECT_EQ(third.guest->resumed_from_epoch, 0);
  std::filesystem::remove_all(gt);
  std::filesystem::remove_all(ht);
}

TEST(HeteroLrMpc, EarlyStoppingAgreesOnBothSides) {
  const HeteroSplit& s = Breast();
  LrParams p = BreastParams();
  p.epochs = 200;
  p.learning_rate = 1.0;
  p.early_stopping_rounds = 2;
  auto run = internal::RunHeteroLrLocal(HeteroLrVariant::kMpc, s.guest, s.labels, s.host, p);
  ASSERT_TRUE(run.guest.ok()) << run.guest.status();
  ASSERT_TRUE(run.host.ok()) << run.host.status();
  EXPECT_TRUE(run.guest->report.early_stopped);
  EXPECT_TRUE(run.host->report.early_stopped);
  EXPECT_EQ(run.guest->report.epochs_run, run.host->report.epochs_run);
  EXPECT_LT(run.guest->report.epochs_run, 200);
}

TEST(HeteroLr, MismatchedParamsOrRowsFailPrecondition) {
  const HeteroSplit& s = Breast();
  auto [lg, lh] = net::CreateInMemoryLinkPair("guest", "host");
  LrParams pg = BreastParams(), ph = BreastParams();
  ph.learning_rate = 0.3;
  PaillierOptions opt;
  opt.key_bits = 1024;
  opt.insecure_small_keys_for_testing = true;
  StatusOr<HeteroLrResult> h = absl::UnknownError("");
  std::thread t([&, &lh = lh] {
    h = TrainHeteroLrPaillier(HeteroRole::kHost, *lh, s.host, nullptr, ph, opt);
  });
  auto g = TrainHeteroLrPaillier(HeteroRole::kGuest, *lg, s.guest, &s.labels, pg, opt);
  t.join();
  EXPECT_EQ(g.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(h.status().code(), absl::StatusCode::kFailedPrecondition);

  auto [lg2, lh2] = net::CreateInMemoryLinkPair("guest", "host");
  Matrix fewer = s.host.Rows({0, 1, 2, 3, 4});
  std::thread t2([&, &lh2 = lh2] {
    h = TrainHeteroLrPaillier(HeteroRole::kHost, *lh2, fewer, nullptr, pg, opt);
  });
  g = TrainHeteroLrPaillier(HeteroRole::kGuest, *lg2, s.guest, &s.labels, pg, opt);
  t2.join();
  EXPECT_EQ(g.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(h.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(HeteroLr, BadLocalInputIsInvalidArgument) {
  const HeteroSplit& s = Breast();
  auto [lg, lh] = net::CreateInMemoryLinkPair("guest", "host");
  std::vector<double> bad = s.labels;
  bad[3] = 0.5;
  EXPECT_EQ(TrainHeteroLrPaillier(HeteroRole::kGuest, *lg, s.guest, &bad, BreastParams()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(TrainHeteroLrPaillier(HeteroRole::kGuest, *lg, s.guest, nullptr, BreastParams()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(TrainHeteroLrPaillier(HeteroRole::kHost, *lh, s.host, &s.labels, BreastParams()).status().code(),
            absl::StatusCode::kInvalidArgument);
  LrParams p = BreastParams();
  p.epochs = 0;
  EXPECT_EQ(TrainHeteroLrPaillier(HeteroRole::kHost, *lh, s.host, nullptr, p).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseHeteroLrVariant("secureboost").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(HeteroLr, MalformedPeerMessagesAreInvalidArgument) {
  const HeteroSplit& s = Breast();
  auto [lg, lh] = net::CreateInMemoryLinkPair("guest", "host");
  ASSERT_TRUE(lh->Send(AsBytes("not json")).ok());
  auto g = TrainHeteroLrPaillier(HeteroRole::kGuest, *lg, s.guest, &s.labels, BreastParams());
  EXPECT_EQ(g.status().code(), absl::StatusCode::kInvalidArgument);
  // Partial scores with a bad length.
  HeteroLrPartModel m;
  m.scaler = Scaler::Fit(s.host, {}, Standardize::kNone);
  m.weights.assign(s.host.cols, 0.1);
  auto [a, b] = net::CreateInMemoryLinkPair("guest", "host");
  Bytes bad_len;
  AppendU64(bad_len, s.host.rows);
  bad_len.resize(bad_len.size() + 4);  // 4 bytes instead of 8 per row
  ASSERT_TRUE(b->Send(bad_len).ok());
  EXPECT_EQ(PredictHeteroLr(m, {a.get()}, s.host, true).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// The host side against a hand-written guest: malformed layout / decision messages.
TEST(HeteroLr, MalformedGuestMessagesAtTheHostAreInvalidArgument) {
  const HeteroSplit& s = Breast();
  LrParams p = BreastParams();
  p.tolerance = 1e-6;
  auto hello = [&](int cols) {
    return Json{{"protocol", "fl.hetero_lr/1"}, {"options", "sigmoid=accurate"},
                {"variant", "mpc"},             {"role", "guest"},
                {"party_index", 0},             {"rows", s.host.rows},
                {"cols", cols},                 {"params", LrParamsToJson(p)}};
  };
  for (const Json& layout : {Json{{"cols", {11}}}, Json{{"cols", {11, 999}}},
                             Json{{"cols", {11, 0}}}, Json{{"cols", "x"}}}) {
    auto [lg, lh] = net::CreateInMemoryLinkPair("guest", "host");
    ASSERT_TRUE(lg->Send(AsBytes(hello(11).dump())).ok());
    ASSERT_TRUE(lg->Send(AsBytes(layout.dump())).ok());
    mpc::PlaintextBackend be(mpc::FixedPoint::Create().value(), 2);
    auto r = TrainHeteroLrMpc(be, HeteroRole::kHost, {lh.get()}, s.host, nullptr, p);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << layout;
  }
  // A guest claiming another sigmoid: FailedPrecondition.
  auto [lg, lh] = net::CreateInMemoryLinkPair("guest", "host");
  Json other = hello(11);
  other["options"] = "sigmoid=piecewise";
  ASSERT_TRUE(lg->Send(AsBytes(other.dump())).ok());
  mpc::PlaintextBackend be(mpc::FixedPoint::Create().value(), 2);
  EXPECT_EQ(TrainHeteroLrMpc(be, HeteroRole::kHost, {lh.get()}, s.host, nullptr, p).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(HeteroLr, PredictMatchesLocalScoresAndModelRoundTrips) {
  const HeteroSplit& s = Breast();
  LrParams p = BreastParams();
  p.epochs = 3;
  auto run = internal::RunHeteroLrLocal(HeteroLrVariant::kMpc, s.guest, s.labels, s.host, p);
  ASSERT_TRUE(run.guest.ok() && run.host.ok());
  auto gm = HeteroLrPartModel::Parse(run.guest->model.Serialize());
  auto hm = HeteroLrPartModel::Parse(run.host->model.Serialize());
  ASSERT_TRUE(gm.ok() && hm.ok());
  EXPECT_EQ(gm->weights, run.guest->model.weights);
  EXPECT_EQ(hm->role, HeteroRole::kHost);
  auto [lg, lh] = net::CreateInMemoryLinkPair("guest", "host");
  StatusOr<std::vector<double>> hs = absl::UnknownError("");
  std::thread t([&, &lh = lh] { hs = PredictHeteroLr(*hm, {lh.get()}, s.host, false); });
  auto gs = PredictHeteroLr(*gm, {lg.get()}, s.guest, true);
  t.join();
  ASSERT_TRUE(gs.ok() && hs.ok());
  EXPECT_TRUE(hs->empty());
  // The training run's final scores are the same function of the same rows (revealed from
  // the MPC in fixed point: 18 fractional bits).
  const auto& train_rows = run.guest->report.train_rows;
  for (size_t i = 0; i < train_rows.size(); i += 37) {
    EXPECT_NEAR((*gs)[train_rows[i]], run.guest->train_scores[i], 1e-5);
  }
  // Row-count mismatch.
  auto [lg2, lh2] = net::CreateInMemoryLinkPair("guest", "host");
  Matrix fewer = s.host.Rows({0, 1});
  std::thread t2([&, &lh2 = lh2] { hs = PredictHeteroLr(*hm, {lh2.get()}, fewer, false); });
  gs = PredictHeteroLr(*gm, {lg2.get()}, s.guest, true);
  t2.join();
  EXPECT_EQ(gs.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(HeteroLrPartModel::Parse(AsBytes("{\"role\":\"x\"}")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(gm->PartialScores(s.host).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace consort::fl
