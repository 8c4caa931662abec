// `consort demo`: the first thing a newcomer runs. A coordinator and three nodes (bank, shop,
// media) start as separate processes on loopback; each node gets synthetic data in its own
// home; the demo then drives the federation with the same `consort` commands a person would
// type (and prints them), runs two ECDH-PSI jobs and one rejected request, checks every result
// against the plaintext intersection that only the demo can compute (it alone sees all rows),
// verifies the audit log on every node and shuts everything down cleanly.

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "absl/strings/numbers.h"
#include "consort/cli/args.h"
#include "consort/cli/cli.h"
#include "consort/cli/local_cluster.h"
#include "consort/cli/synthetic_data.h"
#include "consort/common/files.h"
#include "consort/common/json.h"
#include "consort/common/time.h"
#include "consort/data/csv.h"

namespace consort::cli {
namespace {

const CommandSpec kDemoSpec{
    "demo",
    "",
    "Run a coordinator and three nodes on loopback and show PSI jobs end to end.",
    "Starts a coordinator and three nodes (bank, shop, media) as separate processes on "
    "127.0.0.1, gives each node synthetic data in its own home, and walks through: registering "
    "datasets, standing policies, a PSI approved by policy, a PSI approved by a person, a request "
    "that is rejected, joint statistics across the three (3PC) and across two with the "
    "coordinator as dealer (2PC), and the audit log. Every result is checked against a "
    "plaintext computation. Exit code 0 only if everything matched; on failure the directory and its "
    "logs are kept.",
    {{"dir", "keep everything in this (new or empty) directory instead of a temporary one"},
     {"keep", "do not delete the temporary directory at the end", true},
     {"rows", "rows per party (default 100000)"},
     {"seed", "seed of the synthetic data (default 42)"}},
    0,
    0};

constexpr double kJobTimeoutS = 180;

std::string Num(int64_t v) {
  std::string s = std::to_string(v < 0 ? -v : v);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return v < 0 ? "-" + s : s;
}

std::string Secs(double s) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f s", s);
  return buf;
}

std::string Indent(const std::string& text, const std::string& prefix = "    ") {
  std::string out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out += prefix + line + "\n";
  return out;
}

// A field of a node's `consort job result` JSON, or -1.
int64_t SummaryInt(const Json& result, const char* key) {
  if (!result.contains("summary") || !result["summary"].contains(key)) return -1;
  const Json& v = result["summary"][key];
  return v.is_number_integer() ? v.get<int64_t>() : -1;
}

// Runs the steps in order; each returns a Status and the first failure ends the demo (the
// directory and its logs are then kept). Not thread-safe; one per process.
class Demo {
 public:
  Demo(std::string dir, bool keep_dir, const SyntheticConfig& config, bool user_dir)
      : dir_(std::move(dir)), keep_dir_(keep_dir), user_dir_(user_dir), config_(config) {}

  int Run();

 private:
  struct JobOutcome {
    std::string id, short_id;
    Json job;  // the coordinator's final view (no rows, no results)
    double wall_s = 0;
  };

  // --- output -------------------------------------------------------------------------------
  void Section(const std::string& title) {
    ++section_;
    std::cout << "\n[" << section_ << "/" << kSections << "] " << title << "\n" << std::flush;
  }
  static void Say(const std::string& text) { std::cout << "  " << text << "\n" << std::flush; }
  // Says `text` word-wrapped at ~100 columns, continuation lines indented by `hang` spaces.
  static void SayWrapped(const std::string& text, size_t hang) {
    std::istringstream words(text);
    std::string line;
    for (std::string w; words >> w;) {
      if (!line.empty() && line.size() + 1 + w.size() > 98) {
        Say(line);
        line = std::string(hang, ' ');
      }
      line += (line.empty() || line.back() == ' ' ? "" : " ") + w;
    }
    if (!line.empty()) Say(line);
  }
  // An argument as shown to the reader: paths relative to the demo directory.
  std::string Shown(const std::string& arg) const {
    std::string a = arg.rfind(dir_ + "/", 0) == 0 ? arg.substr(dir_.size() + 1) : arg;
    if (a.find_first_of(" \"'$") != std::string::npos) return "\"" + a + "\"";
    return a;
  }

  // Runs `consort ARGS --home <node>` (or without --home if node is empty), printing the
  // command line first. Fails with the command's stderr if it exits non-zero.
  StatusOr<CommandResult> Cmd(const std::string& node, const std::vector<std::string>& args,
                              bool show_command = true) {
    if (show_command) {
      std::string line = "$ consort";
      for (const auto& a : args) line += " " + Shown(a);
      if (!node.empty()) line += " --home " + node;
      Say(line);
    }
    CommandResult r = node.empty() ? cluster_->Consort(args) : cluster_->OnNode(node, args);
    if (!r.ok()) {
      std::string cmd = "consort";
      for (const auto& a : args) cmd += " " + Shown(a);
      return absl::InternalError("`" + cmd + (node.empty() ? "" : " --home " + node) +
                                 "` exited with " + std::to_string(r.exit_code) + ": " + r.err);
    }
    return r;
  }

  // --- steps --------------------------------------------------------------------------------
  Status StartFederation();
  Status GenerateData();
  Status RegisterDatasets();
  Status AddPolicies();
  Status JobByPolicy();
  Status JobByPerson();
  Status JobRejected();
  Status JobJointStatistics();
  Status JobCoordinatorDealer();
  Status AuditAndShutdown();

  // Helpers for jobs.
  StatusOr<std::string> WriteSpec(const std::string& node, const std::string& file,
                                  const Json& spec);
  void ShowSpec(const Json& spec);
  StatusOr<std::string> Submit(const std::string& node, const std::string& spec_path);
  StatusOr<JobOutcome> Wait(const std::string& id, double submitted_at);
  // Submits the spec at `path` from `submitter`, has a person at each of `approvers` run
  // `job approve`, waits; Internal naming `what` unless the job succeeded.
  StatusOr<JobOutcome> RunApprovedByPeople(const std::string& what, const std::string& submitter,
                                           const std::string& path,
                                           const std::vector<std::string>& approvers);
  StatusOr<std::string> WaitForLogLine(const std::string& node, const std::string& needle,
                                       double timeout_s);
  StatusOr<Json> Result(const std::string& node, const std::string& short_id);
  Status CheckMatchedRows(const Json& bank_result, const std::string& column, bool trim,
                          bool casefold, const std::vector<std::string>& expected);
  void ReportTiming(const Json& receiver_result, int64_t rows_a, int64_t rows_b, double wall_s);

  static constexpr int kSections = 10;
  std::string dir_;
  bool keep_dir_, user_dir_;
  SyntheticConfig config_;
  std::unique_ptr<LocalCluster> cluster_;
  SyntheticData data_;
  std::vector<std::string> phone_bank_shop_, email_bank_media_;  // plaintext truth
  size_t email_bank_media_raw_ = 0;                              // without trim/casefold
  int section_ = 0;
  std::string step_;
  std::vector<std::string> checks_;  // one line per verified result
  std::string dealt_job_;            // job 5's id
  std::vector<std::pair<std::string, double>> psi_times_;
};

int Demo::Run() {
  double t0 = MonotonicSeconds();
  std::cout
      << "Consort demo: a bank, an online shop and a media company learn how many customers\n"
         "they share - without handing their customer lists to each other or to anyone else.\n"
      << "Everything runs here, on 127.0.0.1, in " << dir_ << "\n"
      << "Commands are shown as you would type them from that directory (each party's home is a\n"
         "subdirectory: bank/, shop/, media/; the coordinator's is coordinator/).\n";
  const std::vector<std::pair<std::string, std::function<Status()>>> steps = {
      {"start the federation", [&] { return StartFederation(); }},
      {"generate synthetic data", [&] { return GenerateData(); }},
      {"register datasets", [&] { return RegisterDatasets(); }},
      {"standing policies", [&] { return AddPolicies(); }},
      {"job 1 (approved by policy)", [&] { return JobByPolicy(); }},
      {"job 2 (approved by a person)", [&] { return JobByPerson(); }},
      {"job 3 (rejected)", [&] { return JobRejected(); }},
      {"job 4 (joint statistics)", [&] { return JobJointStatistics(); }},
      {"job 5 (the coordinator as dealer)", [&] { return JobCoordinatorDealer(); }},
      {"audit log and shutdown", [&] { return AuditAndShutdown(); }},
  };
  for (const auto& [name, step] : steps) {
    step_ = name;
    Status st = step();
    if (!st.ok()) {
      std::cout << std::flush;
      std::cerr << "\ndemo FAILED at step '" << name << "': " << st.message() << "\n"
                << "Everything is kept for inspection in " << dir_ << "\n"
                << "  process logs: " << dir_ << "/{coordinator,bank,shop,media}.log\n";
      cluster_.reset();  // stops whatever still runs (SIGTERM, then SIGKILL)
      return 1;
    }
  }
  double total = MonotonicSeconds() - t0;
  std::cout << "\nSummary\n";
  for (const auto& c : checks_) Say(c);
  for (const auto& [name, s] : psi_times_) Say(name + ": " + Secs(s));
  Say("total demo time: " + Secs(total) +
      " (startup, data, 2 PSI jobs, 1 rejection, 2 joint-statistics jobs, audit, shutdown)");
  cluster_.reset();
  if (keep_dir_ || user_dir_) {
    Say("everything is kept in " + dir_ + " (homes, data, results, logs)");
  } else {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    Say(ec ? "could not remove " + dir_ + ": " + ec.message()
           : "removed " + dir_ + " (use --keep to keep it)");
  }
  Say("demo OK");
  return 0;
}

// --- 1. federation -------------------------------------------------------------------------

Status Demo::StartFederation() {
  Section("Start a federation: one coordinator and three nodes, each its own process");
  double t = MonotonicSeconds();
  LocalCluster::Options o;
  o.binary = SelfExecutable();
  o.dir = dir_;
  CONSORT_ASSIGN_OR_RETURN(cluster_, LocalCluster::Create(o));
  Say("$ consort coordinator init --home coordinator --config coordinator.config.json");
  Say("$ consort coordinator start --home coordinator &");
  Say("  coordinator: control plane " + cluster_->grpc_address() +
      " (gRPC, mutual TLS), REST API https://" + cluster_->api_address());
  Say("  it keeps the member registry, the dataset catalog (metadata only), job states and the "
      "audit log;");
  Say("  it never sees rows, keys or results, and it cannot approve anything on a party's behalf.");
  for (const std::string name : {"bank", "shop", "media"}) {
    CONSORT_RETURN_IF_ERROR(cluster_->AddNode(name));
  }
  Say("$ consort admin invite bank --home coordinator   # one-time token, pins the coordinator");
  Say("$ consort node init --name bank --invite <token> --home bank");
  Say("$ consort node start --home bank &                 # likewise for shop and media");
  Say("  nodes up: bank (pid " + std::to_string(cluster_->node_pid("bank")) + "), shop (pid " +
      std::to_string(cluster_->node_pid("shop")) + "), media (pid " +
      std::to_string(cluster_->node_pid("media")) + ") - " + Secs(MonotonicSeconds() - t));
  return OkStatus();
}

// --- 2. data -------------------------------------------------------------------------------

Status Demo::GenerateData() {
  Section("Synthetic data, seed " + std::to_string(config_.seed) +
          ": each party's file stays in its own home");
  double t = MonotonicSeconds();
  CONSORT_ASSIGN_OR_RETURN(data_, GenerateSyntheticData(config_));
  for (const SyntheticTable* tbl : {&data_.bank, &data_.shop, &data_.media}) {
    std::string dir = JoinPath(cluster_->node_home(tbl->party), "data");
    CONSORT_RETURN_IF_ERROR(MakeDirs(dir, 0700));
    CONSORT_RETURN_IF_ERROR(WriteFileAtomic(JoinPath(dir, tbl->file_name()), tbl->ToCsv(), 0600));
    std::string cols;
    for (const auto& c : tbl->columns) cols += (cols.empty() ? "" : ", ") + c;
    char line[200];
    std::snprintf(line, sizeof(line), "%-26s %9s rows  %s",
                  (tbl->party + "/data/" + tbl->file_name()).c_str(),
                  Num(static_cast<int64_t>(tbl->rows.size())).c_str(), cols.c_str());
    Say(line);
  }
  // The truth the PSI results must reproduce; only the demo can compute it.
  phone_bank_shop_ =
      PlaintextIntersection(data_.bank.Column("phone"), data_.shop.Column("phone"), false, false);
  email_bank_media_ =
      PlaintextIntersection(data_.bank.Column("email"), data_.media.Column("email"), true, true);
  email_bank_media_raw_ =
      PlaintextIntersection(data_.bank.Column("email"), data_.media.Column("email"), false, false)
          .size();
  size_t messy = 0;
  for (const auto& e : data_.media.Column("email")) messy += e != NormalizeKey(e, true, true);
  Say("a shared population of synthetic people: E.164 phone numbers (+447...), e-mails on example "
      "domains;");
  Say("~35% of shop buyers and ~25% of media viewers are bank customers; " +
      Num(static_cast<int64_t>(messy)) + " media e-mails are mixed-case or space-padded");
  Say("generated and written in " + Secs(MonotonicSeconds() - t));
  return OkStatus();
}

// --- 3. datasets ---------------------------------------------------------------------------

Status Demo::RegisterDatasets() {
  Section("Register datasets: rows stay home, the catalog gets a schema and a row count");
  for (const SyntheticTable* tbl : {&data_.bank, &data_.shop, &data_.media}) {
    std::string path =
        JoinPath(JoinPath(cluster_->node_home(tbl->party), "data"), tbl->file_name());
    CONSORT_ASSIGN_OR_RETURN(CommandResult r,
                             Cmd(tbl->party, {"dataset", "add", tbl->dataset, "--csv", path,
                                              "--description", tbl->description}));
    std::cout << Indent(r.out, "      ");
  }
  CONSORT_ASSIGN_OR_RETURN(CommandResult list, Cmd("media", {"dataset", "list"}));
  std::cout << Indent(list.out, "      ");
  Say("every member sees the same catalog; nobody has seen a single row of anybody else's.");
  return OkStatus();
}

// --- 4. policies ---------------------------------------------------------------------------

Status Demo::AddPolicies() {
  Section("Standing policies: rules a party sets once, checked by its own node for every job");
  Say("The shop lets the bank find their common customers by phone; the bank may get the matching "
      "rows:");
  CONSORT_ASSIGN_OR_RETURN(
      CommandResult r1,
      Cmd("shop", {"policy", "add", "--dataset", "buyers", "--partners", "bank", "--operators",
                   "psi.ecdh", "--columns", "phone", "--partner-outputs", "intersection,size"}));
  std::cout << Indent(r1.out, "      ");
  Say("The bank joins overlap studies with shop and media, as long as they learn only the count:");
  CONSORT_ASSIGN_OR_RETURN(CommandResult r2,
                           Cmd("bank", {"policy", "add", "--dataset", "customers", "--partners",
                                        "shop,media", "--operators", "psi.ecdh", "--columns",
                                        "phone,email", "--partner-outputs", "size"}));
  std::cout << Indent(r2.out, "      ");
  Say("The media company has no standing policy: a person decides each request.");
  CONSORT_ASSIGN_OR_RETURN(CommandResult ops, Cmd("", {"operators", "list", "-o", "json"}, false));
  auto j = ParseJson(ops.out, "operators list");
  if (j.ok()) {
    for (const auto& o : *j) {
      if (o.value("name", "") == "psi.ecdh") {
        SayWrapped("Every operator states what it leaks (`consort operators list`); psi.ecdh: " +
                       o.value("leaks", ""),
                   4);
      }
    }
  }
  return OkStatus();
}

// --- job helpers ---------------------------------------------------------------------------

StatusOr<std::string> Demo::WriteSpec(const std::string& node, const std::string& file,
                                      const Json& spec) {
  std::string dir = JoinPath(cluster_->node_home(node), "jobs");
  CONSORT_RETURN_IF_ERROR(MakeDirs(dir, 0700));
  std::string path = JoinPath(dir, file);
  CONSORT_RETURN_IF_ERROR(WriteFileAtomic(path, spec.dump(2) + "\n", 0600));
  return path;
}

void Demo::ShowSpec(const Json& spec) {
  for (const char* k : {"operator", "parties", "outputs", "params"}) {
    if (spec.contains(k)) {
      char key[16];
      std::snprintf(key, sizeof(key), "%-9s", k);
      Say("    " + std::string(key) + spec[k].dump());
    }
  }
}

StatusOr<std::string> Demo::Submit(const std::string& node, const std::string& spec_path) {
  CONSORT_ASSIGN_OR_RETURN(CommandResult r, Cmd(node, {"job", "submit", spec_path}));
  std::string id = r.out.substr(0, r.out.find_first_of(" \n"));
  if (id.size() != 64) return absl::InternalError("job submit printed no job id: " + r.out);
  Say("  job " + id.substr(0, 12) +
      " proposed (the id is the SHA-256 of the spec every party signs)");
  return id;
}

StatusOr<Demo::JobOutcome> Demo::RunApprovedByPeople(const std::string& what,
                                                     const std::string& submitter,
                                                     const std::string& path,
                                                     const std::vector<std::string>& approvers) {
  double t = MonotonicSeconds();
  CONSORT_ASSIGN_OR_RETURN(std::string id, Submit(submitter, path));
  for (const std::string& node : approvers) {
    CONSORT_ASSIGN_OR_RETURN(CommandResult approve, Cmd(node, {"job", "approve", id.substr(0, 12)}));
    std::cout << Indent(approve.out, "      ");
  }
  CONSORT_ASSIGN_OR_RETURN(JobOutcome o, Wait(id, t));
  if (o.job.value("state", "") != "succeeded") {
    return absl::InternalError(what + " ended " + o.job.value("state", "") + ": " +
                               o.job.value("reason", ""));
  }
  return o;
}

StatusOr<Demo::JobOutcome> Demo::Wait(const std::string& id, double submitted_at) {
  JobOutcome o;
  o.id = id;
  o.short_id = id.substr(0, 12);
  const bool tty = isatty(STDOUT_FILENO);
  std::string last_state = "proposed";
  int last_quarter = -1;
  std::string states = "proposed 0.0 s";
  bool progress_line = false;
  while (true) {
    CONSORT_ASSIGN_OR_RETURN(Json j, cluster_->Api("GET", "/v1/jobs/" + id));
    std::string state = j.value("state", "");
    double el = MonotonicSeconds() - submitted_at;
    if (state != last_state) {
      states += (states.empty() ? "" : " -> ") + state + " " + Secs(el);
      last_state = state;
    }
    if (state == "running" && j.contains("progress") && !j["progress"].empty()) {
      double min_f = 1;
      std::string text;
      for (const auto& [party, p] : j["progress"].items()) {
        double f = p.value("fraction", 0.0);
        min_f = std::min(min_f, f);
        char buf[80];
        std::snprintf(buf, sizeof(buf), "%s %3.0f%% %s", party.c_str(), 100 * f,
                      p.value("stage", "").c_str());
        text += (text.empty() ? "" : " | ") + std::string(buf);
      }
      std::string line = "    running " + Secs(el) + "  " + text;
      if (tty) {
        std::cout << "\r\033[K" << line << std::flush;
        progress_line = true;
      } else if (static_cast<int>(min_f * 4) > last_quarter) {
        last_quarter = static_cast<int>(min_f * 4);
        std::cout << line << "\n" << std::flush;
      }
    }
    if (state == "succeeded" || state == "failed" || state == "rejected" || state == "cancelled") {
      if (progress_line) std::cout << "\r\033[K" << std::flush;
      o.job = j;
      o.wall_s = el;
      Say("  states: " + states);
      if (state != "succeeded" && state != "rejected") {
        return absl::InternalError("job " + o.short_id + " " + state + ": " +
                                   j.value("reason", ""));
      }
      return o;
    }
    if (el > kJobTimeoutS) {
      return absl::DeadlineExceededError("job " + o.short_id + " still " + state + " after " +
                                         Secs(el));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(tty ? 150 : 250));
  }
}

StatusOr<std::string> Demo::WaitForLogLine(const std::string& node, const std::string& needle,
                                           double timeout_s) {
  double end = MonotonicSeconds() + timeout_s;
  while (true) {
    auto text = ReadFile(cluster_->log_path(node));
    if (text.ok()) {
      size_t pos = text->find(needle);
      if (pos != std::string::npos) {
        size_t eol = text->find('\n', pos);
        return text->substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
      }
    }
    if (MonotonicSeconds() > end) {
      return absl::DeadlineExceededError("no \"" + needle + "\" in " + cluster_->log_path(node) +
                                         " within " + Secs(timeout_s));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

StatusOr<Json> Demo::Result(const std::string& node, const std::string& short_id) {
  CONSORT_ASSIGN_OR_RETURN(CommandResult r, Cmd(node, {"job", "result", short_id}));
  return ParseJson(r.out, "consort job result");
}

// The receiver's matched rows must be exactly its rows whose key is in the plaintext
// intersection: every returned key is in it, and every key of it is returned.
Status Demo::CheckMatchedRows(const Json& result, const std::string& column, bool trim,
                              bool casefold, const std::vector<std::string>& expected) {
  if (!result.contains("tables") || result["tables"].size() != 1) {
    return absl::InternalError("the bank's result has no table of matched rows");
  }
  std::string path = result["tables"][0].value("path", "");
  CONSORT_ASSIGN_OR_RETURN(data::Table t, data::ReadCsv(path));
  CONSORT_ASSIGN_OR_RETURN(const data::Column* col, t.ColumnByName(column));
  std::unordered_set<std::string> want(expected.begin(), expected.end()), got;
  for (size_t r = 0; r < t.num_rows(); ++r) {
    std::string k = NormalizeKey(col->String(r), trim, casefold);
    if (!want.count(k))
      return absl::InternalError("result row " + std::to_string(r + 1) +
                                 " is not in the plaintext intersection");
    got.insert(k);
  }
  if (got.size() != want.size() || t.num_rows() != want.size()) {
    return absl::InternalError("result table has " + std::to_string(t.num_rows()) +
                               " rows, plaintext " + std::to_string(want.size()));
  }
  return OkStatus();
}

void Demo::ReportTiming(const Json& receiver_result, int64_t rows_a, int64_t rows_b,
                        double wall_s) {
  const Json run = receiver_result.value("run", Json::object());
  double psi_s = run.value("seconds", 0.0);
  double mb_sent = static_cast<double>(run.value("bytes_sent", int64_t{0})) / 1e6;
  double mb_recv = static_cast<double>(run.value("bytes_received", int64_t{0})) / 1e6;
  char buf[256];
  std::snprintf(
      buf, sizeof(buf),
      "PSI run %.1f s on the receiving node (%s rows in total, %s rows/s); %.1f s from submit to "
      "result; traffic %.1f MB out, %.1f MB in",
      psi_s, Num(rows_a + rows_b).c_str(),
      Num(psi_s > 0 ? static_cast<int64_t>((rows_a + rows_b) / psi_s) : 0).c_str(), wall_s, mb_sent,
      mb_recv);
  Say(buf);
}

// --- 5. job 1 ------------------------------------------------------------------------------

Status Demo::JobByPolicy() {
  Section("Job 1 - bank <-> shop on phone number, approved by both standing policies");
  Json spec = {{"operator", "psi.ecdh"},
               {"name", "bank-shop-phone-overlap"},
               {"description", "customers who also buy at the shop"},
               {"parties",
                {{"bank", {{"dataset", "customers"}, {"columns", {"phone"}}}},
                 {"shop", {{"dataset", "buyers"}, {"columns", {"phone"}}}}}},
               {"outputs", {{"bank", "intersection"}, {"shop", "size"}}},
               {"params", {{"result_name", "customers_at_shop"}}}};
  CONSORT_ASSIGN_OR_RETURN(std::string path, WriteSpec("bank", "bank-shop-phone.json", spec));
  Say("The bank writes a job spec (" + Shown(path) + "):");
  ShowSpec(spec);
  double t = MonotonicSeconds();
  CONSORT_ASSIGN_OR_RETURN(std::string id, Submit("bank", path));
  for (const std::string party : {"bank", "shop"}) {
    CONSORT_ASSIGN_OR_RETURN(
        std::string line,
        WaitForLogLine(party, "job " + id.substr(0, 12) + " approved by standing policy", 15));
    Say("  " + party +
        "'s node signed it, no person involved: " + line.substr(line.find("standing")));
  }
  CONSORT_ASSIGN_OR_RETURN(JobOutcome o, Wait(id, t));
  if (o.job.value("state", "") != "succeeded") return absl::InternalError("job 1 did not succeed");
  CONSORT_ASSIGN_OR_RETURN(Json bank, Result("bank", o.short_id));
  const int64_t expected = static_cast<int64_t>(phone_bank_shop_.size());
  int64_t got = SummaryInt(bank, "intersection_size");
  Say("  summary " + bank.value("summary", Json::object()).dump());
  CONSORT_ASSIGN_OR_RETURN(Json shop, Result("shop", o.short_id));
  Say("  summary " + shop.value("summary", Json::object()).dump());
  int64_t got_shop = SummaryInt(shop, "intersection_size");
  CommandResult media = cluster_->OnNode("media", {"job", "result", o.short_id});

  Say("What each party learned:");
  Say("  bank : which " + Num(got) + " of its " + Num(SummaryInt(bank, "my_rows")) +
      " customers are shop buyers - its own rows, in the local dataset customers_at_shop");
  Say("         (" + Shown(bank["tables"].empty() ? "" : bank["tables"][0].value("path", "")) +
      "), plus the size of the shop's list (" + Num(SummaryInt(bank, "peer_keys")) + ")");
  Say("  shop : the count " + Num(got_shop) + " and the bank's list size (" +
      Num(SummaryInt(shop, "peer_keys")) +
      ") - NOT which buyers matched, no phone numbers, no balances");
  Say("  media: nothing - not a party (`consort job result` there: " +
      std::string(media.ok() ? "a result?!" : "no result on this node") + ")");
  CONSORT_ASSIGN_OR_RETURN(Json audit, cluster_->Api("GET", "/v1/audit?from=0&limit=1000"));
  for (const std::string field : {"intersection_size", "matched_rows", "result_dataset"}) {
    if (o.job.dump().find(field) != std::string::npos ||
        audit.dump().find(field) != std::string::npos) {
      return absl::InternalError("the coordinator's records mention " + field);
    }
  }
  Say("  coordinator: the spec, signatures and progress - no key, row or count (its job record and "
      "the");
  Say("         audit log were checked: no result field in either)");
  if (media.ok()) return absl::InternalError("media has a result for a job it was not part of");
  if (!shop["tables"].empty())
    return absl::InternalError("the shop received rows; it should get only the size");
  Say("Check against the plaintext intersection (computed by the demo, which alone sees all "
      "rows):");
  Say("  plaintext |bank.phone & shop.phone| = " + Num(expected) + "; bank reported " + Num(got) +
      ", shop reported " + Num(got_shop));
  if (got != expected || got_shop != expected) {
    Say("  matches plaintext: NO");
    return absl::InternalError("job 1 intersection size differs from the plaintext intersection");
  }
  CONSORT_RETURN_IF_ERROR(CheckMatchedRows(bank, "phone", false, false, phone_bank_shop_));
  Say("  matches plaintext: yes (the size on both sides, and exactly the right " + Num(expected) +
      " bank rows)");
  ReportTiming(bank, SummaryInt(bank, "my_rows"), SummaryInt(bank, "peer_keys"), o.wall_s);
  checks_.push_back("job 1 bank<->shop on phone: " + Num(expected) +
                    " common customers, matches plaintext: yes");
  psi_times_.push_back({"job 1 PSI (" + Num(SummaryInt(bank, "my_rows")) + " x " +
                            Num(SummaryInt(bank, "peer_keys")) + ")",
                        bank.value("run", Json::object()).value("seconds", 0.0)});
  return OkStatus();
}

// --- 6. job 2 ------------------------------------------------------------------------------

Status Demo::JobByPerson() {
  Section("Job 2 - bank <-> media on e-mail (trim + casefold), approved by a person at media");
  Json spec = {
      {"operator", "psi.ecdh"},
      {"name", "bank-media-email-overlap"},
      {"description", "customers reached by the media campaigns"},
      {"parties",
       {{"bank", {{"dataset", "customers"}, {"columns", {"email"}}}},
        {"media", {{"dataset", "viewers"}, {"columns", {"email"}}}}}},
      {"outputs", {{"bank", "intersection"}, {"media", "size"}}},
      {"params", {{"trim", true}, {"casefold", true}, {"result_name", "customers_at_media"}}}};
  CONSORT_ASSIGN_OR_RETURN(std::string path, WriteSpec("bank", "bank-media-email.json", spec));
  Say("E-mails are typed by people: \" Olivia.Smith7@Example.com\" is olivia.smith7@example.com. "
      "The params");
  Say("trim + casefold normalize keys on each node before hashing (" + Shown(path) + "):");
  ShowSpec(spec);
  double t = MonotonicSeconds();
  CONSORT_ASSIGN_OR_RETURN(std::string id, Submit("bank", path));
  const std::string short_id = id.substr(0, 12);
  CONSORT_ASSIGN_OR_RETURN(
      std::string bank_line,
      WaitForLogLine("bank", "job " + short_id + " approved by standing policy", 15));
  Say("  bank's node signed it, no person involved: " +
      bank_line.substr(bank_line.find("standing")));
  CONSORT_ASSIGN_OR_RETURN(std::string wait_line,
                           WaitForLogLine("media", "job " + short_id + " waits for a person", 15));
  Say("  media's node: " + wait_line.substr(wait_line.find("waits")));
  Say("A person at media reviews what the job reads and who gets what, then signs it:");
  CONSORT_ASSIGN_OR_RETURN(CommandResult show, Cmd("media", {"job", "show", short_id}));
  std::cout << Indent(show.out, "      ");
  CONSORT_ASSIGN_OR_RETURN(CommandResult approve, Cmd("media", {"job", "approve", short_id}));
  std::cout << Indent(approve.out, "      ");
  CONSORT_ASSIGN_OR_RETURN(JobOutcome o, Wait(id, t));
  if (o.job.value("state", "") != "succeeded") return absl::InternalError("job 2 did not succeed");

  CONSORT_ASSIGN_OR_RETURN(Json bank, Result("bank", short_id));
  Say("  summary " + bank.value("summary", Json::object()).dump());
  CONSORT_ASSIGN_OR_RETURN(Json media, Result("media", short_id));
  Say("  summary " + media.value("summary", Json::object()).dump());
  int64_t got = SummaryInt(bank, "intersection_size"),
          got_media = SummaryInt(media, "intersection_size");
  const int64_t expected = static_cast<int64_t>(email_bank_media_.size());
  Say("What each party learned:");
  Say("  bank : which " + Num(got) +
      " customers are media viewers (local dataset customers_at_media)");
  Say("  media: the count " + Num(got_media) +
      " - NOT which viewers are bank customers, nothing about balances");
  Say("  shop : nothing - not a party");
  if (!media["tables"].empty())
    return absl::InternalError("media received rows; it should get only the size");
  Say("Check against the plaintext intersection:");
  Say("  plaintext |bank.email & media.email| after trim + casefold = " + Num(expected) +
      " (exact-string match: " + Num(static_cast<int64_t>(email_bank_media_raw_)) +
      "); bank reported " + Num(got) + ", media " + Num(got_media));
  if (got != expected || got_media != expected) {
    Say("  matches plaintext: NO");
    return absl::InternalError("job 2 intersection size differs from the plaintext intersection");
  }
  CONSORT_RETURN_IF_ERROR(CheckMatchedRows(bank, "email", true, true, email_bank_media_));
  Say("  matches plaintext: yes (the size on both sides, and exactly the right " + Num(expected) +
      " bank rows)");
  ReportTiming(bank, SummaryInt(bank, "my_rows"), SummaryInt(bank, "peer_keys"), o.wall_s);
  checks_.push_back("job 2 bank<->media on e-mail: " + Num(expected) +
                    " common customers, matches plaintext: yes");
  psi_times_.push_back({"job 2 PSI (" + Num(SummaryInt(bank, "my_rows")) + " x " +
                            Num(SummaryInt(bank, "peer_keys")) + ")",
                        bank.value("run", Json::object()).value("seconds", 0.0)});
  return OkStatus();
}

// --- 7. job 3 ------------------------------------------------------------------------------

Status Demo::JobRejected() {
  Section("Job 3 - the shop asks media for the matching rows themselves: media says no");
  Json spec = {{"operator", "psi.ecdh"},
               {"name", "shop-media-phone-matches"},
               {"parties",
                {{"shop", {{"dataset", "buyers"}, {"columns", {"phone"}}}},
                 {"media", {{"dataset", "viewers"}, {"columns", {"phone"}}}}}},
               {"outputs", {{"shop", "intersection"}}}};
  CONSORT_ASSIGN_OR_RETURN(std::string path, WriteSpec("shop", "shop-media-phone.json", spec));
  Say("The shop wants to know which of its buyers watch media's channels (" + Shown(path) + "):");
  ShowSpec(spec);
  double t = MonotonicSeconds();
  CONSORT_ASSIGN_OR_RETURN(std::string id, Submit("shop", path));
  const std::string short_id = id.substr(0, 12);
  CONSORT_ASSIGN_OR_RETURN(std::string shop_line,
                           WaitForLogLine("shop", "job " + short_id + " waits for a person", 15));
  Say("  shop's node: " + shop_line.substr(shop_line.find("waits")));
  Say("The shop's rule covers only the bank, so a person at the shop signs the request:");
  CONSORT_ASSIGN_OR_RETURN(CommandResult approve, Cmd("shop", {"job", "approve", short_id}));
  std::cout << Indent(approve.out, "      ");
  CONSORT_ASSIGN_OR_RETURN(std::string wait_line,
                           WaitForLogLine("media", "job " + short_id + " waits for a person", 15));
  Say("  media's node: " + wait_line.substr(wait_line.find("waits")));
  const std::string reason = "we share overlap counts with retailers, never row-level matches";
  CONSORT_ASSIGN_OR_RETURN(CommandResult reject,
                           Cmd("media", {"job", "reject", short_id, "--reason", reason}));
  std::cout << Indent(reject.out, "      ");
  CONSORT_ASSIGN_OR_RETURN(JobOutcome o, Wait(id, t));
  if (o.job.value("state", "") != "rejected") {
    return absl::InternalError("job 3 ended " + o.job.value("state", "") + ", expected rejected");
  }
  CommandResult shop = cluster_->OnNode("shop", {"job", "result", short_id});
  CommandResult media = cluster_->OnNode("media", {"job", "result", short_id});
  if (shop.ok() || media.ok()) return absl::InternalError("a rejected job left a result on a node");
  Say("  rejected: " + o.job.value("reason", ""));
  Say("Nothing ran: neither node read a row for it, there is no result anywhere, and the "
      "rejection");
  Say("is signed by media and recorded in the audit log.");
  checks_.push_back("job 3 shop->media row-level request: rejected by media, never ran");
  return OkStatus();
}

// --- 8. joint statistics -------------------------------------------------------------------

namespace {

// The truth job 4 must reproduce, from the plaintext rows (only the demo can compute it):
// customers of all three parties (same phone number) whom media's "sports_pack" campaign
// reached.
struct CampaignTruth {
  int64_t n = 0;
  double sum_spent = 0, sum_orders = 0, sum_balance = 0;
  double pearson = 0;
};

CampaignTruth ComputeCampaignTruth(const SyntheticData& d, const std::string& campaign) {
  std::unordered_map<std::string, double> balance, spent, orders;
  auto bank_phone = d.bank.Column("phone"), bank_balance = d.bank.Column("balance");
  for (size_t i = 0; i < bank_phone.size(); ++i) balance[bank_phone[i]] = std::stod(bank_balance[i]);
  auto shop_phone = d.shop.Column("phone"), shop_spent = d.shop.Column("total_spent"),
       shop_orders = d.shop.Column("orders");
  for (size_t i = 0; i < shop_phone.size(); ++i) {
    spent[shop_phone[i]] = std::stod(shop_spent[i]);
    orders[shop_phone[i]] = std::stod(shop_orders[i]);
  }
  std::unordered_set<std::string> media_phones, media_reached;
  auto media_phone = d.media.Column("phone"), media_campaign = d.media.Column("campaign");
  for (size_t i = 0; i < media_phone.size(); ++i) {
    media_phones.insert(media_phone[i]);
    if (media_campaign[i] == campaign) media_reached.insert(media_phone[i]);
  }
  CampaignTruth t;
  std::vector<std::pair<double, double>> pairs;
  for (const auto& phone : media_reached) {
    auto b = balance.find(phone);
    auto s = spent.find(phone);
    if (b == balance.end() || s == spent.end()) continue;
    ++t.n;
    t.sum_spent += s->second;
    t.sum_orders += orders[phone];
    t.sum_balance += b->second;
    pairs.push_back({b->second, s->second});
  }
  if (t.n >= 2) {
    double ma = t.sum_balance / t.n, mb = t.sum_spent / t.n, saa = 0, sbb = 0, sab = 0;
    for (const auto& [a, b] : pairs) {
      saa += (a - ma) * (a - ma);
      sbb += (b - mb) * (b - mb);
      sab += (a - ma) * (b - mb);
    }
    t.pearson = sab / std::sqrt(saa * sbb);
  }
  return t;
}

bool Near(double got, double want, double tolerance) {
  return std::fabs(got - want) <= tolerance * std::max(1.0, std::fabs(want));
}

}  // namespace

Status Demo::JobJointStatistics() {
  Section("Job 4 - joint statistics across all three: what do the campaign's viewers spend?");
  const std::string campaign = "sports_pack";
  Json spec = {
      {"operator", "stats.joint"},
      {"name", "sports-campaign-spend"},
      {"parties",
       {{"bank", {{"dataset", "customers"}, {"columns", {"phone", "balance"}}}},
        {"shop", {{"dataset", "buyers"}, {"columns", {"phone", "orders", "total_spent"}}}},
        {"media", {{"dataset", "viewers"}, {"columns", {"phone", "campaign"}}}}}},
      {"outputs", {{"bank", "statistics"}, {"media", "statistics"}}},
      {"params",
       {{"align", {{"bank", {"phone"}}, {"shop", {"phone"}}, {"media", {"phone"}}}},
        {"filters", {{"media", {{{"column", "campaign"}, {"op", "=="}, {"value", campaign}}}}}},
        {"scale", {{"bank.balance", 0.01}}},
        {"statistics",
         {{{"name", "customers"}, {"stat", "count"}},
          {{"name", "spent"}, {"stat", "sum"}, {"column", "shop.total_spent"}},
          {{"name", "orders"}, {"stat", "sum"}, {"column", "shop.orders"}},
          {{"name", "mean_balance"}, {"stat", "mean"}, {"column", "bank.balance"}},
          {{"name", "balance_vs_spent"},
           {"stat", "pearson"},
           {"columns", {"bank.balance", "shop.total_spent"}}}}}}}};
  CONSORT_ASSIGN_OR_RETURN(std::string path, WriteSpec("media", "campaign-spend.json", spec));
  Say("Media wants the average order value of the bank's customers who shop online and were");
  Say("reached by its " + campaign + " campaign; the bank wants the same figures for its "
      "own planning (" + Shown(path) + "):");
  ShowSpec(spec);
  SayWrapped("Three data parties: rows are aligned by PSI on phone, media's filter stays a secret "
             "0/1 per row, and the sums run under three-party replicated secret sharing (no "
             "dealer; no two parties collude). Only bank and media receive the five figures.",
             2);
  CONSORT_ASSIGN_OR_RETURN(JobOutcome o, RunApprovedByPeople("job 4", "media", path,
                                                             {"media", "bank", "shop"}));
  const std::string& short_id = o.short_id;
  CONSORT_ASSIGN_OR_RETURN(Json bank, Result("bank", short_id));
  CONSORT_ASSIGN_OR_RETURN(Json media, Result("media", short_id));
  CommandResult shop = cluster_->OnNode("shop", {"job", "result", short_id});
  const Json stats = bank.value("summary", Json::object()).value("statistics", Json::object());
  Say("  bank's summary: " + stats.dump());
  if (media.value("summary", Json::object()).value("statistics", Json::object()) != stats) {
    return absl::InternalError("bank and media received different statistics");
  }
  if (!shop.out.empty() && shop.out.find("\"statistics\"") != std::string::npos) {
    return absl::InternalError("the shop, not a receiver, holds statistics");
  }
  CampaignTruth truth = ComputeCampaignTruth(data_, campaign);
  auto number = [&](const char* name) { return stats.contains(name) && stats[name].is_number() ? stats[name].get<double>() : NAN; };
  double n = number("customers"), spent = number("spent"), orders = number("orders");
  double balance = number("mean_balance");
  double pearson = NAN;
  if (stats.contains("balance_vs_spent") && stats["balance_vs_spent"].contains("matrix")) {
    pearson = stats["balance_vs_spent"]["matrix"][0][1].get<double>();
  }
  if (n != static_cast<double>(truth.n) || !Near(spent, truth.sum_spent, 1e-6) ||
      !Near(orders, truth.sum_orders, 1e-6) ||
      !Near(balance, truth.n ? truth.sum_balance / truth.n : 0, 1e-4) ||
      !Near(pearson, truth.pearson, 1e-3)) {
    return absl::InternalError("job 4's statistics differ from the plaintext truth (n " +
                               std::to_string(truth.n) + ", spent " + std::to_string(truth.sum_spent) +
                               ", orders " + std::to_string(truth.sum_orders) + ", pearson " +
                               std::to_string(truth.pearson) + ")");
  }
  char line[200];
  std::snprintf(line, sizeof(line),
                "  => %s common customers reached by %s; average order value %.2f, mean balance "
                "%.2f, pearson(balance, spend) %.3f",
                Num(truth.n).c_str(), campaign.c_str(), spent / orders, balance, pearson);
  Say(line);
  Say("What each party learned: bank and media these five figures; the shop nothing but the");
  Say("alignment (which of its own buyers are common to all three); nobody saw another's rows,");
  Say("media's campaign list or the shop's spend per person. Checked against the plaintext join.");
  checks_.push_back("job 4 joint statistics (3 parties, 3PC): " + Num(truth.n) +
                    " customers, sums exact, mean and pearson within 1e-4 / 1e-3 of plaintext");
  psi_times_.push_back({"joint statistics (3 x " + Num(config_.rows) + " rows)", o.wall_s});
  return OkStatus();
}

Status Demo::JobCoordinatorDealer() {
  Section("Job 5 - bank and shop alone, the coordinator as the MPC dealer");
  Json spec = {
      {"operator", "stats.joint"},
      {"name", "shop-spend-of-bank-customers"},
      {"parties",
       {{"bank", {{"dataset", "customers"}, {"columns", {"phone", "balance"}}}},
        {"shop", {{"dataset", "buyers"}, {"columns", {"phone", "total_spent"}}}},
        {"coordinator", {{"role", "dealer"}}}}},
      {"outputs", {{"bank", "statistics"}}},
      {"params",
       {{"align", {{"bank", {"phone"}}, {"shop", {"phone"}}}},
        {"scale", {{"bank.balance", 0.01}}},
        {"statistics",
         {{{"name", "customers"}, {"stat", "count"}},
          {{"name", "spent"}, {"stat", "sum"}, {"column", "shop.total_spent"}},
          {{"name", "mean_balance"}, {"stat", "mean"}, {"column", "bank.balance"}}}}}}};
  CONSORT_ASSIGN_OR_RETURN(std::string path, WriteSpec("bank", "shop-spend.json", spec));
  Say("With only two data parties, secret sharing needs a third party to deal Beaver triples,");
  Say("one that colludes with neither. Here the spec names the coordinator (" + Shown(path) + "):");
  ShowSpec(spec);
  SayWrapped("The coordinator signs its own part with its key at submission (each node checks it "
             "under the coordinator key it pinned), then deals PRG seeds over pinned mutual TLS. "
             "It never receives a row, a share or a result.",
             2);
  CONSORT_ASSIGN_OR_RETURN(JobOutcome o,
                           RunApprovedByPeople("job 5", "bank", path, {"bank", "shop"}));
  dealt_job_ = o.id;
  CONSORT_ASSIGN_OR_RETURN(Json bank, Result("bank", o.short_id));
  const Json stats = bank.value("summary", Json::object()).value("statistics", Json::object());
  Say("  bank's summary: " + stats.dump());
  // The plaintext truth: bank customers who are also shop buyers (same phone).
  std::unordered_map<std::string, double> spent;
  auto shop_phone = data_.shop.Column("phone"), shop_spent = data_.shop.Column("total_spent");
  for (size_t i = 0; i < shop_phone.size(); ++i) spent[shop_phone[i]] = std::stod(shop_spent[i]);
  auto bank_phone = data_.bank.Column("phone"), bank_balance = data_.bank.Column("balance");
  double n = 0, sum_spent = 0, sum_balance = 0;
  for (size_t i = 0; i < bank_phone.size(); ++i) {
    auto s = spent.find(bank_phone[i]);
    if (s == spent.end()) continue;
    ++n;
    sum_spent += s->second;
    sum_balance += std::stod(bank_balance[i]);
  }
  auto number = [&](const char* name) {
    return stats.contains(name) && stats[name].is_number() ? stats[name].get<double>() : NAN;
  };
  if (number("customers") != n || !Near(number("spent"), sum_spent, 1e-6) ||
      !Near(number("mean_balance"), n ? sum_balance / n : 0, 1e-4)) {
    return absl::InternalError("job 5's statistics differ from the plaintext truth (n " +
                               std::to_string(n) + ", spent " + std::to_string(sum_spent) + ")");
  }
  Say("  the coordinator's part: " +
      o.job.value("progress", Json::object()).value("coordinator", Json::object()).dump());
  Say("Checked against the plaintext join. The trust this asks for is stated in the spec both");
  Say("parties signed; a coordinator started with --no-dealer refuses such jobs.");
  checks_.push_back("job 5 joint statistics (2 parties, coordinator as dealer): " +
                    Num(static_cast<int64_t>(n)) + " customers, sum exact, mean within 1e-4");
  psi_times_.push_back({"joint statistics, coordinator dealing (2 x " + Num(config_.rows) +
                            " rows)",
                        o.wall_s});
  return OkStatus();
}

// --- 9. audit and shutdown -----------------------------------------------------------------

Status Demo::AuditAndShutdown() {
  Section("Audit: every node re-verifies the shared, hash-chained, signed log; then shut down");
  int64_t entries = 0;
  for (const std::string node : {"bank", "shop", "media"}) {
    CONSORT_ASSIGN_OR_RETURN(CommandResult r, Cmd(node, {"audit", "verify"}));
    std::cout << Indent(r.out, "      ");
    size_t pos = r.out.find("OK: ");
    if (pos == std::string::npos)
      return absl::InternalError("unexpected audit verify output: " + r.out);
    entries = std::atoll(r.out.c_str() + pos + 4);
  }
  const int64_t kExcerpt = 12;
  int64_t from = std::max<int64_t>(0, entries - kExcerpt);
  CONSORT_ASSIGN_OR_RETURN(CommandResult show,
                           Cmd("shop", {"audit", "show", "--from", std::to_string(from), "--limit",
                                        std::to_string(kExcerpt)}));
  std::cout << Indent(show.out, "      ");
  if (show.out.find("job.approved      job_id=" + dealt_job_.substr(0, 12) +
                    " party=coordinator") == std::string::npos) {
    return absl::InternalError("the audit excerpt has no approval by the coordinator");
  }
  // The whole log (not printed) also holds media's signed rejection of job 3.
  CONSORT_ASSIGN_OR_RETURN(CommandResult all,
                           Cmd("shop", {"audit", "show", "--from", "0", "--limit", "1000"}, false));
  if (all.out.find("job.rejected") == std::string::npos) {
    return absl::InternalError("the audit log has no job.rejected entry");
  }
  checks_.push_back("audit log: " + Num(entries) + " entries, verified on bank, shop and media");

  std::string stopped;
  for (const std::string node : {"bank", "shop", "media"}) {
    CONSORT_ASSIGN_OR_RETURN(int code, cluster_->StopNode(node, SIGTERM));
    if (code != 0) {
      return absl::InternalError("node " + node + " exited with " + std::to_string(code) +
                                 " on SIGTERM; see " + cluster_->log_path(node));
    }
    stopped += node + " exit 0, ";
  }
  CONSORT_ASSIGN_OR_RETURN(int code, cluster_->StopCoordinator(SIGTERM));
  if (code != 0) {
    return absl::InternalError("coordinator exited with " + std::to_string(code) +
                               " on SIGTERM; see " + cluster_->log_path("coordinator"));
  }
  Say("SIGTERM to every process: " + stopped + "coordinator exit 0");
  checks_.push_back("clean shutdown: 4 processes exited 0 on SIGTERM");
  return OkStatus();
}

}  // namespace

int RunDemo(const std::vector<std::string>& args) {
  if (std::find(args.begin(), args.end(), "--help") != args.end() ||
      std::find(args.begin(), args.end(), "-h") != args.end()) {
    std::cout << HelpText(kDemoSpec);
    return 0;
  }
  auto parsed = Args::Parse(kDemoSpec, args);
  if (!parsed.ok()) {
    std::cerr << "error: " << parsed.status().message() << std::endl;
    return 2;
  }
  SyntheticConfig config;
  if (parsed->Has("rows") && (!absl::SimpleAtoi(parsed->Get("rows"), &config.rows) ||
                              config.rows < 100 || config.rows > 2'000'000)) {
    std::cerr << "error: --rows must be a number from 100 to 2000000" << std::endl;
    return 2;
  }
  if (parsed->Has("seed") && !absl::SimpleAtoi(parsed->Get("seed"), &config.seed)) {
    std::cerr << "error: --seed must be a non-negative integer" << std::endl;
    return 2;
  }
  std::string dir = parsed->Get("dir");
  bool user_dir = !dir.empty();
  if (user_dir) {
    std::error_code ec;
    dir = std::filesystem::absolute(dir, ec).lexically_normal().string();
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    if (std::filesystem::exists(dir, ec) && !std::filesystem::is_empty(dir, ec)) {
      std::cerr << "error: --dir " << dir << " is not empty; give a new or empty directory"
                << std::endl;
      return 2;
    }
  } else {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/consort-demo-XXXXXX";
    std::vector<char> buf(templ.begin(), templ.end());
    buf.push_back('\0');
    if (!mkdtemp(buf.data())) {
      std::cerr << "error: cannot create a temporary directory from " << templ << std::endl;
      return 1;
    }
    dir = buf.data();
  }
  Demo demo(dir, parsed->Has("keep"), config, user_dir);
  return demo.Run();
}

}  // namespace consort::cli
