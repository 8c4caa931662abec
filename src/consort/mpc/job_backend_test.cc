#include "consort/mpc/job_backend.h"

#include <gtest/gtest.h>

#include "consort/data/table.h"
#include "consort/engine/operator.h"
#include "consort/engine/testing.h"

namespace consort::mpc {
namespace {

using engine::PartyInput;
using engine::testing::CsvTable;
using engine::testing::MakeSpec;
using engine::testing::RunLocally;

PartyInput Data(const std::string& ds) {
  PartyInput in;
  in.dataset = ds;
  in.columns = {"x"};
  return in;
}
PartyInput Dealer() {
  PartyInput in;
  in.role = "dealer";
  return in;
}

// Test operator: the data parties input their column x, compute sum(x0 * x1) and reveal it to
// party 0 only; the dealer serves triples.
class DotOperator final : public engine::Operator {
 public:
  DotOperator() {
    info_.name = "test.dot";
    info_.roles = {"dealer"};
    info_.max_parties = 3;
  }
  const engine::OperatorInfo& info() const override { return info_; }
  Status Validate(const engine::JobSpec&, const engine::CatalogView&) const override {
    return OkStatus();
  }
  Status Run(engine::Session& session) const override {
    CONSORT_ASSIGN_OR_RETURN(FixedPoint fxp, FixedPoint::Create());
    CONSORT_ASSIGN_OR_RETURN(auto jb, JobBackend::Open(session, fxp));
    if (jb->is_dealer()) return jb->ServeDealer();
    CONSORT_ASSIGN_OR_RETURN(auto table, session.LoadInput());
    CONSORT_ASSIGN_OR_RETURN(const data::Column* col, table->ColumnByName("x"));
    std::vector<int64_t> xs(col->int64_values().begin(), col->int64_values().end());
    Backend& be = jb->backend();
    Shape shape = Shape::Vector(xs.size());
    std::vector<uint64_t> mine(xs.begin(), xs.end());
    const std::vector<uint64_t> none;
    CONSORT_ASSIGN_OR_RETURN(Shared a, be.Input(0, shape, jb->party() == 0 ? mine : none));
    CONSORT_ASSIGN_OR_RETURN(Shared b, be.Input(1, shape, jb->party() == 1 ? mine : none));
    CONSORT_ASSIGN_OR_RETURN(Shared p, be.Mul(a, b));
    // Summing shares is local for additive (2PC) and replicated (3PC, s1) sharing alike.
    Shared sum{Shape::Vector(1), {0}, {}};
    for (uint64_t v : p.s0) sum.s0[0] += v;
    if (be.num_parties() == 3) {
      sum.s1 = {0};
      for (uint64_t v : p.s1) sum.s1[0] += v;
    }
    CONSORT_ASSIGN_OR_RETURN(RingTensor out, be.RevealTo(sum, 0));
    CONSORT_RETURN_IF_ERROR(jb->Close());
    if (jb->party() == 0) {
      CONSORT_RETURN_IF_ERROR(session.StoreSummary(
          {{"dot", static_cast<int64_t>(out.data.at(0))}, {"party", jb->party()}}));
    } else if (!out.data.empty()) {
      return absl::InternalError("party 1 learned the output");
    }
    return OkStatus();
  }

 private:
  engine::OperatorInfo info_;
};

TEST(JobBackend, TwoDataPartiesAndDealerComputeAndRevealToPartyZeroOnly) {
  DotOperator op;
  auto spec = MakeSpec("test.dot", {{"bank", Data("a")}, {"shop", Data("b")}, {"zdealer", Dealer()}},
                       {{"bank", "x"}});
  auto out = RunLocally(op, std::string(64, '1'), spec,
                        {{"bank", CsvTable("x\n1\n-2\n3\n")}, {"shop", CsvTable("x\n4\n5\n-6\n")}});
  for (const auto& [p, o] : out) ASSERT_TRUE(o.status.ok()) << p << ": " << o.status;
  // bank is party 0 (first data party by name), shop party 1.
  EXPECT_EQ(out["bank"].summary["dot"].get<int64_t>(), 1 * 4 - 2 * 5 - 3 * 6);
  EXPECT_EQ(out["bank"].summary["party"].get<int>(), 0);
  EXPECT_TRUE(out["shop"].summary.is_null());
  EXPECT_TRUE(out["zdealer"].summary.is_null());
}

TEST(JobBackend, ThreeDataPartiesUseReplicatedSharing) {
  DotOperator op;
  auto spec = MakeSpec("test.dot", {{"bank", Data("a")}, {"shop", Data("b")}, {"telco", Data("c")}},
                       {{"bank", "x"}});
  auto out = RunLocally(op, std::string(64, '3'), spec,
                        {{"bank", CsvTable("x\n1\n-2\n3\n")},
                         {"shop", CsvTable("x\n4\n5\n-6\n")},
                         {"telco", CsvTable("x\n7\n7\n7\n")}});
  for (const auto& [p, o] : out) ASSERT_TRUE(o.status.ok()) << p << ": " << o.status;
  EXPECT_EQ(out["bank"].summary["dot"].get<int64_t>(), 1 * 4 - 2 * 5 - 3 * 6);
  EXPECT_TRUE(out["shop"].summary.is_null());
  EXPECT_TRUE(out["telco"].summary.is_null());
}

TEST(JobBackend, PlanNeedsDealerForTwoDataParties) {
  auto spec = MakeSpec("test.dot", {{"bank", Data("a")}, {"shop", Data("b")}}, {{"bank", "x"}});
  EXPECT_EQ(PlanJobMpc(spec).status().code(), absl::StatusCode::kInvalidArgument);
  auto two_dealers = MakeSpec(
      "test.dot", {{"bank", Data("a")}, {"shop", Data("b")}, {"d1", Dealer()}, {"d2", Dealer()}},
      {{"bank", "x"}});
  EXPECT_EQ(PlanJobMpc(two_dealers).status().code(), absl::StatusCode::kInvalidArgument);
  auto three_with_dealer = MakeSpec(
      "test.dot", {{"a", Data("a")}, {"b", Data("b")}, {"c", Data("c")}, {"d", Dealer()}}, {{"a", "x"}});
  EXPECT_EQ(PlanJobMpc(three_with_dealer).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(JobBackend, PlanOrdersDataPartiesByName) {
  auto spec = MakeSpec("test.dot", {{"shop", Data("b")}, {"bank", Data("a")}, {"aaa", Dealer()}},
                       {{"bank", "x"}});
  auto plan = PlanJobMpc(spec);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->mode, JobMpcMode::kTwoPartyDealer);
  EXPECT_EQ(plan->data_parties, (std::vector<std::string>{"bank", "shop"}));
  EXPECT_EQ(plan->dealer, "aaa");
  auto three = PlanJobMpc(MakeSpec("test.dot", {{"c", Data("c")}, {"a", Data("a")}, {"b", Data("b")}}, {{"a", "x"}}));
  ASSERT_TRUE(three.ok());
  EXPECT_EQ(three->mode, JobMpcMode::kThreeParty);
  EXPECT_EQ(three->data_parties, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(JobBackend, DataPartyGoneFailsTheDealerToo) {
  DotOperator op;
  auto spec = MakeSpec("test.dot", {{"bank", Data("a")}, {"shop", Data("b")}, {"zdealer", Dealer()}},
                       {{"bank", "x"}});
  engine::testing::LocalRunOptions opts;
  opts.fail_party = "shop";
  opts.fail_after_messages = 0;
  opts.link_timeout = std::chrono::milliseconds(5000);
  auto out = RunLocally(op, std::string(64, '2'), spec,
                        {{"bank", CsvTable("x\n1\n")}, {"shop", CsvTable("x\n4\n")}}, opts);
  EXPECT_FALSE(out["bank"].status.ok());
  EXPECT_FALSE(out["zdealer"].status.ok());
}

}  // namespace
}  // namespace consort::mpc
