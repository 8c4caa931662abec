#pragma once
// Serves the coordinator's methods to nodes over gRPC with pinned mutual TLS: only
// certificates of registered nodes complete the handshake, and each call runs as the node
// that certificate belongs to.

#include <memory>
#include <string>

#include "consort/common/status.h"
#include "consort/coordinator/coordinator.h"

namespace grpc {
class Server;
}

namespace consort::coordinator {

class ControlServer {
 public:
  // Binds `address` ("127.0.0.1:0" picks a free port). The coordinator must outlive the server.
  static StatusOr<std::unique_ptr<ControlServer>> Start(Coordinator& coordinator,
                                                        const std::string& address);
  ~ControlServer();
  int port() const { return port_; }
  void Shutdown();

 private:
  ControlServer() = default;
  class Service;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace consort::coordinator
