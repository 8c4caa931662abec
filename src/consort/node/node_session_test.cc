#include "consort/node/node_session.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "consort/common/sqlite.h"
#include "consort/crypto/sign.h"
#include "consort/data/csv.h"
#include "consort/data/describe.h"
#include "consort/node/node.h"

namespace consort::node {
namespace {

class TempHome {
 public:
  TempHome() {
    char tmpl[] = "/tmp/consort-node-session-XXXXXX";
    CONSORT_CHECK(mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempHome() { std::filesystem::remove_all(path); }
  std::string path;
};

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

engine::JobSpec SpecFor(const std::string& dataset) {
  Json doc = {{"operator", "psi.ecdh"},
              {"parties",
               {{"bank", {{"dataset", dataset}, {"columns", {"id"}}}},
                {"shop", {{"dataset", "x"}, {"columns", {"id"}}}}}},
              {"outputs", {{"bank", "size"}}},
              {"params", Json::object()}};
  auto spec = engine::ParseJobSpec(doc);
  CONSORT_CHECK(spec.ok());
  return *spec;
}

// A node "bank" whose coordinator is unreachable (publishing fails; everything stays local).
StatusOr<std::unique_ptr<Node>> OpenOfflineNode(const std::string& dir) {
  NodeConfig config;
  config.name = "bank";
  config.coordinator_grpc = "127.0.0.1:1";  // nothing listens
  config.coordinator_api = "127.0.0.1:1";
  config.coordinator_fingerprint = std::string(64, '0');
  config.coordinator_key = crypto::EncodePublicKey(crypto::SigningKey::Generate().public_key());
  CONSORT_RETURN_IF_ERROR(Node::InitHome(dir, config));
  return Node::Open(dir);
}

// Everything a batch holds, as CSV text without the header.
std::string Rows(const data::Table& t) {
  std::string csv = *data::FormatCsv(t);
  return csv.substr(csv.find('\n') + 1);
}

TEST(NodeSession, OpenInputStreamsTheRegisteredCsvWithItsTypesAndFingerprint) {
  TempHome home;
  auto node = OpenOfflineNode(home.path + "/node");
  ASSERT_TRUE(node.ok()) << node.status();
  const std::string csv = home.path + "/customers.csv";
  // "0044" keeps "phone" a string column although later values look like integers.
  std::string text = "id,phone,score\n";
  for (int i = 0; i < 10; ++i) {
    text += std::to_string(i) + "," + (i == 0 ? "0044" : std::to_string(i * 7)) + "," +
            std::to_string(i) + ".5\n";
  }
  WriteText(csv, text);
  (void)(*node)->AddDataset("customers", {"csv", csv, ""}, "", false);
  ASSERT_TRUE((*node)->FindLocalDataset("customers").ok());

  NodeSession session(**node, std::string(64, 'a'), SpecFor("customers"), nullptr,
                      std::chrono::milliseconds(1000));
  auto whole = session.LoadInput();
  ASSERT_TRUE(whole.ok()) << whole.status();
  auto reader = session.OpenInput(3);
  ASSERT_TRUE(reader.ok()) << reader.status();
  data::Table batch;
  std::string streamed;
  size_t batches = 0;
  while (true) {
    auto more = (*reader)->Next(&batch);
    ASSERT_TRUE(more.ok()) << more.status();
    if (!*more) break;
    ++batches;
    EXPECT_LE(batch.num_rows(), 3u);
    // Types as registered: the last batch alone would infer "phone" as int64.
    EXPECT_EQ(batch.schema(), (*whole)->schema());
    EXPECT_EQ(batch.source(), "customers.csv");
    streamed += Rows(batch);
  }
  EXPECT_EQ(batches, 4u);
  EXPECT_EQ(streamed, Rows(**whole));

  // The file changes after registration: the stream fails at its end, FailedPrecondition.
  WriteText(csv, text + "10,70,10.5\n");
  auto changed = session.OpenInput(100);
  ASSERT_TRUE(changed.ok()) << changed.status();
  auto more = (*changed)->Next(&batch);
  EXPECT_EQ(more.status().code(), absl::StatusCode::kFailedPrecondition) << more.status();
  // A registered column vanished: FailedPrecondition too.
  WriteText(csv, "id,score\n1,2.5\n");
  EXPECT_EQ(session.OpenInput(100).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(NodeSession, OpenInputStreamsARegisteredSqliteTable) {
  TempHome home;
  auto node = OpenOfflineNode(home.path + "/node");
  ASSERT_TRUE(node.ok()) << node.status();
  const std::string path = home.path + "/shop.db";
  {
    auto db = SqlDb::Open(path);
    ASSERT_TRUE(db.ok()) << db.status();
    // "loose" has no declared type and holds integers, reals and text: a string column.
    std::string sql = "CREATE TABLE customers (id INTEGER, loose, score REAL); BEGIN;";
    for (int i = 0; i < 1000; ++i) {
      std::string loose = i % 3 == 0 ? std::to_string(i) : i % 3 == 1 ? "'t" + std::to_string(i) + "'" : "NULL";
      sql += "INSERT INTO customers VALUES (" + std::to_string(i) + ", " + loose + ", " +
             std::to_string(i) + ".5);";
    }
    ASSERT_TRUE(db->Exec(sql + "COMMIT;").ok());
  }
  (void)(*node)->AddDataset("customers", {"sqlite", path, "customers"}, "", false);
  ASSERT_TRUE((*node)->FindLocalDataset("customers").ok());

  NodeSession session(**node, std::string(64, 'a'), SpecFor("customers"), nullptr,
                      std::chrono::milliseconds(1000));
  auto whole = session.LoadInput();
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_EQ((*whole)->schema().column(1).type, data::ColumnType::kString);
  auto reader = session.OpenInput(64);
  ASSERT_TRUE(reader.ok()) << reader.status();
  data::Table batch;
  std::string streamed;
  std::vector<size_t> sizes;
  while (true) {
    auto more = (*reader)->Next(&batch);
    ASSERT_TRUE(more.ok()) << more.status();
    if (!*more) break;
    sizes.push_back(batch.num_rows());
    EXPECT_EQ(batch.schema(), (*whole)->schema());
    EXPECT_EQ(batch.source(), "shop.db:customers");
    streamed += Rows(batch);
  }
  ASSERT_EQ(sizes.size(), 16u);  // 15 batches of 64 rows, then 40
  EXPECT_EQ(sizes.front(), 64u);
  EXPECT_EQ(sizes.back(), 40u);
  EXPECT_EQ(streamed, Rows(**whole));

  // The registration fingerprinted the table's content.
  auto registered = (*node)->FindLocalDataset("customers");
  ASSERT_TRUE(registered.ok());
  EXPECT_EQ(registered->fingerprint, data::TableContentFingerprint(**whole));

  // The database changes after registration, by a connection that stays open (so the write
  // stays in the WAL and the file's bytes do not change): the stream fails at its end.
  auto writer = SqlDb::Open(path);
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE(writer->Exec("UPDATE customers SET score = 0 WHERE id = 7").ok());
  auto changed = session.OpenInput(64);
  ASSERT_TRUE(changed.ok()) << changed.status();
  StatusOr<bool> more = true;
  while (more.ok() && *more) more = (*changed)->Next(&batch);
  EXPECT_EQ(more.status().code(), absl::StatusCode::kFailedPrecondition) << more.status();
  EXPECT_EQ(session.LoadInput().status().code(), absl::StatusCode::kFailedPrecondition);
  changed->reset();
  writer = absl::InternalError("closed");
  // The table is gone: FailedPrecondition too.
  {
    auto db = SqlDb::Open(path);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->Exec("DROP TABLE customers").ok());
  }
  EXPECT_EQ(session.OpenInput(64).status().code(), absl::StatusCode::kFailedPrecondition);
}

std::unique_ptr<Node> OpenTestNode(const TempHome& home) {
  auto node = OpenOfflineNode(home.path + "/node");
  CONSORT_CHECK(node.ok());
  return std::move(*node);
}

TEST(NodeSession, StoreTableFileKeepsSourceTypesAndNeverReplacesADataset) {
  TempHome home;
  auto node = OpenTestNode(home);
  const std::string csv = home.path + "/customers.csv";
  WriteText(csv, "id,phone\n1,0044\n2,21\n");
  (void)node->AddDataset("customers", {"csv", csv, ""}, "", false);
  NodeSession session(*node, std::string(64, 'b'), SpecFor("customers"), nullptr,
                      std::chrono::milliseconds(1000));
  const std::string result = home.path + "/matched.csv";
  WriteText(result, "id,phone\n2,21\n");
  // A result may not take the name of a registered dataset.
  EXPECT_EQ(session.StoreTableFile("customers", result).code(), absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(std::filesystem::exists(result));
  ASSERT_TRUE(session.StoreTableFile("matched", result).ok());
  EXPECT_FALSE(std::filesystem::exists(result)) << "the file is moved, not copied";
  auto stored = node->FindLocalDataset("matched");
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->info["rows"], 1);
  // "21" alone would infer int64; the source column is a string column.
  EXPECT_EQ(stored->info["columns"][1]["type"], "string") << stored->info.dump();
}

TEST(NodeSession, ModelsAreStoredOnceAndAlteredFilesAreDataLoss) {
  TempHome home;
  auto node = OpenTestNode(home);
  NodeSession session(*node, std::string(64, 'c'), SpecFor("customers"), nullptr,
                      std::chrono::milliseconds(1000));
  const Bytes blob = {1, 2, 3, 4};
  // No coordinator: stored locally, not published, and the error says so.
  Status st = session.StoreModel("credit", {{"kind", "test"}}, blob);
  EXPECT_NE(std::string(st.message()).find("stored on this node but was not published"),
            std::string::npos)
      << st;
  EXPECT_EQ(session.StoreModel("credit", {{"kind", "test"}}, blob).code(),
            absl::StatusCode::kAlreadyExists);
  auto loaded = session.LoadModel("credit");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->blob, blob);
  EXPECT_EQ(loaded->metadata["kind"], "test");
  EXPECT_EQ(session.LoadModel("other").status().code(), absl::StatusCode::kNotFound);
  WriteText(home.path + "/node/models/credit.model", "tampered");
  EXPECT_EQ(session.LoadModel("credit").status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace consort::node
