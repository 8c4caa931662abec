#include "consort/fl/metrics.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"

namespace consort::fl {
namespace {

// Hand-computed example: 3 positives, 3 negatives, one tie across the classes at 0.8.
const std::vector<double> kScores = {0.9, 0.8, 0.8, 0.4, 0.3, 0.1};
const std::vector<double> kLabels = {1, 1, 0, 1, 0, 0};

TEST(Metrics, AucCountsTiesAsHalf) {
  // Pairs won: 0.9 beats 3 negatives; 0.8 ties one (0.5) and beats two; 0.4 beats two.
  // (3 + 2.5 + 2) / 9.
  auto auc = Auc(kScores, kLabels);
  ASSERT_TRUE(auc.ok()) << auc.status();
  EXPECT_NEAR(*auc, 7.5 / 9.0, 1e-12);
}

TEST(Metrics, AucExtremes) {
  std::vector<double> s = {0.1, 0.2, 0.7, 0.9}, y = {0, 0, 1, 1};
  EXPECT_DOUBLE_EQ(*Auc(s, y), 1.0);
  std::vector<double> rev = {1, 1, 0, 0};
  EXPECT_DOUBLE_EQ(*Auc(s, rev), 0.0);
  std::vector<double> same = {0.5, 0.5, 0.5, 0.5};
  EXPECT_DOUBLE_EQ(*Auc(same, y), 0.5);
  EXPECT_DOUBLE_EQ(*Ks(same, y), 0.0);
}

TEST(Metrics, KsMovesTieGroupsTogether) {
  // TPR-FPR after each group: 1/3, 2/3-1/3, 1-1/3, 1-2/3, 0 -> max 2/3.
  auto ks = Ks(kScores, kLabels);
  ASSERT_TRUE(ks.ok()) << ks.status();
  EXPECT_NEAR(*ks, 2.0 / 3.0, 1e-12);
  std::vector<double> s = {0.1, 0.2, 0.7, 0.9}, y = {0, 0, 1, 1};
  EXPECT_DOUBLE_EQ(*Ks(s, y), 1.0);
}

TEST(Metrics, ThresholdCounts) {
  auto m = AtThreshold(kScores, kLabels, 0.5);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->true_positive, 2);
  EXPECT_EQ(m->false_positive, 1);
  EXPECT_EQ(m->true_negative, 2);
  EXPECT_EQ(m->false_negative, 1);
  EXPECT_NEAR(m->accuracy, 4.0 / 6.0, 1e-12);
  EXPECT_NEAR(m->precision, 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(m->recall, 2.0 / 3.0, 1e-12);
  // A score equal to the threshold is predicted positive.
  auto at = AtThreshold(kScores, kLabels, 0.8);
  EXPECT_EQ(at->true_positive, 2);
  EXPECT_EQ(at->false_positive, 1);
  auto high = AtThreshold(kScores, kLabels, 0.85);
  EXPECT_DOUBLE_EQ(high->precision, 1.0);
  EXPECT_NEAR(high->recall, 1.0 / 3.0, 1e-12);
  auto none = AtThreshold(kScores, kLabels, 2.0);
  EXPECT_DOUBLE_EQ(none->precision, 0.0);
  EXPECT_DOUBLE_EQ(none->recall, 0.0);
  EXPECT_NEAR(none->accuracy, 0.5, 1e-12);
}

TEST(Metrics, LogLossKnownValue) {
  std::vector<double> p = {0.9, 0.2}, y = {1, 0};
  EXPECT_NEAR(*LogLoss(p, y), -(std::log(0.9) + std::log(0.8)) / 2, 1e-12);
  // Clipping keeps a confident mistake finite: -log(1e-15).
  std::vector<double> wrong = {0.0}, one = {1};
  EXPECT_NEAR(*LogLoss(wrong, one), -std::log(1e-15), 1e-9);
}

TEST(Metrics, EvaluateBinaryAgrees) {
  std::vector<double> p = {0.9, 0.8, 0.8, 0.4, 0.3, 0.1};
  auto m = EvaluateBinary(p, kLabels);
  ASSERT_TRUE(m.ok());
  EXPECT_NEAR(m->auc, 7.5 / 9.0, 1e-12);
  EXPECT_NEAR(m->ks, 2.0 / 3.0, 1e-12);
  EXPECT_EQ(m->at_half.true_positive, 2);
  EXPECT_NEAR(m->log_loss, *LogLoss(p, kLabels), 1e-15);
}

TEST(Metrics, BadInputIsInvalidArgument) {
  std::vector<double> empty;
  EXPECT_EQ(Auc(empty, empty).status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<double> s = {0.1, 0.2}, y1 = {1};
  EXPECT_EQ(Ks(s, y1).status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<double> bad_label = {0, 2};
  EXPECT_EQ(AtThreshold(s, bad_label, 0.5).status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<double> one_class = {1, 1};
  EXPECT_EQ(Auc(s, one_class).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Ks(s, one_class).status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<double> nan = {NAN, 0.2}, y = {0, 1};
  EXPECT_EQ(Auc(nan, y).status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<double> out_of_range = {1.5, 0.2};
  EXPECT_EQ(LogLoss(out_of_range, y).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace consort::fl
