#include "consort/api/rest_server.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <httplib.h>

#include <sys/socket.h>

#include <chrono>
#include <cstdlib>

#include "consort/api/http_status.h"
#include "consort/api/openapi.h"
#include "consort/api/routes.h"
#include "consort/common/logging.h"

namespace consort::api {
namespace {

using httplib::Request;
using httplib::Response;
using HandlerResponse = httplib::Server::HandlerResponse;

constexpr size_t kMaxPathBytes = 2048;
constexpr size_t kMaxTokenBytes = 4096;

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};

// Never prompts for a passphrase: an encrypted key is simply rejected.
int NoPassword(char*, int, int, void*) { return 0; }

StatusOr<std::unique_ptr<X509, X509Free>> LoadCertificate(const std::string& pem) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return absl::InternalError("BIO_new_mem_buf failed");
  std::unique_ptr<X509, X509Free> cert(PEM_read_bio_X509(bio.get(), nullptr, NoPassword, nullptr));
  if (!cert) return absl::InvalidArgumentError("TLS certificate is not a parseable PEM certificate");
  return cert;
}

StatusOr<std::unique_ptr<EVP_PKEY, PkeyFree>> LoadPrivateKey(const std::string& pem) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return absl::InternalError("BIO_new_mem_buf failed");
  std::unique_ptr<EVP_PKEY, PkeyFree> key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassword, nullptr));
  if (!key) return absl::InvalidArgumentError("TLS private key is not a parseable PEM key");
  return key;
}

// "host:port" or "[v6]:port" -> host (without brackets) and port (0..65535).
Status ParseListen(const std::string& listen, std::string* host, int* port) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size()) {
    return absl::InvalidArgumentError("listen address '" + listen + "' must be host:port");
  }
  std::string h = listen.substr(0, colon);
  if (h.front() == '[') {
    if (h.size() < 3 || h.back() != ']') {
      return absl::InvalidArgumentError("listen address '" + listen + "': malformed [IPv6] host");
    }
    h = h.substr(1, h.size() - 2);
  } else if (h.find(':') != std::string::npos) {
    return absl::InvalidArgumentError("listen address '" + listen +
                                      "': write IPv6 hosts in brackets, [::1]:port");
  }
  std::string p = listen.substr(colon + 1);
  if (p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos ||
      std::atoi(p.c_str()) > 65535) {
    return absl::InvalidArgumentError("listen address '" + listen + "': bad port '" + p + "'");
  }
  *host = h;
  *port = std::atoi(p.c_str());
  return OkStatus();
}

std::string Serialize(const Json& j) {
  // Error messages may echo caller input; never let a bad byte turn an error into a crash.
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

void SetJson(Response& res, int status, const std::string& body) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(body, "application/json");
}

void SetError(Response& res, const Status& st, int http_status) {
  if (http_status == 401) res.set_header("WWW-Authenticate", "Bearer realm=\"consort\"");
  SetJson(res, http_status, Serialize(ErrorJson(st, http_status)));
}
void SetError(Response& res, const Status& st) { SetError(res, st, HttpStatusFor(st.code())); }

std::string RawPath(const Request& req) {
  const std::string& target = req.target.empty() ? req.path : req.target;
  return target.substr(0, target.find('?'));
}

std::string RawQuery(const Request& req) {
  size_t q = req.target.find('?');
  return q == std::string::npos ? "" : req.target.substr(q + 1);
}

std::string Shorten(const std::string& s) { return s.size() <= 128 ? s : s.substr(0, 128) + "..."; }

// The token of an `Authorization: Bearer <token>` header. Unauthenticated if absent/malformed.
StatusOr<std::string> BearerToken(const Request& req) {
  size_t count = req.get_header_value_count("Authorization");
  if (count == 0) return absl::UnauthenticatedError("missing Authorization: Bearer token");
  if (count > 1) return absl::UnauthenticatedError("more than one Authorization header");
  std::string value = req.get_header_value("Authorization");
  constexpr std::string_view kScheme = "bearer ";
  if (value.size() <= kScheme.size() ||
      !std::equal(kScheme.begin(), kScheme.end(), value.begin(),
                  [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); })) {
    return absl::UnauthenticatedError("Authorization header must be 'Bearer <token>'");
  }
  std::string token = value.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.erase(token.begin());
  while (!token.empty() && token.back() == ' ') token.pop_back();
  if (token.empty() || token.size() > kMaxTokenBytes) {
    return absl::UnauthenticatedError("malformed bearer token");
  }
  return token;
}

}  // namespace

RestServer::RestServer(RestServerOptions options, DispatchFn dispatch, AuthFn auth)
    : options_(std::move(options)), dispatch_(std::move(dispatch)), auth_(std::move(auth)) {}

RestServer::~RestServer() {
  Stop();
  OPENSSL_cleanse(options_.tls.key_pem.data(), options_.tls.key_pem.size());
}

std::string RestServer::address() const {
  std::string h = host_.find(':') != std::string::npos ? "[" + host_ + "]" : host_;
  return h + ":" + std::to_string(port_);
}

Status RestServer::Start() {
  if (server_) return absl::FailedPreconditionError("REST server already started");
  int port = 0;
  CONSORT_RETURN_IF_ERROR(ParseListen(options_.listen, &host_, &port));
  CONSORT_ASSIGN_OR_RETURN(auto cert, LoadCertificate(options_.tls.cert_pem));
  CONSORT_ASSIGN_OR_RETURN(auto key, LoadPrivateKey(options_.tls.key_pem));
  // The key now lives in OpenSSL; our PEM copy is no longer needed.
  OPENSSL_cleanse(options_.tls.key_pem.data(), options_.tls.key_pem.size());
  options_.tls.key_pem.clear();

  auto server = std::make_unique<httplib::SSLServer>(cert.get(), key.get(), nullptr);
  if (!server->is_valid()) {
    return absl::InvalidArgumentError("TLS identity rejected by OpenSSL (certificate or key)");
  }
  SSL_CTX* ctx = server->ssl_context();
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return absl::InvalidArgumentError("TLS private key does not match the certificate");
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);

  openapi_json_ = BuildOpenApiDocument().dump(2);
  // httplib's default adds SO_REUSEPORT, which would let a second server (say, a second
  // coordinator started by mistake) share the port and receive half of the requests.
  server->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  server->set_payload_max_length(options_.max_body_bytes);
  server->set_read_timeout(options_.read_timeout_seconds, 0);

  // Route, method and credential-presence checks happen before the body is read.
  server->set_pre_routing_handler([](const Request& req, Response& res) {
    std::string path = RawPath(req);
    if (path.size() > kMaxPathBytes) {
      SetError(res, absl::NotFoundError("no route for this path (too long)"));
      return HandlerResponse::Handled;
    }
    RouteMatch m = MatchRoute(req.method, path);
    if (!m.path_known) {
      SetError(res, absl::NotFoundError("no route " + req.method + " " + Shorten(path) +
                                        " (see GET /openapi.json)"));
      return HandlerResponse::Handled;
    }
    if (m.route == nullptr) {
      std::string allow;
      for (const auto& a : m.allowed) allow += (allow.empty() ? "" : ", ") + a;
      res.set_header("Allow", allow);
      SetError(res,
               absl::InvalidArgumentError("method " + req.method + " is not allowed on " +
                                          Shorten(path) + " (allowed: " + allow + ")"),
               405);
      return HandlerResponse::Handled;
    }
    if (req.method == "POST" && req.get_header_value("Content-Type").rfind("multipart/", 0) == 0) {
      SetError(res, absl::InvalidArgumentError("request body must be JSON (Content-Type: "
                                               "application/json)"),
               415);
      return HandlerResponse::Handled;
    }
    if (m.route->auth == RouteAuth::kBearer) {
      auto token = BearerToken(req);
      if (!token.ok()) {
        SetError(res, token.status());
        return HandlerResponse::Handled;
      }
    }
    return HandlerResponse::Unhandled;
  });

  auto handler = [this](const Request& req, Response& res) {
    try {
      HandleRoute(req, res);
    } catch (...) {
      CONSORT_LOG(ERROR) << "REST " << req.method << ": unexpected exception";
      SetError(res, absl::InternalError("internal error while handling the request"));
    }
  };
  server->Get(".*", handler);
  server->Post(".*", handler);

  // Errors httplib produces itself (malformed request, 413, ...) get the same JSON shape.
  server->set_error_handler(httplib::Server::HandlerWithResponse([](const Request& req,
                                                                   Response& res) {
    if (!res.body.empty()) return HandlerResponse::Unhandled;
    std::string message;
    switch (res.status) {
      case 413:
        message = "request body is too large (limit 4 MiB";
        if (req.get_header_value("Content-Type").find("x-www-form-urlencoded") !=
            std::string::npos) {
          message += "; 8 KiB for form-urlencoded bodies: send Content-Type: application/json";
        }
        message += ")";
        break;
      case 414:
        message = "request URI is too long";
        break;
      default:
        message = "malformed HTTP request (" + std::to_string(res.status) + ")";
    }
    SetError(res, Status(res.status == 413 ? absl::StatusCode::kResourceExhausted
                                           : StatusCodeForHttp(res.status),
                         message),
             res.status);
    return HandlerResponse::Handled;
  }));
  server->set_exception_handler([](const Request&, Response& res, std::exception_ptr) {
    SetError(res, absl::InternalError("internal error while handling the request"));
  });

  if (port == 0) {
    port = server->bind_to_any_port(host_);
    if (port < 0) return absl::UnavailableError("cannot bind the REST API to " + options_.listen);
  } else if (!server->bind_to_port(host_, port)) {
    return absl::UnavailableError("cannot bind the REST API to " + options_.listen);
  }
  port_ = port;
  server_ = std::move(server);
  thread_done_ = false;
  thread_ = std::thread([this] {
    server_->listen_after_bind();
    thread_done_ = true;
  });
  // stop() is a no-op until the accept loop runs, so wait for it before returning.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!server_->is_running() && !thread_done_) {
    if (std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!server_->is_running()) {
    Stop();
    return absl::InternalError("REST API server thread did not start");
  }
  if (on_bound_) on_bound_(address());
  CONSORT_LOG(INFO) << "REST API listening on https://" << address();
  return OkStatus();
}

void RestServer::Stop() {
  if (!thread_.joinable()) return;
  // httplib's stop() acts only while the accept loop runs: wait until it does (or has ended).
  while (!thread_done_ && !server_->is_running()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!thread_done_) server_->stop();
  thread_.join();
}

void RestServer::HandleRoute(const Request& req, Response& res) {
  std::string path = RawPath(req);
  RouteMatch m = MatchRoute(req.method, path);
  if (m.route == nullptr) {  // the pre-routing handler already answered these
    SetError(res, absl::NotFoundError("no route " + req.method + " " + Shorten(path)));
    return;
  }
  const Route& route = *m.route;
  if (route.method.empty()) {
    if (route.path == "/v1/health") {
      SetJson(res, 200, R"({"status":"ok"})");
    } else {
      SetJson(res, 200, openapi_json_);
    }
    return;
  }

  coordinator::Caller caller = coordinator::Caller::Anonymous();
  if (route.auth != RouteAuth::kInviteInBody &&
      (route.auth == RouteAuth::kBearer || req.has_header("Authorization"))) {
    auto token = BearerToken(req);
    if (!token.ok()) return SetError(res, token.status());
    auto authenticated = auth_(*token);
    OPENSSL_cleanse(token->data(), token->size());
    if (!authenticated.ok()) {
      // Whatever the auth function says, never echo anything about the token.
      if (authenticated.status().code() == absl::StatusCode::kUnauthenticated) {
        return SetError(res, absl::UnauthenticatedError("invalid bearer token"));
      }
      CONSORT_LOG(WARNING) << "REST authentication failed: "
                           << StatusCodeName(authenticated.status().code());
      return SetError(res, absl::Status(authenticated.status().code(),
                                        "cannot check the bearer token right now"));
    }
    caller = *std::move(authenticated);
  }

  Json body = Json::object();
  if (req.method == "POST") {
    bool blank = req.body.find_first_not_of(" \t\r\n") == std::string::npos;
    if (!blank) {
      auto parsed = ParseJson(req.body, "request body");
      if (!parsed.ok()) return SetError(res, parsed.status());
      body = *std::move(parsed);
      if (!body.is_object()) {
        return SetError(res, absl::InvalidArgumentError("request body must be a JSON object"));
      }
    }
  }
  auto query = ParseQueryString(RawQuery(req));
  if (!query.ok()) return SetError(res, query.status());
  Status bound = BindParams(route, m.path_params, *query, body);
  if (!bound.ok()) return SetError(res, bound);

  StatusOr<Json> result = dispatch_(caller, route.method, body);
  if (!result.ok()) {
    if (HttpStatusFor(result.status().code()) >= 500) {
      CONSORT_LOG(WARNING) << "REST " << route.http_method << " " << route.path << ": "
                           << StatusCodeName(result.status().code());
    }
    return SetError(res, result.status());
  }
  std::string out;
  try {
    out = result->dump(-1, ' ', false, Json::error_handler_t::strict);
  } catch (const Json::exception&) {
    return SetError(res, absl::InternalError("response is not valid UTF-8 JSON"));
  }
  CONSORT_LOG(DEBUG) << "REST " << route.http_method << " " << route.path << " -> 200";
  SetJson(res, 200, out);
}

}  // namespace consort::api
