#include "consort/psi/unbalanced_psi_operator.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <random>
#include <set>

#include "consort/common/status.h"
#include "consort/engine/operator.h"
#include "consort/engine/testing.h"
#include "consort/psi/ecdh_psi_operator.h"

namespace consort::psi {
namespace {

using engine::testing::CsvTable;
using engine::testing::RunLocally;

const engine::Operator& Op() {
  RegisterPsiOperators();
  return **engine::OperatorRegistry::Global().Find("psi.unbalanced");
}

engine::JobSpec Spec(const std::string& client_out, Json params = Json{{"server", "big"}},
                     const std::string& server_out = "") {
  engine::PartyInput b, s;
  b.dataset = "registry";
  b.columns = {"id"};
  s.dataset = "customers";
  s.columns = {"id"};
  return engine::testing::MakeSpec("psi.unbalanced", {{"big", b}, {"small", s}},
                                   {{"small", client_out}, {"big", server_out}}, std::move(params));
}

struct Root {
  Root() {
    char tmpl[] = "/tmp/consort-upsi-op-XXXXXX";
    CONSORT_CHECK(mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~Root() { std::filesystem::remove_all(path); }
  // The server's preprocessing meta.json (exactly one cache directory is expected).
  std::string ServerMeta() const {
    std::vector<std::string> found;
    for (const auto& e : std::filesystem::recursive_directory_iterator(path)) {
      if (e.path().filename() == "meta.json") found.push_back(e.path().string());
    }
    return found.size() == 1 ? found[0] : "";
  }
  std::string path;
};

int64_t MtimeNs(const std::string& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return -1;
  return int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
}

std::string ServerCsv(size_t n, size_t extra = 0) {
  std::string csv = "id,segment\n";
  for (size_t i = 0; i < n; ++i)
    csv += "k" + std::to_string(i) + ",s" + std::to_string(i % 7) + "\n";
  for (size_t i = 0; i < extra; ++i) csv += "extra" + std::to_string(i) + ",x\n";
  return csv;
}

TEST(UnbalancedPsiOperator, SecondJobReusesPreprocessingAndAChangedDatasetInvalidatesIt) {
  Root root;
  engine::testing::LocalRunOptions o;
  o.scratch_root = root.path;
  // Client: 30 keys, 12 of them in the server's 3000 (skewed 1:100).
  std::string client = "id,score\n";
  std::set<std::string> expected;
  for (int i = 0; i < 30; ++i) {
    std::string k = i < 12 ? "k" + std::to_string(i * 211) : "nope" + std::to_string(i);
    client += k + "," + std::to_string(i) + "\n";
    if (i < 12) expected.insert(k);
  }
  std::map<std::string, std::shared_ptr<const data::Table>> inputs = {
      {"big", CsvTable(ServerCsv(3000))}, {"small", CsvTable(client)}};

  auto first = RunLocally(Op(), std::string(64, '1'), Spec("intersection"), inputs, o);
  ASSERT_TRUE(first["big"].status.ok()) << first["big"].status;
  ASSERT_TRUE(first["small"].status.ok()) << first["small"].status;
  const Json& s1 = first["small"].summary;
  EXPECT_EQ(s1["intersection_size"], expected.size());
  EXPECT_EQ(s1["peer_keys"], 3000);
  EXPECT_EQ(s1["used_cached_set"], false);
  EXPECT_GT(s1["encoded_bytes_received"].get<uint64_t>(), 0u);
  EXPECT_TRUE(first["big"].summary.is_null());  // the server receives nothing
  const data::Table& rows = first["small"].tables.at("psi_111111111111");
  ASSERT_EQ(rows.num_rows(), expected.size());
  auto id = rows.ColumnByName("id");
  ASSERT_TRUE(id.ok());
  for (size_t r = 0; r < rows.num_rows(); ++r)
    EXPECT_TRUE(expected.count(std::string((*id)->String(r))));
  const std::string meta = root.ServerMeta();
  ASSERT_FALSE(meta.empty());
  const int64_t prepared_at = MtimeNs(meta);

  // A second job (new job id) over the same datasets: no new preparation, no set transfer.
  auto second = RunLocally(Op(), std::string(64, '2'), Spec("size"), inputs, o);
  ASSERT_TRUE(second["big"].status.ok()) << second["big"].status;
  ASSERT_TRUE(second["small"].status.ok()) << second["small"].status;
  const Json& s2 = second["small"].summary;
  EXPECT_EQ(s2["server_set_id"], s1["server_set_id"]);
  EXPECT_EQ(s2["used_cached_set"], true);
  EXPECT_EQ(s2["encoded_bytes_received"], 0);
  EXPECT_EQ(s2["intersection_size"], expected.size());
  EXPECT_TRUE(second["small"].tables.empty());
  EXPECT_EQ(MtimeNs(meta), prepared_at);

  // The server's dataset changes: a new preprocessing (new id) and a fresh transfer.
  inputs["big"] = CsvTable(ServerCsv(3000, 5));
  auto third = RunLocally(Op(), std::string(64, '3'), Spec("size"), inputs, o);
  ASSERT_TRUE(third["big"].status.ok()) << third["big"].status;
  ASSERT_TRUE(third["small"].status.ok()) << third["small"].status;
  EXPECT_NE(third["small"].summary["server_set_id"], s1["server_set_id"]);
  EXPECT_EQ(third["small"].summary["used_cached_set"], false);
  EXPECT_EQ(third["small"].summary["peer_keys"], 3005);
  EXPECT_EQ(third["small"].summary["intersection_size"], expected.size());
}

TEST(UnbalancedPsiOperator, DuplicatePolicyOnBothSides) {
  std::map<std::string, std::shared_ptr<const data::Table>> inputs = {
      {"big", CsvTable("id\na\nb\na\nc\n")}, {"small", CsvTable("id\na\nz\na\n")}};
  engine::testing::LocalRunOptions o;
  o.link_timeout = std::chrono::milliseconds(5000);
  auto bad = RunLocally(Op(), std::string(64, '4'), Spec("intersection"), inputs, o);
  EXPECT_EQ(bad["big"].status.code(), absl::StatusCode::kInvalidArgument) << bad["big"].status;
  EXPECT_EQ(bad["small"].status.code(), absl::StatusCode::kInvalidArgument) << bad["small"].status;

  auto ok =
      RunLocally(Op(), std::string(64, '5'),
                 Spec("intersection", {{"server", "big"}, {"duplicates", "dedupe"}}), inputs, o);
  ASSERT_TRUE(ok["big"].status.ok()) << ok["big"].status;
  ASSERT_TRUE(ok["small"].status.ok()) << ok["small"].status;
  EXPECT_EQ(ok["small"].summary["intersection_size"], 1);
  EXPECT_EQ(ok["small"].summary["matched_rows"], 2);
  EXPECT_EQ(ok["small"].summary["peer_keys"], 3);
}

TEST(UnbalancedPsiOperator, ClientAboveMaxClientSizeIsInvalidArgument) {
  std::map<std::string, std::shared_ptr<const data::Table>> inputs = {
      {"big", CsvTable("id\na\nb\n")}, {"small", CsvTable("id\na\nb\nc\n")}};
  auto out = RunLocally(Op(), std::string(64, '6'),
                        Spec("size", {{"server", "big"}, {"max_client_size", 2}}), inputs);
  EXPECT_EQ(out["small"].status.code(), absl::StatusCode::kInvalidArgument) << out["small"].status;
  EXPECT_EQ(out["big"].status.code(), absl::StatusCode::kInvalidArgument) << out["big"].status;
}

TEST(UnbalancedPsiOperator, ValidateChecksRolesAndParams) {
  engine::testing::StaticCatalog cat;
  cat.Add({"big", "registry", {{"id", "string"}}, 10, ""});
  cat.Add({"small", "customers", {{"id", "string"}}, 10, ""});
  EXPECT_TRUE(Op().Validate(Spec("intersection"), cat).ok());
  auto code = [&](const engine::JobSpec& s) { return Op().Validate(s, cat).code(); };
  EXPECT_EQ(code(Spec("intersection", Json::object())), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(Spec("intersection", {{"server", "nobody"}})), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(Spec("intersection", {{"server", "big"}}, "size")),
            absl::StatusCode::kInvalidArgument);  // the server may not receive
  EXPECT_EQ(code(Spec("", {{"server", "big"}}, "size")), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(Spec("size", {{"server", "big"}, {"max_client_size", 0}})),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(Spec("size", {{"server", "big"}, {"max_client_size", "many"}})),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace consort::psi
