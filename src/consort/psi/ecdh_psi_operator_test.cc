#include "consort/psi/ecdh_psi_operator.h"

#include <filesystem>
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

// Two random key tables of `n` rows sharing about a third of their keys.
std::pair<std::string, std::string> RandomTables(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string bank = "phone,balance\n", shop = "phone,orders\n";
  std::set<std::string> bk, sk;
  while (bk.size() < n) {
    std::string k = "07" + std::to_string(rng() % (3 * n));
    if (bk.insert(k).second) bank += k + "," + std::to_string(bk.size()) + "\n";
  }
  while (sk.size() < n) {
    std::string k = "07" + std::to_string(rng() % (3 * n));
    if (sk.insert(k).second) shop += k + "," + std::to_string(sk.size()) + "\n";
  }
  return {bank, shop};
}

struct ScratchRoot {
  ScratchRoot() {
    char tmpl[] = "/tmp/consort-psi-op-XXXXXX";
    CONSORT_CHECK(mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~ScratchRoot() { std::filesystem::remove_all(path); }
  std::string path;
};

TEST(EcdhPsiOperator, KilledJobResumesFromItsCheckpointWithTheSameResult) {
  auto [bank, shop] = RandomTables(600, 21);
  const auto spec = Spec("intersection", "size", {{"buckets", 8}});
  const std::map<std::string, std::shared_ptr<const data::Table>> inputs = {
      {"bank", CsvTable(bank)}, {"shop", CsvTable(shop)}};
  auto fresh = RunLocally(Op(), kJob, spec, inputs);
  ASSERT_TRUE(fresh["bank"].status.ok()) << fresh["bank"].status;
  EXPECT_EQ(fresh["bank"].summary["buckets"], 8);
  EXPECT_EQ(fresh["bank"].summary["buckets_run"], 8);

  ScratchRoot root;
  engine::testing::LocalRunOptions killed;
  killed.link_timeout = std::chrono::milliseconds(10000);
  killed.fail_party = "bank";
  killed.fail_after_messages = 14;  // plan + resume + ~3 messages per bucket: a few buckets in
  killed.scratch_root = root.path;
  auto first = RunLocally(Op(), kJob, spec, inputs, killed);
  EXPECT_EQ(first["bank"].status.code(), absl::StatusCode::kUnavailable) << first["bank"].status;
  EXPECT_FALSE(first["shop"].status.ok());

  engine::testing::LocalRunOptions retry;
  retry.scratch_root = root.path;
  auto second = RunLocally(Op(), kJob, spec, inputs, retry);
  ASSERT_TRUE(second["bank"].status.ok()) << second["bank"].status;
  ASSERT_TRUE(second["shop"].status.ok()) << second["shop"].status;
  const int resumed = second["bank"].summary["resumed_at_bucket"].get<int>();
  EXPECT_GT(resumed, 0);
  EXPECT_EQ(second["shop"].summary["resumed_at_bucket"], resumed);
  EXPECT_EQ(second["bank"].summary["buckets_run"], 8 - resumed);
  EXPECT_EQ(second["shop"].summary["intersection_size"], fresh["shop"].summary["intersection_size"]);
  EXPECT_EQ(second["bank"].summary["matched_rows"], fresh["bank"].summary["matched_rows"]);
  EXPECT_EQ(*data::FormatCsv(second["bank"].tables.at("psi_aaaaaaaaaaaa")),
            *data::FormatCsv(fresh["bank"].tables.at("psi_aaaaaaaaaaaa")));
}

TEST(EcdhPsiOperator, CheckpointOfAnotherInputIsIgnored) {
  auto [bank, shop] = RandomTables(300, 22);
  const auto spec = Spec("intersection", "size", {{"buckets", 6}});
  ScratchRoot root;
  engine::testing::LocalRunOptions killed;
  killed.link_timeout = std::chrono::milliseconds(10000);
  killed.fail_party = "shop";
  killed.fail_after_messages = 12;
  killed.scratch_root = root.path;
  auto first = RunLocally(Op(), kJob, spec, {{"bank", CsvTable(bank)}, {"shop", CsvTable(shop)}},
                          killed);
  EXPECT_FALSE(first["bank"].status.ok());
  // The bank's dataset changes before the retry: its checkpoint no longer applies.
  const std::string bank2 = bank + "0799999999,1\n";
  engine::testing::LocalRunOptions retry;
  retry.scratch_root = root.path;
  auto second = RunLocally(Op(), kJob, spec, {{"bank", CsvTable(bank2)}, {"shop", CsvTable(shop)}},
                           retry);
  ASSERT_TRUE(second["bank"].status.ok()) << second["bank"].status;
  EXPECT_EQ(second["bank"].summary["checkpoint_ignored"], "from another input (the dataset changed)");
  EXPECT_EQ(second["bank"].summary["resumed_at_bucket"], 0);
  EXPECT_EQ(second["bank"].summary["buckets_run"], 6);
  auto plain = RunLocally(Op(), kJob, spec, {{"bank", CsvTable(bank2)}, {"shop", CsvTable(shop)}});
  ASSERT_TRUE(plain["bank"].status.ok());
  EXPECT_EQ(*data::FormatCsv(second["bank"].tables.at("psi_aaaaaaaaaaaa")),
            *data::FormatCsv(plain["bank"].tables.at("psi_aaaaaaaaaaaa")));
}

TEST(EcdhPsiOperator, EmptyInputStoresAnEmptyTableWithItsColumns) {
  auto out = RunLocally(Op(), kJob, Spec("intersection", "size"),
                        {{"bank", CsvTable("phone,balance\n")}, {"shop", CsvTable("phone\n1\n")}});
  ASSERT_TRUE(out["bank"].status.ok()) << out["bank"].status;
  const data::Table& t = out["bank"].tables.at("psi_aaaaaaaaaaaa");
  EXPECT_EQ(t.num_rows(), 0u);
  EXPECT_EQ(t.num_columns(), 2u);
  EXPECT_EQ(out["shop"].summary["intersection_size"], 0);
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
  EXPECT_TRUE(engine::ValidateJob(Spec("intersection", "size", {{"memory_budget_mb", 64}, {"buckets", 17}}), cat).ok());
  for (Json bad : {Json{{"memory_budget_mb", 63}}, Json{{"memory_budget_mb", "big"}},
                   Json{{"buckets", 0}}, Json{{"buckets", 65537}}}) {
    Status s = engine::ValidateJob(Spec("intersection", "size", bad), cat);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad.dump();
  }
}

}  // namespace
}  // namespace consort::psi
