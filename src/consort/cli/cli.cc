#include "consort/cli/cli.h"

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <thread>

#include <unistd.h>

#include "consort/api/https_client.h"
#include "consort/api/rest_server.h"
#include "consort/cli/args.h"
#include "consort/cli/operators.h"
#include "consort/common/files.h"
#include "consort/common/logging.h"
#include "consort/common/time.h"
#include "consort/coordinator/control_server.h"
#include "consort/coordinator/coordinator.h"
#include "consort/coordinator/invite.h"
#include "consort/crypto/random.h"
#include "consort/engine/operator.h"
#include "consort/node/node.h"
#include "consort/psi/ecdh_psi_operator.h"

namespace consort::cli {
namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }

void InstallSignalHandlers() {
  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

const FlagSpec kHomeNode{"home", "node home directory (default $CONSORT_HOME or ~/.consort/node)"};
const FlagSpec kHomeCoord{"home",
                          "coordinator home (default $CONSORT_COORDINATOR_HOME or "
                          "~/.consort/coordinator)"};
const FlagSpec kOutput{"output", "-o json for machine-readable output"};

std::string DefaultHome(const char* env, const char* leaf) {
  if (const char* e = std::getenv(env); e && *e) return e;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : ".") + "/.consort/" + leaf;
}
std::string NodeHome(const Args& a) { return a.Get("home", DefaultHome("CONSORT_HOME", "node")); }
std::string CoordHome(const Args& a) {
  return a.Get("home", DefaultHome("CONSORT_COORDINATOR_HOME", "coordinator"));
}

void PrintJson(const Json& j) { std::cout << j.dump(2) << std::endl; }

std::string Short(const std::string& id) { return id.substr(0, 12); }

// Prints rows as aligned columns.
void PrintTable(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> w(header.size());
  for (size_t i = 0; i < header.size(); ++i) w[i] = header[i].size();
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size() && i < w.size(); ++i) w[i] = std::max(w[i], r[i].size());
  }
  auto line = [&](const std::vector<std::string>& r) {
    for (size_t i = 0; i < r.size(); ++i) {
      std::cout << r[i];
      if (i + 1 < r.size()) std::cout << std::string(w[i] - r[i].size() + 2, ' ');
    }
    std::cout << "\n";
  };
  line(header);
  for (const auto& r : rows) line(r);
  std::cout << std::flush;
}

StatusOr<std::unique_ptr<node::Node>> OpenNode(const Args& a) {
  RegisterAllOperators();
  return node::Node::Open(NodeHome(a));
}

// Resolves a job id or a unique prefix of one.
StatusOr<std::string> ResolveJobId(node::Node& n, const std::string& prefix) {
  if (prefix.size() == 64) return prefix;
  if (prefix.size() < 4) return absl::InvalidArgumentError("job id prefix must be at least 4 characters");
  CONSORT_ASSIGN_OR_RETURN(Json jobs, n.Call("job.list", Json::object()));
  std::string found;
  for (const auto& j : jobs["jobs"]) {
    std::string id = j["job_id"];
    if (id.rfind(prefix, 0) == 0) {
      if (!found.empty()) return absl::InvalidArgumentError("job id prefix '" + prefix + "' is ambiguous");
      found = id;
    }
  }
  if (found.empty()) return absl::NotFoundError("no job with id starting '" + prefix + "'");
  return found;
}

// --- coordinator ---------------------------------------------------------------------------

Status CoordinatorInit(const Args& a) {
  coordinator::CoordinatorConfig config;
  if (a.Has("config")) {
    CONSORT_ASSIGN_OR_RETURN(std::string text, ReadFile(a.Get("config")));
    CONSORT_ASSIGN_OR_RETURN(Json j, ParseJson(text, a.Get("config")));
    CONSORT_ASSIGN_OR_RETURN(config, coordinator::CoordinatorConfig::FromJson(j));
  }
  if (a.Has("listen")) config.grpc_listen = a.Get("listen");
  if (a.Has("api-listen")) config.api_listen = a.Get("api-listen");
  if (a.Has("peer-listen")) config.peer_listen = a.Get("peer-listen");
  if (a.Has("peer-advertise")) config.peer_advertise = a.Get("peer-advertise");
  if (a.Has("advertise")) config.grpc_advertise = a.Get("advertise");
  if (a.Has("api-advertise")) config.api_advertise = a.Get("api-advertise");
  if (a.Has("no-dealer")) config.host_dealer = false;
  std::string home = CoordHome(a);
  CONSORT_RETURN_IF_ERROR(coordinator::Coordinator::Init(home, config));
  std::cout << "coordinator initialized in " << home << "\n"
            << "  control plane (nodes, mTLS): " << config.grpc_listen << "\n"
            << "  REST API (HTTPS):            " << config.api_listen << "\n"
            << "  dealer peer endpoint (mTLS): "
            << (config.host_dealer ? config.peer_listen : std::string("off")) << "\n"
            << "  admin API token:             " << JoinPath(home, "admin.token") << " (keep it secret)\n"
            << "start it with: consort coordinator start --home " << home << std::endl;
  return OkStatus();
}

Status CoordinatorStart(const Args& a) {
  RegisterAllOperators();
  std::string home = CoordHome(a);
  SetLogComponent("coordinator");
  CONSORT_ASSIGN_OR_RETURN(auto coord, coordinator::Coordinator::Open(home));
  std::string grpc_listen = a.Get("listen", coord->config().grpc_listen);
  std::string api_listen = a.Get("api-listen", coord->config().api_listen);
  CONSORT_RETURN_IF_ERROR(coord->SetAdvertised(
      grpc_listen, a.Get("advertise", coord->config().grpc_advertise), api_listen,
      a.Get("api-advertise", coord->config().api_advertise)));
  CONSORT_ASSIGN_OR_RETURN(auto control, coordinator::ControlServer::Start(*coord, grpc_listen));
  std::string host = grpc_listen.substr(0, grpc_listen.rfind(':'));
  std::string grpc_addr = host + ":" + std::to_string(control->port());
  coord->set_bound_addresses(grpc_addr, "");
  api::RestServer rest(*coord, api_listen);
  CONSORT_RETURN_IF_ERROR(rest.Start());
  if (coord->config().host_dealer) {
    CONSORT_RETURN_IF_ERROR(
        coord->StartPeerEndpoint(a.Get("peer-listen", coord->config().peer_listen),
                                 a.Get("peer-advertise", coord->config().peer_advertise)));
  }
  coord->StartScheduler();
  Json endpoints = {{"grpc", grpc_addr}, {"api", rest.address()}, {"peer", coord->peer_address()},
                    {"tls_fingerprint", coord->tls_fingerprint()}, {"pid", getpid()}};
  CONSORT_RETURN_IF_ERROR(
      WriteFileAtomic(JoinPath(home, "endpoints.json"), endpoints.dump(2) + "\n", 0644));
  CONSORT_LOG(INFO) << "coordinator up: control plane " << grpc_addr << ", REST API https://"
                    << rest.address();
  InstallSignalHandlers();
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CONSORT_LOG(INFO) << "coordinator shutting down";
  rest.Stop();
  control->Shutdown();
  coord->StopScheduler();
  return OkStatus();
}

// The API client for the local coordinator home (admin commands).
StatusOr<std::unique_ptr<api::HttpsClient>> AdminClient(const Args& a) {
  std::string home = CoordHome(a);
  std::string api = a.Get("api"), fp = a.Get("fingerprint"), token = a.Get("token");
  if (api.empty() || fp.empty()) {
    auto text = ReadFile(JoinPath(home, "endpoints.json"));
    if (!text.ok()) {
      return absl::FailedPreconditionError("coordinator at " + home +
                                           " is not running (no endpoints.json); pass --api and "
                                           "--fingerprint, or start it");
    }
    CONSORT_ASSIGN_OR_RETURN(Json e, ParseJson(*text, "endpoints.json"));
    if (api.empty()) api = e.value("api", "");
    if (fp.empty()) fp = e.value("tls_fingerprint", "");
  }
  if (token.empty()) {
    CONSORT_ASSIGN_OR_RETURN(token, ReadFile(JoinPath(home, "admin.token")));
    while (!token.empty() && (token.back() == '\n' || token.back() == ' ')) token.pop_back();
  }
  return std::make_unique<api::HttpsClient>(api, fp, token);
}

Status AdminInvite(const Args& a) {
  CONSORT_ASSIGN_OR_RETURN(auto client, AdminClient(a));
  Json body = {{"name", a.positional()[0]}};
  if (a.Has("ttl-hours")) body["ttl_hours"] = std::stod(a.Get("ttl-hours"));
  CONSORT_ASSIGN_OR_RETURN(Json r, client->Post("/v1/invites", body));
  if (a.json()) {
    PrintJson(r);
  } else {
    std::cout << r["token"].get<std::string>() << std::endl;
    std::cerr << "invite for '" << r["name"].get<std::string>() << "', valid until "
              << r["expires_at"].get<std::string>() << "; use it once with:\n  consort node init --name "
              << r["name"].get<std::string>() << " --invite <token>" << std::endl;
  }
  return OkStatus();
}

Status AdminToken(const Args& a) {
  const std::string action = a.positional()[0];
  CONSORT_ASSIGN_OR_RETURN(auto client, AdminClient(a));
  Json r;
  if (action == "list") {
    CONSORT_ASSIGN_OR_RETURN(r, client->Get("/v1/tokens"));
  } else if (action == "create" || action == "revoke") {
    if (a.positional().size() != 2) {
      return absl::InvalidArgumentError("usage: consort admin token " + action + " NAME");
    }
    const std::string& name = a.positional()[1];
    if (action == "create") {
      CONSORT_ASSIGN_OR_RETURN(r, client->Post("/v1/tokens", {{"name", name}}));
    } else {
      CONSORT_ASSIGN_OR_RETURN(r, client->Post("/v1/tokens/" + name + "/revoke", Json::object()));
    }
  } else {
    return absl::InvalidArgumentError("token action must be create, list or revoke");
  }
  if (a.json() || action != "create") {
    PrintJson(r);
  } else {
    std::cout << r["token"].get<std::string>() << std::endl;
    std::cerr << "API token '" << r["name"].get<std::string>()
              << "' created; it is shown only now (the coordinator keeps its hash)" << std::endl;
  }
  return OkStatus();
}

// --- node ------------------------------------------------------------------------------------

Status NodeInit(const Args& a) {
  CONSORT_ASSIGN_OR_RETURN(std::string name, a.Require("name"));
  CONSORT_ASSIGN_OR_RETURN(std::string token, a.Require("invite"));
  if (token.rfind("@", 0) == 0) {
    CONSORT_ASSIGN_OR_RETURN(token, ReadFile(token.substr(1)));
  }
  CONSORT_ASSIGN_OR_RETURN(coordinator::Invite inv, coordinator::Invite::Decode(token));
  if (inv.name != name) {
    return absl::InvalidArgumentError("this invite is for '" + inv.name + "', not '" + name + "'");
  }
  node::NodeConfig config;
  config.name = name;
  config.coordinator_grpc = a.Get("coordinator", inv.grpc_address);
  config.coordinator_api = a.Get("coordinator-api", inv.api_address);
  config.coordinator_fingerprint = inv.tls_fingerprint;
  config.coordinator_key = inv.coordinator_key;
  config.peer_listen = a.Get("peer-listen", config.peer_listen);
  config.peer_advertise = a.Get("peer-advertise", config.peer_advertise);
  std::string home = NodeHome(a);
  bool existed = std::filesystem::exists(home);
  CONSORT_RETURN_IF_ERROR(node::Node::InitHome(home, config));
  auto cleanup = [&] {
    // Registration failed: remove what init created so the command can simply be re-run.
    std::error_code ec;
    if (!existed) std::filesystem::remove_all(home, ec);
    else for (const char* p : {"node.json", "keys", "node.db", "node.db-wal", "node.db-shm", "results"})
      std::filesystem::remove_all(JoinPath(home, p), ec);
  };
  auto n = node::Node::Open(home);
  if (!n.ok()) {
    cleanup();
    return n.status();
  }
  auto entry = (*n)->RegistrationEntry();
  if (!entry.ok()) {
    cleanup();
    return entry.status();
  }
  api::HttpsClient client(config.coordinator_api, config.coordinator_fingerprint);
  auto r = client.Post("/v1/nodes/register", {{"token", token},
                                              {"tls_cert_pem", (*n)->tls_identity().cert_pem},
                                              {"entry", *entry}});
  if (!r.ok()) {
    n->reset();
    cleanup();
    return Status(r.status().code(), "registration failed: " + std::string(r.status().message()));
  }
  std::cout << "node '" << name << "' registered with the coordinator at " << config.coordinator_grpc
            << "\n  home: " << home << "\n  members: " << (*r)["members"].size()
            << "\nstart it with: consort node start --home " << home << std::endl;
  return OkStatus();
}

Status NodeStart(const Args& a) {
  CONSORT_ASSIGN_OR_RETURN(auto n, OpenNode(a));
  SetLogComponent("node " + n->name());
  InstallSignalHandlers();
  return n->Serve(g_stop);
}

Status NodeInfo(const Args& a) {
  CONSORT_ASSIGN_OR_RETURN(auto n, OpenNode(a));
  Json j = {{"name", n->name()},
            {"home", n->home()},
            {"signing_key", crypto::EncodePublicKey(n->signing_key().public_key())},
            {"tls_fingerprint", n->tls_fingerprint()},
            {"coordinator", n->config().coordinator_grpc},
            {"coordinator_fingerprint", n->config().coordinator_fingerprint}};
  PrintJson(j);
  return OkStatus();
}

// --- datasets --------------------------------------------------------------------------------

Status DatasetAdd(const Args& a) {
  CONSORT_ASSIGN_OR_RETURN(auto n, OpenNode(a));
  node::DatasetSource src;
  if (a.Has("csv") == a.Has("sqlite")) {
    return absl::InvalidArgumentError("give exactly one of --csv FILE or --sqlite DB --table T");
  }
  if (a.Has("csv")) {
    src = {"csv", a.Get("csv"), ""};
  } else {
    CONSORT_ASSIGN_OR_RETURN(std::string table, a.Require("table"));
    src = {"sqlite", a.Get("sqlite"), table};
  }
  CONSORT_ASSIGN_OR_RETURN(auto ds, n->AddDataset(a.positional()[0], src, a.Get("description"),
                                                  a.Has("replace")));
  if (a.json()) {
    PrintJson(ds.info);
  } else {
    std::cout << "dataset '" << ds.name << "': " << ds.info["rows"] << " rows, "
              << ds.info["columns"].size() << " columns; metadata published to the catalog "
              << "(rows stay on this node)" << std::endl;
  }
  return OkStatus();
}

Status DatasetList(const Args& a) {
  CONSORT_ASSIGN_OR_RETURN(auto n, OpenNode(a));
  if (a.Has("local")) {
    CONSORT_ASSIGN_OR_RETURN(auto local, n->ListLocalDatasets());
    Json arr = Json::array();
    std::vector<std::vector<std::string>> rows;
    for (const auto& d : local) {
      arr.push_back({{"name", d.name}, {"source", d.source.ToJson()}, {"info", d.info},
                     {"published", d.published}});
      rows.push_back({d.name, d.source.kind, std::to_string(d.info.value("rows", 0)),
                      d.published ? "yes" : "no", d.source.path});
    }
    if (a.json()) PrintJson(arr);
    else PrintTable({"NAME", "KIND", "ROWS", "PUBLISHED", "SOURCE"}, rows);
    return OkStatus();
  }
  CONSORT_ASSIGN_OR_RETURN(Json r, n->Call("dataset.list", Json::object()));
  if (a.json()) {
    PrintJson(r["datasets"]);
    return OkStatus();
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& d : r["datasets"]) {
    std::string cols;
    for (const auto& c : d["columns"]) {
      cols += (cols.empty() ? "" : ", ") + c["name"].get<std::string>() + ":" + c["type"].get<std::string>();
    }
    rows.push_back({d["owner"], d["name"], std::to_string(d["rows"].get<int64_t>()), cols});
  }
  PrintTable({"OWNER", "NAME", "ROWS", "COLUMNS"}, rows);
  return OkStatus();
}

// --- jobs ------------------------------------------------------------------------------------

std::string ProgressText(const Json& job) {
  std::string out;
  for (const auto& [party, p] : job["progress"].items()) {
    char buf[96];
    std::snprintf(buf, sizeof(buf), "%s %3.0f%% %s", party.c_str(), 100 * p.value("fraction", 0.0),
                  p.value("stage", "").c_str());
    out += (out.empty() ? "" : " | ") + std::string(buf);
  }
  return out;
}

void PrintJob(const Json& j) {
  std::cout << "job       " << j["job_id"].get<std::string>() << "\n"
            << "operator  " << j["operator"].get<std::string>()
            << (j["name"].get<std::string>().empty() ? "" : "  (" + j["name"].get<std::string>() + ")")
            << "\nstate     " << j["state"].get<std::string>();
  if (!j["reason"].get<std::string>().empty()) std::cout << ": " << j["reason"].get<std::string>();
  std::cout << "\nsubmitted " << j["created_at"].get<std::string>() << " by "
            << j["submitted_by"].get<std::string>() << "\nparties\n";
  for (const auto& [party, decision] : j["approvals"].items()) {
    std::string out = j["outputs"].value(party, "-");
    std::cout << "  " << std::left << std::setw(14) << party << std::setw(10) << decision.get<std::string>()
              << " output: " << std::setw(13) << out;
    if (j.contains("spec")) {
      const auto& p = j["spec"]["parties"][party];
      std::string cols;
      for (const auto& c : p["columns"]) cols += (cols.empty() ? "" : ",") + c.get<std::string>();
      std::cout << " reads " << p["dataset"].get<std::string>() << "(" << cols << ")";
    }
    std::cout << "\n";
  }
  if (j["state"] == "running") std::cout << "progress  " << ProgressText(j) << "\n";
  std::cout << std::flush;
}

Status JobSubmit(const Args& a) {
  CONSORT_ASSIGN_OR_RETURN(auto n, OpenNode(a));
  const std::string path = a.positional()[0];
  CONSORT_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  CONSORT_ASSIGN_OR_RETURN(Json spec, ParseJson(text, path));
  if (a.Has("no-nonce") && !spec.contains("nonce")) spec["nonce"] = "";
  CONSORT_ASSIGN_OR_RETURN(Json r, n->SubmitJob(spec));
  if (a.json()) {
    PrintJson(r);
  } else {
    std::cout << r["job_id"].get<std::string>() << std::endl;
    std::cerr << "job " << Short(r["job_id"]) << " proposed; every data-providing party must "
              << "approve it (standing policy or `consort job approve`)" << std::endl;
  }
  return OkStatus();
}

Status JobList(const Args& a) {
  CONSORT_ASSIGN_OR_RETURN(auto n, OpenNode(a));
  Json body = Json::object();
  if (a.Has("state")) body["state"] = a.Get("state");
  CONSORT_ASSIGN_OR_RETURN(Json r, n->Call("job.list", body));
  if (a.json()) {
    PrintJson(r["jobs"]);
    return OkStatus();
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& j : r["jobs"]) {
    std::string parties;
    for (const auto& p : j["parties"]) parties += (parties.empty() ? "" : ",") + p.get<std::string>();
    rows.push_back({Short(j["job_id"]), j["operator"], j["state"], parties, j["created_at"],
                    j["reason"]});
  }
  PrintTable({"JOB", "OPERATOR", "STATE", "PARTIES", "CREATED", "REASON"}, rows);
  return OkStatus();
}

Status JobShow(const Args& a) {
  CONSORT_ASSIGN_OR_RETURN(auto n, OpenNode(a));
  CONSORT_ASSIGN_OR_RETURN(std::string id, ResolveJobId(*n, a.positional()[0]));
  CONSORT_ASSIGN_OR_RETURN(Json j, n->Call("job.get", {{"job_id", id}}));
  if (a.json()) {
    PrintJson(j);
    return OkStatus();
  }
  PrintJob(j);
  auto results = n->Results(id);
  if (results.ok()) std::cout << "result on this node\n" << results->dump(2) << std::endl;
  return OkStatus();
}

Status JobWait(const Args& a) {
  CONSORT_ASSIGN_OR_RETURN(auto n, OpenNode(a));
  CONSORT_ASSIGN_OR_RETURN(std::string id, ResolveJobId(*n, a.positional()[0]));
  double timeout = std::stod(a.Get("timeout", "3600"));
  double start = MonotonicSeconds();
  bool tty = isatty(STDERR_FILENO);
  std::string last;
  while (true) {
    CONSORT_ASSIGN_OR_RETURN(Json j, n->Call("job.get", {{"job_id", id}}));
    std::string state = j["state"];
    if (state == "succeeded" || state == "failed" || state == "rejected" || state == "cancelled") {
      if (tty && !a.json()) std::cerr << "\r\033[K";
      if (a.json()) PrintJson(j);
      else std::cout << Short(id) << " " << state
                     << (j["reason"].get<std::string>().empty() ? "" : ": " + j["reason"].get<std::string>())
                     << std::endl;
      if (state == "succeeded") return OkStatus();
      return absl::AbortedError("job " + Short(id) + " " + state +
                                (j["reason"].get<std::string>().empty() ? "" : ": " + j["reason"].get<std::string>()));
    }
    if (!a.json()) {
      char elapsed[32];
      std::snprintf(elapsed, sizeof(elapsed), "%5.1fs", MonotonicSeconds() - start);
      std::string line = std::string(elapsed) + " " + state + (state == "running" ? "  " + ProgressText(j) : "");
      if (tty) std::cerr << "\r\033[K" << line << std::flush;
      else if (line.substr(7) != last) std::cerr << line << std::endl;
      last = line.substr(7);
    }
    if (MonotonicSeconds() - start > timeout) {
      return absl::DeadlineExceededError("job " + Short(id) + " still " + state + " after " +
                                         a.Get("timeout", "3600") + " s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

Status JobApprove(const Args& a) {
  CONSORT_ASSIGN_OR_RETURN(auto n, OpenNode(a));
  CONSORT_ASSIGN_OR_RETURN(std::string id, ResolveJobId(*n, a.positional()[0]));
  CONSORT_ASSIGN_OR_RETURN(Json r, n->ApproveJob(id, "person"));
  if (a.json()) PrintJson(r);
  else std::cout << "approved " << Short(id) << "; job is now " << r["state"].get<std::string>() << std::endl;
  return OkStatus();
}

Status JobReject(const Args& a) {
  CONSORT_ASSIGN_OR_RETURN(auto n, OpenNode(a));
  CONSORT_ASSIGN_OR_RETURN(std::string reason, a.Require("reason"));
  CONSORT_ASSIGN_OR_RETURN(std::string id, ResolveJobId(*n, a.positional()[0]));
  CONSORT_ASSIGN_OR_RETURN(Json r, n->RejectJob(id, reason));
  if (a.json()) PrintJson(r);
  else std::cout << "rejected " << Short(id) << std::endl;
  return OkStatus();
}

Status JobCancel(const Args& a) {
  CONSORT_ASSIGN_OR_RETURN(auto n, OpenNode(a));
  CONSORT_ASSIGN_OR_RETURN(std::string id, ResolveJobId(*n, a.positional()[0]));
  Json body = {{"job_id", id}};
  if (a.Has("reason")) body["reason"] = a.Get("reason");
  CONSORT_ASSIGN_OR_RETURN(Json r, n->Call("job.cancel", body));
  if (a.json()) PrintJson(r);
  else std::cout << "cancelled " << Short(id) << std::endl;
  return OkStatus();
}

Status JobRetry(const Args& a) {
  CONSORT_ASSIGN_OR_RETURN(auto n, OpenNode(a));
  CONSORT_ASSIGN_OR_RETURN(std::string id, ResolveJobId(*n, a.positional()[0]));
  CONSORT_ASSIGN_OR_RETURN(Json r, n->Call("job.retry", {{"job_id", id}}));
  if (a.json()) PrintJson(r);
  else std::cout << "retrying " << Short(id) << " (attempt " << r.value("attempt", 0) << ")" << std::endl;
  return OkStatus();
}

// --- models ----------------------------------------------------------------------------------

Status ModelList(const Args& a) {
  CONSORT_ASSIGN_OR_RETURN(auto n, OpenNode(a));
  Json out;
  if (a.Has("local")) {
    CONSORT_ASSIGN_OR_RETURN(out, n->ListModels());
  } else {
    CONSORT_ASSIGN_OR_RETURN(Json r, n->Call("model.list", Json::object()));
    out = r["models"];
  }
  if (a.json()) {
    PrintJson(out);
    return OkStatus();
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& m : out) {
    const Json& meta = m["metadata"];
    rows.push_back({m.value("name", ""), m.value("owner", n->name()),
                    meta.is_object() ? meta.value("kind", "-") : "-",
                    Short(m.value("job_id", ""))});
  }
  PrintTable({"NAME", "PARTY", "KIND", "JOB"}, rows);
  return OkStatus();
}

Status JobResult(const Args& a) {
  CONSORT_ASSIGN_OR_RETURN(auto n, OpenNode(a));
  std::string id = a.positional()[0];
  if (id.size() != 64) {
    CONSORT_ASSIGN_OR_RETURN(id, ResolveJobId(*n, id));
  }
  CONSORT_ASSIGN_OR_RETURN(Json r, n->Results(id));
  PrintJson(r);
  return OkStatus();
}

// --- policies --------------------------------------------------------------------------------

Status PolicyAdd(const Args& a) {
  CONSORT_ASSIGN_OR_RETURN(auto n, OpenNode(a));
  node::PolicyRule r;
  if (a.Has("role") == a.Has("dataset")) {
    return absl::InvalidArgumentError("give exactly one of --dataset and --role");
  }
  if (a.Has("role")) {
    r.role = a.Get("role");
    CONSORT_RETURN_IF_ERROR(engine::ValidateName(r.role, "--role"));
  } else {
    CONSORT_ASSIGN_OR_RETURN(r.dataset, a.Require("dataset"));
    CONSORT_ASSIGN_OR_RETURN(std::string cols, a.Require("columns"));
    r.columns = SplitList(cols);
  }
  CONSORT_ASSIGN_OR_RETURN(std::string partners, a.Require("partners"));
  CONSORT_ASSIGN_OR_RETURN(std::string ops, a.Require("operators"));
  r.partners = SplitList(partners);
  r.operators = SplitList(ops);
  r.partner_outputs = SplitList(a.Get("partner-outputs"));
  if (a.Has("expires")) {
    CONSORT_ASSIGN_OR_RETURN(r.expires_ms, ParseRfc3339(a.Get("expires")));
  }
  CONSORT_ASSIGN_OR_RETURN(r, n->AddPolicy(r));
  if (a.json()) PrintJson(r.ToJson());
  else std::cout << "policy rule " << r.id << " added" << std::endl;
  return OkStatus();
}

Status PolicyList(const Args& a) {
  CONSORT_ASSIGN_OR_RETURN(auto n, OpenNode(a));
  CONSORT_ASSIGN_OR_RETURN(auto rules, n->ListPolicies());
  Json arr = Json::array();
  std::vector<std::vector<std::string>> rows;
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
    return s.empty() ? "-" : s;
  };
  for (const auto& r : rules) {
    arr.push_back(r.ToJson());
    rows.push_back({std::to_string(r.id), r.role.empty() ? r.dataset : "role:" + r.role,
                    join(r.partners), join(r.operators),
                    join(r.columns), join(r.partner_outputs),
                    r.expires_ms ? FormatRfc3339(r.expires_ms) : "never"});
  }
  if (a.json()) PrintJson(arr);
  else PrintTable({"ID", "DATASET", "PARTNERS", "OPERATORS", "COLUMNS", "PARTNER OUTPUTS", "EXPIRES"}, rows);
  return OkStatus();
}

Status PolicyRemove(const Args& a) {
  CONSORT_ASSIGN_OR_RETURN(auto n, OpenNode(a));
  CONSORT_RETURN_IF_ERROR(n->RemovePolicy(std::stoll(a.positional()[0])));
  std::cout << "policy rule " << a.positional()[0] << " removed" << std::endl;
  return OkStatus();
}

// --- audit / operators -----------------------------------------------------------------------

Status AuditVerify(const Args& a) {
  CONSORT_ASSIGN_OR_RETURN(auto n, OpenNode(a));
  CONSORT_ASSIGN_OR_RETURN(Json r, n->VerifyAudit(!a.Has("offline")));
  if (a.json()) PrintJson(r);
  if (!r["ok"].get<bool>()) {
    std::string where = r.contains("first_bad_seq") && r["first_bad_seq"].get<int64_t>() >= 0
                            ? "entry " + std::to_string(r["first_bad_seq"].get<int64_t>()) + ": "
                            : "";
    return absl::DataLossError("audit log verification FAILED: " + where + r.value("reason", ""));
  }
  if (!a.json()) {
    std::cout << "audit log OK: " << r["entries"] << " entries verified (signatures, hash chain, "
              << "coordinator-signed head)" << std::endl;
  }
  return OkStatus();
}

Status AuditShow(const Args& a) {
  CONSORT_ASSIGN_OR_RETURN(auto n, OpenNode(a));
  CONSORT_ASSIGN_OR_RETURN(Json r, n->Call("audit.range", {{"from", std::stoll(a.Get("from", "0"))},
                                                           {"limit", std::stoll(a.Get("limit", "100"))}}));
  if (a.json()) {
    PrintJson(r["entries"]);
    return OkStatus();
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& e : r["entries"]) {
    std::string summary;
    for (const char* k : {"job_id", "name", "party", "to", "reason"}) {
      if (e["body"].contains(k) && e["body"][k].is_string()) {
        std::string v = e["body"][k];
        if (std::string(k) == "job_id") v = v.substr(0, 12);
        summary += (summary.empty() ? "" : " ") + std::string(k) + "=" + v;
      }
    }
    rows.push_back({std::to_string(e["seq"].get<int64_t>()), FormatRfc3339(e["time_ms"]), e["author"],
                    e["kind"], summary});
  }
  PrintTable({"SEQ", "TIME", "AUTHOR", "KIND", "DETAILS"}, rows);
  return OkStatus();
}

Status OperatorsList(const Args& a) {
  RegisterAllOperators();
  Json arr = Json::array();
  for (const auto* op : engine::OperatorRegistry::Global().List()) arr.push_back(op->info().ToJson());
  if (a.json()) {
    PrintJson(arr);
    return OkStatus();
  }
  for (const auto& o : arr) {
    std::cout << o["name"].get<std::string>() << " - " << o["title"].get<std::string>() << "\n  "
              << o["description"].get<std::string>() << "\n  security model: "
              << o["security_model"].get<std::string>() << "\n  parameters: "
              << o["parameters"].get<std::string>() << "\n  Leaks: " << o["leaks"].get<std::string>()
              << "\n";
  }
  return OkStatus();
}

// --- dispatch --------------------------------------------------------------------------------

struct Command {
  CommandSpec spec;
  std::function<Status(const Args&)> run;
};

std::vector<Command> Commands() {
  const FlagSpec kOutFlag = kOutput;
  return {
      {{"coordinator init", "", "Create a coordinator home: keys, TLS identity, database, admin token.",
        "The config file (JSON) may set grpc_listen, api_listen, peer_listen, grpc_advertise, "
        "api_advertise, peer_advertise, host_dealer, "
        "party_silence_timeout_ms and invite_ttl_ms; the flags override it. With host_dealer "
        "(the default) jobs may name the coordinator as their two-party MPC dealer "
        "({\"coordinator\": {\"role\": \"dealer\"}}); see docs/operations.md.",
        {kHomeCoord, {"config", "config file (JSON)"}, {"listen", "control-plane address (default 127.0.0.1:7400)"},
         {"api-listen", "REST API address (default 127.0.0.1:7443)"},
         {"advertise", "host or host:port nodes dial for the control plane, carried by invites "
                       "(required if --listen binds 0.0.0.0 or [::]; default its host)"},
         {"api-advertise", "host or host:port clients dial for the API, carried by invites "
                           "(required if --api-listen binds 0.0.0.0 or [::]; default its host)"},
         {"peer-listen", "dealer peer endpoint address (default 127.0.0.1:0)"},
         {"peer-advertise", "host or host:port nodes dial for the dealer endpoint (required if "
                            "--peer-listen binds 0.0.0.0 or [::]; default its host)"},
         {"no-dealer", "never act as a dealer (refuse jobs that name the coordinator)", true}}},
       CoordinatorInit},
      {{"coordinator start", "", "Run the coordinator until SIGINT/SIGTERM.",
        "Serves nodes over gRPC with pinned mutual TLS and people over the HTTPS REST API "
        "(OpenAPI at /openapi.json). Bound addresses are written to <home>/endpoints.json.",
        {kHomeCoord, {"listen", "override the control-plane address"}, {"api-listen", "override the API address"},
         {"advertise", "override the control-plane address nodes dial"},
         {"api-advertise", "override the API address clients dial"},
         {"peer-listen", "override the dealer peer endpoint address"},
         {"peer-advertise", "override the address nodes dial for it"}}},
       CoordinatorStart},
      {{"admin invite", "NAME", "Create a one-time invite for a new node named NAME; prints the token.", "",
        {kHomeCoord, {"ttl-hours", "validity in hours (default 168)"},
         {"api", "coordinator API host:port (default from <home>/endpoints.json)"},
         {"fingerprint", "coordinator certificate fingerprint"}, {"token", "admin API token"}, kOutFlag},
        1, 1},
       AdminInvite},
      {{"admin token", "create NAME | list | revoke NAME",
        "Manage REST API bearer tokens (admin).", "Tokens are stored hashed; a new token is shown once.",
        {kHomeCoord, {"api", "coordinator API host:port (default from <home>/endpoints.json)"},
         {"fingerprint", "coordinator certificate fingerprint"}, {"token", "admin API token"}, kOutFlag},
        1, 2},
       AdminToken},
      {{"node init", "", "Create this party's node: keys, TLS identity, and registration with the coordinator.",
        "The invite token pins the coordinator's certificate and signing key. On failure nothing is "
        "left behind and the command can be re-run.",
        {kHomeNode, {"name", "this party's name (must match the invite)"},
         {"invite", "invite token (or @FILE)"}, {"peer-listen", "address for peer protocol links (default 127.0.0.1:0)"},
         {"peer-advertise", "host or host:port other nodes dial for those links (required if "
                            "--peer-listen binds 0.0.0.0 or [::]; default its host)"},
         {"coordinator", "override the coordinator control-plane address"},
         {"coordinator-api", "override the coordinator API address"}}},
       NodeInit},
      {{"node start", "", "Run the node daemon until SIGINT/SIGTERM.",
        "Hosts peer links, long-polls the coordinator, applies standing policies, verifies and runs jobs.",
        {kHomeNode}},
       NodeStart},
      {{"node info", "", "Show this node's identity.", "", {kHomeNode}}, NodeInfo},
      {{"dataset add", "NAME", "Register a local dataset; only its metadata goes to the catalog.",
        "Validates the whole file first (column counts, UTF-8, types); errors name file and line.",
        {kHomeNode, {"csv", "CSV file with a header row"}, {"sqlite", "SQLite database file"},
         {"table", "table in the SQLite database"}, {"description", "free text for the catalog"},
         {"replace", "replace an existing dataset of the same name", true}, kOutFlag},
        1, 1},
       DatasetAdd},
      {{"dataset list", "", "List the federation's catalog (or --local: this node's registry).", "",
        {kHomeNode, {"local", "list this node's datasets and sources", true}, kOutFlag}},
       DatasetList},
      {{"job submit", "SPEC.json", "Submit a job spec; prints the job id (SHA-256 of the canonical spec).",
        "A random \"nonce\" is added unless the spec has one, so re-running a spec makes a new job.",
        {kHomeNode, {"no-nonce", "submit the spec exactly as written", true}, kOutFlag}, 1, 1},
       JobSubmit},
      {{"job list", "", "List jobs.", "", {kHomeNode, {"state", "only jobs in this state"}, kOutFlag}}, JobList},
      {{"job show", "ID", "Show a job (ID may be a unique prefix).", "", {kHomeNode, kOutFlag}, 1, 1}, JobShow},
      {{"job wait", "ID", "Wait for a job to finish, showing progress; exit 0 only if it succeeded.", "",
        {kHomeNode, {"timeout", "seconds (default 3600)"}, kOutFlag}, 1, 1},
       JobWait},
      {{"job approve", "ID", "Sign and approve a job for this node after checking it.", "",
        {kHomeNode, kOutFlag}, 1, 1},
       JobApprove},
      {{"job reject", "ID", "Sign and reject a job for this node.", "",
        {kHomeNode, {"reason", "why (required; recorded in the audit log)"}, kOutFlag}, 1, 1},
       JobReject},
      {{"job cancel", "ID", "Cancel a job this node is a party of.", "",
        {kHomeNode, {"reason", "why"}, kOutFlag}, 1, 1},
       JobCancel},
      {{"job retry", "ID", "Retry a failed job (same id and signatures; resumes from checkpoints).",
        "Every party must have finished the failed attempt. Operators that checkpoint (e.g. "
        "bucketed psi.ecdh) continue from their last finished step.",
        {kHomeNode, kOutFlag}, 1, 1},
       JobRetry},
      {{"model list", "", "List models: the catalog's metadata, or --local for this node's parts.", "",
        {kHomeNode, {"local", "only the models stored on this node", true}, kOutFlag}},
       ModelList},
      {{"job result", "ID", "Show this node's result of a job (results never leave the receiving node).", "",
        {kHomeNode}, 1, 1},
       JobResult},
      {{"policy add", "", "Add a standing approval rule (kept on this node only).",
        "A job is signed automatically when it uses --dataset, every other party is in --partners "
        "(or *), its operator is in --operators, every column it reads is in --columns, every "
        "partner output is in --partner-outputs (if given), and the rule has not expired. "
        "A rule with --role instead of --dataset/--columns signs jobs in which this node takes "
        "part without data in that role (e.g. --role dealer for two-party MPC).",
        {kHomeNode, {"dataset", "dataset name"}, {"role", "dataless role, e.g. dealer"},
         {"partners", "comma list of parties, or *"},
         {"operators", "comma list, e.g. psi.ecdh"}, {"columns", "comma list of allowed columns"},
         {"partner-outputs", "comma list of outputs partners may get (e.g. size)"},
         {"expires", "YYYY-MM-DD or RFC 3339 time"}, kOutFlag}},
       PolicyAdd},
      {{"policy list", "", "List standing approval rules.", "", {kHomeNode, kOutFlag}}, PolicyList},
      {{"policy remove", "ID", "Remove a standing approval rule.", "", {kHomeNode}, 1, 1}, PolicyRemove},
      {{"audit verify", "", "Re-verify this node's replica of the audit log; exit 1 if tampered.",
        "Checks every author signature, the hash chain, and agreement with the coordinator's "
        "signed head; names the first bad entry.",
        {kHomeNode, {"offline", "do not fetch new entries first", true}, kOutFlag}},
       AuditVerify},
      {{"audit show", "", "Show audit log entries.", "",
        {kHomeNode, {"from", "first seq (default 0)"}, {"limit", "entries (default 100)"}, kOutFlag}},
       AuditShow},
      {{"operators list", "", "List operators with their security model and what they leak.", "", {kOutFlag}},
       OperatorsList},
  };
}

void PrintUsage() {
  std::cout << "consort - joint computation across organizations; raw rows never leave their owner.\n\n"
               "usage: consort <command> [flags]   (consort <command> --help for details)\n\ncommands:\n";
  for (const auto& c : Commands()) {
    std::cout << "  " << std::left << std::setw(20) << c.spec.path << c.spec.summary << "\n";
  }
  std::cout << "  " << std::left << std::setw(20) << "demo"
            << "Run a coordinator and three nodes on loopback and show PSI jobs end to end.\n";
}

}  // namespace

std::string SelfExecutable() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? "consort" : p.string();
}

int RunCli(const std::vector<std::string>& args) {
  // A peer closing a TLS connection must surface as an error, never kill the process.
  signal(SIGPIPE, SIG_IGN);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    PrintUsage();
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version") {
    std::cout << "consort 0.1.0" << std::endl;
    return 0;
  }
  if (args[0] == "demo") return RunDemo({args.begin() + 1, args.end()});
  for (const auto& c : Commands()) {
    std::vector<std::string> words = SplitList(std::string());
    std::istringstream ss(c.spec.path);
    for (std::string w; ss >> w;) words.push_back(w);
    if (args.size() < words.size() || !std::equal(words.begin(), words.end(), args.begin())) continue;
    std::vector<std::string> rest(args.begin() + words.size(), args.end());
    if (std::find(rest.begin(), rest.end(), "--help") != rest.end() ||
        std::find(rest.begin(), rest.end(), "-h") != rest.end()) {
      std::cout << HelpText(c.spec);
      return 0;
    }
    auto parsed = Args::Parse(c.spec, rest);
    if (!parsed.ok()) {
      std::cerr << "error: " << parsed.status().message() << std::endl;
      return 2;
    }
    Status st;
    try {
      st = c.run(*parsed);
    } catch (const std::invalid_argument&) {
      st = absl::InvalidArgumentError("a numeric flag or argument is not a number (see --help)");
    } catch (const std::out_of_range&) {
      st = absl::InvalidArgumentError("a numeric flag or argument is out of range (see --help)");
    }
    if (!st.ok()) {
      std::cerr << "error (" << absl::StatusCodeToString(st.code()) << "): " << st.message() << std::endl;
      return 1;
    }
    return 0;
  }
  // A known group without a sub-command: show the group's commands.
  bool group = false;
  for (const auto& c : Commands()) {
    if (c.spec.path.rfind(args[0] + " ", 0) == 0) {
      if (!group) std::cout << "consort " << args[0] << " commands:\n";
      group = true;
      std::cout << "  " << std::left << std::setw(20) << c.spec.path << c.spec.summary << "\n";
    }
  }
  if (group) return args.size() > 1 && (args[1] == "--help" || args[1] == "-h") ? 0 : 2;
  std::cerr << "error: unknown command '" << args[0] << "' (consort --help lists them)" << std::endl;
  return 2;
}

}  // namespace consort::cli
