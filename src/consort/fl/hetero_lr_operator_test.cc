#include "consort/fl/hetero_lr_operator.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>

#include "consort/data/csv.h"
#include "consort/engine/operator.h"
#include "consort/engine/testing.h"
#include "consort/fl/hetero_lr.h"
#include "consort/fl/internal/fate_data.h"
#include "consort/fl/internal/lr_loop.h"
#include "gtest/gtest.h"

namespace consort::fl {
namespace {

using engine::PartyInput;
using engine::testing::MakeSpec;
using engine::testing::RunLocally;

const engine::Operator& Op(const std::string& name) {
  RegisterFlOperators();
  return *engine::OperatorRegistry::Global().Find(name).value();
}

PartyInput Data(const std::string& ds, std::vector<std::string> cols) {
  PartyInput in;
  in.dataset = ds;
  in.columns = std::move(cols);
  return in;
}
PartyInput Dealer() {
  PartyInput in;
  in.role = "dealer";
  return in;
}

std::shared_ptr<const data::Table> Load(const std::string& file) {
  auto t = data::ReadCsv(std::string(internal::kFateDataDir) + file);
  CONSORT_CHECK(t.ok());
  return std::make_shared<const data::Table>(std::move(*t));
}

std::vector<std::string> Columns(const data::Table& t) {
  std::vector<std::string> out;
  for (const auto& c : t.schema().columns()) out.push_back(c.name);
  return out;
}

// Host rows shuffled with every 9th row dropped; guest rows with every 13th dropped.
std::shared_ptr<const data::Table> Subset(const data::Table& t, int drop_every, bool shuffle) {  // NOLINT
  std::vector<size_t> order = shuffle ? internal::Permutation(t.num_rows(), 5, 5)
                                      : internal::Permutation(t.num_rows(), 0, 0);
  if (!shuffle) std::sort(order.begin(), order.end());
  std::vector<uint32_t> rows;
  for (size_t r : order) {
    if (r % drop_every != 3) rows.push_back(static_cast<uint32_t>(r));
  }
  return std::make_shared<const data::Table>(t.SelectRows(rows).value());
}

// "shop" (the guest, with labels) sorts after "bank" (the host): the guest is MPC party 1.
struct Fixture {
  std::shared_ptr<const data::Table> guest = Subset(*Load("breast_hetero_guest.csv"), 13, false);
  std::shared_ptr<const data::Table> host = Subset(*Load("breast_hetero_host.csv"), 9, true);
  Json Params(const std::string& variant) const {
    return Json{{"guest", "shop"},       {"label_column", "y"}, {"id_columns", {"id"}},
                {"model_name", "bc-lr"}, {"variant", variant},  {"epochs", 10},
                {"batch_size", 64},      {"validation_fraction", 0.2}};
  }
  engine::JobSpec TrainSpec(const std::string& variant, bool dealer = true) const {
    std::map<std::string, PartyInput> parties = {{"shop", Data("g", Columns(*guest))},
                                                 {"bank", Data("h", Columns(*host))}};
    if (dealer) parties["zdealer"] = Dealer();
    return MakeSpec("fl.hetero_lr.train", parties, {{"shop", "summary"}}, Params(variant));
  }
};

TEST(HeteroLrOperator, TrainMpcThenPredictWithPsiAlignment) {
  Fixture f;
  auto outcome = RunLocally(Op("fl.hetero_lr.train"), "job-train", f.TrainSpec("mpc"),
                            {{"shop", f.guest}, {"bank", f.host}});
  for (const auto& [party, o] : outcome) ASSERT_TRUE(o.status.ok()) << party << ": " << o.status;
  const Json& summary = outcome["shop"].summary;
  ASSERT_TRUE(summary.is_object());
  EXPECT_TRUE(outcome["bank"].summary.is_null());  // not a receiver
  EXPECT_GE(summary["train"]["auc"].get<double>(), 0.985);
  EXPECT_GE(summary["validation"]["auc"].get<double>(), 0.98);
  EXPECT_EQ(summary["epochs_run"], 10);
  // Common rows: ids not dropped on either side.
  size_t common = 0;
  for (int64_t r = 0; r < 569; ++r) common += (r % 13 != 3 && r % 9 != 3);
  EXPECT_EQ(summary["aligned_rows"].get<size_t>(), common);
  EXPECT_EQ(summary["validation"]["rows"].get<size_t>(),
            static_cast<size_t>(std::llround(0.2 * common)));
  // Each data party stored its own part; metadata has no weights; the dealer stored nothing.
  ASSERT_EQ(outcome["shop"].models.count("bc-lr"), 1u);
  ASSERT_EQ(outcome["bank"].models.count("bc-lr"), 1u);
  EXPECT_TRUE(outcome["zdealer"].models.empty());
  const auto& gm = outcome["shop"].models["bc-lr"];
  const auto& hm = outcome["bank"].models["bc-lr"];
  EXPECT_EQ(gm.metadata["role"], "guest");
  EXPECT_EQ(hm.metadata["role"], "host");
  EXPECT_EQ(hm.metadata["feature_columns"].size(), 20u);
  EXPECT_FALSE(hm.metadata.contains("metrics"));
  EXPECT_EQ(gm.metadata.dump().find("weights"), std::string::npos);
  auto gpart = HeteroLrPartModel::Parse(gm.blob);
  auto hpart = HeteroLrPartModel::Parse(hm.blob);
  ASSERT_TRUE(gpart.ok() && hpart.ok());

  // Predict on rows aligned again (different drops), scores only to the host "bank".
  engine::testing::LocalRunOptions opts;
  opts.models["shop"]["bc-lr"] = gm;
  opts.models["bank"]["bc-lr"] = hm;
  auto g2 = Subset(*Load("breast_hetero_guest.csv"), 7, true);
  auto h2 = Load("breast_hetero_host.csv");
  auto spec = MakeSpec("fl.hetero_lr.predict",
                       {{"shop", Data("g", Columns(*g2))}, {"bank", Data("h", Columns(*h2))}},
                       {{"bank", "scores"}}, Json{{"model_name", "bc-lr"}, {"id_columns", {"id"}}});
  auto pred = RunLocally(Op("fl.hetero_lr.predict"), "job-predict", spec,
                         {{"shop", g2}, {"bank", h2}}, opts);
  for (const auto& [party, o] : pred) ASSERT_TRUE(o.status.ok()) << party << ": " << o.status;
  EXPECT_TRUE(pred["shop"].tables.empty());
  ASSERT_EQ(pred["bank"].tables.count("bc-lr.scores"), 1u);
  const data::Table& scores = pred["bank"].tables.at("bc-lr.scores");
  size_t expect_rows = 0;
  for (int64_t r = 0; r < 569; ++r) expect_rows += (r % 7 != 3);
  ASSERT_EQ(scores.num_rows(), expect_rows);
  ASSERT_EQ(scores.num_columns(), 2u);
  // Each score equals sigmoid(u_g + u_h) from the stored parts on the row with that id.
  auto s = internal::LoadFateHetero("breast");
  ASSERT_TRUE(s.ok());
  auto ug = gpart->PartialScores(s->guest).value();
  auto uh = hpart->PartialScores(s->host).value();
  std::map<int64_t, size_t> row_of;  // guest and host files list the ids in the same order
  for (size_t r = 0; r < s->guest_ids.size(); ++r) row_of[s->guest_ids[r]] = r;
  for (size_t i = 0; i < scores.num_rows(); ++i) {
    const size_t r = row_of.at(scores.column(0).Int64(i));
    EXPECT_NEAR(scores.column(1).Float64(i), internal::Sigmoid(ug[r] + uh[r]), 1e-12);
  }
}

TEST(HeteroLrOperator, TrainPaillierOnPreAlignedRowsHostGetsSummary) {
  auto guest = Load("breast_hetero_guest.csv");
  auto host = Load("breast_hetero_host.csv");
  Json params = {{"guest", "shop"}, {"label_column", "y"}, {"id_columns", {"id"}},
                 {"model_name", "bc-he"}, {"variant", "paillier"}, {"aligned", true},
                 {"epochs", 1}, {"batch_size", 128}, {"learning_rate", 0.3}};
  auto spec = MakeSpec("fl.hetero_lr.train",
                       {{"shop", Data("g", Columns(*guest))}, {"bank", Data("h", Columns(*host))}},
                       {{"shop", "summary"}, {"bank", "summary"}}, params);
  auto outcome = RunLocally(Op("fl.hetero_lr.train"), "job-he", spec,
                            {{"shop", guest}, {"bank", host}});
  for (const auto& [party, o] : outcome) ASSERT_TRUE(o.status.ok()) << party << ": " << o.status;
  EXPECT_EQ(outcome["bank"].summary, outcome["shop"].summary);
  EXPECT_EQ(outcome["shop"].summary["variant"], "paillier");
  EXPECT_GE(outcome["shop"].summary["train"]["auc"].get<double>(), 0.98);
  EXPECT_TRUE(outcome["shop"].summary["validation"].is_null());  // no validation split
}

TEST(HeteroLrOperator, GuestAndTwoHostsTrainAndPredict) {
  auto guest = Load("breast_hetero_guest.csv");
  auto host = Load("breast_hetero_host.csv");
  std::vector<std::string> c1 = {"id"}, c2 = {"id"};
  for (int i = 0; i < 10; ++i) c1.push_back("x" + std::to_string(i));
  for (int i = 10; i < 20; ++i) c2.push_back("x" + std::to_string(i));
  auto h1 = std::make_shared<const data::Table>(host->Project(c1).value());
  auto h2 = Subset(host->Project(c2).value(), 11, true);
  Json params = {{"guest", "shop"}, {"label_column", "y"}, {"id_columns", {"id"}},
                 {"model_name", "bc3"}, {"epochs", 6}, {"batch_size", 64},
                 {"validation_fraction", 0.2}};
  auto spec = MakeSpec("fl.hetero_lr.train",
                       {{"shop", Data("g", Columns(*guest))}, {"bank", Data("h1", c1)},
                        {"card", Data("h2", c2)}},
                       {{"shop", "summary"}, {"card", "summary"}}, params);
  auto out = RunLocally(Op("fl.hetero_lr.train"), "job-3", spec,
                        {{"shop", guest}, {"bank", h1}, {"card", h2}});
  for (const auto& [party, o] : out) ASSERT_TRUE(o.status.ok()) << party << ": " << o.status;
  EXPECT_EQ(out["card"].summary, out["shop"].summary);
  EXPECT_TRUE(out["bank"].summary.is_null());
  EXPECT_GE(out["shop"].summary["validation"]["auc"].get<double>(), 0.98);
  EXPECT_EQ(out["shop"].summary["aligned_rows"].get<size_t>(), h2->num_rows());

  engine::testing::LocalRunOptions opts;
  for (const char* party : {"shop", "bank", "card"}) {
    opts.models[party]["bc3"] = out[party].models.at("bc3");
  }
  auto pspec = MakeSpec("fl.hetero_lr.predict",
                        {{"shop", Data("g", Columns(*guest))}, {"bank", Data("h1", c1)},
                         {"card", Data("h2", c2)}},
                        {{"bank", "scores"}}, Json{{"model_name", "bc3"}, {"id_columns", {"id"}}});
  auto pred = RunLocally(Op("fl.hetero_lr.predict"), "job-3p", pspec,
                         {{"shop", guest}, {"bank", h1}, {"card", h2}}, opts);
  for (const auto& [party, o] : pred) ASSERT_TRUE(o.status.ok()) << party << ": " << o.status;
  ASSERT_EQ(pred["bank"].tables.count("bc3.scores"), 1u);
  const data::Table& scores = pred["bank"].tables.at("bc3.scores");
  EXPECT_EQ(scores.num_rows(), h2->num_rows());
  // Scores from the three stored parts, recomputed locally.
  auto gp = HeteroLrPartModel::Parse(out["shop"].models.at("bc3").blob).value();
  auto p1 = HeteroLrPartModel::Parse(out["bank"].models.at("bc3").blob).value();
  auto p2 = HeteroLrPartModel::Parse(out["card"].models.at("bc3").blob).value();
  auto s = internal::LoadFateHetero("breast").value();
  auto ug = gp.PartialScores(s.guest).value();
  auto u1 = p1.PartialScores(s.host.Columns(0, 10)).value();
  auto u2 = p2.PartialScores(s.host.Columns(10, 20)).value();
  std::map<int64_t, size_t> row_of;
  for (size_t r = 0; r < s.guest_ids.size(); ++r) row_of[s.guest_ids[r]] = r;
  for (size_t i = 0; i < scores.num_rows(); ++i) {
    const size_t r = row_of.at(scores.column(0).Int64(i));
    EXPECT_NEAR(scores.column(1).Float64(i), internal::Sigmoid(ug[r] + u1[r] + u2[r]), 1e-12);
  }
  // Two hosts need the mpc variant and no dealer.
  engine::testing::StaticCatalog catalog;
  spec.params["variant"] = "paillier";
  EXPECT_EQ(Op("fl.hetero_lr.train").Validate(spec, catalog).code(),
            absl::StatusCode::kInvalidArgument);
}

// A host that dies after 40 messages (during alignment or training): the guest fails promptly
// (no wait for the link timeout) and stores nothing.
TEST(HeteroLrOperator, PartyDyingMidJobFailsTheOthers) {
  Fixture f;
  engine::testing::LocalRunOptions opts;
  opts.fail_party = "bank";
  opts.fail_after_messages = 40;
  opts.link_timeout = std::chrono::milliseconds(20'000);
  auto out = RunLocally(Op("fl.hetero_lr.train"), "job-fail", f.TrainSpec("mpc"),
                        {{"shop", f.guest}, {"bank", f.host}}, opts);
  EXPECT_FALSE(out["shop"].status.ok());
  EXPECT_NE(out["shop"].status.code(), absl::StatusCode::kDeadlineExceeded) << out["shop"].status;
  EXPECT_TRUE(out["shop"].models.empty());
  EXPECT_TRUE(out["shop"].summary.is_null());
}

// The host dies during training; the retried job (same id, same scratch directories) resumes
// from the last epoch both parties checkpointed.
TEST(HeteroLrOperator, RetriedJobResumesFromCheckpoints) {
  Fixture f;
  char root[] = "/tmp/fl_op_resume_XXXXXX";
  ASSERT_NE(mkdtemp(root), nullptr);
  engine::testing::LocalRunOptions opts;
  opts.scratch_root = root;
  opts.fail_party = "bank";
  opts.fail_after_messages = 1500;
  auto first = RunLocally(Op("fl.hetero_lr.train"), "job-resume", f.TrainSpec("mpc"),
                          {{"shop", f.guest}, {"bank", f.host}}, opts);
  EXPECT_FALSE(first["shop"].status.ok());
  opts.fail_party = "";
  auto second = RunLocally(Op("fl.hetero_lr.train"), "job-resume", f.TrainSpec("mpc"),
                           {{"shop", f.guest}, {"bank", f.host}}, opts);
  for (const auto& [party, o] : second) ASSERT_TRUE(o.status.ok()) << party << ": " << o.status;
  const Json& summary = second["shop"].summary;
  EXPECT_GT(summary["resumed_from_epoch"].get<int>(), 0);
  EXPECT_LT(summary["resumed_from_epoch"].get<int>(), 10);
  EXPECT_EQ(summary["epochs_run"], 10);
  EXPECT_GE(summary["validation"]["auc"].get<double>(), 0.98);
  std::filesystem::remove_all(root);
}

TEST(HeteroLrOperator, PredictWithoutModelIsNotFound) {
  auto guest = Load("breast_hetero_guest.csv");
  auto host = Load("breast_hetero_host.csv");
  auto spec = MakeSpec("fl.hetero_lr.predict",
                       {{"shop", Data("g", Columns(*guest))}, {"bank", Data("h", Columns(*host))}},
                       {{"shop", "scores"}}, Json{{"model_name", "nope"}, {"id_columns", {"id"}}});
  auto out = RunLocally(Op("fl.hetero_lr.predict"), "job-p", spec, {{"shop", guest}, {"bank", host}});
  EXPECT_EQ(out["shop"].status.code(), absl::StatusCode::kNotFound);
}

TEST(HeteroLrOperator, BadParamsAreInvalidArgument) {
  Fixture f;
  engine::testing::StaticCatalog catalog;
  const auto& train = Op("fl.hetero_lr.train");
  auto with = [&](const std::string& key, const Json& value) {
    engine::JobSpec spec = f.TrainSpec("mpc");
    if (value.is_null()) {
      spec.params.erase(key);
    } else {
      spec.params[key] = value;
    }
    return train.Validate(spec, catalog).code();
  };
  const auto kInvalid = absl::StatusCode::kInvalidArgument;
  EXPECT_EQ(with("guest", nullptr), kInvalid);
  EXPECT_EQ(with("guest", "zdealer"), kInvalid);
  EXPECT_EQ(with("label_column", "x99"), kInvalid);
  EXPECT_EQ(with("id_columns", Json::array()), kInvalid);
  EXPECT_EQ(with("id_columns", Json{{"shop", {"id"}}}), kInvalid);
  EXPECT_EQ(with("id_columns", {"nope"}), kInvalid);
  EXPECT_EQ(with("model_name", "bad name!"), kInvalid);
  EXPECT_EQ(with("variant", "sgd"), kInvalid);
  EXPECT_EQ(with("epochs", 0), kInvalid);
  EXPECT_EQ(with("learning_rate", "fast"), kInvalid);
  EXPECT_EQ(with("schedule", "cosine"), kInvalid);
  EXPECT_EQ(with("validation_fraction", 0.9), kInvalid);
  EXPECT_EQ(with("paillier_bits", 1000), kInvalid);
  EXPECT_EQ(with("colour", "blue"), kInvalid);
  // mpc needs a dealer; paillier takes none.
  EXPECT_EQ(train.Validate(f.TrainSpec("mpc", false), catalog).code(), kInvalid);
  EXPECT_EQ(train.Validate(f.TrainSpec("paillier", true), catalog).code(), kInvalid);
  // The dealer cannot receive the summary.
  engine::JobSpec spec = f.TrainSpec("mpc");
  spec.outputs["zdealer"] = "summary";
  EXPECT_EQ(train.Validate(spec, catalog).code(), kInvalid);
  // Predict: exactly one receiver of "scores".
  auto predict = MakeSpec("fl.hetero_lr.predict",
                          {{"shop", Data("g", {"id", "x0"})}, {"bank", Data("h", {"id", "x0"})}},
                          {{"shop", "scores"}, {"bank", "scores"}},
                          Json{{"model_name", "m"}, {"id_columns", {"id"}}});
  EXPECT_EQ(Op("fl.hetero_lr.predict").Validate(predict, catalog).code(), kInvalid);
  predict.outputs.erase("bank");
  EXPECT_TRUE(Op("fl.hetero_lr.predict").Validate(predict, catalog).ok());
  predict.params["result_name"] = "a/b";
  EXPECT_EQ(Op("fl.hetero_lr.predict").Validate(predict, catalog).code(), kInvalid);
}

TEST(HeteroLrOperator, InfoStatesSecurityAndLeakage) {
  for (const char* name : {"fl.hetero_lr.train", "fl.hetero_lr.predict"}) {
    const auto& info = Op(name).info();
    EXPECT_FALSE(info.security_model.empty());
    EXPECT_FALSE(info.parameters.empty());
    EXPECT_NE(info.leaks.find("learns"), std::string::npos);
  }
  EXPECT_EQ(Op("fl.hetero_lr.train").info().roles, std::vector<std::string>{"dealer"});
}

}  // namespace
}  // namespace consort::fl
