#include "consort/engine/job_spec.h"

#include <gtest/gtest.h>

namespace consort::engine {
namespace {

const char kSpec[] = R"({
  "operator": "psi.ecdh",
  "parties": {"shop": {"dataset": "buyers", "columns": ["phone"]},
              "bank": {"dataset": "customers", "columns": ["phone", "email"]}},
  "outputs": {"bank": "intersection"},
  "params": {"duplicates": "dedupe"}
})";

TEST(JobSpec, ParsesAndOrdersParties) {
  auto spec = ParseJobSpecText(kSpec, "spec.json");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->op, "psi.ecdh");
  EXPECT_EQ(spec->PartyNames(), (std::vector<std::string>{"bank", "shop"}));
  EXPECT_EQ(spec->parties.at("bank").columns, (std::vector<std::string>{"phone", "email"}));
  ASSERT_NE(spec->OutputFor("bank"), nullptr);
  EXPECT_EQ(*spec->OutputFor("bank"), "intersection");
  EXPECT_EQ(spec->OutputFor("shop"), nullptr);
}

TEST(JobSpec, DatalessPartiesTakeARole) {
  auto spec = ParseJobSpecText(R"({"operator": "stats.joint",
    "parties": {"bank": {"dataset": "customers", "columns": ["id"]}, "media": {"role": "dealer"},
                "shop": {"dataset": "orders", "columns": ["id"]}},
    "outputs": {"bank": "statistics"}})", "spec.json");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_FALSE(spec->parties.at("media").has_data());
  EXPECT_EQ(spec->parties.at("media").role, "dealer");
  EXPECT_EQ(spec->DataPartyNames(), (std::vector<std::string>{"bank", "shop"}));
  EXPECT_EQ(spec->PartiesWithRole("dealer"), (std::vector<std::string>{"media"}));
  EXPECT_EQ(spec->PartyNames().size(), 3u);

  auto both = ParseJobSpecText(R"({"operator": "x", "outputs": {"a": "s"},
    "parties": {"a": {"role": "dealer", "dataset": "d", "columns": ["c"]}}})", "spec.json");
  EXPECT_EQ(both.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(both.status().message()).find("$.parties.a"), std::string::npos);
  auto bad = ParseJobSpecText(R"({"operator": "x", "outputs": {"a": "s"},
    "parties": {"a": {"role": "de aler"}}})", "spec.json");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(JobSpec, TheCoordinatorPartyIsADatalessDealerThatReceivesNothing) {
  // Structural, so that every node refuses such a spec by itself, whatever the coordinator says.
  auto parse = [](const std::string& coordinator, const std::string& outputs) {
    return ParseJobSpecText(R"({"operator": "stats.joint", "parties": {
        "bank": {"dataset": "customers", "columns": ["id"]},
        "shop": {"dataset": "orders", "columns": ["id"]},
        "coordinator": )" + coordinator + R"(}, "outputs": )" + outputs + "}",
                            "spec.json");
  };
  auto ok = parse(R"({"role": "dealer"})", R"({"bank": "statistics"})");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->PartiesWithRole(kDealerRole), std::vector<std::string>{kCoordinatorParty});
  EXPECT_EQ(ok->DataPartyNames(), (std::vector<std::string>{"bank", "shop"}));
  for (const auto& [coordinator, outputs] : std::vector<std::pair<std::string, std::string>>{
           {R"({"dataset": "x", "columns": ["id"]})", R"({"bank": "statistics"})"},
           {R"({"role": "helper"})", R"({"bank": "statistics"})"},
           {R"({"role": "dealer"})", R"({"coordinator": "statistics"})"}}) {
    auto bad = parse(coordinator, outputs);
    EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << coordinator << outputs;
    EXPECT_NE(std::string(bad.status().message()).find("coordinator"), std::string::npos)
        << bad.status();
  }
}

TEST(JobSpec, IdIsSha256OfCanonicalJsonWhateverTheFormatting) {
  auto a = ParseJson(kSpec);
  auto b = ParseJson(
      R"({"outputs":{"bank":"intersection"},"params":{"duplicates":"dedupe"},"parties":{"bank":{"columns":["phone","email"],"dataset":"customers"},"shop":{"columns":["phone"],"dataset":"buyers"}},"operator":"psi.ecdh"})");
  auto ida = ComputeJobId(*a), idb = ComputeJobId(*b);
  ASSERT_TRUE(ida.ok() && idb.ok());
  EXPECT_EQ(*ida, *idb);
  EXPECT_TRUE(ValidateJobId(*ida).ok());
  (*b)["params"]["duplicates"] = "error";
  EXPECT_NE(*ComputeJobId(*b), *ida);
  // Known answer: SHA-256 of the canonical form of {"operator":"x"}.
  EXPECT_EQ(*ComputeJobId(Json{{"operator", "x"}}),
            "7836bfcc4b2f0a2cb718aa2cd6d402c243d8050e20d7728fda14cc123a823cf8");
}

TEST(JobSpec, ErrorsNameTheField) {
  struct Case {
    std::string json, fragment;
  } cases[] = {
      {R"({"parties":{},"outputs":{}})", "missing field $.operator"},
      {R"({"operator":"a","parties":{},"outputs":{"x":"y"}})", "$.parties must name at least one party"},
      {R"({"operator":"a","parties":{"b":{"dataset":"d","columns":[]}},"outputs":{"b":"s"}})",
       "$.parties.b.columns must not be empty"},
      {R"({"operator":"a","parties":{"b":{"dataset":"d","columns":["c",3]}},"outputs":{"b":"s"}})",
       "$.parties.b.columns[1] must be a string"},
      {R"({"operator":"a","parties":{"b":{"dataset":"d","columns":["c","c"]}},"outputs":{"b":"s"}})",
       "repeats column 'c'"},
      {R"({"operator":"a","parties":{"b":{"dataset":"d","columns":["c"]}},"outputs":{"z":"s"}})",
       "receiver 'z' is not one of the job's parties"},
      {R"({"operator":"a","parties":{"b":{"dataset":"d","columns":["c"]}},"outputs":{"b":"s"},"extra":1})",
       "unknown field $.extra"},
      {R"({"operator":"a","parties":{"b c":{"dataset":"d","columns":["c"]}},"outputs":{}})",
       "may contain only letters"},
  };
  for (const auto& c : cases) {
    auto r = ParseJobSpecText(c.json, "s.json");
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << c.json;
    EXPECT_NE(std::string(r.status().message()).find(c.fragment), std::string::npos)
        << c.json << " -> " << r.status();
  }
  auto syntax = ParseJobSpecText("{\n \"operator\": ,\n}", "bad.json");
  EXPECT_NE(std::string(syntax.status().message()).find("bad.json:2:"), std::string::npos) << syntax.status();
}

}  // namespace
}  // namespace consort::engine
