#include "consort/engine/testing.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "consort/common/files.h"

namespace consort::engine::testing {
namespace {

// "a" sends the numbers 0..9 to "b", recording in ScratchDir() how many it has sent, and
// starts after the last recorded one; "b" reads until it has seen 9: the smallest resumable
// operator.
class CountingOperator final : public Operator {
 public:
  CountingOperator() {
    info_.name = "test.count";
    info_.outputs = {"size"};
    info_.roles = {"dealer"};
  }
  const OperatorInfo& info() const override { return info_; }
  Status Validate(const JobSpec&, const CatalogView&) const override { return OkStatus(); }
  Status Run(Session& s) const override {
    CONSORT_ASSIGN_OR_RETURN(std::string dir, s.ScratchDir());
    std::string mark = JoinPath(dir, "sent");
    int start = 0;
    if (auto text = ReadFile(mark); text.ok()) start = std::stoi(*text);
    std::string peer = s.self() == "a" ? "b" : "a";
    CONSORT_ASSIGN_OR_RETURN(net::Link * link, s.Peer(peer));
    if (s.self() == "a") {
      for (int i = start; i < 10; ++i) {
        CONSORT_RETURN_IF_ERROR(link->Send(AsBytes(std::to_string(i))));
        CONSORT_RETURN_IF_ERROR(WriteFileAtomic(mark, std::to_string(i + 1)));
      }
    } else {
      while (true) {
        CONSORT_ASSIGN_OR_RETURN(Bytes m, link->Recv());
        if (m == Bytes{'9'}) break;
      }
    }
    if (s.spec().OutputFor(s.self())) {
      CONSORT_RETURN_IF_ERROR(s.StoreSummary({{"started_at", start}}));
    }
    return s.StoreModel("m", {{"kind", "count"}}, AsBytes(s.self()));
  }

 private:
  OperatorInfo info_;
};

TEST(RunLocally, FaultInjectionAndScratchDirsAllowResume) {
  std::string root = (std::filesystem::temp_directory_path() /
                      ("consort-testing-" + std::to_string(getpid())))
                         .string();
  std::filesystem::remove_all(root);
  CountingOperator op;
  JobSpec spec = MakeSpec("test.count", {{"a", {"da", {"k"}}}, {"b", {"db", {"k"}}}},
                          {{"a", "size"}});
  auto table = CsvTable("k\n1\n");
  std::map<std::string, std::shared_ptr<const data::Table>> inputs = {{"a", table}, {"b", table}};
  LocalRunOptions opts;
  opts.scratch_root = root;
  opts.fail_party = "a";
  opts.fail_after_messages = 4;
  auto first = RunLocally(op, std::string(64, '1'), spec, inputs, opts);
  EXPECT_EQ(first["a"].status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(first["b"].status.code(), absl::StatusCode::kUnavailable);
  auto sent = ReadFile(root + "/a/scratch/" + std::string(64, '1') + "/sent");
  ASSERT_TRUE(sent.ok());
  EXPECT_EQ(*sent, "4");

  opts.fail_party = "";
  auto second = RunLocally(op, std::string(64, '1'), spec, inputs, opts);
  ASSERT_TRUE(second["a"].status.ok()) << second["a"].status.ToString() << " / b: " << second["b"].status.ToString();
  EXPECT_EQ(second["a"].summary["started_at"], 4);
  EXPECT_EQ(second["a"].bytes_sent, 6u);  // "4" .. "9"
  ASSERT_EQ(second["b"].models.count("m"), 1u);
  EXPECT_EQ(second["b"].models["m"].metadata["kind"], "count");

  // Preloaded models make StoreModel refuse the name.
  opts.models["a"]["m"] = StoredModel{Json::object(), {}};
  auto third = RunLocally(op, std::string(64, '2'), spec, inputs, opts);
  EXPECT_EQ(third["a"].status.code(), absl::StatusCode::kAlreadyExists);
  std::filesystem::remove_all(root);
}

TEST(RunLocally, DatalessPartyHasNoInput) {
  class Probe final : public Operator {
   public:
    Probe() {
      info_.name = "test.probe";
      info_.outputs = {"size"};
      info_.roles = {"dealer"};
    }
    const OperatorInfo& info() const override { return info_; }
    Status Validate(const JobSpec&, const CatalogView&) const override { return OkStatus(); }
    Status Run(Session& s) const override {
      if (s.self() != "d") return OkStatus();
      EXPECT_EQ(s.LoadInput().status().code(), absl::StatusCode::kFailedPrecondition);
      EXPECT_EQ(s.CacheDir("x").status().code(), absl::StatusCode::kFailedPrecondition);
      EXPECT_EQ(s.InputFingerprint().status().code(), absl::StatusCode::kFailedPrecondition);
      return OkStatus();
    }

   private:
    OperatorInfo info_;
  } op;
  PartyInput dealer;
  dealer.role = "dealer";
  JobSpec spec = MakeSpec("test.probe", {{"a", {"da", {"k"}}}, {"d", dealer}}, {{"a", "size"}});
  auto out = RunLocally(op, std::string(64, '3'), spec, {{"a", CsvTable("k\n1\n")}});
  EXPECT_TRUE(out["d"].status.ok()) << out["d"].status;
}

}  // namespace
}  // namespace consort::engine::testing
