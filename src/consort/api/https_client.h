#pragma once
// A small HTTPS client for the coordinator's REST API (used by the CLI), with certificate
// pinning: the server is accepted only if its leaf certificate's SHA-256 (over the DER, as
// crypto::CertificateFingerprint computes it) equals the pinned fingerprint. The check runs in
// the TLS handshake (OpenSSL verify callback, constant-time compare); CAs, host names and
// validity dates play no part, exactly as for node-to-coordinator mutual TLS.
//
// Errors: the server's error JSON becomes a Status with the same code and message
// (api/http_status.h); cannot connect -> Unavailable naming the address; certificate mismatch ->
// Unauthenticated; read timeout -> DeadlineExceeded; response over 64 MiB -> ResourceExhausted;
// malformed address or fingerprint -> InvalidArgument.

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "consort/common/json.h"
#include "consort/common/status.h"

namespace httplib {
class SSLClient;
}

namespace consort::api {

class HttpsClient {
 public:
  // `base_url_or_host_port`: "https://host:port[/prefix]" or "host:port" ("[v6]:port" too).
  // `expected_server_fingerprint`: 64 hex characters (case and ':' separators are ignored).
  // `bearer_token`, if not empty, is sent as `Authorization: Bearer <token>` on every request.
  // A malformed address or fingerprint is reported by every request (InvalidArgument).
  HttpsClient(std::string base_url_or_host_port, std::string expected_server_fingerprint,
              std::string bearer_token = "");
  ~HttpsClient();
  HttpsClient(const HttpsClient&) = delete;
  HttpsClient& operator=(const HttpsClient&) = delete;

  // Defaults: connect 5 s, read 60 s.
  void set_timeouts(std::chrono::milliseconds connect, std::chrono::milliseconds read);

  // `path` starts with '/' and may carry a query string ("/v1/jobs?state=running").
  // Thread-safe: requests are serialized, one connection each.
  StatusOr<Json> Get(const std::string& path);
  StatusOr<Json> Post(const std::string& path, const Json& body);

  // "host:port" as parsed from the constructor argument.
  std::string address() const;

  struct PinState;  // shared with the OpenSSL verify callback (https_client.cc)

 private:
  StatusOr<Json> Send(const std::string& method, const std::string& path, const Json* body);

  Status init_status_;
  std::string host_;
  int port_ = 0;
  std::string prefix_;  // path prefix from the base URL, without trailing '/'
  std::string token_;
  std::chrono::milliseconds connect_timeout_{5000};
  std::chrono::milliseconds read_timeout_{60000};

  std::mutex mu_;
  std::unique_ptr<PinState> pin_;
  std::unique_ptr<httplib::SSLClient> client_;
};

}  // namespace consort::api
