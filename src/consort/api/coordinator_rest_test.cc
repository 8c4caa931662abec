// The REST API over a real Coordinator (SQLite home in a temporary directory).
#include <stdlib.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "consort/api/https_client.h"
#include "consort/api/rest_server.h"
#include "consort/common/files.h"
#include "consort/coordinator/coordinator.h"

namespace consort::api {
namespace {

using absl::StatusCode;

class CoordinatorRestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/consort_api_test_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    home_ = root_ + "/coordinator";
    coordinator::CoordinatorConfig config;
    config.api_listen = "127.0.0.1:0";
    config.grpc_listen = "127.0.0.1:0";
    Status init = coordinator::Coordinator::Init(home_, config);
    ASSERT_TRUE(init.ok()) << init;
    auto opened = coordinator::Coordinator::Open(home_);
    ASSERT_TRUE(opened.ok()) << opened.status();
    coordinator_ = *std::move(opened);
    server_ = std::make_unique<RestServer>(*coordinator_, coordinator_->config().api_listen);
    Status st = server_->Start();
    ASSERT_TRUE(st.ok()) << st;
    auto token = ReadFile(JoinPath(home_, "admin.token"));
    ASSERT_TRUE(token.ok()) << token.status();
    admin_token_ = *token;
    while (!admin_token_.empty() && std::isspace(static_cast<unsigned char>(admin_token_.back()))) {
      admin_token_.pop_back();
    }
  }

  void TearDown() override {
    if (server_) server_->Stop();
    server_.reset();
    coordinator_.reset();
    if (!root_.empty()) std::filesystem::remove_all(root_);
  }

  HttpsClient Client(const std::string& token) {
    return HttpsClient(server_->address(), coordinator_->tls_fingerprint(), token);
  }

  std::string root_, home_, admin_token_;
  std::unique_ptr<coordinator::Coordinator> coordinator_;
  std::unique_ptr<RestServer> server_;
};

TEST_F(CoordinatorRestTest, InfoInvitesAndSpecValidation) {
  // Public: the identity a client pins, and the address the server actually bound.
  auto info = Client("").Get("/v1/info");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ((*info)["tls_fingerprint"], coordinator_->tls_fingerprint());
  EXPECT_EQ((*info)["api_listen"], server_->address());
  EXPECT_TRUE((*info)["signing_key"].is_string());

  // Admin: an invite.
  HttpsClient admin = Client(admin_token_);
  auto invite = admin.Post("/v1/invites", {{"name", "shop"}, {"ttl_hours", 1}});
  ASSERT_TRUE(invite.ok()) << invite.status();
  EXPECT_EQ((*invite)["name"], "shop");
  EXPECT_EQ((*invite)["token"].get<std::string>().rfind("csi1.", 0), 0u);
  EXPECT_TRUE((*invite)["expires_at"].is_string());

  // Without the token, or with another one, no invite.
  EXPECT_EQ(Client("").Post("/v1/invites", {{"name", "x"}}).status().code(),
            StatusCode::kUnauthenticated);
  EXPECT_EQ(Client("cst_wrong").Post("/v1/invites", {{"name", "x"}}).status().code(),
            StatusCode::kUnauthenticated);
  // The coordinator's own validation comes back with its code and message.
  auto bad_name = admin.Post("/v1/invites", {{"ttl_hours", 1}});
  EXPECT_EQ(bad_name.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad_name.status().message().find("name"), std::string::npos) << bad_name.status();

  // A malformed job spec is 400 INVALID_ARGUMENT, and nothing is stored.
  auto bad_spec = admin.Post("/v1/jobs", {{"spec", {{"operator", 5}}}});
  EXPECT_EQ(bad_spec.status().code(), StatusCode::kInvalidArgument) << bad_spec.status();
  auto no_spec = admin.Post("/v1/jobs", Json::object());
  EXPECT_EQ(no_spec.status().code(), StatusCode::kInvalidArgument) << no_spec.status();
  auto jobs = admin.Get("/v1/jobs");
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  EXPECT_EQ((*jobs)["jobs"], Json::array());

  // Job ids: malformed -> 400, unknown -> 404.
  EXPECT_EQ(admin.Get("/v1/jobs/xyz").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(admin.Get("/v1/jobs/" + std::string(64, '0')).status().code(), StatusCode::kNotFound);

  // The invite landed in the audit log.
  auto audit = admin.Get("/v1/audit?from=0&limit=10");
  ASSERT_TRUE(audit.ok()) << audit.status();
  bool found = false;
  for (const auto& e : (*audit)["entries"]) found |= e["kind"] == "invite.created";
  EXPECT_TRUE(found) << audit->dump();
  EXPECT_GE((*audit)["size"].get<int64_t>(), 1);
}

}  // namespace
}  // namespace consort::api
