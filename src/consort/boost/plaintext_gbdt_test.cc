#include "consort/boost/plaintext_gbdt.h"

#include <gtest/gtest.h>

#include <cmath>

#include "consort/boost/internal/testdata.h"
#include "consort/fl/metrics.h"

namespace consort::boost {
namespace {

TEST(QuantileBins, EdgesAndMissing) {
  FeatureMatrix x;
  x.names = {"a"};
  x.columns = {{1, 2, 3, 4, 5, 6, 7, 8, std::nan(""), 8}};
  auto b = BuildBins(x, 4);
  ASSERT_TRUE(b.ok());
  // 9 values, quartile ranks 3, 5, 7 (1-based) -> 3, 5, 7.
  EXPECT_EQ(b->cuts[0].edges, (std::vector<double>{3, 5, 7}));
  EXPECT_EQ(b->at(0, 0), 0);
  EXPECT_EQ(b->at(2, 0), 0);  // 3 <= e_0
  EXPECT_EQ(b->at(3, 0), 1);
  EXPECT_EQ(b->at(7, 0), 3);
  EXPECT_EQ(b->at(8, 0), kMissingBin);
  EXPECT_EQ(BuildBins(x, 1).status().code(), absl::StatusCode::kInvalidArgument);
  // A constant feature has no cut points: one bin.
  x.columns = {{2, 2, 2}};
  auto c = BuildBins(x, 8);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->cuts[0].edges.empty());
}

TEST(PlaintextGbdt, SeparatesAStepAndLearnsMissingDirection) {
  // y = 1 iff x > 0.5 or x missing; a second feature is noise.
  FeatureMatrix x;
  x.names = {"x", "noise"};
  x.columns.resize(2);
  std::vector<double> y;
  for (int i = 0; i < 400; ++i) {
    const double v = (i % 100) / 100.0;
    const bool missing = i % 10 == 3;
    x.columns[0].push_back(missing ? std::nan("") : v);
    x.columns[1].push_back(((i * 37) % 101) / 101.0);
    y.push_back(missing || v > 0.5 ? 1.0 : 0.0);
  }
  BoostParams p;
  p.num_trees = 5;
  p.max_depth = 2;
  p.seed = 1;
  p.bins = 128;  // one bin per distinct value: the step at 0.5 is a cut point
  std::vector<double> raw;
  auto m = TrainPlaintextGbdt(x, y, p, &raw);
  ASSERT_TRUE(m.ok()) << m.status();
  for (size_t i = 0; i < y.size(); ++i) EXPECT_EQ(raw[i] > 0, y[i] == 1.0) << i;
  EXPECT_EQ(m->trees[0].nodes[0].feature, 0);
  // Prediction from raw values equals the training scores (bins and thresholds agree).
  auto pred = PredictRaw(*m, x);
  ASSERT_TRUE(pred.ok());
  for (size_t i = 0; i < y.size(); ++i) EXPECT_DOUBLE_EQ((*pred)[i], raw[i]);
  // Model round trip.
  auto back = GbdtModel::Parse(m->Serialize());
  ASSERT_TRUE(back.ok()) << back.status();
  auto pred2 = PredictRaw(*back, x);
  ASSERT_TRUE(pred2.ok());
  EXPECT_EQ(*pred2, *pred);
}

TEST(PlaintextGbdt, BreastAucAtLeast0990) {
  auto d = testdata::LoadHetero("breast");
  ASSERT_TRUE(d.ok()) << d.status();
  BoostParams p;
  p.num_trees = 30;
  p.max_depth = 3;
  p.seed = 7;
  std::vector<double> raw;
  auto m = TrainPlaintextGbdt(testdata::Joined(*d), d->labels, p, &raw);
  ASSERT_TRUE(m.ok()) << m.status();
  auto auc = fl::Auc(raw, d->labels);
  ASSERT_TRUE(auc.ok());
  EXPECT_GE(*auc, 0.990);
}

TEST(PlaintextGbdt, RejectsBadInput) {
  FeatureMatrix x;
  x.names = {"a"};
  x.columns = {{1, 2, 3}};
  BoostParams p;
  EXPECT_EQ(TrainPlaintextGbdt(x, std::vector<double>{0, 1, 2}, p).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(TrainPlaintextGbdt(x, std::vector<double>{1, 1, 1}, p).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(TrainPlaintextGbdt(x, std::vector<double>{0, 1}, p).status().code(),
            absl::StatusCode::kInvalidArgument);
  p.max_depth = 0;
  EXPECT_EQ(TrainPlaintextGbdt(x, std::vector<double>{0, 1, 1}, p).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace consort::boost
