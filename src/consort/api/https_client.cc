#include "consort/api/https_client.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <httplib.h>

#include <array>
#include <cctype>

#include "consort/api/http_status.h"
#include "consort/common/bytes.h"

namespace consort::api {

constexpr size_t kMaxResponseBytes = 64u << 20;

struct HttpsClient::PinState {
  std::array<uint8_t, 32> expected{};
  // Written by the verify callback during a handshake. Requests are serialized by mu_ and the
  // handshake runs on the requesting thread, so plain fields suffice.
  bool matched = false;
  bool mismatched = false;
  std::string presented;  // hex fingerprint of a rejected certificate
};

namespace {

int PinIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// Accepts exactly the pinned leaf certificate, whatever OpenSSL's chain verification says
// (the certificate is self-signed and no CA is involved).
int VerifyPinned(int /*preverify_ok*/, X509_STORE_CTX* store) {
  SSL* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  if (ssl == nullptr) return 0;
  auto* pin = static_cast<HttpsClient::PinState*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), PinIndex()));
  X509* leaf = X509_STORE_CTX_get0_cert(store);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (pin == nullptr || leaf == nullptr || X509_digest(leaf, EVP_sha256(), md, &len) != 1 ||
      len != pin->expected.size()) {
    if (pin != nullptr) pin->mismatched = true;
    X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
    return 0;
  }
  if (CRYPTO_memcmp(md, pin->expected.data(), pin->expected.size()) != 0) {
    pin->mismatched = true;
    pin->presented = HexEncode(ByteSpan(md, len));
    X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
    return 0;
  }
  pin->matched = true;
  return 1;
}

Status ParseBase(const std::string& base, std::string* host, int* port, std::string* prefix) {
  std::string rest = base;
  if (rest.rfind("https://", 0) == 0) {
    rest = rest.substr(8);
  } else if (rest.find("://") != std::string::npos) {
    return absl::InvalidArgumentError("'" + base + "': only https:// URLs are supported");
  }
  size_t slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  *prefix = slash == std::string::npos ? "" : rest.substr(slash);
  while (!prefix->empty() && prefix->back() == '/') prefix->pop_back();
  if (hostport.empty()) return absl::InvalidArgumentError("'" + base + "': missing host");
  std::string port_text;
  if (hostport.front() == '[') {
    size_t close = hostport.find(']');
    if (close == std::string::npos) {
      return absl::InvalidArgumentError("'" + base + "': malformed [IPv6] host");
    }
    *host = hostport.substr(1, close - 1);
    if (close + 1 < hostport.size()) {
      if (hostport[close + 1] != ':') return absl::InvalidArgumentError("'" + base + "': bad port");
      port_text = hostport.substr(close + 2);
    }
  } else {
    size_t colon = hostport.rfind(':');
    if (colon != std::string::npos && hostport.find(':') != colon) {
      return absl::InvalidArgumentError("'" + base + "': write IPv6 hosts in brackets");
    }
    *host = hostport.substr(0, colon);
    if (colon != std::string::npos) port_text = hostport.substr(colon + 1);
  }
  if (host->empty()) return absl::InvalidArgumentError("'" + base + "': missing host");
  if (port_text.empty() && hostport.back() == ':') {
    return absl::InvalidArgumentError("'" + base + "': missing port");
  }
  *port = 443;
  if (!port_text.empty()) {
    if (port_text.size() > 5 || port_text.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(port_text) == 0 || std::stoi(port_text) > 65535) {
      return absl::InvalidArgumentError("'" + base + "': bad port '" + port_text + "'");
    }
    *port = std::stoi(port_text);
  }
  return OkStatus();
}

StatusOr<std::array<uint8_t, 32>> ParseFingerprint(const std::string& text) {
  std::string hex;
  for (char c : text) {
    if (c != ':') hex.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  auto bytes = HexDecode(hex);
  if (!bytes.ok() || bytes->size() != 32) {
    return absl::InvalidArgumentError(
        "pinned server fingerprint must be 64 hex characters (SHA-256 of the certificate)");
  }
  std::array<uint8_t, 32> out;
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return out;
}

}  // namespace

HttpsClient::HttpsClient(std::string base_url_or_host_port,
                         std::string expected_server_fingerprint, std::string bearer_token)
    : token_(std::move(bearer_token)), pin_(std::make_unique<PinState>()) {
  init_status_ = ParseBase(base_url_or_host_port, &host_, &port_, &prefix_);
  if (!init_status_.ok()) return;
  auto fp = ParseFingerprint(expected_server_fingerprint);
  if (!fp.ok()) {
    init_status_ = fp.status();
    return;
  }
  pin_->expected = *fp;

  client_ = std::make_unique<httplib::SSLClient>(host_, port_);
  if (!client_->is_valid() || PinIndex() < 0) {
    init_status_ = absl::InternalError("cannot create a TLS client context");
    return;
  }
  // httplib's own verification (CA store + host name) would override the verify callback per
  // connection; pinning replaces it entirely.
  client_->enable_server_certificate_verification(false);
  SSL_CTX* ctx = client_->ssl_context();
  SSL_CTX_set_ex_data(ctx, PinIndex(), pin_.get());
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, VerifyPinned);
  // No session resumption: every connection presents (and has checked) the certificate.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  client_->set_keep_alive(false);
  client_->set_follow_location(false);
}

HttpsClient::~HttpsClient() { OPENSSL_cleanse(token_.data(), token_.size()); }

void HttpsClient::set_timeouts(std::chrono::milliseconds connect, std::chrono::milliseconds read) {
  std::lock_guard<std::mutex> lock(mu_);
  connect_timeout_ = connect;
  read_timeout_ = read;
}

std::string HttpsClient::address() const {
  return (host_.find(':') != std::string::npos ? "[" + host_ + "]" : host_) + ":" +
         std::to_string(port_);
}

StatusOr<Json> HttpsClient::Get(const std::string& path) { return Send("GET", path, nullptr); }

StatusOr<Json> HttpsClient::Post(const std::string& path, const Json& body) {
  return Send("POST", path, &body);
}

StatusOr<Json> HttpsClient::Send(const std::string& method, const std::string& path,
                                 const Json* body) {
  CONSORT_RETURN_IF_ERROR(init_status_);
  if (path.empty() || path.front() != '/') {
    return absl::InvalidArgumentError("request path '" + path + "' must start with '/'");
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto secs = [](std::chrono::milliseconds ms, auto set) {
    set(static_cast<time_t>(ms.count() / 1000), static_cast<time_t>((ms.count() % 1000) * 1000));
  };
  secs(connect_timeout_, [&](time_t s, time_t us) { client_->set_connection_timeout(s, us); });
  secs(read_timeout_, [&](time_t s, time_t us) {
    client_->set_read_timeout(s, us);
    client_->set_write_timeout(s, us);
  });

  httplib::Request req;
  req.method = method;
  req.path = prefix_ + path;
  req.headers.emplace("Accept", "application/json");
  if (!token_.empty()) req.headers.emplace("Authorization", "Bearer " + token_);
  if (body != nullptr) {
    try {
      req.body = body->dump(-1, ' ', false, Json::error_handler_t::strict);
    } catch (const Json::exception&) {
      return absl::InvalidArgumentError("request body is not valid UTF-8 JSON");
    }
    req.headers.emplace("Content-Type", "application/json");
  }
  std::string received;
  bool too_large = false;
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    if (received.size() + n > kMaxResponseBytes) {
      too_large = true;
      return false;
    }
    received.append(data, n);
    return true;
  };

  pin_->matched = false;
  pin_->mismatched = false;
  pin_->presented.clear();
  httplib::Response res;
  httplib::Error error = httplib::Error::Success;
  auto start = std::chrono::steady_clock::now();
  bool sent = client_->send(req, res, error);
  auto elapsed = std::chrono::steady_clock::now() - start;
  // The token sits in the request headers; wipe that copy.
  for (auto& [name, value] : req.headers) OPENSSL_cleanse(value.data(), value.size());

  if (pin_->mismatched) {
    return absl::UnauthenticatedError(
        "server certificate does not match the pinned fingerprint (" + address() +
        (pin_->presented.empty() ? "" : " presented " + pin_->presented) + ")");
  }
  if (!sent || error != httplib::Error::Success) {
    switch (error) {
      case httplib::Error::Connection:
      case httplib::Error::ConnectionTimeout:
      case httplib::Error::BindIPAddress:
        return absl::UnavailableError("cannot connect to " + address());
      case httplib::Error::SSLConnection:
        return absl::UnavailableError("TLS handshake with " + address() + " failed");
      case httplib::Error::Read:
        if (elapsed >= read_timeout_) {
          return absl::DeadlineExceededError("no response from " + address() + " within " +
                                             std::to_string(read_timeout_.count()) + " ms");
        }
        return absl::UnavailableError("connection to " + address() + " broke while reading");
      case httplib::Error::Write:
        return absl::UnavailableError("connection to " + address() + " broke while sending");
      case httplib::Error::Canceled:
        if (too_large) {
          return absl::ResourceExhaustedError("response from " + address() + " exceeds " +
                                              std::to_string(kMaxResponseBytes >> 20) + " MiB");
        }
        [[fallthrough]];
      default:
        return absl::UnavailableError("request to " + address() + " failed: " +
                                      httplib::to_string(error));
    }
  }
  if (!pin_->matched) {
    // Cannot happen with session resumption off; refuse rather than trust an unchecked peer.
    return absl::UnauthenticatedError("server certificate of " + address() + " was not checked");
  }
  if (res.status < 200 || res.status > 299) return StatusFromErrorResponse(res.status, received);
  auto parsed = ParseJson(received, "response from " + address());
  if (!parsed.ok()) return parsed.status();
  return parsed;
}

}  // namespace consort::api
