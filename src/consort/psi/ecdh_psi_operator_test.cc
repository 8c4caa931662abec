#include "consort/psi/ecdh_psi_operator.h"

#include <random>
#include <set>

#include <gtest/gtest.h>

#include "consort/data/csv.h"
#include "consort/engine/operator.h"
#include "consort/engine/testing.h"

namespace consort::psi {
namespace {

using engine::testing::CsvTable;
using engine::testing::RunLocally;

engine::JobSpec Spec(const std::string& bank_out, const std::string& shop_out,
                     Json params = Json::object()) {
  return engine::testing::MakeSpec("psi.ecdh",
                                   {{"bank", {"customers", {"phone"}}}, {"shop", {"buyers", {"phone"}}}},
                                   {{"bank", bank_out}, {"shop", shop_out}}, std::move(params));
}

const engine::Operator& Op() {
  RegisterPsiOperators();
  return **engine::OperatorRegistry::Global().Find("psi.ecdh");
}

const std::string kJob(64, 'a');

TEST(EcdhPsiOperator, IntersectionRowsAndSizeMatchPlaintext) {
  std::mt19937_64 rng(7);
  std::string bank = "phone,balance\n", shop = "phone,orders\n";
  std::set<std::string> bank_keys, shop_keys;
  for (int i = 0; i < 3000; ++i) {
    std::string k = "+4470" + std::to_string(rng() % 5000);
    if (bank_keys.insert(k).second) bank += k + "," + std::to_string(i) + "\n";
    std::string k2 = "+4470" + std::to_string(rng() % 5000);
    if (shop_keys.insert(k2).second) shop += k2 + "," + std::to_string(i) + "\n";
  }
  size_t expected = 0;
  for (const auto& k : bank_keys) expected += shop_keys.count(k);
  auto out = RunLocally(Op(), kJob, Spec("intersection", "size"),
                        {{"bank", CsvTable(bank)}, {"shop", CsvTable(shop)}});
  ASSERT_TRUE(out["bank"].status.ok()) << out["bank"].status;
  ASSERT_TRUE(out["shop"].status.ok()) << out["shop"].status;
  EXPECT_EQ(out["shop"].summary["intersection_size"], expected);
  EXPECT_TRUE(out["shop"].tables.empty());
  ASSERT_EQ(out["bank"].tables.count("psi_aaaaaaaaaaaa"), 1u);
  const data::Table& rows = out["bank"].tables.at("psi_aaaaaaaaaaaa");
  ASSERT_EQ(rows.num_rows(), expected);
  auto phone = rows.ColumnByName("phone");
  ASSERT_TRUE(phone.ok());
  for (size_t r = 0; r < rows.num_rows(); ++r) {
    EXPECT_TRUE(shop_keys.count(std::string((*phone)->String(r))));
  }
  EXPECT_EQ(rows.num_columns(), 2u);  // the receiver's own columns come along
}

TEST(EcdhPsiOperator, NonReceiverStoresNothing) {
  auto out = RunLocally(Op(), kJob, Spec("size", ""),
                        {{"bank", CsvTable("phone\n1\n2\n3\n")}, {"shop", CsvTable("phone\n2\n3\n4\n")}});
  ASSERT_TRUE(out["bank"].status.ok()) << out["bank"].status;
  ASSERT_TRUE(out["shop"].status.ok()) << out["shop"].status;
  EXPECT_EQ(out["bank"].summary["intersection_size"], 2);
  EXPECT_TRUE(out["shop"].summary.is_null());
}

TEST(EcdhPsiOperator, DuplicateKeysFailBeforeCryptoUnlessDeduplicated) {
  auto dup = CsvTable("phone\n1\n2\n1\n");
  auto out = RunLocally(Op(), kJob, Spec("intersection", "intersection"),
                        {{"bank", dup}, {"shop", CsvTable("phone\n1\n")}},
                        {std::chrono::milliseconds(2000), ""});
  EXPECT_EQ(out["bank"].status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(out["bank"].status.message()).find("lines 2 and 4"), std::string::npos)
      << out["bank"].status;

  auto ok = RunLocally(Op(), kJob, Spec("intersection", "size", {{"duplicates", "dedupe"}}),
                       {{"bank", dup}, {"shop", CsvTable("phone\n1\n")}});
  ASSERT_TRUE(ok["bank"].status.ok()) << ok["bank"].status;
  EXPECT_EQ(ok["bank"].summary["intersection_size"], 1);
  EXPECT_EQ(ok["bank"].summary["matched_rows"], 2);  // both rows carrying the key
}

TEST(EcdhPsiOperator, PeerFailureSurfacesAsUnavailable) {
  auto out = RunLocally(Op(), kJob, Spec("intersection", "size"),
                        {{"bank", CsvTable("phone\n1\n")}, {"shop", CsvTable("phone\n1\n")}},
                        {std::chrono::milliseconds(5000), "shop"});
  EXPECT_EQ(out["bank"].status.code(), absl::StatusCode::kUnavailable) << out["bank"].status;
}

TEST(EcdhPsiOperator, ValidateChecksColumnTypesAndParams) {
  RegisterPsiOperators();  // ctest runs each test in its own process
  engine::testing::StaticCatalog cat;
  cat.members = {"bank", "shop"};
  cat.datasets[{"bank", "customers"}] = {"bank", "customers", {{"phone", "string"}}, 3, ""};
  cat.datasets[{"shop", "buyers"}] = {"shop", "buyers", {{"phone", "int64"}}, 3, ""};
  Status st = engine::ValidateJob(Spec("intersection", "size"), cat);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(st.message()).find("key column types differ"), std::string::npos) << st;
  cat.datasets[{"shop", "buyers"}].columns[0].type = "string";
  EXPECT_TRUE(engine::ValidateJob(Spec("intersection", "size"), cat).ok());
  EXPECT_EQ(engine::ValidateJob(Spec("intersection", "size", {{"bogus", 1}}), cat).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(engine::ValidateJob(Spec("everything", "size"), cat).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace consort::psi
