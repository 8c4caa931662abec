#pragma once
// The coordinator's REST API over HTTPS (cpp-httplib + OpenSSL).
//
// Routes are exactly RouteTable() (api/routes.h, mirroring coordinator/methods.md). A request is
// authenticated with `Authorization: Bearer <token>` through AuthFn (401 UNAUTHENTICATED when
// missing or wrong), its path/query parameters and JSON body become one JSON object, and the
// coordinator method runs through DispatchFn. Errors are JSON ({"error": {code, message,
// http_status}}, api/http_status.h): malformed JSON -> 400 naming line and column, unknown route
// -> 404, wrong method -> 405, body over 4 MiB -> 413. Request bodies and tokens are never
// logged. The server's certificate is the coordinator's self-signed TLS identity; clients pin
// its fingerprint (api/https_client.h).

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "consort/common/json.h"
#include "consort/common/status.h"
#include "consort/coordinator/coordinator.h"
#include "consort/crypto/tls_identity.h"

namespace httplib {
class SSLServer;
struct Request;
struct Response;
}  // namespace httplib

namespace consort::api {

// Runs one coordinator method; must be thread-safe (requests are served concurrently).
using DispatchFn = std::function<StatusOr<Json>(const coordinator::Caller&,
                                                const std::string& method, const Json& body)>;
// Maps a bearer token to a caller; Unauthenticated if unknown. Must be thread-safe.
using AuthFn = std::function<StatusOr<coordinator::Caller>(const std::string& bearer_token)>;

struct RestServerOptions {
  std::string listen = "127.0.0.1:7443";  // "host:port", "[v6]:port"; port 0 picks a free port
  crypto::TlsIdentity tls;                // PEM certificate and private key served to clients
  size_t max_body_bytes = 4 << 20;        // larger request bodies get 413
  int read_timeout_seconds = 30;          // per request, while reading it
};

// Not copyable. Start() once; Stop() (or the destructor) stops and joins the server thread.
// The dispatch and auth functions (and the Coordinator of the second constructor) must outlive
// the server.
class RestServer {
 public:
  RestServer(RestServerOptions options, DispatchFn dispatch, AuthFn auth);
  // Serves `coordinator` with its own TLS identity, and tells it the bound API address.
  RestServer(coordinator::Coordinator& coordinator, std::string listen);
  ~RestServer();
  RestServer(const RestServer&) = delete;
  RestServer& operator=(const RestServer&) = delete;

  // Loads the TLS identity, binds and starts serving on a thread of its own.
  // InvalidArgument for an unusable address or TLS identity; Unavailable if the address cannot be
  // bound; FailedPrecondition if already started.
  Status Start();
  // Stops accepting, finishes in-flight requests and joins. Idempotent.
  void Stop();

  // The bound port (valid after a successful Start()); "host:port" as bound.
  int port() const { return port_; }
  std::string address() const;

 private:
  void Handle(const httplib::Request& req, httplib::Response& res);
  void HandleRoute(const httplib::Request& req, httplib::Response& res);

  RestServerOptions options_;
  DispatchFn dispatch_;
  AuthFn auth_;
  std::function<void(const std::string&)> on_bound_;  // told the bound "host:port"
  std::string openapi_json_;
  std::string host_;
  std::unique_ptr<httplib::SSLServer> server_;
  std::thread thread_;
  std::atomic<bool> thread_done_{false};
  int port_ = 0;
};

}  // namespace consort::api
