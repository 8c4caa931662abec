#pragma once
// Client side of the control plane: a node (or the CLI acting with a node's identity) calling
// coordinator methods over a pinned mutual-TLS gRPC channel.
//
// Thread-safe; one instance per process is enough (the channel multiplexes calls).

#include <chrono>
#include <memory>
#include <string>

#include "consort/common/json.h"
#include "consort/common/status.h"
#include "consort/net/tls.h"

namespace consort::net {

class ControlClient {
 public:
  // InvalidArgument if the identity or fingerprint is malformed. The connection is lazy.
  static StatusOr<std::unique_ptr<ControlClient>> Create(const std::string& address,
                                                         const TlsConfig& me,
                                                         const std::string& coordinator_fingerprint);
  ~ControlClient();

  // Calls `method` with `body`. Errors: the coordinator's status (same code and message),
  // Unavailable when it cannot be reached (or refuses our certificate), DeadlineExceeded.
  StatusOr<Json> Call(const std::string& method, const Json& body,
                      std::chrono::milliseconds timeout = std::chrono::seconds(30));

  const std::string& address() const { return address_; }

 private:
  ControlClient() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string address_;
};

}  // namespace consort::net
