#pragma once
// A federation on one host, as real processes: a coordinator and any number of nodes, each a
// `consort` process with its own home directory under one working directory, on loopback.
// Used by `consort demo` and by the integration tests (tests/integration/), which also use it
// to inject faults: kill a node mid-protocol, restart the coordinator, tamper with state.
//
// The coordinator gets fixed free ports (picked at Create) so it can be restarted on the same
// addresses; nodes' peer links bind port 0. Not thread-safe.

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "consort/common/json.h"
#include "consort/common/status.h"

namespace consort::cli {

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
  double seconds = 0;
  bool ok() const { return exit_code == 0; }
};

// A child process whose stdout and stderr go to `log_path` (appended).
class ChildProcess {
 public:
  static StatusOr<std::unique_ptr<ChildProcess>> Spawn(const std::vector<std::string>& argv,
                                                       const std::string& log_path);
  ~ChildProcess();  // SIGKILL if still running
  pid_t pid() const { return pid_; }
  bool Running();
  // Sends `signal`, then waits up to `timeout_s`; SIGKILL if it is still alive then.
  // Returns the exit status (or -signal).
  int Stop(int signal, double timeout_s);

 private:
  pid_t pid_ = -1;
  int status_ = 0;
  bool reaped_ = false;
};

// Runs `argv` to completion, capturing stdout and stderr. `timeout_s` kills it if exceeded.
CommandResult RunCommand(const std::vector<std::string>& argv, double timeout_s = 120);

// A free TCP port on 127.0.0.1 (bound to port 0, read back, closed).
StatusOr<int> PickFreePort();

class LocalCluster {
 public:
  struct Options {
    std::string binary;  // the consort executable
    std::string dir;     // working directory (created; holds every home and log)
    // Seconds of silence after which the coordinator fails a running job.
    int party_silence_timeout_s = 60;
  };

  // Initializes and starts the coordinator; returns once it serves requests.
  static StatusOr<std::unique_ptr<LocalCluster>> Create(const Options& options);
  ~LocalCluster();  // stops every process (SIGTERM, then SIGKILL)

  // Invites, initializes (`consort node init ... init_args`) and starts node `name`; returns
  // once it has announced its address.
  Status AddNode(const std::string& name, const std::vector<std::string>& init_args = {});
  // Starts a node whose home already exists (after KillNode).
  Status StartNode(const std::string& name);
  // Sends `signal` to a node process (SIGKILL for a crash, SIGTERM for a clean stop), waits
  // for it (SIGKILL after 10 s) and returns its exit code (or -signal if it was killed).
  StatusOr<int> StopNode(const std::string& name, int signal);
  StatusOr<int> StopCoordinator(int signal);
  Status StartCoordinator();

  // `consort ARGS...`
  CommandResult Consort(const std::vector<std::string>& args, double timeout_s = 120);
  // `consort ARGS... --home <node home>`
  CommandResult OnNode(const std::string& node, std::vector<std::string> args, double timeout_s = 120);

  // A REST call as admin (bearer token). `method` is GET or POST.
  StatusOr<Json> Api(const std::string& method, const std::string& path, const Json& body = Json());

  std::string dir() const { return options_.dir; }
  std::string coordinator_home() const;
  std::string node_home(const std::string& name) const;
  std::string log_path(const std::string& process) const;  // "coordinator" or a node name
  const std::string& api_address() const { return api_address_; }
  const std::string& grpc_address() const { return grpc_address_; }
  const std::string& api_fingerprint() const { return fingerprint_; }
  const std::string& admin_token() const { return admin_token_; }
  pid_t node_pid(const std::string& name) const;

 private:
  explicit LocalCluster(Options o) : options_(std::move(o)) {}
  Status WaitForNodeAddress(const std::string& name, double timeout_s);

  Options options_;
  std::string grpc_address_, api_address_, fingerprint_, admin_token_;
  std::unique_ptr<ChildProcess> coordinator_;
  std::map<std::string, std::unique_ptr<ChildProcess>> nodes_;
};

}  // namespace consort::cli
