#include "consort/node/policy.h"

#include <gtest/gtest.h>

namespace consort::node {
namespace {

engine::JobSpec Spec(const std::string& op = "psi.ecdh", const std::string& shop_output = "size") {
  Json doc = {{"operator", op},
              {"parties",
               {{"bank", {{"dataset", "customers"}, {"columns", {"phone"}}}},
                {"shop", {{"dataset", "buyers"}, {"columns", {"phone"}}}}}},
              {"outputs", {{"bank", "intersection"}, {"shop", shop_output}}}};
  auto spec = engine::ParseJobSpec(doc);
  EXPECT_TRUE(spec.ok()) << spec.status();
  return *spec;
}

PolicyRule Rule() {
  PolicyRule r;
  r.id = 1;
  r.dataset = "customers";
  r.partners = {"shop"};
  r.operators = {"psi.ecdh"};
  r.columns = {"phone", "email"};
  return r;
}

TEST(Policy, MatchesWhenEveryConditionHolds) {
  EXPECT_TRUE(RuleMatches(Rule(), Spec(), "bank", 0));
}

TEST(Policy, EachConditionCanFail) {
  std::string why;
  auto r = Rule();
  r.dataset = "other";
  EXPECT_FALSE(RuleMatches(r, Spec(), "bank", 0, &why));
  EXPECT_EQ(why, "rule 1: dataset differs");

  r = Rule();
  r.partners = {"media"};
  EXPECT_FALSE(RuleMatches(r, Spec(), "bank", 0, &why));
  EXPECT_EQ(why, "rule 1: partner shop not allowed");

  r = Rule();
  EXPECT_FALSE(RuleMatches(r, Spec("psi.other"), "bank", 0, &why));
  EXPECT_EQ(why, "rule 1: operator psi.other not allowed");

  r = Rule();
  r.columns = {"email"};
  EXPECT_FALSE(RuleMatches(r, Spec(), "bank", 0, &why));
  EXPECT_EQ(why, "rule 1: column phone not allowed");

  r = Rule();
  r.expires_ms = 1000;
  EXPECT_TRUE(RuleMatches(r, Spec(), "bank", 999));
  EXPECT_FALSE(RuleMatches(r, Spec(), "bank", 1000, &why));
  EXPECT_EQ(why, "rule 1: expired");

  EXPECT_FALSE(RuleMatches(Rule(), Spec(), "media", 0, &why));
  EXPECT_EQ(why, "rule 1: this node is not a party");
}

TEST(Policy, WildcardPartnerAndPartnerOutputs) {
  auto r = Rule();
  r.partners = {"*"};
  r.partner_outputs = {"size"};
  EXPECT_TRUE(RuleMatches(r, Spec(), "bank", 0));
  std::string why;
  EXPECT_FALSE(RuleMatches(r, Spec("psi.ecdh", "intersection"), "bank", 0, &why));
  EXPECT_EQ(why, "rule 1: partner shop would receive 'intersection'");
}

TEST(Policy, JsonRoundTripAndValidation) {
  auto r = Rule();
  r.expires_ms = 1795356187000;
  auto back = PolicyRule::FromJson(r.ToJson());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->columns, r.columns);
  EXPECT_EQ(back->expires_ms, r.expires_ms);
  Json bad = r.ToJson();
  bad["operators"] = Json::array();
  EXPECT_EQ(PolicyRule::FromJson(bad).status().code(), absl::StatusCode::kInvalidArgument);
  bad = r.ToJson();
  bad["expires"] = "soon";
  EXPECT_EQ(PolicyRule::FromJson(bad).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace consort::node

namespace consort::node {
namespace {

TEST(Policy, RoleRulesSignOnlyDatalessParticipation) {
  Json doc = {{"operator", "stats.joint"},
              {"parties",
               {{"bank", {{"dataset", "customers"}, {"columns", {"id"}}}},
                {"shop", {{"dataset", "orders"}, {"columns", {"id"}}}},
                {"media", {{"role", "dealer"}}}}},
              {"outputs", {{"bank", "statistics"}}}};
  auto spec = engine::ParseJobSpec(doc);
  ASSERT_TRUE(spec.ok()) << spec.status();
  auto rule = PolicyRule::FromJson(
      {{"role", "dealer"}, {"partners", {"*"}}, {"operators", {"stats.joint"}}});
  ASSERT_TRUE(rule.ok()) << rule.status();
  EXPECT_TRUE(RuleMatches(*rule, *spec, "media", 0));
  // The same rule does not let a data party's dataset be used.
  std::string why;
  EXPECT_FALSE(RuleMatches(*rule, *spec, "bank", 0, &why));
  EXPECT_NE(why.find("for role dealer"), std::string::npos) << why;
  // A dataset rule does not sign dealer participation.
  PolicyRule ds = *rule;
  ds.role = "";
  ds.dataset = "customers";
  ds.columns = {"id"};
  EXPECT_FALSE(RuleMatches(ds, *spec, "media", 0, &why));
  EXPECT_NE(why.find("takes part as 'dealer'"), std::string::npos) << why;
  // Exactly one of dataset and role.
  EXPECT_EQ(PolicyRule::FromJson({{"role", "dealer"}, {"dataset", "x"}, {"partners", {"*"}},
                                  {"operators", {"x"}}, {"columns", {"c"}}})
                .status().code(),
            absl::StatusCode::kInvalidArgument);
  auto back = PolicyRule::FromJson(rule->ToJson());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->role, "dealer");
}

}  // namespace
}  // namespace consort::node
