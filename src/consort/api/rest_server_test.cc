#include "consort/api/rest_server.h"

#include <httplib.h>

#include <mutex>
#include <vector>

#include <gtest/gtest.h>

#include "consort/api/https_client.h"
#include "consort/api/openapi.h"
#include "consort/crypto/tls_identity.h"

namespace consort::api {
namespace {

using absl::StatusCode;
using coordinator::Caller;

constexpr char kAdminToken[] = "cst_admin_secret";
constexpr char kViewerToken[] = "cst_viewer_secret";

// Stands in for the coordinator: records each call and answers from a small script.
class FakeCoordinator {
 public:
  struct Call {
    Caller caller;
    std::string method;
    Json body;
  };

  StatusOr<Json> Dispatch(const Caller& caller, const std::string& method, const Json& body) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      calls_.push_back({caller, method, body});
    }
    if (method == "job.get" && body.value("job_id", "") == "missing") {
      return absl::NotFoundError("no job missing");
    }
    if (method == "job.submit" && body.contains("spec") && body["spec"].value("name", "") == "dup") {
      return absl::AlreadyExistsError("job 0123abcd was already submitted");
    }
    if (method == "invite.create" && caller.name == "viewer") {
      return absl::PermissionDeniedError("this operation needs an admin API token");
    }
    if (method == "job.cancel" && body.value("reason", "") == "throw") {
      throw std::runtime_error("bug");
    }
    if (method == "job.list" && body.value("state", "") == "binary") {
      return Json{{"jobs", std::string("\xff\xfe")}};  // not UTF-8: cannot be serialized
    }
    return Json{{"method", method}, {"echo", body}};
  }

  StatusOr<Caller> Auth(const std::string& token) {
    std::lock_guard<std::mutex> lock(mu_);
    ++auth_calls_;
    if (token == kAdminToken) return Caller::Admin("admin");
    if (token == kViewerToken) return Caller::Admin("viewer");
    return absl::UnauthenticatedError("unknown API token " + token);  // must not reach clients
  }

  std::vector<Call> calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  int auth_calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return auth_calls_;
  }

 private:
  std::mutex mu_;
  std::vector<Call> calls_;
  int auth_calls_ = 0;
};

struct RawResponse {
  int status = 0;
  std::string body;
  httplib::Headers headers;
  Json json;
};

class RestServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto identity = crypto::GenerateTlsIdentity("consort-coordinator");
    ASSERT_TRUE(identity.ok()) << identity.status();
    identity_ = *identity;
    auto fp = crypto::CertificateFingerprint(identity_.cert_pem);
    ASSERT_TRUE(fp.ok());
    fingerprint_ = *fp;
    RestServerOptions options;
    options.listen = "127.0.0.1:0";
    options.tls = identity_;
    server_ = std::make_unique<RestServer>(
        options,
        [this](const Caller& c, const std::string& m, const Json& b) {
          return fake_.Dispatch(c, m, b);
        },
        [this](const std::string& t) { return fake_.Auth(t); });
    Status st = server_->Start();
    ASSERT_TRUE(st.ok()) << st;
    ASSERT_GT(server_->port(), 0);
  }

  void TearDown() override {
    if (server_) server_->Stop();
  }

  // One HTTPS request without pinning (tests of pinning use HttpsClient).
  RawResponse Raw(const std::string& method, const std::string& path, const std::string& body = "",
                  const std::string& token = "",
                  const std::string& content_type = "application/json") {
    httplib::SSLClient cli("127.0.0.1", server_->port());
    cli.enable_server_certificate_verification(false);
    cli.set_connection_timeout(5, 0);
    cli.set_read_timeout(10, 0);
    httplib::Request req;
    req.method = method;
    req.path = path;
    if (!token.empty()) req.headers.emplace("Authorization", "Bearer " + token);
    if (!body.empty() || method == "POST") {
      req.body = body;
      req.headers.emplace("Content-Type", content_type);
    }
    httplib::Response res;
    httplib::Error err = httplib::Error::Success;
    RawResponse out;
    if (!cli.send(req, res, err)) {
      ADD_FAILURE() << "request failed: " << httplib::to_string(err);
      return out;
    }
    out.status = res.status;
    out.body = res.body;
    out.headers = res.headers;
    out.json = Json::parse(res.body, nullptr, /*allow_exceptions=*/false);
    return out;
  }

  // Asserts the documented error shape and returns the message.
  static std::string ExpectError(const RawResponse& r, int http_status, const std::string& code) {
    EXPECT_EQ(r.status, http_status) << r.body;
    EXPECT_TRUE(r.json.is_object()) << r.body;
    EXPECT_EQ(r.json["error"]["code"], code) << r.body;
    EXPECT_EQ(r.json["error"]["http_status"], http_status) << r.body;
    EXPECT_TRUE(r.json["error"]["message"].is_string()) << r.body;
    auto ct = r.headers.find("Content-Type");
    EXPECT_TRUE(ct != r.headers.end() && ct->second.rfind("application/json", 0) == 0);
    return r.json["error"].value("message", "");
  }

  FakeCoordinator::Call LastCall() {
    auto calls = fake_.calls();
    if (calls.empty()) {
      ADD_FAILURE() << "nothing was dispatched";
      return {};
    }
    return calls.back();
  }

  crypto::TlsIdentity identity_;
  std::string fingerprint_;
  FakeCoordinator fake_;
  std::unique_ptr<RestServer> server_;
};

TEST_F(RestServerTest, ServesHealthAndTheOpenApiDocumentWithoutToken) {
  RawResponse health = Raw("GET", "/v1/health");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.json, Json({{"status", "ok"}}));
  RawResponse doc = Raw("GET", "/openapi.json");
  EXPECT_EQ(doc.status, 200);
  EXPECT_EQ(doc.json, BuildOpenApiDocument());
  EXPECT_EQ(doc.headers.find("Content-Type")->second, "application/json");
  EXPECT_TRUE(fake_.calls().empty());
}

TEST_F(RestServerTest, MissingTokenIs401AndNothingIsDispatched) {
  for (auto [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/v1/jobs"}, {"POST", "/v1/jobs"}, {"GET", "/v1/nodes"},
           {"POST", "/v1/invites"}, {"GET", "/v1/audit"}, {"GET", "/v1/jobs/abc"}}) {
    RawResponse r = Raw(method, path, method == "POST" ? "{}" : "");
    ExpectError(r, 401, "UNAUTHENTICATED");
    EXPECT_NE(r.headers.find("WWW-Authenticate"), r.headers.end());
  }
  EXPECT_TRUE(fake_.calls().empty());
  EXPECT_EQ(fake_.auth_calls(), 0);
}

TEST_F(RestServerTest, WrongTokenIs401AndIsNotEchoed) {
  RawResponse r = Raw("GET", "/v1/jobs", "", "cst_guess");
  std::string message = ExpectError(r, 401, "UNAUTHENTICATED");
  EXPECT_EQ(r.body.find("cst_guess"), std::string::npos) << r.body;
  EXPECT_EQ(fake_.auth_calls(), 1);
  EXPECT_TRUE(fake_.calls().empty());

  // A malformed Authorization header is 401 as well.
  httplib::SSLClient cli("127.0.0.1", server_->port());
  cli.enable_server_certificate_verification(false);
  auto res = cli.Get("/v1/jobs", {{"Authorization", "Basic YWRtaW46eA=="}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
}

TEST_F(RestServerTest, RightTokenDispatchesWithPathAndQueryParameters) {
  RawResponse r = Raw("GET", "/v1/jobs?state=running", "", kAdminToken);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json["method"], "job.list");
  EXPECT_EQ(r.json["echo"], Json({{"state", "running"}}));
  auto call = LastCall();
  EXPECT_EQ(call.caller.kind, Caller::Kind::kAdmin);
  EXPECT_EQ(call.caller.name, "admin");
  EXPECT_EQ(call.method, "job.list");

  r = Raw("GET", "/v1/jobs/abc123", "", kAdminToken);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(LastCall().method, "job.get");
  EXPECT_EQ(LastCall().body, Json({{"job_id", "abc123"}}));

  r = Raw("POST", "/v1/jobs/abc123/approve", R"({"party":"bank","signature":"c2ln"})", kAdminToken);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(LastCall().method, "job.approve");
  EXPECT_EQ(LastCall().body, Json({{"job_id", "abc123"}, {"party", "bank"}, {"signature", "c2ln"}}));

  r = Raw("POST", "/v1/jobs/abc123/reject", R"({"party":"bank","reason":"no","signature":"s"})",
          kAdminToken);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(LastCall().method, "job.reject");
  r = Raw("POST", "/v1/jobs/abc123/cancel", "", kAdminToken);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(LastCall().method, "job.cancel");
  EXPECT_EQ(LastCall().body, Json({{"job_id", "abc123"}}));

  r = Raw("GET", "/v1/audit?from=3&limit=2", "", kAdminToken);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(LastCall().method, "audit.range");
  EXPECT_EQ(LastCall().body, Json({{"from", 3}, {"limit", 2}}));

  r = Raw("GET", "/v1/datasets?owner=bank", "", kAdminToken);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(LastCall().method, "dataset.list");
  EXPECT_EQ(LastCall().body, Json({{"owner", "bank"}}));

  r = Raw("GET", "/v1/nodes", "", kAdminToken);
  EXPECT_EQ(LastCall().method, "members.list");
  r = Raw("POST", "/v1/invites", R"({"name":"shop","ttl_hours":2})", kAdminToken);
  EXPECT_EQ(LastCall().method, "invite.create");
  EXPECT_EQ(LastCall().body, Json({{"name", "shop"}, {"ttl_hours", 2}}));
  r = Raw("POST", "/v1/jobs", R"({"spec":{"operator":"psi.ecdh"}})", kAdminToken);
  EXPECT_EQ(LastCall().method, "job.submit");
  EXPECT_EQ(LastCall().body, Json({{"spec", {{"operator", "psi.ecdh"}}}}));
}

TEST_F(RestServerTest, PublicRoutesDispatchAnonymouslyOrAsTheTokenHolder) {
  RawResponse r = Raw("GET", "/v1/info");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(LastCall().method, "info");
  EXPECT_EQ(LastCall().caller.kind, Caller::Kind::kAnonymous);

  r = Raw("GET", "/v1/operators");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(LastCall().method, "operator.list");
  EXPECT_EQ(LastCall().caller.kind, Caller::Kind::kAnonymous);

  r = Raw("GET", "/v1/info", "", kAdminToken);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(LastCall().caller.kind, Caller::Kind::kAdmin);

  size_t before = fake_.calls().size();
  ExpectError(Raw("GET", "/v1/info", "", "wrong"), 401, "UNAUTHENTICATED");
  EXPECT_EQ(fake_.calls().size(), before);
}

TEST_F(RestServerTest, RegistrationIsDispatchedAnonymouslyWithItsInviteBody) {
  const std::string body = R"({"token":"csi1.abc","tls_cert_pem":"PEM","entry":{"kind":"x"}})";
  RawResponse r = Raw("POST", "/v1/nodes/register", body);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(LastCall().method, "node.register");
  EXPECT_EQ(LastCall().caller.kind, Caller::Kind::kAnonymous);
  EXPECT_EQ(LastCall().body, Json::parse(body));
  // A bearer token does not turn registration into an admin call.
  r = Raw("POST", "/v1/nodes/register", body, kAdminToken);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(LastCall().caller.kind, Caller::Kind::kAnonymous);
}

TEST_F(RestServerTest, MalformedJsonIs400NamingLineAndColumn) {
  RawResponse r = Raw("POST", "/v1/jobs", "{\n  \"spec\": }", kAdminToken);
  std::string message = ExpectError(r, 400, "INVALID_ARGUMENT");
  EXPECT_NE(message.find("request body:2:"), std::string::npos) << message;

  message = ExpectError(Raw("POST", "/v1/jobs", "[1, 2]", kAdminToken), 400, "INVALID_ARGUMENT");
  EXPECT_NE(message.find("JSON object"), std::string::npos) << message;
  EXPECT_TRUE(fake_.calls().empty());

  // An empty body is an empty object.
  RawResponse ok = Raw("POST", "/v1/jobs/abc/cancel", "  \n", kAdminToken);
  EXPECT_EQ(ok.status, 200) << ok.body;
}

TEST_F(RestServerTest, MethodErrorsKeepTheirCanonicalCode) {
  RawResponse r = Raw("GET", "/v1/jobs/missing", "", kAdminToken);
  EXPECT_EQ(ExpectError(r, 404, "NOT_FOUND"), "no job missing");
  EXPECT_EQ(r.json, Json::parse(R"({"error":{"code":"NOT_FOUND","message":"no job missing",
                                   "http_status":404}})"));

  r = Raw("POST", "/v1/jobs", R"({"spec":{"name":"dup"}})", kAdminToken);
  EXPECT_EQ(ExpectError(r, 409, "ALREADY_EXISTS"), "job 0123abcd was already submitted");

  r = Raw("POST", "/v1/invites", R"({"name":"shop"})", kViewerToken);
  EXPECT_EQ(ExpectError(r, 403, "PERMISSION_DENIED"), "this operation needs an admin API token");
}

TEST_F(RestServerTest, UnknownRouteIs404AndWrongMethodIs405) {
  std::string message = ExpectError(Raw("GET", "/v1/nope", "", kAdminToken), 404, "NOT_FOUND");
  EXPECT_NE(message.find("/v1/nope"), std::string::npos);
  ExpectError(Raw("GET", "/v1/nope"), 404, "NOT_FOUND");  // 404 before authentication
  ExpectError(Raw("GET", "/", "", kAdminToken), 404, "NOT_FOUND");
  ExpectError(Raw("GET", "/v1/jobs/abc/approve/x", "", kAdminToken), 404, "NOT_FOUND");
  ExpectError(Raw("GET", "/v1/" + std::string(3000, 'a'), "", kAdminToken), 404, "NOT_FOUND");

  RawResponse r = Raw("PUT", "/v1/jobs", "{}", kAdminToken);
  ExpectError(r, 405, "INVALID_ARGUMENT");
  EXPECT_EQ(r.headers.find("Allow")->second, "POST, GET");
  r = Raw("DELETE", "/v1/jobs/abc", "", kAdminToken);
  ExpectError(r, 405, "INVALID_ARGUMENT");
  EXPECT_EQ(r.headers.find("Allow")->second, "GET");
  ExpectError(Raw("GET", "/v1/invites", "", kAdminToken), 405, "INVALID_ARGUMENT");
  EXPECT_TRUE(fake_.calls().empty());
}

TEST_F(RestServerTest, BadParametersAre400) {
  std::string m =
      ExpectError(Raw("GET", "/v1/audit?from=abc", "", kAdminToken), 400, "INVALID_ARGUMENT");
  EXPECT_NE(m.find("'from'"), std::string::npos) << m;
  m = ExpectError(Raw("GET", "/v1/jobs?sate=running", "", kAdminToken), 400, "INVALID_ARGUMENT");
  EXPECT_NE(m.find("'sate'"), std::string::npos) << m;
  m = ExpectError(Raw("POST", "/v1/jobs/abc/cancel", R"({"job_id":"def"})", kAdminToken), 400,
                  "INVALID_ARGUMENT");
  EXPECT_NE(m.find("job_id"), std::string::npos) << m;
  EXPECT_TRUE(fake_.calls().empty());
}

TEST_F(RestServerTest, OversizedBodyIs413) {
  std::string big = R"({"spec":")" + std::string(5 << 20, 'x') + R"("})";
  RawResponse r = Raw("POST", "/v1/jobs", big, kAdminToken);
  std::string m = ExpectError(r, 413, "RESOURCE_EXHAUSTED");
  EXPECT_NE(m.find("4 MiB"), std::string::npos) << m;
  EXPECT_TRUE(fake_.calls().empty());
}

TEST_F(RestServerTest, ExceptionsAndUnserializableResultsBecome500) {
  ExpectError(Raw("POST", "/v1/jobs/abc/cancel", R"({"reason":"throw"})", kAdminToken), 500,
              "INTERNAL");
  ExpectError(Raw("GET", "/v1/jobs?state=binary", "", kAdminToken), 500, "INTERNAL");
  // The server keeps serving.
  EXPECT_EQ(Raw("GET", "/v1/health").status, 200);
}

TEST_F(RestServerTest, PinnedClientRoundTripsResultsAndErrors) {
  HttpsClient client("https://127.0.0.1:" + std::to_string(server_->port()), fingerprint_,
                     kAdminToken);
  auto info = client.Get("/v1/info");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ((*info)["method"], "info");
  auto submitted = client.Post("/v1/jobs", {{"spec", {{"operator", "psi.ecdh"}}}});
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  EXPECT_EQ((*submitted)["echo"]["spec"]["operator"], "psi.ecdh");

  auto missing = client.Get("/v1/jobs/missing");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "no job missing");
  auto dup = client.Post("/v1/jobs", {{"spec", {{"name", "dup"}}}});
  EXPECT_EQ(dup.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(dup.status().message(), "job 0123abcd was already submitted");

  HttpsClient anonymous("127.0.0.1:" + std::to_string(server_->port()), fingerprint_);
  EXPECT_EQ(anonymous.Get("/v1/jobs").status().code(), StatusCode::kUnauthenticated);
  EXPECT_TRUE(anonymous.Get("/v1/health").ok());
}

TEST_F(RestServerTest, ClientPinnedToAnotherCertificateSendsNothing) {
  auto other = crypto::GenerateTlsIdentity("impostor");
  ASSERT_TRUE(other.ok());
  auto other_fp = crypto::CertificateFingerprint(other->cert_pem);
  ASSERT_TRUE(other_fp.ok());
  HttpsClient client("127.0.0.1:" + std::to_string(server_->port()), *other_fp, kAdminToken);
  auto r = client.Post("/v1/invites", {{"name", "shop"}});
  EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(r.status().message().find("does not match the pinned fingerprint"), std::string::npos)
      << r.status();
  // The handshake failed before any request (or token) was sent.
  EXPECT_EQ(fake_.auth_calls(), 0);
  EXPECT_TRUE(fake_.calls().empty());
}

TEST(RestServer, RejectsBadConfiguration) {
  auto identity = crypto::GenerateTlsIdentity("c");
  ASSERT_TRUE(identity.ok());
  auto other = crypto::GenerateTlsIdentity("d");
  ASSERT_TRUE(other.ok());
  DispatchFn dispatch = [](const Caller&, const std::string&, const Json&) -> StatusOr<Json> {
    return Json::object();
  };
  AuthFn auth = [](const std::string&) -> StatusOr<Caller> {
    return absl::UnauthenticatedError("no");
  };
  for (const char* listen : {"127.0.0.1", "127.0.0.1:", ":80", "127.0.0.1:70000", "::1:80",
                             "127.0.0.1:8x"}) {
    RestServer server({listen, *identity}, dispatch, auth);
    EXPECT_EQ(server.Start().code(), StatusCode::kInvalidArgument) << listen;
  }
  RestServer garbage({"127.0.0.1:0", {"not a key", identity->cert_pem}}, dispatch, auth);
  EXPECT_EQ(garbage.Start().code(), StatusCode::kInvalidArgument);
  RestServer no_cert({"127.0.0.1:0", {identity->key_pem, "not a cert"}}, dispatch, auth);
  EXPECT_EQ(no_cert.Start().code(), StatusCode::kInvalidArgument);
  RestServer mismatched({"127.0.0.1:0", {other->key_pem, identity->cert_pem}}, dispatch, auth);
  EXPECT_EQ(mismatched.Start().code(), StatusCode::kInvalidArgument);

  RestServer first({"127.0.0.1:0", *identity}, dispatch, auth);
  ASSERT_TRUE(first.Start().ok());
  EXPECT_EQ(first.Start().code(), StatusCode::kFailedPrecondition);
  RestServer second({"127.0.0.1:" + std::to_string(first.port()), *identity}, dispatch, auth);
  EXPECT_EQ(second.Start().code(), StatusCode::kUnavailable);
  EXPECT_EQ(first.address(), "127.0.0.1:" + std::to_string(first.port()));
  first.Stop();
  first.Stop();  // idempotent
}

TEST(RestServer, StopsPromptlyAndCanBeDestroyedUnstarted) {
  auto identity = crypto::GenerateTlsIdentity("c");
  ASSERT_TRUE(identity.ok());
  {
    RestServer unstarted({"127.0.0.1:0", *identity}, nullptr, nullptr);
  }
  for (int i = 0; i < 5; ++i) {
    RestServer server({"127.0.0.1:0", *identity},
                      [](const Caller&, const std::string&, const Json&) -> StatusOr<Json> {
                        return Json::object();
                      },
                      [](const std::string&) -> StatusOr<Caller> { return Caller::Admin("a"); });
    ASSERT_TRUE(server.Start().ok());
  }  // destructor stops
}

}  // namespace
}  // namespace consort::api
