#include "consort/fl/plaintext_lr.h"

#include <cmath>

#include "consort/fl/internal/fate_data.h"
#include "consort/fl/internal/lr_loop.h"
#include "consort/fl/metrics.h"
#include "gtest/gtest.h"

namespace consort::fl {
namespace {

TEST(PlaintextLr, OneFullBatchStepMatchesHandComputation) {
  // From w = 0 every prediction is 0.5: grad = mean((0.5 - y) x); w = -lr * grad.
  Matrix x{2, 2, {1.0, 2.0, -1.0, 4.0}};
  std::vector<double> y = {1, 0};
  LrParams p;
  p.epochs = 1;
  p.batch_size = 0;
  p.learning_rate = 0.5;
  p.standardize = Standardize::kNone;
  auto m = TrainPlaintextLr(x, y, p);
  ASSERT_TRUE(m.ok()) << m.status();
  // grad_0 = ((-0.5)(1) + (0.5)(-1)) / 2 = -0.5; grad_1 = ((-0.5)(2) + (0.5)(4)) / 2 = 0.5;
  // grad_b = 0.
  EXPECT_NEAR(m->weights[0], 0.25, 1e-12);
  EXPECT_NEAR(m->weights[1], -0.25, 1e-12);
  EXPECT_NEAR(m->intercept, 0.0, 1e-12);
}

TEST(PlaintextLr, BreastReachesTargetAucOnTrainAndHeldOut) {
  auto s = internal::LoadFateHetero("breast");
  ASSERT_TRUE(s.ok()) << s.status();
  Matrix x = internal::JoinColumns(s->guest, s->host);
  LrParams p;
  p.epochs = 30;
  p.batch_size = 64;
  p.learning_rate = 0.15;
  p.validation_fraction = 0.2;
  auto m = TrainPlaintextLr(x, s->labels, p);
  ASSERT_TRUE(m.ok()) << m.status();
  std::vector<double> prob = m->PredictProba(x);
  auto subset = [&](const std::vector<size_t>& rows, std::vector<double>* pr,
                    std::vector<double>* yy) {
    for (size_t r : rows) {
      pr->push_back(prob[r]);
      yy->push_back(s->labels[r]);
    }
  };
  std::vector<double> pt, yt, pv, yv;
  subset(m->report.train_rows, &pt, &yt);
  subset(m->report.validation_rows, &pv, &yv);
  EXPECT_EQ(pv.size(), 114u);
  EXPECT_GE(*Auc(pt, yt), 0.987);
  EXPECT_GE(*Auc(pv, yv), 0.987);
}

TEST(PlaintextLr, SameSeedSameModelOtherSeedOtherBatches) {
  auto s = internal::LoadFateHetero("breast");
  ASSERT_TRUE(s.ok());
  Matrix x = internal::JoinColumns(s->guest, s->host);
  LrParams p;
  p.epochs = 2;
  auto a = TrainPlaintextLr(x, s->labels, p);
  auto b = TrainPlaintextLr(x, s->labels, p);
  p.seed = 7;
  auto c = TrainPlaintextLr(x, s->labels, p);
  EXPECT_EQ(a->weights, b->weights);
  EXPECT_NE(a->weights, c->weights);
}

TEST(PlaintextLr, L1ZeroesWeightsAndL2Shrinks) {
  auto s = internal::LoadFateHetero("breast");
  ASSERT_TRUE(s.ok());
  Matrix x = internal::JoinColumns(s->guest, s->host);
  LrParams p;
  p.epochs = 10;
  auto plain = TrainPlaintextLr(x, s->labels, p);
  p.l1 = 0.05;
  auto l1 = TrainPlaintextLr(x, s->labels, p);
  p.l1 = 0;
  p.l2 = 0.5;
  auto l2 = TrainPlaintextLr(x, s->labels, p);
  auto zeros = [](const std::vector<double>& w) {
    return std::count(w.begin(), w.end(), 0.0);
  };
  auto norm = [](const std::vector<double>& w) {
    double n = 0;
    for (double v : w) n += v * v;
    return n;
  };
  EXPECT_EQ(zeros(plain->weights), 0);
  EXPECT_GE(zeros(l1->weights), 5);
  EXPECT_LT(norm(l2->weights), 0.5 * norm(plain->weights));
}

TEST(PlaintextLr, EarlyStoppingAndToleranceStopBeforeMaxEpochs) {
  auto s = internal::LoadFateHetero("breast");
  ASSERT_TRUE(s.ok());
  Matrix x = internal::JoinColumns(s->guest, s->host);
  LrParams p;
  p.epochs = 500;
  p.learning_rate = 1.0;
  p.validation_fraction = 0.3;
  p.early_stopping_rounds = 3;
  auto es = TrainPlaintextLr(x, s->labels, p);
  ASSERT_TRUE(es.ok());
  EXPECT_TRUE(es->report.early_stopped);
  EXPECT_LT(es->report.epochs_run, 500);
  // The kept weights are the best epoch's: its loss is the minimum seen.
  const auto& loss = es->report.monitored_loss;
  EXPECT_EQ(loss.size(), static_cast<size_t>(es->report.epochs_run));
  p.early_stopping_rounds = 0;
  p.tolerance = 1e-3;
  auto tol = TrainPlaintextLr(x, s->labels, p);
  ASSERT_TRUE(tol.ok());
  EXPECT_TRUE(tol->report.converged);
  const auto& tl = tol->report.monitored_loss;
  ASSERT_GE(tl.size(), 2u);
  EXPECT_LT(std::fabs(tl[tl.size() - 1] - tl[tl.size() - 2]), 1e-3);
}

TEST(PlaintextLr, InverseTimeDecay) {
  LrParams p;
  p.schedule = LrSchedule::kInverseTime;
  p.learning_rate = 1.0;
  p.decay = 0.5;
  EXPECT_DOUBLE_EQ(internal::LearningRate(p, 0), 1.0);
  EXPECT_DOUBLE_EQ(internal::LearningRate(p, 2), 0.5);
  p.schedule = LrSchedule::kConstant;
  EXPECT_DOUBLE_EQ(internal::LearningRate(p, 2), 1.0);
}

TEST(PlaintextLr, BatchesCoverTrainingRowsOnce) {
  internal::Split sp = internal::SplitRows(100, 0.2, 3);
  EXPECT_EQ(sp.validation.size(), 20u);
  EXPECT_EQ(sp.train.size(), 80u);
  auto batches = internal::EpochBatches(sp.train, 32, 3, 0);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[2].size(), 16u);
  std::vector<size_t> all;
  for (auto& b : batches) all.insert(all.end(), b.begin(), b.end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, sp.train);
}

TEST(PlaintextLr, ParamsFromJsonAndErrors) {
  auto p = LrParamsFromJson(Json{{"epochs", 3}, {"schedule", "inverse_time"}, {"decay", 0.1},
                                 {"standardize", "minmax"}});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->epochs, 3);
  EXPECT_EQ(p->schedule, LrSchedule::kInverseTime);
  EXPECT_EQ(p->standardize, Standardize::kMinMax);
  EXPECT_EQ(LrParamsFromJson(LrParamsToJson(*p))->decay, 0.1);
  for (const Json& bad : {Json{{"epochs", 0}}, Json{{"epochs", "3"}}, Json{{"learning_rate", -1}},
                          Json{{"schedule", "cosine"}}, Json{{"validation_fraction", 0.9}},
                          Json{{"early_stopping_rounds", 2}}, Json{{"l1", -0.1}},
                          Json{{"batch_size", -5}}, Json::array()}) {
    EXPECT_EQ(LrParamsFromJson(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  Matrix x{1, 1, {1.0}};
  std::vector<double> y = {2.0};
  EXPECT_EQ(TrainPlaintextLr(x, y, LrParams{}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace consort::fl
