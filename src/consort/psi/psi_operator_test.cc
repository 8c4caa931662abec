#include "consort/psi/psi_operator.h"

#include <random>
#include <set>

#include <gtest/gtest.h>

#include "consort/engine/operator.h"
#include "consort/engine/testing.h"
#include "consort/psi/ecdh_psi_operator.h"
#include "consort/psi/internal/psi_params.h"
#include "consort/psi/kkrt_psi_operator.h"

namespace consort::psi {
namespace {

using engine::testing::CsvTable;
using engine::testing::RunLocally;

engine::JobSpec Spec(Json params) {
  return engine::testing::MakeSpec("psi", {{"bank", {"customers", {"phone"}}}, {"shop", {"buyers", {"phone"}}}},
                                   {{"bank", "intersection"}, {"shop", "size"}}, std::move(params));
}

const engine::Operator& Op() {
  RegisterPsiOperators();
  return **engine::OperatorRegistry::Global().Find("psi");
}

struct Data {
  std::string bank = "phone,balance\n", shop = "phone,orders\n";
  size_t expected = 0;
};

Data MakeData(uint64_t seed) {
  std::mt19937_64 rng(seed);
  Data d;
  std::set<std::string> a, b;
  for (int i = 0; i < 2000; ++i) {
    std::string k = "+4470" + std::to_string(rng() % 4000);
    if (a.insert(k).second) d.bank += k + "," + std::to_string(i) + "\n";
    std::string k2 = "+4470" + std::to_string(rng() % 4000);
    if (b.insert(k2).second) d.shop += k2 + "," + std::to_string(i) + "\n";
  }
  for (const auto& k : a) d.expected += b.count(k);
  return d;
}

TEST(AutoPsiOperator, EveryProtocolGivesThePlaintextIntersectionAndNamesItself) {
  Data d = MakeData(11);
  for (const std::string protocol : {"auto", "ecdh", "kkrt"}) {
    Json params = {{"protocol", protocol}};
    if (protocol == "ecdh") params["buckets"] = 3;
    auto out = RunLocally(Op(), std::string(64, 'c'), Spec(params),
                          {{"bank", CsvTable(d.bank)}, {"shop", CsvTable(d.shop)}});
    ASSERT_TRUE(out["bank"].status.ok()) << protocol << ": " << out["bank"].status;
    ASSERT_TRUE(out["shop"].status.ok()) << protocol << ": " << out["shop"].status;
    EXPECT_EQ(out["bank"].summary["intersection_size"], d.expected) << protocol;
    EXPECT_EQ(out["shop"].summary["intersection_size"], d.expected) << protocol;
    ASSERT_EQ(out["bank"].tables.size(), 1u) << protocol;
    EXPECT_EQ(out["bank"].tables.begin()->second.num_rows(), d.expected) << protocol;
    // Small sets fit in memory for KKRT: "auto" picks it.
    EXPECT_EQ(out["bank"].summary["protocol"], protocol == "ecdh" ? "ecdh" : "kkrt") << protocol;
    EXPECT_EQ(out["bank"].summary["protocol_requested"], protocol);
    EXPECT_EQ(out["bank"].summary["operator"], "psi");
  }
}

TEST(AutoPsiOperator, ChoiceFollowsTheSmallerBudget) {
  EXPECT_EQ(KkrtMaxRows(1024), uint64_t{1} << 23);
  EXPECT_LT(KkrtMaxRows(64), KkrtMaxRows(1024));
}

TEST(InMemoryPsiOperators, RefuseInputsAboveTheMemoryBudgetBeforeLoading) {
  // The estimate and the exact message.
  EXPECT_TRUE(internal::CheckInMemoryBudget("psi.kkrt", 524288, kKkrtBytesPerRow, 64).ok());
  Status st = internal::CheckInMemoryBudget("psi.kkrt", 524289, kKkrtBytesPerRow, 64);
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(st.message(),
            "psi.kkrt holds its input in memory: 524289 rows need about 65 MiB on this party, "
            "above $.params.memory_budget_mb = 64; raise memory_budget_mb if this node has the "
            "memory, or use a streaming operator (psi.ecdh, psi.cardinality)");
  EXPECT_EQ(internal::CheckInMemoryBudget("x", uint64_t{1} << 40, 1 << 20, 1024).code(),
            absl::StatusCode::kResourceExhausted);  // no overflow

  // A real job: psi.kkrt with a 64 MiB budget and 2^19 + 1000 rows on one side (the other
  // side is small) fails on that side with ResourceExhausted; the peer sees the link go.
  std::string big = "phone\n";
  for (int i = 0; i < (1 << 19) + 1000; ++i) big += std::to_string(1'000'000 + i) + "\n";
  RegisterPsiOperators();
  const engine::Operator& kkrt = **engine::OperatorRegistry::Global().Find("psi.kkrt");
  auto spec = engine::testing::MakeSpec(
      "psi.kkrt", {{"bank", {"customers", {"phone"}}}, {"shop", {"buyers", {"phone"}}}},
      {{"bank", "size"}}, {{"memory_budget_mb", 64}});
  auto out = RunLocally(kkrt, std::string(64, 'k'), spec,
                        {{"bank", CsvTable(big)}, {"shop", CsvTable("phone\n1000001\n")}},
                        {std::chrono::milliseconds(3000), ""});
  EXPECT_EQ(out["bank"].status.code(), absl::StatusCode::kResourceExhausted) << out["bank"].status;
  EXPECT_FALSE(out["shop"].status.ok());
  // The same job under the default 1 GiB budget runs.
  spec.params.erase("memory_budget_mb");
  out = RunLocally(kkrt, std::string(64, 'k'), spec,
                   {{"bank", CsvTable(big)}, {"shop", CsvTable("phone\n1000001\n")}});
  ASSERT_TRUE(out["bank"].status.ok()) << out["bank"].status;
  EXPECT_EQ(out["bank"].summary["intersection_size"], 1);
}

TEST(AutoPsiOperator, ValidationNamesTheParameter) {
  engine::testing::StaticCatalog catalog;
  catalog.Add({"bank", "customers", {{"phone", "string"}}, 10, ""});
  catalog.Add({"shop", "buyers", {{"phone", "string"}}, 10, ""});
  EXPECT_TRUE(Op().Validate(Spec(Json::object()), catalog).ok());
  auto bad = Op().Validate(Spec({{"protocol", "rsa"}}), catalog);
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(bad.message()).find("$.params.protocol"), std::string::npos);
  EXPECT_EQ(Op().Validate(Spec({{"memory_budget_mb", 1}}), catalog).code(),
            absl::StatusCode::kInvalidArgument);
  // psi.kkrt knows no memory budget: with protocol kkrt the parameter is refused.
  EXPECT_EQ(Op().Validate(Spec({{"protocol", "kkrt"}, {"buckets", 4}}), catalog).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Op().Validate(Spec({{"colour", "red"}}), catalog).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(AutoPsiOperator, MalformedChoiceMessageIsRefused) {
  // A peer that speaks another protocol: its first message is not a choice message.
  class Impostor final : public engine::Operator {
   public:
    Impostor() { info_.name = "psi"; info_.outputs = {"intersection", "size"}; }
    const engine::OperatorInfo& info() const override { return info_; }
    Status Validate(const engine::JobSpec&, const engine::CatalogView&) const override { return OkStatus(); }
    Status Run(engine::Session& s) const override {
      if (s.self() == "bank") return Op().Run(s);
      CONSORT_ASSIGN_OR_RETURN(net::Link * l, s.Peer("bank"));
      CONSORT_RETURN_IF_ERROR(l->Send(AsBytes("hello")));
      return l->Recv().status();
    }
    engine::OperatorInfo info_;
  } impostor;
  Data d = MakeData(3);
  auto out = RunLocally(impostor, std::string(64, 'd'), Spec(Json::object()),
                        {{"bank", CsvTable(d.bank)}, {"shop", CsvTable(d.shop)}});
  EXPECT_EQ(out["bank"].status.code(), absl::StatusCode::kInvalidArgument) << out["bank"].status;
}

}  // namespace
}  // namespace consort::psi
