#include "consort/psi/multiparty_psi_operator.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

#include "consort/engine/operator.h"
#include "consort/engine/testing.h"
#include "consort/psi/ecdh_psi_operator.h"

namespace consort::psi {
namespace {

using engine::testing::CsvTable;
using engine::testing::RunLocally;

const engine::Operator& Op() {
  RegisterPsiOperators();
  return **engine::OperatorRegistry::Global().Find("psi.multiparty");
}

const std::string kJob(64, 'b');

engine::PartyInput In(const std::string& dataset) {
  engine::PartyInput p;
  p.dataset = dataset;
  p.columns = {"id"};
  return p;
}

engine::JobSpec Spec(const std::vector<std::string>& parties,
                     const std::map<std::string, std::string>& outputs,
                     Json params = Json::object()) {
  std::map<std::string, engine::PartyInput> in;
  for (const auto& p : parties) in[p] = In("data_" + p);
  return engine::testing::MakeSpec("psi.multiparty", in, outputs, std::move(params));
}

TEST(MultipartyPsiOperator, RowsAndSizesMatchPlaintextForThreeAndFiveParties) {
  for (size_t n : {3u, 5u}) {
    std::mt19937_64 rng(n);
    std::vector<std::string> parties;
    std::vector<std::set<std::string>> keys(n);
    std::map<std::string, std::shared_ptr<const data::Table>> inputs;
    for (size_t i = 0; i < n; ++i) {
      parties.push_back("p" + std::to_string(i));
      std::string csv = "id,value\n";
      for (int r = 0; r < 400; ++r) {
        std::string k = "c" + std::to_string(rng() % 500);
        if (keys[i].insert(k).second) csv += k + "," + std::to_string(r) + "\n";
      }
      inputs[parties[i]] = CsvTable(csv);
    }
    std::set<std::string> all = keys[0];
    for (size_t i = 1; i < n; ++i) {
      std::set<std::string> next;
      for (const auto& k : all) {
        if (keys[i].count(k)) next.insert(k);
      }
      all = next;
    }
    ASSERT_GT(all.size(), 0u);
    // p0 rows, p1 size, p2 nothing (default leader: p1, the first that receives no rows).
    auto out =
        RunLocally(Op(), kJob, Spec(parties, {{"p0", "intersection"}, {"p1", "size"}}), inputs);
    for (const auto& p : parties) ASSERT_TRUE(out[p].status.ok()) << p << ": " << out[p].status;
    EXPECT_EQ(out["p1"].summary["intersection_size"], all.size());
    EXPECT_EQ(out["p1"].summary["leader"], "p1");
    EXPECT_EQ(out["p1"].summary["party_keys"]["p2"], keys[2].size());
    EXPECT_TRUE(out["p1"].tables.empty());
    EXPECT_TRUE(out["p2"].summary.is_null());
    ASSERT_EQ(out["p0"].tables.count("psi_bbbbbbbbbbbb"), 1u);
    const data::Table& rows = out["p0"].tables.at("psi_bbbbbbbbbbbb");
    ASSERT_EQ(rows.num_rows(), all.size());
    EXPECT_EQ(rows.num_columns(), 2u);
    auto id = rows.ColumnByName("id");
    ASSERT_TRUE(id.ok());
    for (size_t r = 0; r < rows.num_rows(); ++r)
      EXPECT_TRUE(all.count(std::string((*id)->String(r))));
  }
}

TEST(MultipartyPsiOperator, DuplicatesFailUnlessDeduplicated) {
  auto dup = CsvTable("id\n1\n2\n1\n");
  std::map<std::string, std::shared_ptr<const data::Table>> inputs = {
      {"a", dup}, {"b", CsvTable("id\n1\n2\n")}, {"c", CsvTable("id\n1\n3\n")}};
  engine::testing::LocalRunOptions o;
  o.link_timeout = std::chrono::milliseconds(5000);
  auto out = RunLocally(Op(), kJob, Spec({"a", "b", "c"}, {{"a", "intersection"}}), inputs, o);
  EXPECT_EQ(out["a"].status.code(), absl::StatusCode::kInvalidArgument) << out["a"].status;
  EXPECT_NE(std::string(out["a"].status.message()).find("lines 2 and 4"), std::string::npos)
      << out["a"].status;

  auto ok = RunLocally(Op(), kJob,
                       Spec({"a", "b", "c"}, {{"a", "intersection"}, {"c", "size"}},
                            {{"duplicates", "dedupe"}, {"leader", "a"}}),
                       inputs);
  for (const auto& p : {"a", "b", "c"}) ASSERT_TRUE(ok[p].status.ok()) << p << ": " << ok[p].status;
  EXPECT_EQ(ok["a"].summary["intersection_size"], 1);
  EXPECT_EQ(ok["a"].summary["matched_rows"], 2);  // both rows carrying key 1
  EXPECT_EQ(ok["c"].summary["intersection_size"], 1);
}

TEST(MultipartyPsiOperator, TrimAndCasefoldApplyToEveryParty) {
  std::map<std::string, std::shared_ptr<const data::Table>> inputs = {
      {"a", CsvTable("id\nAlice\nbob\n")},
      {"b", CsvTable("id\nALICE\nBob\n")},
      {"c", CsvTable("id\nalice\ncarol\n")}};
  auto out = RunLocally(Op(), kJob,
                        Spec({"a", "b", "c"}, {{"a", "size"}, {"b", "size"}}, {{"casefold", true}}),
                        inputs);
  ASSERT_TRUE(out["a"].status.ok()) << out["a"].status;
  EXPECT_EQ(out["a"].summary["intersection_size"], 1);
  EXPECT_EQ(out["b"].summary["intersection_size"], 1);
}

TEST(MultipartyPsiOperator, ValidateChecksParamsAndColumns) {
  engine::testing::StaticCatalog cat;
  for (const auto& p : {"a", "b", "c"}) {
    cat.Add({p, std::string("data_") + p, {{"id", "string"}, {"n", "int64"}}, 10, ""});
  }
  EXPECT_TRUE(Op().Validate(Spec({"a", "b", "c"}, {{"a", "size"}}), cat).ok());
  EXPECT_EQ(Op().Validate(Spec({"a", "b", "c"}, {{"a", "size"}}, {{"leader", "zed"}}), cat).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Op().Validate(Spec({"a", "b", "c"}, {{"a", "size"}}, {{"bogus", 1}}), cat).code(),
            absl::StatusCode::kInvalidArgument);
  auto spec = Spec({"a", "b", "c"}, {{"a", "size"}});
  spec.parties["c"].columns = {"n"};
  auto st = Op().Validate(spec, cat);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(st.message()).find("types differ"), std::string::npos) << st;
  spec.parties["c"].columns = {"id", "n"};
  EXPECT_EQ(Op().Validate(spec, cat).code(), absl::StatusCode::kInvalidArgument);
}

TEST(MultipartyPsiOperator, PartyFailureSurfacesAsUnavailable) {
  std::map<std::string, std::shared_ptr<const data::Table>> inputs = {
      {"a", CsvTable("id\n1\n")}, {"b", CsvTable("id\n1\n")}, {"c", CsvTable("id\n1\n")}};
  engine::testing::LocalRunOptions o;
  o.link_timeout = std::chrono::milliseconds(5000);
  o.fail_party = "c";
  o.fail_after_messages = 1;
  auto out = RunLocally(Op(), kJob, Spec({"a", "b", "c"}, {{"a", "intersection"}}), inputs, o);
  EXPECT_EQ(out["a"].status.code(), absl::StatusCode::kUnavailable) << out["a"].status;
}

}  // namespace
}  // namespace consort::psi
