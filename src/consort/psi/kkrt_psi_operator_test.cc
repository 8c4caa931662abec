#include "consort/psi/kkrt_psi_operator.h"

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

engine::JobSpec Spec(const std::string& bank_out, const std::string& shop_out,
                     Json params = Json::object()) {
  engine::PartyInput bank, shop;
  bank.dataset = "customers";
  bank.columns = {"phone"};
  shop.dataset = "buyers";
  shop.columns = {"phone"};
  return engine::testing::MakeSpec("psi.kkrt", {{"bank", bank}, {"shop", shop}},
                                   {{"bank", bank_out}, {"shop", shop_out}}, std::move(params));
}

const engine::Operator& Op() {
  RegisterPsiOperators();  // psi.kkrt is registered with the PSI family
  return **engine::OperatorRegistry::Global().Find("psi.kkrt");
}

const std::string kJob(64, 'b');

struct Data {
  std::string bank = "phone,balance\n", shop = "phone,orders\n";
  std::set<std::string> bank_keys, shop_keys;
  size_t expected = 0;
};

Data MakeData(uint64_t seed) {
  std::mt19937_64 rng(seed);
  Data d;
  for (int i = 0; i < 3000; ++i) {
    std::string k = "+4470" + std::to_string(rng() % 5000);
    if (d.bank_keys.insert(k).second) d.bank += k + "," + std::to_string(i) + "\n";
    std::string k2 = "+4470" + std::to_string(rng() % 5000);
    if (d.shop_keys.insert(k2).second) d.shop += k2 + "," + std::to_string(i) + "\n";
  }
  for (const auto& k : d.bank_keys) d.expected += d.shop_keys.count(k);
  return d;
}

void ExpectRowsIn(const data::Table& rows, const std::set<std::string>& other, size_t expected) {
  ASSERT_EQ(rows.num_rows(), expected);
  auto phone = rows.ColumnByName("phone");
  ASSERT_TRUE(phone.ok());
  for (size_t r = 0; r < rows.num_rows(); ++r) {
    EXPECT_TRUE(other.count(std::string((*phone)->String(r))));
  }
  EXPECT_EQ(rows.num_columns(), 2u);
}

TEST(KkrtPsiOperator, IntersectionRowsAndSizeMatchPlaintext) {
  Data d = MakeData(7);
  // shop wants the rows, bank the size: shop is the OPRF receiver.
  auto out = RunLocally(Op(), kJob, Spec("size", "intersection"),
                        {{"bank", CsvTable(d.bank)}, {"shop", CsvTable(d.shop)}});
  ASSERT_TRUE(out["bank"].status.ok()) << out["bank"].status;
  ASSERT_TRUE(out["shop"].status.ok()) << out["shop"].status;
  EXPECT_EQ(out["bank"].summary["intersection_size"], d.expected);
  EXPECT_EQ(out["bank"].summary["role"], "oprf_sender");
  EXPECT_TRUE(out["bank"].tables.empty());
  EXPECT_EQ(out["shop"].summary["role"], "oprf_receiver");
  ASSERT_EQ(out["shop"].tables.count("psi_bbbbbbbbbbbb"), 1u);
  ExpectRowsIn(out["shop"].tables.at("psi_bbbbbbbbbbbb"), d.bank_keys, d.expected);
}

TEST(KkrtPsiOperator, BothReceiveTheirOwnRows) {
  Data d = MakeData(8);
  auto out = RunLocally(Op(), kJob, Spec("intersection", "intersection", {{"result_name", "m"}}),
                        {{"bank", CsvTable(d.bank)}, {"shop", CsvTable(d.shop)}});
  ASSERT_TRUE(out["bank"].status.ok()) << out["bank"].status;
  ASSERT_TRUE(out["shop"].status.ok()) << out["shop"].status;
  EXPECT_EQ(out["bank"].summary["role"], "oprf_receiver");  // "bank" sorts first: it wins the tie
  ExpectRowsIn(out["bank"].tables.at("m"), d.shop_keys, d.expected);
  ExpectRowsIn(out["shop"].tables.at("m"), d.bank_keys, d.expected);
}

TEST(KkrtPsiOperator, NonReceiverStoresNothing) {
  auto out =
      RunLocally(Op(), kJob, Spec("", "size"),
                 {{"bank", CsvTable("phone\n1\n2\n3\n")}, {"shop", CsvTable("phone\n2\n3\n4\n")}});
  ASSERT_TRUE(out["bank"].status.ok()) << out["bank"].status;
  ASSERT_TRUE(out["shop"].status.ok()) << out["shop"].status;
  EXPECT_EQ(out["shop"].summary["intersection_size"], 2);
  EXPECT_TRUE(out["shop"].tables.empty());
  EXPECT_TRUE(out["bank"].summary.is_null());
}

TEST(KkrtPsiOperator, DuplicateKeysFailBeforeCryptoUnlessDeduplicated) {
  auto dup = CsvTable("phone\n1\n2\n1\n");
  engine::testing::LocalRunOptions fast;
  fast.link_timeout = std::chrono::milliseconds(2000);
  auto out = RunLocally(Op(), kJob, Spec("intersection", "intersection"),
                        {{"bank", dup}, {"shop", CsvTable("phone\n1\n")}}, fast);
  EXPECT_EQ(out["bank"].status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(out["bank"].status.message()).find("lines 2 and 4"), std::string::npos)
      << out["bank"].status;

  auto ok = RunLocally(Op(), kJob, Spec("intersection", "size", {{"duplicates", "dedupe"}}),
                       {{"bank", dup}, {"shop", CsvTable("phone\n1\n")}});
  ASSERT_TRUE(ok["bank"].status.ok()) << ok["bank"].status;
  EXPECT_EQ(ok["bank"].summary["intersection_size"], 1);
  EXPECT_EQ(ok["bank"].summary["matched_rows"], 2);  // both rows carrying the key
  EXPECT_EQ(ok["shop"].summary["intersection_size"], 1);
}

TEST(KkrtPsiOperator, PeerFailureSurfacesAsUnavailable) {
  for (uint64_t after : {0u, 1u, 3u}) {
    engine::testing::LocalRunOptions fail;
    fail.link_timeout = std::chrono::milliseconds(5000);
    fail.fail_party = "shop";
    fail.fail_after_messages = after;
    auto out =
        RunLocally(Op(), kJob, Spec("intersection", "size"),
                   {{"bank", CsvTable("phone\n1\n2\n")}, {"shop", CsvTable("phone\n1\n")}}, fail);
    EXPECT_EQ(out["bank"].status.code(), absl::StatusCode::kUnavailable)
        << after << ": " << out["bank"].status;
  }
}

TEST(KkrtPsiOperator, ValidateChecksColumnTypesAndParams) {
  RegisterPsiOperators();
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
  EXPECT_EQ(engine::ValidateJob(Spec("intersection", "size", {{"result_name", 5}}), cat).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(KkrtPsiOperator, InfoStatesLeaksAndSecurity) {
  const auto& info = Op().info();
  EXPECT_EQ(info.name, "psi.kkrt");
  EXPECT_NE(info.leaks.find("even when it asked only for \"size\""), std::string::npos);
  EXPECT_NE(info.parameters.find("40-bit statistical"), std::string::npos);
}

}  // namespace
}  // namespace consort::psi
