#include "consort/psi/ecdh_psi_cardinality.h"

#include <random>
#include <set>

#include <gtest/gtest.h>

#include "consort/data/csv.h"
#include "consort/engine/operator.h"
#include "consort/engine/testing.h"
#include "consort/psi/ecdh_psi_operator.h"

namespace consort::psi {
namespace {

using engine::testing::CsvTable;
using engine::testing::RunLocally;

engine::JobSpec Spec(const std::string& bank_out, const std::string& shop_out,
                     Json params = Json::object()) {
  return engine::testing::MakeSpec("psi.cardinality",
                                   {{"bank", {"customers", {"id"}}}, {"shop", {"buyers", {"id"}}}},
                                   {{"bank", bank_out}, {"shop", shop_out}}, std::move(params));
}

const engine::Operator& Op() {
  RegisterPsiOperators();  // registers psi.cardinality too
  return **engine::OperatorRegistry::Global().Find("psi.cardinality");
}

const std::string kJob(64, 'c');

// Two sets of distinct string keys: `common` shared, the rest private to each side.
std::pair<std::string, std::string> Sets(size_t na, size_t nb, size_t common, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string a = "id\n", b = "id\n";
  std::vector<std::string> rows_a, rows_b;
  for (size_t i = 0; i < common; ++i) {
    std::string k = "c" + std::to_string(i) + "-" + std::to_string(rng() % 1000);
    rows_a.push_back(k);
    rows_b.push_back(k);
  }
  for (size_t i = common; i < na; ++i) rows_a.push_back("a" + std::to_string(i));
  for (size_t i = common; i < nb; ++i) rows_b.push_back("b" + std::to_string(i));
  std::shuffle(rows_a.begin(), rows_a.end(), rng);
  std::shuffle(rows_b.begin(), rows_b.end(), rng);
  for (auto& k : rows_a) a += k + "\n";
  for (auto& k : rows_b) b += k + "\n";
  return {a, b};
}

struct Case {
  const char* name;
  size_t na, nb, common;
};

class PsiCardinalityCases : public ::testing::TestWithParam<Case> {};

TEST_P(PsiCardinalityCases, SizeMatchesPlaintextForBothReceivers) {
  const Case c = GetParam();
  auto [a, b] = Sets(c.na, c.nb, c.common, c.na * 31 + c.nb);
  auto out = RunLocally(Op(), kJob, Spec("size", "size"), {{"bank", CsvTable(a)}, {"shop", CsvTable(b)}});
  for (const char* p : {"bank", "shop"}) {
    ASSERT_TRUE(out[p].status.ok()) << p << ": " << out[p].status;
    EXPECT_EQ(out[p].summary["intersection_size"], c.common) << p;
    EXPECT_TRUE(out[p].tables.empty()) << p;  // never a row-level result
  }
  EXPECT_EQ(out["bank"].summary["peer_keys"], c.nb);
  EXPECT_EQ(out["shop"].summary["peer_keys"], c.na);
}

INSTANTIATE_TEST_SUITE_P(
    Sets, PsiCardinalityCases,
    ::testing::Values(Case{"empty", 0, 0, 0}, Case{"one_empty", 0, 50, 0},
                      Case{"disjoint", 200, 300, 0}, Case{"identical", 250, 250, 250},
                      Case{"one_element", 1, 1, 1}, Case{"partial", 1000, 800, 333},
                      Case{"skewed_1_1000", 3, 3000, 2}),
    [](const ::testing::TestParamInfo<Case>& i) { return std::string(i.param.name); });

TEST(PsiCardinality, NonReceiverStoresNothing) {
  auto out = RunLocally(Op(), kJob, Spec("", "size"),
                        {{"bank", CsvTable("id\n1\n2\n3\n")}, {"shop", CsvTable("id\n2\n3\n4\n")}});
  ASSERT_TRUE(out["bank"].status.ok()) << out["bank"].status;
  ASSERT_TRUE(out["shop"].status.ok()) << out["shop"].status;
  EXPECT_TRUE(out["bank"].summary.is_null());
  EXPECT_EQ(out["shop"].summary["intersection_size"], 2);
}

TEST(PsiCardinality, DuplicatesErrorByDefaultAndCountOnceWhenDeduplicated) {
  auto dup = CsvTable("id\n1\n2\n1\n");
  auto err = RunLocally(Op(), kJob, Spec("size", ""), {{"bank", dup}, {"shop", CsvTable("id\n1\n")}},
                        {std::chrono::milliseconds(2000), ""});
  EXPECT_EQ(err["bank"].status.code(), absl::StatusCode::kInvalidArgument) << err["bank"].status;
  auto ok = RunLocally(Op(), kJob, Spec("size", "", {{"duplicates", "dedupe"}}),
                       {{"bank", dup}, {"shop", CsvTable("id\n1\n2\n")}});
  ASSERT_TRUE(ok["bank"].status.ok()) << ok["bank"].status;
  EXPECT_EQ(ok["bank"].summary["intersection_size"], 2);
  EXPECT_EQ(ok["bank"].summary["my_keys"], 2);
}

TEST(PsiCardinality, ValidateOffersOnlySizeAndChecksTypes) {
  Op();
  engine::testing::StaticCatalog cat;
  cat.members = {"bank", "shop"};
  cat.datasets[{"bank", "customers"}] = {"bank", "customers", {{"id", "string"}}, 3, ""};
  cat.datasets[{"shop", "buyers"}] = {"shop", "buyers", {{"id", "string"}}, 3, ""};
  EXPECT_TRUE(engine::ValidateJob(Spec("size", ""), cat).ok());
  EXPECT_EQ(engine::ValidateJob(Spec("intersection", ""), cat).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(engine::ValidateJob(Spec("size", "", {{"result_name", "x"}}), cat).code(),
            absl::StatusCode::kInvalidArgument);
  cat.datasets[{"shop", "buyers"}].columns[0].type = "int64";
  Status st = engine::ValidateJob(Spec("size", ""), cat);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(st.message()).find("key column types differ"), std::string::npos) << st;
}

TEST(PsiCardinality, RunRefusesARowLevelOutputEvenWithoutValidation) {
  auto out = RunLocally(Op(), kJob, Spec("intersection", ""),
                        {{"bank", CsvTable("id\n1\n")}, {"shop", CsvTable("id\n1\n")}},
                        {std::chrono::milliseconds(2000), ""});
  EXPECT_EQ(out["bank"].status.code(), absl::StatusCode::kInvalidArgument) << out["bank"].status;
}

}  // namespace
}  // namespace consort::psi
