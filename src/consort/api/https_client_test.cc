#include "consort/api/https_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <sys/socket.h>
#include <unistd.h>

#include <httplib.h>

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "consort/api/http_status.h"
#include "consort/crypto/tls_identity.h"

namespace consort::api {
namespace {

using absl::StatusCode;

// A plain httplib HTTPS server (not RestServer) with a self-signed identity, on 127.0.0.1:0.
class TestServer {
 public:
  explicit TestServer(const crypto::TlsIdentity& id) {
    BIO* cb = BIO_new_mem_buf(id.cert_pem.data(), static_cast<int>(id.cert_pem.size()));
    BIO* kb = BIO_new_mem_buf(id.key_pem.data(), static_cast<int>(id.key_pem.size()));
    X509* cert = PEM_read_bio_X509(cb, nullptr, nullptr, nullptr);
    EVP_PKEY* key = PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr);
    server_ = std::make_unique<httplib::SSLServer>(cert, key);
    X509_free(cert);
    EVP_PKEY_free(key);
    BIO_free(cb);
    BIO_free(kb);
  }
  ~TestServer() { Stop(); }

  httplib::SSLServer& server() { return *server_; }
  int Start() {
    port_ = server_->bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return port_;
  }
  void Stop() {
    if (thread_.joinable()) {
      server_->stop();
      thread_.join();
    }
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  std::unique_ptr<httplib::SSLServer> server_;
  std::thread thread_;
  int port_ = 0;
};

class HttpsClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto id = crypto::GenerateTlsIdentity("test-server");
    ASSERT_TRUE(id.ok()) << id.status();
    identity_ = *id;
    auto fp = crypto::CertificateFingerprint(identity_.cert_pem);
    ASSERT_TRUE(fp.ok());
    fingerprint_ = *fp;
    server_ = std::make_unique<TestServer>(identity_);
    auto& s = server_->server();
    s.Get("/v1/thing", [this](const httplib::Request& req, httplib::Response& res) {
      ++hits_;
      authorization_ = req.get_header_value("Authorization");
      res.set_content(R"({"ok":true,"path":")" + req.path + "\"}", "application/json");
    });
    s.Post("/v1/echo", [this](const httplib::Request& req, httplib::Response& res) {
      ++hits_;
      content_type_ = req.get_header_value("Content-Type");
      res.set_content(req.body, "application/json");
    });
    s.Get("/api/v1/thing", [this](const httplib::Request& req, httplib::Response& res) {
      ++hits_;
      res.set_content(R"({"prefixed":true})", "application/json");
    });
    s.Get("/v1/conflict", [](const httplib::Request&, httplib::Response& res) {
      res.status = 409;
      res.set_content(ErrorJson(absl::AlreadyExistsError("a node named 'shop' exists")).dump(),
                      "application/json");
    });
    s.Get("/v1/html-error", [](const httplib::Request&, httplib::Response& res) {
      res.status = 502;
      res.set_content("<html>bad gateway</html>", "text/html");
    });
    s.Get("/v1/not-json", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("hello", "text/plain");
    });
    s.Get("/v1/slow", [](const httplib::Request&, httplib::Response& res) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1200));
      res.set_content("{}", "application/json");
    });
    server_->Start();
  }

  crypto::TlsIdentity identity_;
  std::string fingerprint_;
  std::unique_ptr<TestServer> server_;
  std::atomic<int> hits_{0};
  std::string authorization_;
  std::string content_type_;
};

TEST_F(HttpsClientTest, PinnedFingerprintIsAccepted) {
  HttpsClient client(server_->address(), fingerprint_, "cst_token");
  auto r = client.Get("/v1/thing");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, Json({{"ok", true}, {"path", "/v1/thing"}}));
  EXPECT_EQ(authorization_, "Bearer cst_token");

  auto e = client.Post("/v1/echo", {{"name", "shop"}, {"n", 3}});
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(*e, Json({{"name", "shop"}, {"n", 3}}));
  EXPECT_EQ(content_type_, "application/json");
  EXPECT_EQ(hits_, 2);
}

TEST_F(HttpsClientTest, FingerprintSpellingsAndUrlFormsAreAccepted) {
  std::string upper_colons;
  for (size_t i = 0; i < fingerprint_.size(); i += 2) {
    if (i) upper_colons += ':';
    upper_colons += static_cast<char>(std::toupper(fingerprint_[i]));
    upper_colons += static_cast<char>(std::toupper(fingerprint_[i + 1]));
  }
  HttpsClient a("https://" + server_->address() + "/", upper_colons);
  EXPECT_TRUE(a.Get("/v1/thing").ok());
  HttpsClient prefixed("https://" + server_->address() + "/api", fingerprint_);
  auto r = prefixed.Get("/v1/thing");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, Json({{"prefixed", true}}));
  EXPECT_EQ(prefixed.address(), server_->address());
}

TEST_F(HttpsClientTest, OtherFingerprintIsRejectedDuringTheHandshake) {
  auto other = crypto::GenerateTlsIdentity("other");
  ASSERT_TRUE(other.ok());
  auto other_fp = crypto::CertificateFingerprint(other->cert_pem);
  ASSERT_TRUE(other_fp.ok());
  HttpsClient client(server_->address(), *other_fp, "cst_token");
  auto r = client.Get("/v1/thing");
  EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(r.status().message().find("server certificate does not match the pinned fingerprint"),
            std::string::npos)
      << r.status();
  EXPECT_NE(r.status().message().find(fingerprint_), std::string::npos)  // what was presented
      << r.status();
  EXPECT_EQ(client.Post("/v1/echo", {{"a", 1}}).status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(hits_, 0);  // no request reached the server
  EXPECT_TRUE(authorization_.empty());

  // A fingerprint differing in one bit is just as wrong.
  std::string near = fingerprint_;
  near.back() = near.back() == '0' ? '1' : '0';
  HttpsClient near_client(server_->address(), near);
  EXPECT_EQ(near_client.Get("/v1/thing").status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(hits_, 0);
}

TEST_F(HttpsClientTest, ErrorBodiesMapBackToStatus) {
  HttpsClient client(server_->address(), fingerprint_);
  auto r = client.Get("/v1/conflict");
  EXPECT_EQ(r.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(r.status().message(), "a node named 'shop' exists");
  EXPECT_EQ(client.Get("/v1/html-error").status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(client.Get("/v1/absent").status().code(), StatusCode::kNotFound);
  auto bad = client.Get("/v1/not-json");
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("response from " + server_->address()), std::string::npos)
      << bad.status();
}

TEST_F(HttpsClientTest, ReadTimeoutIsDeadlineExceeded) {
  HttpsClient client(server_->address(), fingerprint_);
  client.set_timeouts(std::chrono::milliseconds(2000), std::chrono::milliseconds(300));
  auto r = client.Get("/v1/slow");
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded) << r.status();
}

// A port on 127.0.0.1 that nothing listens on (bound, then released).
int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST(HttpsClient, UnreachablePortIsUnavailableNamingTheAddress) {
  std::string address = "127.0.0.1:" + std::to_string(FreePort());
  HttpsClient client(address, std::string(64, 'a'));
  auto r = client.Get("/v1/info");
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find(address), std::string::npos) << r.status();
}

TEST(HttpsClient, MalformedArgumentsAreInvalidArgument) {
  const std::string fp(64, 'a');
  for (const char* base : {"http://127.0.0.1:1", "ftp://x:1", "", ":80", "127.0.0.1:",
                           "127.0.0.1:99999", "127.0.0.1:0", "127.0.0.1:x", "::1:80", "[::1"}) {
    HttpsClient client(base, fp);
    EXPECT_EQ(client.Get("/v1/info").status().code(), StatusCode::kInvalidArgument) << base;
  }
  for (const std::string& bad_fp : {std::string(), std::string(63, 'a'), std::string(64, 'g'),
                                    std::string(66, 'a')}) {
    HttpsClient client("127.0.0.1:1", bad_fp);
    EXPECT_EQ(client.Get("/v1/info").status().code(), StatusCode::kInvalidArgument) << bad_fp;
  }
  HttpsClient ok("127.0.0.1:1", fp);
  EXPECT_EQ(ok.Get("v1/info").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(HttpsClient("[::1]:8443", fp).address(), "[::1]:8443");
  EXPECT_EQ(HttpsClient("https://example.org", fp).address(), "example.org:443");
}

}  // namespace
}  // namespace consort::api
