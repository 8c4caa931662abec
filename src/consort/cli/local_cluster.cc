#include "consort/cli/local_cluster.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "consort/api/https_client.h"
#include "consort/common/files.h"
#include "consort/common/time.h"

extern char** environ;

namespace consort::cli {
namespace {

std::vector<char*> Argv(const std::vector<std::string>& args) {
  std::vector<char*> v;
  for (const auto& a : args) v.push_back(const_cast<char*>(a.c_str()));
  v.push_back(nullptr);
  return v;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

}  // namespace

StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Spawn(const std::vector<std::string>& argv,
                                                            const std::string& log_path) {
  auto args = Argv(argv);
  int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return absl::InternalError("cannot open " + log_path);
  pid_t parent = getpid();
  auto child = std::unique_ptr<ChildProcess>(new ChildProcess());
  child->pid_ = fork();
  if (child->pid_ < 0) {
    close(log_fd);
    return absl::InternalError("fork failed");
  }
  if (child->pid_ == 0) {
    // In the child: die with the parent (a crashed test or demo leaves no orphans behind).
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    dup2(log_fd, 1);
    dup2(log_fd, 2);
    execv(args[0], args.data());
    _exit(127);
  }
  close(log_fd);
  return child;
}

ChildProcess::~ChildProcess() {
  if (Running()) Stop(SIGKILL, 5);
}

bool ChildProcess::Running() {
  if (reaped_ || pid_ <= 0) return false;
  pid_t r = waitpid(pid_, &status_, WNOHANG);
  if (r == pid_) reaped_ = true;
  return !reaped_;
}

int ChildProcess::Stop(int signal, double timeout_s) {
  if (Running()) {
    kill(pid_, signal);
    double end = MonotonicSeconds() + timeout_s;
    while (Running() && MonotonicSeconds() < end) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (Running()) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status_, 0);
      reaped_ = true;
    }
  }
  if (WIFEXITED(status_)) return WEXITSTATUS(status_);
  if (WIFSIGNALED(status_)) return -WTERMSIG(status_);
  return -1;
}

CommandResult RunCommand(const std::vector<std::string>& argv, double timeout_s) {
  CommandResult result;
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) return result;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  pid_t pid;
  auto args = Argv(argv);
  double start = MonotonicSeconds();
  int rc = posix_spawn(&pid, argv[0].c_str(), &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (rc != 0) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    result.err = "cannot start " + argv[0];
    return result;
  }
  struct pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  char buf[65536];
  bool killed = false;
  while (open_fds > 0) {
    int remaining = static_cast<int>((start + timeout_s - MonotonicSeconds()) * 1000);
    if (remaining <= 0 && !killed) {
      kill(pid, SIGKILL);
      killed = true;
    }
    if (poll(fds, 2, killed ? 1000 : std::max(remaining, 1)) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      } else {
        (i == 0 ? result.out : result.err).append(buf, static_cast<size_t>(n));
      }
    }
  }
  int status = 0;
  waitpid(pid, &status, 0);
  result.seconds = MonotonicSeconds() - start;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (killed) result.err += "\n[killed after " + std::to_string(timeout_s) + " s]";
  return result;
}

StatusOr<int> PickFreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError("socket failed");
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    return absl::InternalError("cannot bind a free port");
  }
  int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

StatusOr<std::unique_ptr<LocalCluster>> LocalCluster::Create(const Options& options) {
  std::unique_ptr<LocalCluster> c(new LocalCluster(options));
  CONSORT_RETURN_IF_ERROR(MakeDirs(options.dir, 0700));
  CONSORT_ASSIGN_OR_RETURN(int grpc_port, PickFreePort());
  CONSORT_ASSIGN_OR_RETURN(int api_port, PickFreePort());
  c->grpc_address_ = "127.0.0.1:" + std::to_string(grpc_port);
  c->api_address_ = "127.0.0.1:" + std::to_string(api_port);
  Json config = {{"grpc_listen", c->grpc_address_},
                 {"api_listen", c->api_address_},
                 {"party_silence_timeout_ms", options.party_silence_timeout_s * 1000}};
  std::string config_path = JoinPath(options.dir, "coordinator.config.json");
  CONSORT_RETURN_IF_ERROR(WriteFileAtomic(config_path, config.dump(2)));
  CommandResult init = c->Consort({"coordinator", "init", "--home", c->coordinator_home(), "--config", config_path});
  if (!init.ok()) return absl::InternalError("coordinator init failed: " + init.err);
  CONSORT_ASSIGN_OR_RETURN(std::string token, ReadFile(JoinPath(c->coordinator_home(), "admin.token")));
  c->admin_token_ = Trim(token);
  CONSORT_RETURN_IF_ERROR(c->StartCoordinator());
  return c;
}

LocalCluster::~LocalCluster() {
  for (auto& [_, n] : nodes_) {
    if (n) n->Stop(SIGTERM, 10);
  }
  if (coordinator_) coordinator_->Stop(SIGTERM, 10);
}

std::string LocalCluster::coordinator_home() const { return JoinPath(options_.dir, "coordinator"); }
std::string LocalCluster::node_home(const std::string& name) const { return JoinPath(options_.dir, name); }
std::string LocalCluster::log_path(const std::string& process) const {
  return JoinPath(options_.dir, process + ".log");
}
pid_t LocalCluster::node_pid(const std::string& name) const {
  auto it = nodes_.find(name);
  return it == nodes_.end() || !it->second ? -1 : it->second->pid();
}

Status LocalCluster::StartCoordinator() {
  std::string endpoints = JoinPath(coordinator_home(), "endpoints.json");
  std::filesystem::remove(endpoints);
  CONSORT_ASSIGN_OR_RETURN(coordinator_, ChildProcess::Spawn({options_.binary, "coordinator", "start",
                                                              "--home", coordinator_home()},
                                                             log_path("coordinator")));
  double end = MonotonicSeconds() + 20;
  while (MonotonicSeconds() < end) {
    if (!coordinator_->Running()) {
      return absl::InternalError("coordinator exited at start; see " + log_path("coordinator"));
    }
    auto text = ReadFile(endpoints);
    if (text.ok()) {
      auto j = ParseJson(*text, "endpoints.json");
      if (j.ok()) {
        fingerprint_ = j->value("tls_fingerprint", "");
        auto info = Api("GET", "/v1/health");
        if (info.ok()) return OkStatus();
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return absl::DeadlineExceededError("coordinator did not come up within 20 s");
}

StatusOr<int> LocalCluster::StopCoordinator(int signal) {
  if (!coordinator_) return absl::NotFoundError("the coordinator is not running");
  int code = coordinator_->Stop(signal, 10);
  coordinator_.reset();
  return code;
}

Status LocalCluster::AddNode(const std::string& name, const std::vector<std::string>& init_args) {
  CONSORT_ASSIGN_OR_RETURN(Json invite, Api("POST", "/v1/invites", {{"name", name}}));
  std::vector<std::string> args = {"node", "init", "--name", name, "--invite", invite["token"],
                                   "--home", node_home(name)};
  args.insert(args.end(), init_args.begin(), init_args.end());
  CommandResult init = Consort(args);
  if (!init.ok()) return absl::InternalError("node init " + name + " failed: " + init.err);
  return StartNode(name);
}

Status LocalCluster::StartNode(const std::string& name) {
  // Clear the address so readiness means "this process announced itself".
  CONSORT_ASSIGN_OR_RETURN(auto child, ChildProcess::Spawn({options_.binary, "node", "start", "--home",
                                                            node_home(name)},
                                                           log_path(name)));
  nodes_[name] = std::move(child);
  return WaitForNodeAddress(name, 20);
}

Status LocalCluster::WaitForNodeAddress(const std::string& name, double timeout_s) {
  double end = MonotonicSeconds() + timeout_s;
  std::string log = log_path(name);
  while (MonotonicSeconds() < end) {
    if (!nodes_[name]->Running()) return absl::InternalError("node " + name + " exited; see " + log);
    auto text = ReadFile(log);
    // The daemon logs "node NAME ready" after announcing its address and syncing the audit log;
    // count occurrences so that a restart waits for its own line.
    if (text.ok()) {
      size_t count = 0;
      for (size_t pos = 0; (pos = text->find("node " + name + " ready", pos)) != std::string::npos; ++pos) ++count;
      size_t starts = 0;
      for (size_t pos = 0; (pos = text->find("peer links on", pos)) != std::string::npos; ++pos) ++starts;
      if (count > 0 && count == starts) return OkStatus();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return absl::DeadlineExceededError("node " + name + " not ready within " + std::to_string(timeout_s) + " s");
}

StatusOr<int> LocalCluster::StopNode(const std::string& name, int signal) {
  auto it = nodes_.find(name);
  if (it == nodes_.end() || !it->second) return absl::NotFoundError("no running node " + name);
  int code = it->second->Stop(signal, 10);
  it->second.reset();
  return code;
}

CommandResult LocalCluster::Consort(const std::vector<std::string>& args, double timeout_s) {
  std::vector<std::string> argv = {options_.binary};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, timeout_s);
}

CommandResult LocalCluster::OnNode(const std::string& node, std::vector<std::string> args, double timeout_s) {
  args.push_back("--home");
  args.push_back(node_home(node));
  return Consort(args, timeout_s);
}

StatusOr<Json> LocalCluster::Api(const std::string& method, const std::string& path, const Json& body) {
  api::HttpsClient client(api_address_, fingerprint_, admin_token_);
  client.set_timeouts(std::chrono::seconds(2), std::chrono::seconds(30));
  if (method == "GET") return client.Get(path);
  return client.Post(path, body.is_null() ? Json::object() : body);
}

}  // namespace consort::cli
