// A federation as real processes: one coordinator and two nodes ("bank", "shop"), each a
// `consort` process on loopback (cli/local_cluster.h), driven through the CLI and the REST API
// exactly as a person or a script would. Each test builds its own cluster in its own directory
// (kept, with its path printed, when the test fails) and asserts observable outcomes: exit codes,
// canonical error codes and messages, job states and reasons, result files on disk.
//
// Faults injected: malformed specs and CSVs, tampering with the coordinator's database (forged
// or missing approval signatures, a spec altered after signing), unregistered TLS identities and
// wrong pins, a coordinator SIGKILLed and restarted mid-job, a node SIGKILLed mid-protocol, and
// reused, misnamed or expired invites.
//
// CONSORT_IT_KEEP=1 keeps every test's directory (homes, logs, data), not only failed ones.

#include <signal.h>
#include <unistd.h>

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "consort/api/https_client.h"
#include "consort/audit/entry.h"
#include "consort/cli/local_cluster.h"
#include "consort/engine/operator.h"
#include "consort/cli/operators.h"
#include "consort/common/bytes.h"
#include "consort/common/files.h"
#include "consort/common/json.h"
#include "consort/common/sqlite.h"
#include "consort/common/time.h"
#include "consort/coordinator/invite.h"
#include "consort/crypto/random.h"
#include "consort/crypto/sign.h"
#include "consort/crypto/tls_identity.h"
#include "consort/node/node.h"

namespace consort {
namespace {

namespace fs = std::filesystem;
using cli::CommandResult;
using cli::LocalCluster;

constexpr char kBinary[] = CONSORT_BINARY;
constexpr size_t npos = std::string::npos;

// --- data ------------------------------------------------------------------------------------
// Person p appears at the bank as (id, phone, email, amount) and at the shop as (phone, email,
// basket). Phones match for every shared person; e-mails only for even p (odd p use another
// address at the shop), so phone and e-mail joins have different, known overlaps.

std::string Fmt(const char* format, int v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}
std::string Phone(int p) { return Fmt("tel-%07d", p); }
std::string BankEmail(int p) { return Fmt("u%06d@mail.test", p); }
std::string ShopEmail(int p) { return p % 2 == 0 ? BankEmail(p) : Fmt("x%06d@other.test", p); }
std::string BankLine(int p) {
  return std::to_string(p) + "," + Phone(p) + "," + BankEmail(p) + "," + std::to_string(p * 37 % 1000);
}
std::string ShopLine(int p) { return Phone(p) + "," + ShopEmail(p) + "," + std::to_string(p % 13); }
constexpr char kBankHeader[] = "id,phone,email,amount";
constexpr char kShopHeader[] = "phone,email,basket";

// Header plus one line per person in [lo, hi) (those passing `keep`, if given).
std::string Csv(const std::string& header, std::string (*line)(int), int lo, int hi,
                const std::function<bool(int)>& keep = nullptr) {
  std::string out = header + "\n";
  out.reserve(static_cast<size_t>(hi - lo) * 40);
  for (int p = lo; p < hi; ++p) {
    if (!keep || keep(p)) out += line(p) + "\n";
  }
  return out;
}

Json PsiSpec(const std::string& bank_dataset, const std::vector<std::string>& bank_columns,
             const std::string& shop_dataset, const std::vector<std::string>& shop_columns,
             const Json& outputs) {
  return {{"operator", "psi.ecdh"},
          {"parties",
           {{"bank", {{"dataset", bank_dataset}, {"columns", bank_columns}}},
            {"shop", {{"dataset", shop_dataset}, {"columns", shop_columns}}}}},
          {"outputs", outputs}};
}

// --- process and file helpers ----------------------------------------------------------------

std::string Tail(const std::string& path, size_t max_bytes = 2500) {
  auto text = ReadFile(path);
  if (!text.ok()) return "(cannot read " + path + ")\n";
  if (text->size() <= max_bytes) return *text;
  return "[...]" + text->substr(text->size() - max_bytes);
}

std::string Describe(const CommandResult& r) {
  return "\n--- exit " + std::to_string(r.exit_code) + " after " + std::to_string(r.seconds) +
         " s\n--- stdout:\n" + r.out + "\n--- stderr:\n" + r.err + "\n";
}

// Alive and not a zombie.
bool ProcessAlive(pid_t pid) {
  if (pid <= 0) return false;
  auto stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (!stat.ok()) return false;
  size_t close = stat->rfind(')');
  return close != npos && close + 2 < stat->size() && (*stat)[close + 2] != 'Z';
}

bool WaitUntil(const std::function<bool()>& done, double timeout_s, double step_s = 0.1) {
  double end = MonotonicSeconds() + timeout_s;
  while (MonotonicSeconds() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int>(step_s * 1000)));
  }
  return done();
}

std::string StripCr(std::string s) {
  s.erase(std::remove(s.begin(), s.end(), '\r'), s.end());
  return s;
}

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = haystack.find(needle); pos != npos; pos = haystack.find(needle, pos + 1)) ++n;
  return n;
}

// --- fixture ---------------------------------------------------------------------------------

// The operators the coordinator lists in an "unknown operator" error: every registered one.
std::string KnownOperators() {
  cli::RegisterAllOperators();
  std::string known;
  for (const auto* op : engine::OperatorRegistry::Global().List()) {
    known += (known.empty() ? "" : ", ") + op->info().name;
  }
  return known;
}

class Integration : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = (fs::temp_directory_path() /
            ("consort-it-" + std::to_string(getpid()) + "-" + info->name()))
               .string();
    std::error_code ec;
    fs::remove_all(dir_, ec);
    fs::create_directories(data_dir(), ec);
    ASSERT_FALSE(ec) << "cannot create " << dir_ << ": " << ec.message();
    crypto::InitCrypto();
    // A peer closing a TLS connection first must not kill the test (OpenSSL writes close_notify).
    signal(SIGPIPE, SIG_IGN);
  }

  void TearDown() override {
    const bool failed = HasFailure();
    if (failed && cluster_) std::cerr << Logs();
    cluster_.reset();  // stops every process
    if (failed || std::getenv("CONSORT_IT_KEEP") != nullptr) {
      std::cerr << "test directory kept for inspection: " << dir_ << std::endl;
    } else {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    }
  }

  std::string data_dir() const { return dir_ + "/data"; }
  std::string File(const std::string& name) const { return data_dir() + "/" + name; }

  // Extra `consort node init` arguments per node, for Start.
  std::map<std::string, std::vector<std::string>> node_init_args_;

  // Starts the coordinator and the named nodes (fatal on failure).
  void Start(const std::vector<std::string>& nodes, int party_silence_timeout_s = 60) {
    LocalCluster::Options options;
    options.binary = kBinary;
    options.dir = dir_ + "/cluster";
    options.party_silence_timeout_s = party_silence_timeout_s;
    auto cluster = LocalCluster::Create(options);
    ASSERT_TRUE(cluster.ok()) << cluster.status() << "\n" << Tail(options.dir + "/coordinator.log");
    cluster_ = std::move(*cluster);
    for (const auto& n : nodes) {
      Status st = cluster_->AddNode(n, node_init_args_[n]);
      ASSERT_TRUE(st.ok()) << st << Logs();
      nodes_.push_back(n);
    }
  }

  // Tails of the coordinator's and every node's log.
  std::string Logs() const {
    if (!cluster_) return "";
    std::string out = "\n=== coordinator.log\n" + Tail(cluster_->log_path("coordinator"));
    for (const auto& n : nodes_) out += "\n=== " + n + ".log\n" + Tail(cluster_->log_path(n));
    return out + "\n";
  }
  std::string NodeLog(const std::string& node) const {
    return ReadFile(cluster_->log_path(node)).value_or("");
  }

  CommandResult On(const std::string& node, std::vector<std::string> args, double timeout_s = 120) {
    return cluster_->OnNode(node, std::move(args), timeout_s);
  }
  // Runs a command that must succeed.
  CommandResult Ok(const std::string& node, std::vector<std::string> args, double timeout_s = 120) {
    std::string what = node;
    for (const auto& a : args) what += " " + a;
    CommandResult r = On(node, std::move(args), timeout_s);
    EXPECT_EQ(r.exit_code, 0) << "consort " << what << Describe(r) << Logs();
    return r;
  }
  Json OkJson(const std::string& node, std::vector<std::string> args, double timeout_s = 120) {
    CommandResult r = Ok(node, std::move(args), timeout_s);
    auto j = ParseJson(r.out, "stdout");
    EXPECT_TRUE(j.ok()) << j.status() << Describe(r);
    return j.ok() ? *j : Json::object();
  }

  void AddDataset(const std::string& node, const std::string& name, const std::string& csv) {
    Ok(node, {"dataset", "add", name, "--csv", csv});
  }
  // A standing rule letting `node` sign psi.ecdh jobs over `columns` of `dataset` with `partner`.
  void AddPolicy(const std::string& node, const std::string& dataset, const std::string& partner,
                 const std::string& columns) {
    Ok(node, {"policy", "add", "--dataset", dataset, "--partners", partner, "--operators",
              "psi.ecdh", "--columns", columns});
  }

  std::string WriteSpec(const Json& spec) {
    std::string path = File("spec-" + std::to_string(++specs_) + ".json");
    EXPECT_TRUE(WriteFileAtomic(path, spec.dump(2)).ok());
    return path;
  }
  // Submits through `node`'s CLI; returns the job id ("" after a test failure).
  std::string Submit(const std::string& node, const Json& spec) {
    Json r = OkJson(node, {"job", "submit", WriteSpec(spec), "-o", "json"});
    std::string id = r.value("job_id", "");
    EXPECT_EQ(id.size(), 64u) << r.dump();
    return id;
  }
  Json ShowJob(const std::string& node, const std::string& id) {
    return OkJson(node, {"job", "show", id, "-o", "json"});
  }
  Json Result(const std::string& node, const std::string& id) {
    return OkJson(node, {"job", "result", id});
  }
  // `job wait` until the job ends; returns the final job JSON and the command (exit 0 only if
  // it succeeded).
  Json Await(const std::string& node, const std::string& id, int timeout_s,
             CommandResult* command = nullptr) {
    CommandResult r = On(node, {"job", "wait", id, "--timeout", std::to_string(timeout_s), "-o", "json"},
                         timeout_s + 30);
    if (command) *command = r;
    auto j = ParseJson(r.out, "stdout");
    EXPECT_TRUE(j.ok()) << "job wait printed no job JSON" << Describe(r) << Logs();
    return j.ok() ? *j : Json::object();
  }
  // Polls `job show` until `done(job)` holds.
  bool WaitForJob(const std::string& node, const std::string& id,
                  const std::function<bool(const Json&)>& done, double timeout_s, Json* last) {
    return WaitUntil(
        [&] {
          CommandResult r = On(node, {"job", "show", id, "-o", "json"}, 30);
          auto j = ParseJson(r.out, "stdout");
          if (r.exit_code != 0 || !j.ok()) return false;
          if (last) *last = *j;
          return done(*j);
        },
        timeout_s, 0.2);
  }

  // Runs one statement against the coordinator's database while it runs (WAL allows it).
  void TamperCoordinatorDb(const std::string& sql, const std::vector<SqlValue>& params) {
    auto db = SqlDb::Open(cluster_->coordinator_home() + "/coordinator.db");
    ASSERT_TRUE(db.ok()) << db.status();
    Status st = db->Run(sql, params);
    ASSERT_TRUE(st.ok()) << st;
    ASSERT_EQ(db->changes(), 1) << sql;
  }

  // A party's approval signature over `job_id`, made with the key in its node home.
  std::string SignApprovalAs(const std::string& node, const std::string& job_id) {
    auto seed_hex = ReadFile(cluster_->node_home(node) + "/keys/signing.key");
    EXPECT_TRUE(seed_hex.ok());
    std::string hex = seed_hex.value_or("");
    while (!hex.empty() && (hex.back() == '\n' || hex.back() == ' ')) hex.pop_back();
    auto seed = HexDecode(hex);
    EXPECT_TRUE(seed.ok()) << seed.status();
    if (!seed.ok()) return "";
    auto key = crypto::SigningKey::FromSeed(*seed);
    EXPECT_TRUE(key.ok()) << key.status();
    if (!key.ok()) return "";
    return crypto::EncodeSignature(key->SignFor("job-approval", AsBytes(job_id)));
  }

  std::string dir_;
  std::unique_ptr<LocalCluster> cluster_;
  std::vector<std::string> nodes_;
  int specs_ = 0;
};

// --- 1. happy path ---------------------------------------------------------------------------

TEST_F(Integration, HappyPathDeliversResultsOnlyToReceivers) {
  // The shop advertises a host name other than the one it listens on: the bank dials
  // "localhost:<port>" as announced (net/address.h).
  node_init_args_["shop"] = {"--peer-listen", "127.0.0.1:0", "--peer-advertise", "localhost"};
  ASSERT_NO_FATAL_FAILURE(Start({"bank", "shop"}));
  {
    auto members = cluster_->Api("GET", "/v1/nodes");
    ASSERT_TRUE(members.ok()) << members.status();
    std::map<std::string, std::string> address;
    for (const auto& m : (*members)["members"]) address[m["name"]] = m["address"];
    EXPECT_EQ(address["shop"].rfind("localhost:", 0), 0u) << address["shop"];
    EXPECT_EQ(address["bank"].rfind("127.0.0.1:", 0), 0u) << address["bank"];
  }
  // bank: persons [0, 3000); shop: [2300, 4800). Phones overlap on 700, e-mails on 350.
  ASSERT_TRUE(WriteFileAtomic(File("bank.csv"), Csv(kBankHeader, BankLine, 0, 3000)).ok());
  ASSERT_TRUE(WriteFileAtomic(File("shop.csv"), Csv(kShopHeader, ShopLine, 2300, 4800)).ok());
  AddDataset("bank", "customers", File("bank.csv"));
  AddDataset("shop", "buyers", File("shop.csv"));
  // The catalog holds metadata only: names, columns, row counts.
  Json catalog = OkJson("shop", {"dataset", "list", "-o", "json"});
  ASSERT_EQ(catalog.size(), 2u) << catalog.dump(2);
  EXPECT_EQ(catalog[0]["owner"], "bank");
  EXPECT_EQ(catalog[0]["rows"], 3000);
  EXPECT_EQ(catalog[1]["owner"], "shop");
  EXPECT_EQ(catalog[1]["rows"], 2500);
  // Standing rules cover joins on phone only.
  AddPolicy("bank", "customers", "shop", "phone");
  AddPolicy("shop", "buyers", "bank", "phone");

  // Job 1: signed by both standing policies; only the bank receives (its own matching rows).
  std::string job1 = Submit("bank", PsiSpec("customers", {"phone"}, "buyers", {"phone"},
                                            {{"bank", "intersection"}}));
  ASSERT_FALSE(job1.empty());
  CommandResult wait1 = On("bank", {"job", "wait", job1, "--timeout", "90"}, 120);
  ASSERT_EQ(wait1.exit_code, 0) << Describe(wait1) << Logs();
  EXPECT_NE(wait1.out.find(job1.substr(0, 12) + " succeeded"), npos) << wait1.out;
  Json shown1 = ShowJob("shop", job1);
  EXPECT_EQ(shown1["approvals"], Json({{"bank", "approved"}, {"shop", "approved"}}));
  EXPECT_EQ(NodeLog("bank").find("job " + job1.substr(0, 12) + " waits for a person"), npos);

  Json bank1 = Result("bank", job1);
  EXPECT_EQ(bank1["summary"]["intersection_size"], 700) << bank1.dump(2);
  EXPECT_EQ(bank1["summary"]["matched_rows"], 700);
  EXPECT_EQ(bank1["summary"]["my_rows"], 3000);
  EXPECT_EQ(bank1["summary"]["peer_keys"], 2500);
  ASSERT_EQ(bank1["tables"].size(), 1u) << bank1.dump(2);
  std::string bank_table = bank1["tables"][0]["path"];
  EXPECT_EQ(bank_table.rfind(fs::absolute(cluster_->node_home("bank")).string(), 0), 0u) << bank_table;
  auto bank_rows = ReadFile(bank_table);
  ASSERT_TRUE(bank_rows.ok()) << bank_rows.status();
  EXPECT_EQ(StripCr(*bank_rows), Csv(kBankHeader, BankLine, 2300, 3000));
  // The shop ran its side but received nothing: no table, no summary, no file.
  Json shop1 = Result("shop", job1);
  EXPECT_EQ(shop1["run"]["state"], "succeeded") << shop1.dump(2);
  EXPECT_TRUE(shop1["tables"].empty()) << shop1.dump(2);
  EXPECT_TRUE(shop1["summary"].empty()) << shop1.dump(2);
  EXPECT_TRUE(fs::is_empty(cluster_->node_home("shop") + "/results"));

  // Job 2: joins on e-mail, which no rule covers, so each party must approve in person.
  std::string job2 = Submit("shop", PsiSpec("customers", {"email"}, "buyers", {"email"},
                                            {{"shop", "intersection"}, {"bank", "size"}}));
  ASSERT_FALSE(job2.empty());
  const std::string waits = "job " + job2.substr(0, 12) + " waits for a person";
  ASSERT_TRUE(WaitUntil([&] { return NodeLog("bank").find(waits) != npos &&
                                     NodeLog("shop").find(waits) != npos; },
                        30))
      << "the daemons never considered job " << job2 << Logs();
  Json before = ShowJob("bank", job2);
  EXPECT_EQ(before["state"], "proposed");
  EXPECT_EQ(before["approvals"], Json({{"bank", "pending"}, {"shop", "pending"}}));
  CommandResult approve_bank = Ok("bank", {"job", "approve", job2.substr(0, 12)});
  EXPECT_NE(approve_bank.out.find("job is now proposed"), npos) << approve_bank.out;
  CommandResult approve_shop = Ok("shop", {"job", "approve", job2});
  EXPECT_NE(approve_shop.out.find("job is now scheduled"), npos) << approve_shop.out;
  CommandResult wait2 = On("shop", {"job", "wait", job2, "--timeout", "90"}, 120);
  ASSERT_EQ(wait2.exit_code, 0) << Describe(wait2) << Logs();

  Json shop2 = Result("shop", job2);
  EXPECT_EQ(shop2["summary"]["intersection_size"], 350) << shop2.dump(2);
  ASSERT_EQ(shop2["tables"].size(), 1u) << shop2.dump(2);
  auto shop_rows = ReadFile(shop2["tables"][0]["path"].get<std::string>());
  ASSERT_TRUE(shop_rows.ok());
  EXPECT_EQ(StripCr(*shop_rows),
            Csv(kShopHeader, ShopLine, 2300, 3000, [](int p) { return p % 2 == 0; }));
  Json bank2 = Result("bank", job2);
  EXPECT_EQ(bank2["summary"]["intersection_size"], 350) << bank2.dump(2);
  EXPECT_FALSE(bank2["summary"].contains("result_dataset")) << bank2.dump(2);
  EXPECT_TRUE(bank2["tables"].empty()) << bank2.dump(2);

  // No key value is stored or logged by the coordinator (its whole home, database and WAL
  // included, and its log); nor do the nodes log any.
  const std::vector<std::string> values = {Phone(2300), Phone(2999), Phone(17),  Phone(4799),
                                           BankEmail(2400), BankEmail(5), ShopEmail(2301)};
  std::vector<std::string> files = {cluster_->log_path("coordinator"), cluster_->log_path("bank"),
                                    cluster_->log_path("shop")};
  for (const auto& e : fs::recursive_directory_iterator(cluster_->coordinator_home())) {
    if (e.is_regular_file()) files.push_back(e.path().string());
  }
  EXPECT_GE(files.size(), 5u);
  for (const auto& f : files) {
    auto content = ReadFile(f);
    ASSERT_TRUE(content.ok()) << content.status();
    for (const auto& v : values) EXPECT_EQ(content->find(v), npos) << f << " holds the key value " << v;
  }
  // The control: the values are really in the nodes' own files.
  EXPECT_NE(bank_rows->find(Phone(2999)), npos);

  for (const std::string node : {"bank", "shop"}) {
    CommandResult v = Ok(node, {"audit", "verify"});
    EXPECT_NE(v.out.find("audit log OK"), npos) << v.out;
  }
}

// --- 1b. the coordinator as the two-party MPC dealer -----------------------------------------

TEST_F(Integration, CoordinatorDealsForTwoPartyJointStatistics) {
  ASSERT_NO_FATAL_FAILURE(Start({"bank", "shop"}));
  // bank: customers c0000..c0199 with an income; shop: c0100..c0299 with a spend.
  std::string bank_csv = "id,income\n", shop_csv = "id,spend\n";
  double income_sum = 0, spend_sum = 0;
  for (int i = 0; i < 300; ++i) {
    char id[8];
    std::snprintf(id, sizeof(id), "c%04d", i);
    if (i < 200) bank_csv += std::string(id) + "," + std::to_string(1000 + 7 * i) + "\n";
    if (i >= 100) shop_csv += std::string(id) + "," + std::to_string(10 + i % 13) + "\n";
    if (i >= 100 && i < 200) {
      income_sum += 1000 + 7 * i;
      spend_sum += 10 + i % 13;
    }
  }
  ASSERT_TRUE(WriteFileAtomic(File("bank.csv"), bank_csv).ok());
  ASSERT_TRUE(WriteFileAtomic(File("shop.csv"), shop_csv).ok());
  AddDataset("bank", "customers", File("bank.csv"));
  AddDataset("shop", "buyers", File("shop.csv"));
  Json spec = {
      {"operator", "stats.joint"},
      {"parties",
       {{"bank", {{"dataset", "customers"}, {"columns", {"id", "income"}}}},
        {"shop", {{"dataset", "buyers"}, {"columns", {"id", "spend"}}}},
        {"coordinator", {{"role", "dealer"}}}}},
      {"outputs", {{"bank", "statistics"}}},
      {"params",
       {{"align", {{"bank", {"id"}}, {"shop", {"id"}}}},
        {"statistics",
         {{{"name", "n"}, {"stat", "count"}},
          {{"name", "spend"}, {"stat", "sum"}, {"column", "shop.spend"}},
          {{"name", "income"}, {"stat", "mean"}, {"column", "bank.income"}}}}}}};
  std::string id = Submit("bank", spec);
  ASSERT_FALSE(id.empty());
  // The coordinator signed its own part at submission; the data parties sign theirs.
  Json before = ShowJob("shop", id);
  EXPECT_EQ(before["approvals"],
            Json({{"bank", "pending"}, {"coordinator", "approved"}, {"shop", "pending"}}));
  Ok("bank", {"job", "approve", id});
  Ok("shop", {"job", "approve", id});
  CommandResult wait;
  Json done = Await("bank", id, 120, &wait);
  ASSERT_EQ(done.value("state", ""), "succeeded") << done.dump(2) << Logs();
  EXPECT_EQ(done["progress"]["coordinator"]["run_state"], "succeeded") << done.dump(2);

  // The statistics match the plaintext join (tolerances of docs/operators/stats-joint.md).
  Json result = Result("bank", id);
  const Json& stats = result["summary"]["statistics"];
  EXPECT_EQ(stats["n"], 100) << result.dump(2);
  EXPECT_NEAR(stats["spend"].get<double>(), spend_sum, 1e-2) << result.dump(2);
  EXPECT_NEAR(stats["income"].get<double>(), income_sum / 100, 1e-2) << result.dump(2);
  EXPECT_TRUE(Result("shop", id)["summary"].empty());
  // The coordinator dealt (and says so) but holds no row, key or statistic.
  auto log = ReadFile(cluster_->log_path("coordinator"));
  ASSERT_TRUE(log.ok());
  EXPECT_NE(log->find("job " + id.substr(0, 12) + ": the coordinator deals for stats.joint"), npos);
  for (const auto& e : fs::recursive_directory_iterator(cluster_->coordinator_home())) {
    if (!e.is_regular_file()) continue;
    auto content = ReadFile(e.path().string());
    ASSERT_TRUE(content.ok());
    EXPECT_EQ(content->find("c0150"), npos) << e.path() << " holds a key";
  }
  // Every node verified the coordinator's approval under the key it pinned, and the audit log
  // (which records that approval) verifies.
  for (const std::string node : {"bank", "shop"}) {
    CommandResult v = Ok(node, {"audit", "verify"});
    EXPECT_NE(v.out.find("audit log OK"), npos) << v.out;
  }
}

// --- 2. bad specs ----------------------------------------------------------------------------

TEST_F(Integration, BadSpecsAreRefusedNamingTheProblem) {
  ASSERT_NO_FATAL_FAILURE(Start({"bank", "shop"}));
  ASSERT_TRUE(WriteFileAtomic(File("bank.csv"), Csv(kBankHeader, BankLine, 0, 40)).ok());
  ASSERT_TRUE(WriteFileAtomic(File("shop.csv"), Csv(kShopHeader, ShopLine, 20, 60)).ok());
  AddDataset("bank", "customers", File("bank.csv"));
  AddDataset("shop", "buyers", File("shop.csv"));

  // Malformed JSON: the CLI names file, line and column.
  std::string broken = File("broken.json");
  ASSERT_TRUE(WriteFileAtomic(broken,
                              "{\n  \"operator\": \"psi.ecdh\",\n  \"parties\": {\n"
                              "    \"bank\": {\"dataset\": \"customers\" \"columns\": [\"phone\"]},\n"
                              "    \"shop\": {\"dataset\": \"buyers\", \"columns\": [\"phone\"]}\n"
                              "  },\n  \"outputs\": {\"bank\": \"size\"}\n}\n")
                  .ok());
  CommandResult r = On("bank", {"job", "submit", broken});
  EXPECT_EQ(r.exit_code, 1) << Describe(r);
  EXPECT_TRUE(std::regex_search(r.err, std::regex("error \\(INVALID_ARGUMENT\\): " + broken +
                                                  ":4:[0-9]+: malformed JSON")))
      << r.err;

  const Json good = PsiSpec("customers", {"phone"}, "buyers", {"phone"}, {{"bank", "size"}});
  struct Case {
    std::string what;
    Json spec;
    absl::StatusCode code;
    std::string message;
  };
  std::vector<Case> cases;
  {
    Json s = good;
    s["operator"] = "psi.nope";
    cases.push_back({"unknown operator", s, absl::StatusCode::kNotFound,
                     "unknown operator 'psi.nope' (known: " + KnownOperators() + ")"});
  }
  {
    Json s = good;
    s["parties"]["bank"]["dataset"] = "nope";
    cases.push_back({"unknown dataset", s, absl::StatusCode::kNotFound,
                     "$.parties.bank.dataset: party 'bank' has no dataset 'nope'"});
  }
  {
    Json s = good;
    s["parties"]["shop"]["columns"] = {"fax"};
    cases.push_back({"unknown column", s, absl::StatusCode::kNotFound,
                     "$.parties.shop.columns: dataset 'shop/buyers' has no column 'fax' (columns: "
                     "phone, email, basket)"});
  }
  {
    Json s = good;
    s["parties"].erase("shop");
    s["parties"]["ghost"] = {{"dataset", "buyers"}, {"columns", {"phone"}}};
    cases.push_back({"unknown party", s, absl::StatusCode::kNotFound,
                     "$.parties.ghost: no federation member named 'ghost'"});
  }
  {
    Json s = good;
    s["colour"] = "blue";
    cases.push_back({"unknown field", s, absl::StatusCode::kInvalidArgument, "unknown field $.colour"});
  }
  {
    Json s = good;
    s["outputs"]["bank"] = "everything";
    cases.push_back({"unknown output", s, absl::StatusCode::kInvalidArgument,
                     "$.outputs.bank: operator psi.ecdh has no output 'everything' (allowed: "
                     "intersection, size)"});
  }
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    CommandResult cli = On("bank", {"job", "submit", WriteSpec(c.spec)});
    EXPECT_EQ(cli.exit_code, 1) << Describe(cli);
    EXPECT_NE(cli.err.find("error (" + absl::StatusCodeToString(c.code) + "): " + c.message), npos)
        << cli.err;
    auto rest = cluster_->Api("POST", "/v1/jobs", {{"spec", c.spec}});
    ASSERT_FALSE(rest.ok()) << rest->dump();
    EXPECT_EQ(rest.status().code(), c.code) << rest.status();
    EXPECT_EQ(rest.status().message(), c.message);
  }
  // Nothing was created.
  auto jobs = cluster_->Api("GET", "/v1/jobs");
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  EXPECT_TRUE((*jobs)["jobs"].empty()) << jobs->dump(2);

  // The same over raw HTTP: status line and the JSON error shape.
  size_t colon = cluster_->api_address().rfind(':');
  httplib::SSLClient http(cluster_->api_address().substr(0, colon),
                          std::stoi(cluster_->api_address().substr(colon + 1)));
  // The pinned client (api/https_client.h) is what products use; here only the wire format is
  // under test, on loopback.
  http.enable_server_certificate_verification(false);
  http.set_connection_timeout(5);
  http.set_read_timeout(30);
  httplib::Headers auth = {{"Authorization", "Bearer " + cluster_->admin_token()}};
  auto check = [&](const httplib::Result& res, int status, const std::string& code,
                   const std::string& message_part) {
    ASSERT_TRUE(res) << "no response: " << httplib::to_string(res.error());
    EXPECT_EQ(res->status, status) << res->body;
    auto body = ParseJson(res->body, "response");
    ASSERT_TRUE(body.ok()) << res->body;
    ASSERT_TRUE(body->contains("error")) << res->body;
    const Json& e = (*body)["error"];
    EXPECT_EQ(e.size(), 3u) << res->body;
    EXPECT_EQ(e.value("code", ""), code) << res->body;
    EXPECT_EQ(e.value("http_status", 0), status) << res->body;
    EXPECT_NE(e.value("message", "").find(message_part), npos) << res->body;
  };
  check(http.Post("/v1/jobs", auth, Json({{"spec", cases[1].spec}}).dump(), "application/json"), 404,
        "NOT_FOUND", cases[1].message);
  check(http.Post("/v1/jobs", auth, Json({{"spec", cases[4].spec}}).dump(), "application/json"), 400,
        "INVALID_ARGUMENT", cases[4].message);
  check(http.Post("/v1/jobs", auth, "{\"spec\": {\"operator\": }", "application/json"), 400,
        "INVALID_ARGUMENT", "request body:1:");
  check(http.Post("/v1/jobs", Json({{"spec", good}}).dump(), "application/json"), 401,
        "UNAUTHENTICATED", "");
}

// --- 3. bad CSVs and duplicate keys ----------------------------------------------------------

TEST_F(Integration, BadCsvIsRefusedNamingFileAndLineAndNothingIsRegistered) {
  ASSERT_NO_FATAL_FAILURE(Start({"bank"}));
  ASSERT_TRUE(WriteFileAtomic(File("good.csv"), "id,phone\n1,tel-1\n2,tel-2\n3,tel-3\n").ok());
  ASSERT_TRUE(
      WriteFileAtomic(File("wrong_columns.csv"), "id,phone\n1,tel-1\n2,tel-2\n3,tel-3,extra\n4,tel-4\n").ok());
  ASSERT_TRUE(WriteFileAtomic(File("bad_utf8.csv"), "id,phone\n1,tel-1\n2,tel-\xff\xfe\n").ok());
  ASSERT_TRUE(WriteFileAtomic(File("empty.csv"), "").ok());
  AddDataset("bank", "customers", File("good.csv"));

  struct Case {
    std::string file;
    std::string message;  // after "error (INVALID_ARGUMENT): "
  };
  const std::vector<Case> cases = {
      {"wrong_columns.csv", "wrong_columns.csv:4: expected 2 fields, found 3"},
      {"bad_utf8.csv", "bad_utf8.csv:3: column 'phone': invalid UTF-8 at byte 5"},
      {"empty.csv", "empty.csv: file is empty"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.file);
    std::string name = "bad_" + c.file.substr(0, c.file.find('.'));
    CommandResult r = On("bank", {"dataset", "add", name, "--csv", File(c.file)});
    EXPECT_EQ(r.exit_code, 1) << Describe(r);
    EXPECT_NE(r.err.find("error (INVALID_ARGUMENT): " + c.message), npos) << r.err;
    // Replacing a good dataset with a bad file keeps the good one.
    CommandResult replace = On("bank", {"dataset", "add", "customers", "--replace", "--csv", File(c.file)});
    EXPECT_EQ(replace.exit_code, 1) << Describe(replace);
    EXPECT_NE(replace.err.find(c.message), npos) << replace.err;
  }

  Json catalog = OkJson("bank", {"dataset", "list", "-o", "json"});
  ASSERT_EQ(catalog.size(), 1u) << catalog.dump(2);
  EXPECT_EQ(catalog[0]["name"], "customers");
  EXPECT_EQ(catalog[0]["rows"], 3);
  Json local = OkJson("bank", {"dataset", "list", "--local", "-o", "json"});
  ASSERT_EQ(local.size(), 1u) << local.dump(2);
  EXPECT_EQ(local[0]["name"], "customers");
  EXPECT_EQ(local[0]["info"]["rows"], 3);
  EXPECT_EQ(local[0]["source"]["path"], fs::absolute(File("good.csv")).string());
}

TEST_F(Integration, DuplicateKeysFailTheJobNamingLinesUnlessDeduplicated) {
  ASSERT_NO_FATAL_FAILURE(Start({"bank", "shop"}));
  // bank: persons [0, 200) on lines 2..201, then line 202 repeats person 150's phone (line 152).
  std::string bank = Csv(kBankHeader, BankLine, 0, 200) + "9999," + Phone(150) + ",dup@mail.test,1\n";
  ASSERT_TRUE(WriteFileAtomic(File("bank_dup.csv"), bank).ok());
  ASSERT_TRUE(WriteFileAtomic(File("shop.csv"), Csv(kShopHeader, ShopLine, 100, 300)).ok());
  AddDataset("bank", "customers", File("bank_dup.csv"));
  AddDataset("shop", "buyers", File("shop.csv"));
  AddPolicy("bank", "customers", "shop", "phone");
  AddPolicy("shop", "buyers", "bank", "phone");

  Json spec = PsiSpec("customers", {"phone"}, "buyers", {"phone"}, {{"bank", "intersection"}});
  std::string failing = Submit("shop", spec);
  ASSERT_FALSE(failing.empty());
  CommandResult wait;
  Json job = Await("shop", failing, 60, &wait);
  EXPECT_EQ(wait.exit_code, 1) << Describe(wait);
  EXPECT_EQ(job["state"], "failed") << job.dump(2);
  std::string reason = job.value("reason", "");
  EXPECT_NE(reason.find("bank: bank_dup.csv: duplicate key in column(s) phone at lines 152 and 202"),
            npos)
      << reason;
  EXPECT_EQ(reason.find(Phone(150)), npos) << "the reason leaks the key: " << reason;
  EXPECT_EQ(NodeLog("bank").find(Phone(150)), npos) << "the bank's log leaks the key";
  Json bank_result = Result("bank", failing);
  EXPECT_EQ(bank_result["run"]["state"], "failed");
  EXPECT_EQ(bank_result["run"]["bytes_sent"], 0) << "data left the bank before validation";
  EXPECT_TRUE(bank_result["tables"].empty());

  spec["params"] = {{"duplicates", "dedupe"}};
  std::string deduped = Submit("shop", spec);
  ASSERT_FALSE(deduped.empty());
  job = Await("shop", deduped, 60, &wait);
  ASSERT_EQ(wait.exit_code, 0) << Describe(wait) << Logs();
  Json result = Result("bank", deduped);
  EXPECT_EQ(result["summary"]["intersection_size"], 100) << result.dump(2);
  EXPECT_EQ(result["summary"]["my_keys"], 200);
  EXPECT_EQ(result["summary"]["matched_rows"], 101);  // both rows of person 150
  ASSERT_EQ(result["tables"].size(), 1u);
  auto rows = ReadFile(result["tables"][0]["path"].get<std::string>());
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(Count(*rows, Phone(150)), 2u);
  EXPECT_EQ(Count(*rows, "\n"), 102u);
}

// --- 4. forged, missing signatures and altered specs -----------------------------------------

TEST_F(Integration, NodesRefuseForgedOrMissingSignaturesAndAlteredSpecs) {
  ASSERT_NO_FATAL_FAILURE(Start({"bank", "shop"}));
  ASSERT_TRUE(WriteFileAtomic(File("bank.csv"), Csv(kBankHeader, BankLine, 0, 50)).ok());
  ASSERT_TRUE(WriteFileAtomic(File("shop.csv"), Csv(kShopHeader, ShopLine, 25, 75)).ok());
  AddDataset("bank", "customers", File("bank.csv"));
  AddDataset("shop", "buyers", File("shop.csv"));
  const Json spec = PsiSpec("customers", {"phone"}, "buyers", {"phone"}, {{"bank", "intersection"}});

  // Both nodes refused before any data moved, and nobody received a result.
  auto expect_refused = [&](const std::string& id, const std::string& why) {
    Json job = Await("shop", id, 60);
    EXPECT_EQ(job["state"], "failed") << job.dump(2);
    EXPECT_NE(job.value("reason", "").find(why), npos) << job.dump(2);
    for (const std::string node : {"bank", "shop"}) {
      Json r;
      ASSERT_TRUE(WaitUntil(
          [&] {
            auto j = ParseJson(On(node, {"job", "result", id}, 30).out, "stdout");
            if (j.ok()) r = *j;
            return j.ok() && r.contains("run") && r["run"]["state"] != "running";
          },
          20))
          << node << " did not finish job " << id << ": " << r.dump(2) << Logs();
      EXPECT_NE(NodeLog(node).find("job " + id.substr(0, 12) + " refused: "), npos) << node;
      EXPECT_NE(NodeLog(node).find(why), npos) << node;
      EXPECT_EQ(r["run"]["state"], "failed") << r.dump(2);
      EXPECT_NE(r["run"]["reason"].get<std::string>().find(why), npos) << r.dump(2);
      EXPECT_EQ(r["run"]["bytes_sent"], 0) << r.dump(2);
      EXPECT_TRUE(r["tables"].empty()) << r.dump(2);
      EXPECT_TRUE(r["summary"].empty()) << r.dump(2);
    }
  };

  // (a) After the bank approves, its stored signature is replaced by a well-formed signature
  // from another key; the shop then approves and the job is scheduled.
  {
    SCOPED_TRACE("forged signature");
    std::string id = Submit("bank", spec);
    ASSERT_FALSE(id.empty());
    Ok("bank", {"job", "approve", id});
    auto other = crypto::SigningKey::Generate();
    TamperCoordinatorDb("UPDATE job_parties SET signature = ? WHERE job_id = ? AND party = 'bank'",
                        {crypto::EncodeSignature(other.SignFor("job-approval", AsBytes(id))), id});
    CommandResult approve = Ok("shop", {"job", "approve", id});
    EXPECT_NE(approve.out.find("job is now scheduled"), npos) << approve.out;
    expect_refused(id, "approval signature of bank does not verify; refusing job");
  }
  // (b) The bank's signature is removed.
  {
    SCOPED_TRACE("missing signature");
    std::string id = Submit("bank", spec);
    ASSERT_FALSE(id.empty());
    Ok("bank", {"job", "approve", id});
    TamperCoordinatorDb("UPDATE job_parties SET signature = '' WHERE job_id = ? AND party = 'bank'", {id});
    Ok("shop", {"job", "approve", id});
    expect_refused(id, "approval signature of bank is missing; refusing job");
  }
  // (c) After the bank approves, the stored spec is changed to send the shop the bank's rows'
  // counterpart. The shop's node sees it when asked to approve; when the shop's genuine
  // signature (over the original job id) is relayed through the admin API anyway, both nodes
  // refuse to run the altered spec.
  {
    SCOPED_TRACE("altered spec");
    std::string id = Submit("bank", spec);
    ASSERT_FALSE(id.empty());
    Ok("bank", {"job", "approve", id});
    auto db = SqlDb::Open(cluster_->coordinator_home() + "/coordinator.db");
    ASSERT_TRUE(db.ok()) << db.status();
    auto rows = db->Query("SELECT spec_json FROM jobs WHERE id = ?", {id});
    ASSERT_TRUE(rows.ok() && rows->size() == 1u);
    auto stored = ParseJson(AsText((*rows)[0][0]), "spec_json");
    ASSERT_TRUE(stored.ok());
    Json altered = *stored;
    altered["outputs"] = {{"shop", "intersection"}};
    auto canonical = CanonicalJson(altered);
    ASSERT_TRUE(canonical.ok());
    TamperCoordinatorDb("UPDATE jobs SET spec_json = ? WHERE id = ?", {*canonical, id});

    CommandResult approve = On("shop", {"job", "approve", id});
    EXPECT_EQ(approve.exit_code, 1) << Describe(approve);
    EXPECT_NE(approve.err.find("error (FAILED_PRECONDITION): spec does not hash to the job id"), npos)
        << approve.err;
    EXPECT_EQ(ShowJob("bank", id)["state"], "proposed");

    auto relayed = cluster_->Api("POST", "/v1/jobs/" + id + "/approve",
                                 {{"party", "shop"}, {"signature", SignApprovalAs("shop", id)}});
    ASSERT_TRUE(relayed.ok()) << relayed.status();
    EXPECT_EQ((*relayed)["state"], "scheduled");
    expect_refused(id, "spec does not hash to the job id (altered after submission); refusing job");
  }
  // A signature that does not verify is refused by the coordinator itself as well.
  {
    std::string id = Submit("bank", spec);
    ASSERT_FALSE(id.empty());
    auto forged = cluster_->Api("POST", "/v1/jobs/" + id + "/approve",
                                {{"party", "shop"}, {"signature", SignApprovalAs("bank", id)}});
    ASSERT_FALSE(forged.ok());
    EXPECT_EQ(forged.status().code(), absl::StatusCode::kUnauthenticated) << forged.status();
    EXPECT_EQ(forged.status().message(),
              "approval signature for job " + id.substr(0, 12) + " does not verify under shop's key");
  }
  for (const std::string node : {"bank", "shop"}) Ok(node, {"audit", "verify"});
}

// --- 5. TLS identities -----------------------------------------------------------------------

TEST_F(Integration, UnregisteredIdentitiesAndWrongPinsAreRefusedInTheHandshake) {
  ASSERT_NO_FATAL_FAILURE(Start({"bank"}));
  Ok("bank", {"dataset", "list"});  // the registered identity gets through
  auto expect_refused = [&](const std::string& home) {
    CommandResult r = cluster_->Consort({"dataset", "list", "--home", home}, 60);
    EXPECT_EQ(r.exit_code, 1) << Describe(r);
    EXPECT_NE(r.err.find("error (UNAVAILABLE): coordinator at " + cluster_->grpc_address() +
                         " is unreachable"),
              npos)
        << r.err;
    EXPECT_LT(r.seconds, 30) << "a refused handshake should fail fast";
  };

  // (a) A fresh identity that was never registered, with the coordinator's genuine pins from an
  // invite it never redeems.
  auto invite = cluster_->Api("POST", "/v1/invites", {{"name", "mallory"}});
  ASSERT_TRUE(invite.ok()) << invite.status();
  auto decoded = coordinator::Invite::Decode((*invite)["token"].get<std::string>());
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  node::NodeConfig mallory;
  mallory.name = "mallory";
  mallory.coordinator_grpc = decoded->grpc_address;
  mallory.coordinator_api = decoded->api_address;
  mallory.coordinator_fingerprint = decoded->tls_fingerprint;
  mallory.coordinator_key = decoded->coordinator_key;
  ASSERT_TRUE(node::Node::InitHome(dir_ + "/mallory", mallory).ok());
  {
    SCOPED_TRACE("never registered");
    expect_refused(dir_ + "/mallory");
  }

  // (b) The bank's name and configuration with regenerated keys.
  auto bank_json = ReadFile(cluster_->node_home("bank") + "/node.json");
  ASSERT_TRUE(bank_json.ok());
  auto bank_config = node::NodeConfig::FromJson(*ParseJson(*bank_json, "node.json"));
  ASSERT_TRUE(bank_config.ok()) << bank_config.status();
  ASSERT_TRUE(node::Node::InitHome(dir_ + "/bank-impostor", *bank_config).ok());
  {
    SCOPED_TRACE("registered name, new keys");
    expect_refused(dir_ + "/bank-impostor");
  }

  // (c) The bank's real keys, pinned to a different coordinator certificate.
  std::string wrong_pin_home = dir_ + "/bank-wrong-pin";
  fs::create_directories(wrong_pin_home);
  fs::copy(cluster_->node_home("bank") + "/keys", wrong_pin_home + "/keys", fs::copy_options::recursive);
  node::NodeConfig pinned = *bank_config;
  auto other_cert = crypto::GenerateTlsIdentity("consort-coordinator");
  ASSERT_TRUE(other_cert.ok());
  pinned.coordinator_fingerprint = *crypto::CertificateFingerprint(other_cert->cert_pem);
  ASSERT_NE(pinned.coordinator_fingerprint, bank_config->coordinator_fingerprint);
  ASSERT_TRUE(WriteFileAtomic(wrong_pin_home + "/node.json", pinned.ToJson().dump(2), 0600).ok());
  {
    SCOPED_TRACE("wrong coordinator pin");
    expect_refused(wrong_pin_home);
  }

  // None of them became a member; the bank still works.
  auto members = cluster_->Api("GET", "/v1/nodes");
  ASSERT_TRUE(members.ok()) << members.status();
  ASSERT_EQ((*members)["members"].size(), 1u) << members->dump(2);
  EXPECT_EQ((*members)["members"][0]["name"], "bank");
  Ok("bank", {"dataset", "list"});
}

// --- 6. coordinator restart ------------------------------------------------------------------

class BigJob : public Integration {
 protected:
  // bank: persons [0, rows); shop: [rows - overlap, 2 rows - overlap); standing rules on phone.
  void AddBigDatasets(int rows, int overlap) {
    ASSERT_TRUE(WriteFileAtomic(File("bank_big.csv"), Csv(kBankHeader, BankLine, 0, rows)).ok());
    ASSERT_TRUE(WriteFileAtomic(File("shop_big.csv"),
                                Csv(kShopHeader, ShopLine, rows - overlap, 2 * rows - overlap))
                    .ok());
    AddDataset("bank", "customers", File("bank_big.csv"));
    AddDataset("shop", "buyers", File("shop_big.csv"));
    AddPolicy("bank", "customers", "shop", "phone");
    AddPolicy("shop", "buyers", "bank", "phone");
  }
  // Waits until the job runs and both parties have reported PSI progress.
  void WaitUntilComputing(const std::string& id) {
    Json last;
    bool computing = WaitForJob(
        "bank", id,
        [](const Json& j) {
          if (j["state"] != "running") return false;
          for (const auto& [_, p] : j["progress"].items()) {
            // Past loading (0.05) and not yet storing (0.95).
            if (p.value("fraction", 0.0) < 0.06 || p.value("fraction", 0.0) > 0.9) return false;
          }
          return true;
        },
        60, &last);
    ASSERT_TRUE(computing) << "job never reached the PSI stage: " << last.dump(2) << Logs();
  }
};

TEST_F(BigJob, CoordinatorKilledAndRestartedMidJobLosesNothing) {
  ASSERT_NO_FATAL_FAILURE(Start({"bank", "shop"}));
  // ~40k keys a side keep the PSI busy for several seconds on a loaded 2-core machine.
  constexpr int kRows = 40'000, kOverlap = 12'000;
  ASSERT_NO_FATAL_FAILURE(AddBigDatasets(kRows, kOverlap));
  std::string id = Submit("bank", PsiSpec("customers", {"phone"}, "buyers", {"phone"},
                                          {{"bank", "size"}, {"shop", "size"}}));
  ASSERT_FALSE(id.empty());
  double submitted_at = MonotonicSeconds();
  ASSERT_NO_FATAL_FAILURE(WaitUntilComputing(id));
  std::cerr << "[ info ] PSI running " << MonotonicSeconds() - submitted_at << " s after submission"
            << std::endl;
  auto audit_before = cluster_->Api("GET", "/v1/audit?from=0&limit=1");
  ASSERT_TRUE(audit_before.ok());

  ASSERT_TRUE(cluster_->StopCoordinator(SIGKILL).ok());
  std::this_thread::sleep_for(std::chrono::seconds(1));
  Status restarted = cluster_->StartCoordinator();
  ASSERT_TRUE(restarted.ok()) << restarted << Logs();

  double restarted_at = MonotonicSeconds();
  CommandResult wait;
  Json job = Await("bank", id, 90, &wait);
  std::cerr << "[ info ] job " << job.value("state", "?") << " " << MonotonicSeconds() - restarted_at
            << " s after the coordinator restarted" << std::endl;
  ASSERT_TRUE(job["state"] == "succeeded" || job["state"] == "failed") << job.dump(2) << Logs();
  if (job["state"] == "failed") {
    EXPECT_FALSE(job.value("reason", "").empty()) << job.dump(2);
  }
  // The nodes finished the PSI while the coordinator was away and retried their reports.
  EXPECT_EQ(job["state"], "succeeded") << job.dump(2) << Logs();
  EXPECT_EQ(wait.exit_code, job["state"] == "succeeded" ? 0 : 1);
  if (job["state"] == "succeeded") {
    for (const std::string node : {"bank", "shop"}) {
      EXPECT_EQ(Result(node, id)["summary"]["intersection_size"], kOverlap) << node;
    }
  }
  // Job state and the audit log survived the crash.
  auto audit_after = cluster_->Api("GET", "/v1/audit?from=0&limit=1");
  ASSERT_TRUE(audit_after.ok());
  EXPECT_GT((*audit_after)["size"].get<int64_t>(), (*audit_before)["size"].get<int64_t>());
  EXPECT_EQ((*audit_after)["entries"][0], (*audit_before)["entries"][0]);
  Json listed = OkJson("shop", {"job", "list", "-o", "json"});
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["state"], job["state"]);
  EXPECT_NE(ReadFile(cluster_->log_path("coordinator"))->find("coordinator up"), npos);
  for (const std::string node : {"bank", "shop"}) {
    CommandResult v = Ok(node, {"audit", "verify"});
    EXPECT_NE(v.out.find("audit log OK"), npos) << v.out;
  }
}

// --- 7. node killed mid-protocol -------------------------------------------------------------

TEST_F(BigJob, NodeKilledMidProtocolFailsTheJobPromptlyAndTheSurvivorServesOn) {
  ASSERT_NO_FATAL_FAILURE(Start({"bank", "shop"}));
  ASSERT_NO_FATAL_FAILURE(AddBigDatasets(100'000, 30'000));
  ASSERT_TRUE(WriteFileAtomic(File("bank_small.csv"), Csv(kBankHeader, BankLine, 0, 60)).ok());
  ASSERT_TRUE(WriteFileAtomic(File("shop_small.csv"), Csv(kShopHeader, ShopLine, 45, 90)).ok());
  AddDataset("bank", "customers_small", File("bank_small.csv"));
  AddDataset("shop", "buyers_small", File("shop_small.csv"));
  AddPolicy("bank", "customers_small", "shop", "phone");
  AddPolicy("shop", "buyers_small", "bank", "phone");

  std::string id = Submit("bank", PsiSpec("customers", {"phone"}, "buyers", {"phone"},
                                          {{"bank", "intersection"}}));
  ASSERT_FALSE(id.empty());
  ASSERT_NO_FATAL_FAILURE(WaitUntilComputing(id));
  const pid_t bank_pid = cluster_->node_pid("bank");
  ASSERT_TRUE(ProcessAlive(bank_pid));

  double killed_at = MonotonicSeconds();
  ASSERT_TRUE(cluster_->StopNode("shop", SIGKILL).ok());
  Json job;
  bool ended = WaitForJob("bank", id, [](const Json& j) { return j["state"] != "running"; }, 60, &job);
  double seconds = MonotonicSeconds() - killed_at;
  ASSERT_TRUE(ended) << "job still running 60 s after the shop died: " << job.dump(2) << Logs();
  EXPECT_LT(seconds, 60);
  EXPECT_EQ(job["state"], "failed") << job.dump(2);
  std::string reason = job.value("reason", "");
  EXPECT_NE(reason.find("shop"), npos) << "the reason does not name the dead peer: " << reason;
  std::cerr << "[ info ] job failed " << seconds << " s after the shop was killed: " << reason << std::endl;
  Json bank_result = Result("bank", id);
  EXPECT_EQ(bank_result["run"]["state"], "failed") << bank_result.dump(2);
  EXPECT_TRUE(bank_result["tables"].empty());

  // The bank's daemon is the same process, and still serves: restart the shop, run a small job.
  EXPECT_TRUE(ProcessAlive(bank_pid));
  EXPECT_EQ(cluster_->node_pid("bank"), bank_pid);
  Status restarted = cluster_->StartNode("shop");
  ASSERT_TRUE(restarted.ok()) << restarted << Logs();
  std::string small = Submit("shop", PsiSpec("customers_small", {"phone"}, "buyers_small", {"phone"},
                                             {{"bank", "intersection"}, {"shop", "size"}}));
  ASSERT_FALSE(small.empty());
  CommandResult wait;
  Await("shop", small, 60, &wait);
  ASSERT_EQ(wait.exit_code, 0) << Describe(wait) << Logs();
  EXPECT_EQ(Result("bank", small)["summary"]["intersection_size"], 15);
  EXPECT_EQ(Result("shop", small)["summary"]["intersection_size"], 15);
  EXPECT_EQ(cluster_->node_pid("bank"), bank_pid);
  EXPECT_TRUE(ProcessAlive(bank_pid));
  // The failed job stays failed until a party retries it: same id, same signatures, attempt 1.
  // The restarted shop first reports the end of its interrupted attempt; until then the retry
  // is refused by name.
  EXPECT_EQ(ShowJob("bank", id)["state"], "failed");
  CommandResult retry;
  for (int i = 0; i < 60; ++i) {
    retry = On("bank", {"job", "retry", id.substr(0, 12)}, 30);
    if (retry.exit_code == 0) break;
    EXPECT_NE(retry.err.find("has not finished the previous attempt"), npos) << Describe(retry);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  ASSERT_EQ(retry.exit_code, 0) << Describe(retry) << Logs();
  EXPECT_NE(retry.out.find("attempt 1"), npos) << retry.out;
  CommandResult rewait;
  Json retried = Await("bank", id, 120, &rewait);
  ASSERT_EQ(rewait.exit_code, 0) << retried.dump(2) << Logs();
  EXPECT_EQ(retried["attempt"], 1);
  EXPECT_EQ(Result("bank", id)["summary"]["intersection_size"], 30'000);
}

// --- 8. invites ------------------------------------------------------------------------------

TEST_F(Integration, InvitesWorkOnceForTheirNameOnly) {
  ASSERT_NO_FATAL_FAILURE(Start({}));
  auto invite = [&](const std::string& name, double ttl_hours = 0) -> std::string {
    Json body = {{"name", name}};
    if (ttl_hours > 0) body["ttl_hours"] = ttl_hours;
    auto r = cluster_->Api("POST", "/v1/invites", body);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? (*r)["token"].get<std::string>() : "";
  };
  auto init = [&](const std::string& name, const std::string& token, const std::string& home) {
    return cluster_->Consort({"node", "init", "--name", name, "--invite", token, "--home", home}, 60);
  };

  std::string carol = invite("carol");
  // A listen address that binds every interface, with nothing peers could dial: refused before
  // anything is created, and the invite stays usable.
  CommandResult wildcard = cluster_->Consort({"node", "init", "--name", "carol", "--invite", carol,
                                              "--home", dir_ + "/carol", "--peer-listen",
                                              "0.0.0.0:7500"}, 60);
  EXPECT_EQ(wildcard.exit_code, 1) << Describe(wildcard);
  EXPECT_NE(wildcard.err.find("error (FAILED_PRECONDITION): the listen address '0.0.0.0:7500' "
                              "binds every interface, which no peer can dial; set "
                              "--peer-advertise"),
            npos)
      << wildcard.err;
  EXPECT_FALSE(fs::exists(dir_ + "/carol"));
  CommandResult first = init("carol", carol, dir_ + "/carol");
  ASSERT_EQ(first.exit_code, 0) << Describe(first);

  // Reuse.
  CommandResult again = init("carol", carol, dir_ + "/carol2");
  EXPECT_EQ(again.exit_code, 1) << Describe(again);
  EXPECT_NE(again.err.find("error (UNAUTHENTICATED): registration failed: invite token has already been used"),
            npos)
      << again.err;
  EXPECT_FALSE(fs::exists(dir_ + "/carol2")) << "a failed init left its home behind";

  // Another name: refused by the CLI, and by the coordinator when the check is bypassed.
  std::string dave = invite("dave");
  CommandResult misnamed = init("erin", dave, dir_ + "/erin");
  EXPECT_EQ(misnamed.exit_code, 1) << Describe(misnamed);
  EXPECT_NE(misnamed.err.find("error (INVALID_ARGUMENT): this invite is for 'dave', not 'erin'"), npos)
      << misnamed.err;
  EXPECT_FALSE(fs::exists(dir_ + "/erin"));
  {
    api::HttpsClient anonymous(cluster_->api_address(), cluster_->api_fingerprint());
    auto key = crypto::SigningKey::Generate();
    auto tls = crypto::GenerateTlsIdentity("erin");
    ASSERT_TRUE(tls.ok());
    audit::NodeRegistration reg;
    reg.name = "erin";
    reg.signing_key = key.public_key();
    reg.tls_fingerprint = *crypto::CertificateFingerprint(tls->cert_pem);
    reg.address = "127.0.0.1:1";
    // Signed as erin: the coordinator wants dave's registration for dave's invite.
    auto as_erin = audit::MakeAuthorPart("node.registered", "erin", NowUnixMillis(), reg.ToBody(), key);
    ASSERT_TRUE(as_erin.ok()) << as_erin.status();
    auto r = anonymous.Post("/v1/nodes/register", {{"token", dave},
                                                   {"tls_cert_pem", tls->cert_pem},
                                                   {"entry", as_erin->SubmissionJson()}});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
    EXPECT_EQ(r.status().message(), "registration entry must be kind node.registered by 'dave'");
    // Authored as dave but registering erin.
    auto smuggled = audit::MakeAuthorPart("node.registered", "dave", NowUnixMillis(), reg.ToBody(), key);
    ASSERT_TRUE(smuggled.ok());
    r = anonymous.Post("/v1/nodes/register", {{"token", dave},
                                              {"tls_cert_pem", tls->cert_pem},
                                              {"entry", smuggled->SubmissionJson()}});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied) << r.status();
    EXPECT_EQ(r.status().message(), "this invite is for 'dave', not 'erin'");
  }
  // The failed attempts did not use up dave's invite.
  CommandResult dave_init = init("dave", dave, dir_ + "/dave");
  EXPECT_EQ(dave_init.exit_code, 0) << Describe(dave_init);

  // Expired, and malformed.
  std::string frank = invite("frank", 0.5 / 3600);  // half a second
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  CommandResult expired = init("frank", frank, dir_ + "/frank");
  EXPECT_EQ(expired.exit_code, 1) << Describe(expired);
  EXPECT_NE(expired.err.find("error (UNAUTHENTICATED): registration failed: invite token has expired"), npos)
      << expired.err;
  CommandResult garbage = init("frank", "csi1.bm90LWEtdG9rZW4", dir_ + "/frank");
  EXPECT_EQ(garbage.exit_code, 1) << Describe(garbage);
  EXPECT_NE(garbage.err.find("error (INVALID_ARGUMENT): invite token is malformed"), npos) << garbage.err;

  // Creating invites needs the admin token.
  CommandResult no_admin = cluster_->Consort(
      {"admin", "invite", "zoe", "--home", cluster_->coordinator_home(), "--token", "not-the-token"}, 60);
  EXPECT_EQ(no_admin.exit_code, 1) << Describe(no_admin);
  EXPECT_NE(no_admin.err.find("error (UNAUTHENTICATED): "), npos) << no_admin.err;
  CommandResult admin = cluster_->Consort({"admin", "invite", "zoe", "--home", cluster_->coordinator_home()}, 60);
  EXPECT_EQ(admin.exit_code, 0) << Describe(admin);
  EXPECT_TRUE(coordinator::Invite::Decode(admin.out).ok()) << admin.out;

  auto members = cluster_->Api("GET", "/v1/nodes");
  ASSERT_TRUE(members.ok()) << members.status();
  std::vector<std::string> names;
  for (const auto& m : (*members)["members"]) names.push_back(m["name"]);
  EXPECT_EQ(names, (std::vector<std::string>{"carol", "dave"}));
}

// Tampering with a node's replica of the audit log is detected by `consort audit verify`, which
// names the first bad entry and exits 1; a clean replica verifies.
TEST_F(Integration, AuditVerifyOnANodeNamesTheTamperedEntry) {
  Start({"bank", "shop"});
  ASSERT_TRUE(WriteFileAtomic(File("c.csv"), "phone\n1\n2\n").ok());
  AddDataset("bank", "customers", File("c.csv"));
  CommandResult ok = Ok("bank", {"audit", "verify", "-o", "json"});
  auto report = ParseJson(ok.out, "stdout");
  ASSERT_TRUE(report.ok()) << Describe(ok);
  ASSERT_TRUE((*report)["ok"].get<bool>());
  int64_t entries = (*report)["entries"];
  ASSERT_GE(entries, 5);

  // Stop the node so that nothing rewrites the replica, then change one entry's body.
  ASSERT_TRUE(cluster_->StopNode("bank", SIGTERM).ok());
  {
    auto db = SqlDb::Open(cluster_->node_home("bank") + "/node.db");
    ASSERT_TRUE(db.ok()) << db.status();
    ASSERT_TRUE(db->Run("UPDATE audit_log SET entry_json = replace(entry_json, '\"shop\"', '\"sh0p\"') "
                        "WHERE seq = 3")
                    .ok());
    ASSERT_EQ(db->changes(), 1);
  }
  CommandResult bad = On("bank", {"audit", "verify", "--offline"});
  EXPECT_EQ(bad.exit_code, 1) << Describe(bad);
  EXPECT_NE(bad.err.find("audit log verification FAILED: entry 3"), std::string::npos) << Describe(bad);

  // Removing the last entry instead is caught by the coordinator-signed head the node kept.
  {
    auto db = SqlDb::Open(cluster_->node_home("bank") + "/node.db");
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->Run("UPDATE audit_log SET entry_json = replace(entry_json, '\"sh0p\"', '\"shop\"') "
                        "WHERE seq = 3").ok());
    ASSERT_TRUE(On("bank", {"audit", "verify", "--offline"}).ok());
    ASSERT_TRUE(db->Run("DELETE FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log)").ok());
  }
  bad = On("bank", {"audit", "verify", "--offline"});
  EXPECT_EQ(bad.exit_code, 1) << Describe(bad);
  EXPECT_NE(bad.err.find("audit log verification FAILED"), std::string::npos) << Describe(bad);
}


}  // namespace
}  // namespace consort
