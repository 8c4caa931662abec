#include "consort/boost/secureboost_operator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "consort/engine/operator.h"
#include "consort/engine/testing.h"
#include "consort/fl/metrics.h"

namespace consort::boost {
namespace {

using engine::testing::CsvTable;
using engine::testing::RunLocally;

const engine::Operator& Op(const char* name) {
  RegisterBoostOperators();
  return **engine::OperatorRegistry::Global().Find(name);
}

const std::string kJob(64, 'b');
const std::string kJob2(64, 'c');

// Synthetic vertical data: guest (id, y, g0, g1), host (id, h0, h1, h2); y depends on both.
struct Data {
  std::vector<int> ids;
  std::map<int, std::string> guest_rows, host_rows;
};

Data Make(size_t n) {
  Data d;
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(0, 1);
  for (size_t i = 0; i < n; ++i) {
    const int id = 1000 + static_cast<int>(i) * 7;
    const double g0 = u(rng), g1 = u(rng), h0 = u(rng), h1 = u(rng), h2 = u(rng);
    const double z = 3 * (g0 - 0.5) + 4 * (h0 - 0.5) - 2 * (h1 > 0.7) + 0.5 * (u(rng) - 0.5);
    const int y = z > 0 ? 1 : 0;
    d.ids.push_back(id);
    d.guest_rows[id] = std::to_string(id) + "," + std::to_string(y) + "," + std::to_string(g0) +
                       "," + std::to_string(g1);
    d.host_rows[id] = std::to_string(id) + "," + std::to_string(h0) + "," +
                      (i % 17 == 0 ? std::string("") : std::to_string(h1)) + "," +
                      std::to_string(h2);
  }
  return d;
}

std::string Csv(const std::string& header, const std::map<int, std::string>& rows,
                const std::vector<int>& order) {
  std::string s = header + "\n";
  for (int id : order) s += rows.at(id) + "\n";
  return s;
}

Json TrainParams(bool align) {
  Json p = {{"guest", "bank"},       {"model_name", "sb1"}, {"label_column", "y"},
            {"num_trees", 3},        {"max_depth", 3},      {"bins", 16},
            {"seed", 9}};
  if (align) p["id_columns"] = {{"bank", {"id"}}, {"shop", {"id"}}};
  return p;
}

// Id columns are listed only when they align rows (a listed column is otherwise a feature).
engine::JobSpec TrainSpec(Json params, std::map<std::string, std::string> outputs = {
                                           {"bank", "metrics"}}) {
  const bool align = params.contains("id_columns");
  std::vector<std::string> g = {"y", "g0", "g1"}, h = {"h0", "h1", "h2"};
  if (align) {
    g.insert(g.begin(), "id");
    h.insert(h.begin(), "id");
  }
  return engine::testing::MakeSpec("fl.secureboost.train",
                                   {{"bank", {"labels", g, ""}}, {"shop", {"features", h, ""}}}, outputs,
                                   std::move(params));
}

engine::JobSpec PredictSpec(const std::string& receiver, bool align) {
  Json p = {{"guest", "bank"}, {"model_name", "sb1"}};
  if (align) p["id_columns"] = Json::array({"id"});  // list form: the same name at both
  std::vector<std::string> g = {"g0", "g1"}, h = {"h0", "h1", "h2"};
  if (align) {
    g.insert(g.begin(), "id");
    h.insert(h.begin(), "id");
  }
  return engine::testing::MakeSpec("fl.secureboost.predict",
                                   {{"bank", {"labels", g, ""}}, {"shop", {"features", h, ""}}},
                                   {{receiver, "scores"}}, p);
}

TEST(SecureBoostOperator, TrainStoresModelPartsAndPredictMatchesTrainingMetrics) {
  const Data d = Make(240);
  std::map<std::string, std::shared_ptr<const data::Table>> inputs = {
      {"bank", CsvTable(Csv("id,y,g0,g1", d.guest_rows, d.ids))},
      {"shop", CsvTable(Csv("id,h0,h1,h2", d.host_rows, d.ids))}};
  auto out = RunLocally(Op("fl.secureboost.train"), kJob, TrainSpec(TrainParams(false)), inputs);
  ASSERT_TRUE(out["bank"].status.ok()) << out["bank"].status;
  ASSERT_TRUE(out["shop"].status.ok()) << out["shop"].status;
  const Json& s = out["bank"].summary;
  EXPECT_EQ(s["rows"], 240);
  EXPECT_EQ(s["trees"], 3);
  const double auc = s["train"]["auc"].get<double>();
  EXPECT_GT(auc, 0.9);
  EXPECT_GT(s["train"]["ks"].get<double>(), 0.5);
  EXPECT_TRUE(out["shop"].summary.is_null());
  // Both parties hold a part; metadata carries no thresholds or leaf values.
  ASSERT_EQ(out["bank"].models.count("sb1"), 1u);
  ASSERT_EQ(out["shop"].models.count("sb1"), 1u);
  const auto& gm = out["bank"].models["sb1"];
  const auto& hm = out["shop"].models["sb1"];
  EXPECT_EQ(gm.metadata["role"], "guest");
  EXPECT_EQ(hm.metadata["role"], "host");
  EXPECT_EQ(hm.metadata["features"], Json({"h0", "h1", "h2"}));
  for (const auto* m : {&gm, &hm}) {
    const std::string meta = m->metadata.dump();
    EXPECT_EQ(meta.find("threshold"), std::string::npos);
    EXPECT_EQ(meta.find("\"trees\""), std::string::npos);
    EXPECT_FALSE(m->blob.empty());
  }

  // Predict on the same rows, scores to the guest: same AUC as training reported.
  engine::testing::LocalRunOptions with_models;
  with_models.models["bank"]["sb1"] = gm;
  with_models.models["shop"]["sb1"] = hm;
  auto pred = RunLocally(Op("fl.secureboost.predict"), kJob2, PredictSpec("bank", false), inputs,
                         with_models);
  ASSERT_TRUE(pred["bank"].status.ok()) << pred["bank"].status;
  ASSERT_TRUE(pred["shop"].status.ok()) << pred["shop"].status;
  EXPECT_TRUE(pred["shop"].tables.empty());
  ASSERT_EQ(pred["bank"].tables.count("scores"), 1u);
  const data::Table& t = pred["bank"].tables.at("scores");
  ASSERT_EQ(t.num_rows(), 240u);
  std::vector<double> scores, labels;
  const data::Table& g = *inputs["bank"];
  for (size_t r = 0; r < t.num_rows(); ++r) {
    EXPECT_EQ(t.column(0).Int64(r), static_cast<int64_t>(r));  // "row"
    scores.push_back(t.column(1).Float64(r));
    labels.push_back(static_cast<double>(g.column(1).Int64(r)));
  }
  EXPECT_NEAR(*fl::Auc(scores, labels), auc, 1e-12);

  // Shuffled and dropped rows, aligned by PSI on id; scores go to the host, keyed by its ids.
  std::vector<int> g_order = d.ids, h_order = d.ids;
  std::mt19937_64 rng(5);
  std::shuffle(g_order.begin(), g_order.end(), rng);
  std::shuffle(h_order.begin(), h_order.end(), rng);
  g_order.resize(200);  // 40 guest rows dropped
  h_order.erase(h_order.begin(), h_order.begin() + 10);
  std::map<std::string, std::shared_ptr<const data::Table>> shuffled = {
      {"bank", CsvTable(Csv("id,y,g0,g1", d.guest_rows, g_order))},
      {"shop", CsvTable(Csv("id,h0,h1,h2", d.host_rows, h_order))}};
  auto pred2 = RunLocally(Op("fl.secureboost.predict"), kJob2, PredictSpec("shop", true), shuffled,
                          with_models);
  ASSERT_TRUE(pred2["bank"].status.ok()) << pred2["bank"].status;
  ASSERT_TRUE(pred2["shop"].status.ok()) << pred2["shop"].status;
  EXPECT_TRUE(pred2["bank"].tables.empty());
  const data::Table& t2 = pred2["shop"].tables.at("scores");
  std::set<int> common;
  for (int id : g_order) {
    if (std::find(h_order.begin(), h_order.end(), id) != h_order.end()) common.insert(id);
  }
  ASSERT_EQ(t2.num_rows(), common.size());
  for (size_t r = 0; r < t2.num_rows(); ++r) {
    const int id = static_cast<int>(t2.column(0).Int64(r));
    ASSERT_TRUE(common.count(id));
    const size_t orig = static_cast<size_t>((id - 1000) / 7);
    EXPECT_NEAR(t2.column(1).Float64(r), scores[orig], 1e-12) << id;
  }
}

TEST(SecureBoostOperator, TrainsOnPsiAlignedShuffledRows) {
  const Data d = Make(150);
  std::vector<int> g_order = d.ids, h_order = d.ids;
  std::mt19937_64 rng(8);
  std::shuffle(h_order.begin(), h_order.end(), rng);
  h_order.resize(130);
  std::map<std::string, std::shared_ptr<const data::Table>> inputs = {
      {"bank", CsvTable(Csv("id,y,g0,g1", d.guest_rows, g_order))},
      {"shop", CsvTable(Csv("id,h0,h1,h2", d.host_rows, h_order))}};
  auto out = RunLocally(Op("fl.secureboost.train"), kJob, TrainSpec(TrainParams(true)), inputs);
  ASSERT_TRUE(out["bank"].status.ok()) << out["bank"].status;
  ASSERT_TRUE(out["shop"].status.ok()) << out["shop"].status;
  EXPECT_EQ(out["bank"].summary["rows"], 130);
  EXPECT_GT(out["bank"].summary["train"]["auc"].get<double>(), 0.9);
  EXPECT_EQ(out["shop"].models["sb1"].metadata["rows"], 130);
  // Without alignment the row counts differ: the host refuses (FailedPrecondition).
  auto bad = RunLocally(Op("fl.secureboost.train"), kJob, TrainSpec(TrainParams(false)), inputs);
  EXPECT_EQ(bad["shop"].status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(bad["bank"].status.ok());
}

TEST(SecureBoostOperator, ErrorCodes) {
  const Data d = Make(40);
  std::map<std::string, std::shared_ptr<const data::Table>> inputs = {
      {"bank", CsvTable(Csv("id,y,g0,g1", d.guest_rows, d.ids))},
      {"shop", CsvTable(Csv("id,h0,h1,h2", d.host_rows, d.ids))}};
  engine::testing::StaticCatalog catalog;
  catalog.Add({"bank", "labels", {{"id", "int64"}, {"y", "int64"}, {"g0", "float64"}, {"g1", "float64"}}, 40, ""});
  catalog.Add({"shop", "features", {{"id", "int64"}, {"h0", "float64"}, {"h1", "string"}, {"h2", "float64"}}, 40, ""});
  const auto& train = Op("fl.secureboost.train");
  auto code = [&](Json params, std::map<std::string, std::string> outs = {{"bank", "metrics"}}) {
    return engine::ValidateJob(TrainSpec(std::move(params), std::move(outs)), catalog).code();
  };
  Json p = TrainParams(false);
  EXPECT_EQ(code(p), absl::StatusCode::kInvalidArgument);  // shop.h1 is a string column
  catalog.Add({"shop", "features", {{"id", "int64"}, {"h0", "float64"}, {"h1", "float64"}, {"h2", "float64"}}, 40, ""});
  EXPECT_EQ(code(p), absl::StatusCode::kOk);
  Json q = p;
  q.erase("guest");
  EXPECT_EQ(code(q), absl::StatusCode::kInvalidArgument);
  q = p;
  q["guest"] = "nobody";
  EXPECT_EQ(code(q), absl::StatusCode::kInvalidArgument);
  q = p;
  q["max_depht"] = 3;
  EXPECT_EQ(code(q), absl::StatusCode::kInvalidArgument);
  q = p;
  q["subsample"] = 0;
  EXPECT_EQ(code(q), absl::StatusCode::kInvalidArgument);
  q = p;
  q["label_column"] = "nope";
  EXPECT_EQ(code(q), absl::StatusCode::kNotFound);
  q = p;
  q["id_columns"] = {{"bank", {"id"}}};  // shop missing
  EXPECT_EQ(code(q), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(p, {{"shop", "metrics"}}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(train.info().name, "fl.secureboost.train");

  // A model name that already exists on a party: AlreadyExists before any work.
  engine::testing::LocalRunOptions existing;
  existing.models["shop"]["sb1"] = engine::StoredModel{Json::object(), Bytes{1}};
  auto out = RunLocally(train, kJob, TrainSpec(p), inputs, existing);
  EXPECT_EQ(out["shop"].status.code(), absl::StatusCode::kAlreadyExists);
  // Predict without a stored model: NotFound.
  auto pred = RunLocally(Op("fl.secureboost.predict"), kJob2, PredictSpec("bank", false), inputs);
  EXPECT_EQ(pred["bank"].status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(pred["shop"].status.code(), absl::StatusCode::kNotFound);
  // A label that is not 0/1 names the row.
  auto bad_labels = CsvTable("id,y,g0,g1\n1,0,0.1,0.2\n2,2,0.3,0.4\n");
  auto host2 = CsvTable("id,h0,h1,h2\n1,0.1,0.2,0.3\n2,0.4,0.5,0.6\n");
  auto bl = RunLocally(train, kJob, TrainSpec(p), {{"bank", bad_labels}, {"shop", host2}});
  EXPECT_EQ(bl["bank"].status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bl["bank"].status.message().find("test.csv:3"), std::string::npos)
      << bl["bank"].status;
}

}  // namespace
}  // namespace consort::boost
