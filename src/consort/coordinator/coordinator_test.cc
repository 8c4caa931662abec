#include "consort/coordinator/coordinator.h"

#include <filesystem>
#include <functional>
#include <thread>

#include <gtest/gtest.h>

#include "consort/audit/entry.h"
#include "consort/audit/log_store.h"
#include "consort/audit/verify.h"
#include "consort/common/files.h"
#include "consort/common/time.h"
#include "consort/coordinator/invite.h"
#include "consort/engine/operator.h"
#include "consort/net/grpc_transport.h"
#include "consort/net/peer_directory.h"

namespace consort::coordinator {
namespace {

// A minimal two-party operator so the coordinator's validation has something to accept.
class TestOperator final : public engine::Operator {
 public:
  TestOperator() {
    info_.name = "test.pair";
    info_.outputs = {"size"};
  }
  const engine::OperatorInfo& info() const override { return info_; }
  Status Validate(const engine::JobSpec&, const engine::CatalogView&) const override { return OkStatus(); }
  Status Run(engine::Session&) const override { return OkStatus(); }

 private:
  engine::OperatorInfo info_;
};

// An operator with a dealer role. Its dealer side (what the coordinator runs when it hosts the
// dealer) sends each data party "seed:<party>" and expects "ack" back.
class DealtOperator final : public engine::Operator {
 public:
  DealtOperator() {
    info_.name = "test.dealt";
    info_.outputs = {"size"};
    info_.roles = {engine::kDealerRole};
  }
  const engine::OperatorInfo& info() const override { return info_; }
  Status Validate(const engine::JobSpec&, const engine::CatalogView&) const override { return OkStatus(); }
  Status Run(engine::Session& session) const override {
    session.ReportProgress(0.1, "dealer");
    for (const auto& party : session.spec().DataPartyNames()) {
      CONSORT_ASSIGN_OR_RETURN(net::Link * link, session.Peer(party));
      CONSORT_RETURN_IF_ERROR(link->Send(AsBytes("seed:" + party)));
      CONSORT_ASSIGN_OR_RETURN(Bytes ack, link->Recv());
      if (ToString(ack) != "ack") return absl::InvalidArgumentError("bad ack from " + party);
    }
    // Dataless: no input, no output.
    if (session.InputFingerprint().status().code() != absl::StatusCode::kFailedPrecondition ||
        session.StoreSummary(Json::object()).code() != absl::StatusCode::kPermissionDenied) {
      return absl::InternalError("the hosted session offered data or output");
    }
    return OkStatus();
  }

 private:
  engine::OperatorInfo info_;
};

// A dealer side that throws (e.g. a partner operator's bug): it must not take the coordinator down.
class ThrowingOperator final : public engine::Operator {
 public:
  ThrowingOperator() {
    info_.name = "test.throwing";
    info_.outputs = {"size"};
    info_.roles = {engine::kDealerRole};
  }
  const engine::OperatorInfo& info() const override { return info_; }
  Status Validate(const engine::JobSpec&, const engine::CatalogView&) const override { return OkStatus(); }
  Status Run(engine::Session&) const override { throw std::runtime_error("boom"); }

 private:
  engine::OperatorInfo info_;
};

struct FakeNode {
  std::string name;
  crypto::SigningKey key = crypto::SigningKey::Generate();
  crypto::TlsIdentity tls;
  std::string fp;
};

class CoordinatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static bool registered = [] {
      engine::OperatorRegistry::Global().Register(std::make_unique<TestOperator>());
      engine::OperatorRegistry::Global().Register(std::make_unique<DealtOperator>());
      engine::OperatorRegistry::Global().Register(std::make_unique<ThrowingOperator>());
      return true;
    }();
    (void)registered;
    home_ = (std::filesystem::temp_directory_path() /
             ("consort-coord-" + std::to_string(getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name()))
                .string();
    std::filesystem::remove_all(home_);
    CoordinatorConfig config;
    config.party_silence_timeout_ms = 1500;
    ASSERT_TRUE(Coordinator::Init(home_, config).ok());
    Reopen();
    auto token = ReadFile(JoinPath(home_, "admin.token"));
    ASSERT_TRUE(token.ok());
    admin_token_ = token->substr(0, token->size() - 1);
  }
  void TearDown() override {
    c_.reset();
    std::filesystem::remove_all(home_);
  }
  void Reopen() {
    c_.reset();
    auto c = Coordinator::Open(home_);
    ASSERT_TRUE(c.ok()) << c.status();
    c_ = std::move(*c);
  }

  StatusOr<Json> Call(const Caller& who, const std::string& method, const Json& body) {
    return c_->Dispatch(who, method, body);
  }
  Caller Admin() { return Caller::Admin("admin"); }

  FakeNode Register(const std::string& name) {
    FakeNode n;
    n.name = name;
    n.tls = *crypto::GenerateTlsIdentity(name);
    n.fp = *crypto::CertificateFingerprint(n.tls.cert_pem);
    auto invite = Call(Admin(), "invite.create", {{"name", name}});
    EXPECT_TRUE(invite.ok()) << invite.status();
    auto reply = Call(Caller::Anonymous(), "node.register", RegistrationBody(n, (*invite)["token"]));
    EXPECT_TRUE(reply.ok()) << reply.status();
    return n;
  }
  Json RegistrationBody(const FakeNode& n, const std::string& token) {
    audit::NodeRegistration reg{n.name, n.key.public_key(), n.fp, "127.0.0.1:1"};
    auto e = audit::MakeAuthorPart("node.registered", n.name, NowUnixMillis(), reg.ToBody(), n.key);
    return {{"token", token}, {"tls_cert_pem", n.tls.cert_pem}, {"entry", e->SubmissionJson()}};
  }
  void AddDataset(const FakeNode& n, const std::string& ds) {
    engine::DatasetInfo info{n.name, ds, {{"phone", "string"}}, 10, ""};
    auto e = audit::MakeAuthorPart("dataset.registered", n.name, NowUnixMillis(), info.ToJson(), n.key);
    auto r = Call(Caller::Node(n.name), "dataset.register", {{"entry", e->SubmissionJson()}});
    ASSERT_TRUE(r.ok()) << r.status();
  }
  Json Spec(const std::string& nonce = "1") {
    return {{"operator", "test.pair"},
            {"parties",
             {{"bank", {{"dataset", "customers"}, {"columns", {"phone"}}}},
              {"shop", {{"dataset", "buyers"}, {"columns", {"phone"}}}}}},
            {"outputs", {{"bank", "size"}}},
            {"nonce", nonce}};
  }
  std::string Submit(const Json& spec) {
    auto r = Call(Caller::Node("bank"), "job.submit", {{"spec", spec}});
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? (*r)["job_id"].get<std::string>() : "";
  }
  StatusOr<Json> Approve(const FakeNode& n, const std::string& id) {
    auto sig = n.key.SignFor("job-approval", AsBytes(id));
    return Call(Caller::Node(n.name), "job.approve",
                {{"job_id", id}, {"signature", crypto::EncodeSignature(sig)}});
  }
  std::string State(const std::string& id) {
    auto j = Call(Admin(), "job.get", {{"job_id", id}});
    return j.ok() ? (*j)["state"].get<std::string>() : "?";
  }
  void Setup2() {
    bank_ = Register("bank");
    shop_ = Register("shop");
    AddDataset(bank_, "customers");
    AddDataset(shop_, "buyers");
  }

  // A spec of test.dealt naming the coordinator as its dealer.
  Json DealtSpec(const std::string& nonce = "1") {
    Json spec = Spec(nonce);
    spec["operator"] = "test.dealt";
    spec["parties"][engine::kCoordinatorParty] = {{"role", "dealer"}};
    return spec;
  }
  // A node's peer transport, as the node daemon runs it: it knows the other node and the
  // coordinator's peer endpoint (pinned to the coordinator certificate), and announces itself.
  std::unique_ptr<net::PeerTransport> StartNodeTransport(const FakeNode& n, const FakeNode& other) {
    auto dir = std::make_shared<net::StaticPeerDirectory>();
    EXPECT_TRUE(dir->Put({engine::kCoordinatorParty, c_->peer_address(), c_->tls_fingerprint()}).ok());
    EXPECT_TRUE(dir->Put({other.name, "127.0.0.1:1", other.fp}).ok());
    auto t = net::PeerTransport::Start(n.name, "127.0.0.1:0", {n.tls.key_pem, n.tls.cert_pem}, dir);
    EXPECT_TRUE(t.ok()) << t.status();
    if (!t.ok()) return nullptr;
    auto hello = Call(Caller::Node(n.name), "node.hello",
                      {{"address", "127.0.0.1:" + std::to_string((*t)->port())}});
    EXPECT_TRUE(hello.ok()) << hello.status();
    return std::move(*t);
  }
  // Plays a data party's side of test.dealt against the coordinator's dealer.
  Status PlayDataParty(net::PeerTransport& t, const std::string& id, const std::string& self) {
    CONSORT_ASSIGN_OR_RETURN(auto link, t.Connect(id, engine::kCoordinatorParty));
    link->set_timeout(std::chrono::seconds(20));
    CONSORT_ASSIGN_OR_RETURN(Bytes seed, link->Recv());
    if (ToString(seed) != "seed:" + self) return absl::InternalError("got " + ToString(seed));
    CONSORT_RETURN_IF_ERROR(link->Send(AsBytes(std::string("ack"))));
    link->Close();
    return OkStatus();
  }
  Json Job(const std::string& id) {
    auto j = Call(Admin(), "job.get", {{"job_id", id}});
    EXPECT_TRUE(j.ok()) << j.status();
    return j.ok() ? *j : Json::object();
  }
  bool WaitFor(const std::function<bool()>& done, double seconds = 20) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < deadline) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return done();
  }
  // What a coordinator killed mid-job leaves behind: its part 'started', the job running.
  void TamperRunState(const std::string& id) {
    c_.reset();
    auto db = SqlDb::Open(JoinPath(home_, "coordinator.db"));
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->Run("UPDATE jobs SET state = 'running' WHERE id = ?", {id}).ok());
    ASSERT_TRUE(db->Run("UPDATE job_parties SET run_state = 'started' WHERE job_id = ? AND party = ?",
                        {id, engine::kCoordinatorParty})
                    .ok());
  }
  std::string CoordinatorRunState(const std::string& id) {
    return Job(id)["progress"][engine::kCoordinatorParty].value("run_state", "?");
  }

  std::string home_, admin_token_;
  std::unique_ptr<Coordinator> c_;
  FakeNode bank_, shop_;
};

TEST_F(CoordinatorTest, TokensAndNodesAuthenticate) {
  EXPECT_TRUE(c_->AuthenticateToken(admin_token_).ok());
  EXPECT_EQ(c_->AuthenticateToken("cst_wrong").status().code(), absl::StatusCode::kUnauthenticated);
  Setup2();
  auto who = c_->AuthenticateNode(bank_.fp);
  ASSERT_TRUE(who.ok());
  EXPECT_EQ(who->name, "bank");
  EXPECT_FALSE(c_->IsRegisteredFingerprint(std::string(64, 'a')));
}

TEST_F(CoordinatorTest, ApiTokensAreCreatedListedAndRevoked) {
  auto created = Call(Admin(), "token.create", {{"name", "ci-bot"}});
  ASSERT_TRUE(created.ok()) << created.status();
  std::string token = (*created)["token"];
  auto who = c_->AuthenticateToken(token);
  ASSERT_TRUE(who.ok());
  EXPECT_EQ(who->name, "ci-bot");
  EXPECT_EQ(Call(Admin(), "token.create", {{"name", "ci-bot"}}).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(Call(Caller::Node("bank"), "token.create", {{"name", "x"}}).status().code(),
            absl::StatusCode::kPermissionDenied);
  auto list = Call(Admin(), "token.list", Json::object());
  ASSERT_EQ((*list)["tokens"].size(), 2u);  // admin + ci-bot; never the token values
  EXPECT_EQ((*list)["tokens"].dump().find(token), std::string::npos);
  EXPECT_EQ(Call(Caller::Admin("ci-bot"), "token.revoke", {{"name", "ci-bot"}}).status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(Call(Admin(), "token.revoke", {{"name", "ci-bot"}}).ok());
  EXPECT_EQ(c_->AuthenticateToken(token).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Call(Admin(), "token.revoke", {{"name", "ci-bot"}}).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(CoordinatorTest, InvitesWorkOnceAndOnlyForTheirName) {
  FakeNode n;
  n.name = "bank";
  n.tls = *crypto::GenerateTlsIdentity("bank");
  n.fp = *crypto::CertificateFingerprint(n.tls.cert_pem);
  auto invite = Call(Admin(), "invite.create", {{"name", "bank"}});
  ASSERT_TRUE(invite.ok());
  EXPECT_EQ(Call(Caller::Node("x"), "invite.create", {{"name", "y"}}).status().code(),
            absl::StatusCode::kPermissionDenied);
  FakeNode other;
  other.name = "shop";
  other.tls = n.tls;
  other.fp = n.fp;
  EXPECT_EQ(Call(Caller::Anonymous(), "node.register", RegistrationBody(other, (*invite)["token"])).status().code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(Call(Caller::Anonymous(), "node.register", RegistrationBody(n, (*invite)["token"])).ok());
  EXPECT_EQ(Call(Caller::Anonymous(), "node.register", RegistrationBody(n, (*invite)["token"])).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Call(Admin(), "invite.create", {{"name", "bank"}}).status().code(),
            absl::StatusCode::kAlreadyExists);
}

TEST_F(CoordinatorTest, InvitesCarryTheAdvertisedAddresses) {
  auto invite_addresses = [&]() -> std::pair<std::string, std::string> {
    static int n = 0;
    auto invite = Call(Admin(), "invite.create", {{"name", "node" + std::to_string(n++)}});
    EXPECT_TRUE(invite.ok()) << invite.status();
    if (!invite.ok()) return {};
    auto inv = Invite::Decode((*invite)["token"]);
    EXPECT_TRUE(inv.ok()) << inv.status();
    return inv.ok() ? std::make_pair(inv->grpc_address, inv->api_address)
                    : std::make_pair(std::string(), std::string());
  };
  // By default, the bound addresses.
  c_->set_bound_addresses("127.0.0.1:40001", "127.0.0.1:40002");
  EXPECT_EQ(invite_addresses(), std::make_pair(std::string("127.0.0.1:40001"),
                                               std::string("127.0.0.1:40002")));
  // Wildcard listen hosts need an advertise value; nothing changes on refusal.
  EXPECT_EQ(c_->SetAdvertised("0.0.0.0:7400", "", "127.0.0.1:0", "").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(c_->SetAdvertised("127.0.0.1:0", "", "[::]:7443", "").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(c_->SetAdvertised("0.0.0.0:7400", "a:b:c", "127.0.0.1:0", "").code(),
            absl::StatusCode::kInvalidArgument);
  // A host takes the bound port; host:port is used as given.
  ASSERT_TRUE(c_->SetAdvertised("0.0.0.0:7400", "coord.example", "0.0.0.0:7443",
                                "api.example:443").ok());
  c_->set_bound_addresses("0.0.0.0:7400", "0.0.0.0:7443");
  EXPECT_EQ(invite_addresses(), std::make_pair(std::string("coord.example:7400"),
                                               std::string("api.example:443")));
}

TEST_F(CoordinatorTest, WildcardListenAddressesNeedAnAdvertisedOne) {
  // Init refuses before creating anything.
  const std::string home = home_ + "-wildcard";
  for (auto set : std::vector<std::function<void(CoordinatorConfig&)>>{
           [](CoordinatorConfig& c) { c.grpc_listen = "0.0.0.0:7400"; },
           [](CoordinatorConfig& c) { c.api_listen = "[::]:7443"; },
           [](CoordinatorConfig& c) { c.peer_listen = "0.0.0.0:0"; }}) {
    CoordinatorConfig config;
    set(config);
    const Status st = Coordinator::Init(home, config);
    EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
    EXPECT_FALSE(std::filesystem::exists(home));
  }
  CoordinatorConfig dealerless;
  dealerless.peer_listen = "0.0.0.0:0";
  dealerless.host_dealer = false;  // no dealer endpoint, nothing to dial
  EXPECT_TRUE(Coordinator::Init(home, dealerless).ok());
  std::filesystem::remove_all(home);
  // The dealer endpoint refuses before binding, and starts with an advertised host.
  const Status st = c_->StartPeerEndpoint("0.0.0.0:0");
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  EXPECT_NE(std::string(st.message()).find("--peer-advertise"), std::string::npos) << st;
  EXPECT_EQ(c_->peer_address(), "");
  ASSERT_TRUE(c_->StartPeerEndpoint("127.0.0.1:0", "localhost").ok());
  EXPECT_EQ(c_->peer_address().rfind("localhost:", 0), 0u) << c_->peer_address();
}

TEST_F(CoordinatorTest, SubmitValidatesAgainstCatalog) {
  Setup2();
  Json bad = Spec();
  bad["operator"] = "nope";
  EXPECT_EQ(Call(Caller::Node("bank"), "job.submit", {{"spec", bad}}).status().code(), absl::StatusCode::kNotFound);
  bad = Spec();
  bad["parties"]["shop"]["dataset"] = "missing";
  auto r = Call(Caller::Node("bank"), "job.submit", {{"spec", bad}});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(std::string(r.status().message()).find("has no dataset 'missing'"), std::string::npos);
  bad = Spec();
  bad["parties"]["shop"]["columns"] = {"email"};
  EXPECT_EQ(Call(Caller::Node("bank"), "job.submit", {{"spec", bad}}).status().code(), absl::StatusCode::kNotFound);
  bad = Spec();
  bad["outputs"]["bank"] = "everything";
  EXPECT_EQ(Call(Caller::Node("bank"), "job.submit", {{"spec", bad}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Call(Caller::Anonymous(), "job.submit", {{"spec", Spec()}}).status().code(),
            absl::StatusCode::kUnauthenticated);
  std::string id = Submit(Spec());
  EXPECT_EQ(id.size(), 64u);
  EXPECT_EQ(State(id), "proposed");
  EXPECT_EQ(Call(Caller::Node("bank"), "job.submit", {{"spec", Spec()}}).status().code(),
            absl::StatusCode::kAlreadyExists);
}

TEST_F(CoordinatorTest, ApprovalsNeedValidSignaturesFromEachParty) {
  Setup2();
  std::string id = Submit(Spec());
  auto poll = Call(Caller::Node("shop"), "node.poll", Json::object());
  ASSERT_TRUE(poll.ok());
  EXPECT_EQ((*poll)["approve"], Json::array({id}));
  // shop's key signing for bank, a wrong message, or another node deciding for bank: refused.
  auto wrong = shop_.key.SignFor("job-approval", AsBytes(id));
  EXPECT_EQ(Call(Caller::Node("bank"), "job.approve", {{"job_id", id}, {"signature", crypto::EncodeSignature(wrong)}})
                .status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Call(Caller::Node("shop"), "job.approve", {{"job_id", id}, {"party", "bank"}, {"signature", "x"}})
                .status().code(),
            absl::StatusCode::kPermissionDenied);
  ASSERT_TRUE(Approve(bank_, id).ok());
  EXPECT_EQ(Approve(bank_, id).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(State(id), "proposed");
  ASSERT_TRUE(Approve(shop_, id).ok());
  EXPECT_EQ(State(id), "scheduled");
  poll = Call(Caller::Node("bank"), "node.poll", Json::object());
  EXPECT_EQ((*poll)["run"], Json::array({id}));
  auto job = Call(Admin(), "job.get", {{"job_id", id}});
  EXPECT_TRUE((*job)["signatures"].contains("bank"));
  EXPECT_EQ((*job)["spec"], Spec());
}

TEST_F(CoordinatorTest, RunReportsDriveTheJobToItsEnd) {
  Setup2();
  std::string id = Submit(Spec());
  ASSERT_TRUE(Approve(bank_, id).ok());
  ASSERT_TRUE(Approve(shop_, id).ok());
  auto report = [&](const std::string& node, const std::string& outcome) {
    return Call(Caller::Node(node), "job.report", {{"job_id", id}, {"outcome", outcome}, {"reason", "peer gone"}});
  };
  ASSERT_TRUE(report("bank", "started").ok());
  EXPECT_EQ(State(id), "running");
  ASSERT_TRUE(report("shop", "started").ok());
  ASSERT_TRUE(Call(Caller::Node("shop"), "job.progress", {{"job_id", id}, {"fraction", 0.5}, {"stage", "psi"}}).ok());
  EXPECT_EQ(Call(Caller::Node("shop"), "job.progress", {{"job_id", id}, {"fraction", 2.0}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(report("bank", "succeeded").ok());
  EXPECT_EQ(State(id), "running");
  ASSERT_TRUE(report("shop", "succeeded").ok());
  EXPECT_EQ(State(id), "succeeded");

  std::string id2 = Submit(Spec("2"));
  ASSERT_TRUE(Approve(bank_, id2).ok());
  ASSERT_TRUE(Approve(shop_, id2).ok());
  ASSERT_TRUE(report("bank", "started").ok());
  ASSERT_TRUE(report("bank", "started").ok());
  auto r = Call(Caller::Node("shop"), "job.report", {{"job_id", id2}, {"outcome", "started"}});
  r = Call(Caller::Node("shop"), "job.report", {{"job_id", id2}, {"outcome", "failed"}, {"reason", "peer bank disconnected"}});
  ASSERT_TRUE(r.ok());
  auto job = Call(Admin(), "job.get", {{"job_id", id2}});
  EXPECT_EQ((*job)["state"], "failed");
  EXPECT_EQ((*job)["reason"], "shop: peer bank disconnected");
}

TEST_F(CoordinatorTest, FailedJobIsRetriedUnderItsIdOnceEveryPartyHasStopped) {
  Setup2();
  std::string id = Submit(Spec());
  ASSERT_TRUE(Approve(bank_, id).ok());
  ASSERT_TRUE(Approve(shop_, id).ok());
  auto report = [&](const std::string& node, const std::string& outcome) {
    return Call(Caller::Node(node), "job.report", {{"job_id", id}, {"outcome", outcome}, {"reason", "killed"}});
  };
  // Not failed yet: nothing to retry.
  EXPECT_EQ(Call(Caller::Node("bank"), "job.retry", {{"job_id", id}}).status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(report("bank", "started").ok());
  ASSERT_TRUE(report("shop", "started").ok());
  ASSERT_TRUE(report("shop", "failed").ok());
  EXPECT_EQ(State(id), "failed");
  // bank has not reported the end of the first attempt yet.
  auto busy = Call(Caller::Node("shop"), "job.retry", {{"job_id", id}});
  EXPECT_EQ(busy.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(busy.status().message()).find("'bank'"), std::string::npos);
  ASSERT_TRUE(report("bank", "failed").ok());
  // Only parties (or an admin) may retry.
  FakeNode media = Register("media");
  EXPECT_EQ(Call(Caller::Node("media"), "job.retry", {{"job_id", id}}).status().code(),
            absl::StatusCode::kPermissionDenied);
  auto r = Call(Caller::Node("shop"), "job.retry", {{"job_id", id}, {"reason", "node restarted"}});
  ASSERT_TRUE(r.ok()) << r.status();
  // A retry is a new run that every party signs again; old approvals do not carry over.
  EXPECT_EQ((*r)["state"], "proposed");
  EXPECT_EQ((*r)["attempt"], 1);
  EXPECT_EQ((*r)["approvals"]["bank"], "pending");
  EXPECT_EQ((*r)["progress"]["bank"]["run_state"], "");
  auto stale = Approve(bank_, id);  // signs the bare id: attempt 0's message
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kUnauthenticated);
  auto approve1 = [&](const FakeNode& n) {
    auto sig = n.key.SignFor("job-approval", AsBytes(engine::ApprovalMessage(id, 1)));
    return Call(Caller::Node(n.name), "job.approve", {{"job_id", id}, {"signature", crypto::EncodeSignature(sig)}});
  };
  ASSERT_TRUE(approve1(bank_).ok());
  ASSERT_TRUE(approve1(shop_).ok());
  EXPECT_EQ(State(id), "scheduled");
  // The nodes are told to run it again, and it can now succeed.
  auto poll = Call(Caller::Node("bank"), "node.poll", Json::object());
  ASSERT_TRUE(poll.ok());
  EXPECT_EQ((*poll)["run"], Json::array({id}));
  ASSERT_TRUE(report("bank", "started").ok());
  ASSERT_TRUE(report("shop", "started").ok());
  ASSERT_TRUE(report("bank", "succeeded").ok());
  ASSERT_TRUE(report("shop", "succeeded").ok());
  EXPECT_EQ(State(id), "succeeded");
  EXPECT_EQ(Call(Admin(), "job.retry", {{"job_id", id}}).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(CoordinatorTest, JobThatDeliveredToAPartyIsNotRetried) {
  Setup2();
  std::string id = Submit(Spec());
  ASSERT_TRUE(Approve(bank_, id).ok());
  ASSERT_TRUE(Approve(shop_, id).ok());
  auto report = [&](const std::string& node, const std::string& outcome) {
    return Call(Caller::Node(node), "job.report", {{"job_id", id}, {"outcome", outcome}, {"reason", "x"}});
  };
  ASSERT_TRUE(report("bank", "started").ok());
  ASSERT_TRUE(report("shop", "started").ok());
  ASSERT_TRUE(report("bank", "succeeded").ok());
  ASSERT_TRUE(report("shop", "failed").ok());
  auto r = Call(Caller::Node("shop"), "job.retry", {{"job_id", id}});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(r.status().message()).find("'bank' completed the job"), std::string::npos);
}

TEST_F(CoordinatorTest, ModelMetadataIsRegisteredByPartiesOnly) {
  Setup2();
  std::string id = Submit(Spec());
  auto entry = [&](const FakeNode& n, const std::string& owner, const std::string& name) {
    Json body = {{"owner", owner}, {"name", name}, {"job_id", id},
                 {"metadata", {{"kind", "hetero_lr"}, {"columns", {"x1"}}}}};
    return audit::MakeAuthorPart("model.registered", n.name, NowUnixMillis(), body, n.key)->SubmissionJson();
  };
  auto r = Call(Caller::Node("bank"), "model.register", {{"entry", entry(bank_, "bank", "credit")}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Call(Caller::Node("bank"), "model.register", {{"entry", entry(bank_, "bank", "credit")}})
                .status().code(),
            absl::StatusCode::kAlreadyExists);
  // A node cannot register for another party, nor for a job it is not part of.
  EXPECT_EQ(Call(Caller::Node("shop"), "model.register", {{"entry", entry(bank_, "bank", "x")}})
                .status().code(),
            absl::StatusCode::kPermissionDenied);
  FakeNode media = Register("media");
  EXPECT_EQ(Call(Caller::Node("media"), "model.register", {{"entry", entry(media, "media", "x")}})
                .status().code(),
            absl::StatusCode::kPermissionDenied);
  ASSERT_TRUE(Call(Caller::Node("shop"), "model.register", {{"entry", entry(shop_, "shop", "credit")}}).ok());
  auto list = Call(Admin(), "model.list", Json::object());
  ASSERT_TRUE(list.ok());
  ASSERT_EQ((*list)["models"].size(), 2u);
  EXPECT_EQ((*list)["models"][0]["owner"], "bank");
  EXPECT_EQ((*list)["models"][0]["metadata"]["kind"], "hetero_lr");
  auto only = Call(Admin(), "model.list", {{"owner", "shop"}});
  ASSERT_EQ((*only)["models"].size(), 1u);
}

TEST_F(CoordinatorTest, RejectionEndsTheJobWithTheSignedReason) {
  Setup2();
  std::string id = Submit(Spec());
  std::string reason = "not this quarter";
  auto sig = shop_.key.SignFor("job-rejection", AsBytes(id + "\n" + reason));
  ASSERT_TRUE(Call(Caller::Node("shop"), "job.reject",
                   {{"job_id", id}, {"reason", reason}, {"signature", crypto::EncodeSignature(sig)}})
                  .ok());
  auto job = Call(Admin(), "job.get", {{"job_id", id}});
  EXPECT_EQ((*job)["state"], "rejected");
  EXPECT_EQ((*job)["reason"], "shop: not this quarter");
  EXPECT_EQ(Approve(bank_, id).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(CoordinatorTest, SilentPartyFailsTheJob) {
  Setup2();
  std::string id = Submit(Spec());
  ASSERT_TRUE(Approve(bank_, id).ok());
  ASSERT_TRUE(Approve(shop_, id).ok());
  c_->StartScheduler();
  double end = MonotonicSeconds() + 10;
  while (State(id) != "failed" && MonotonicSeconds() < end) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto job = Call(Admin(), "job.get", {{"job_id", id}});
  EXPECT_EQ((*job)["state"], "failed");
  EXPECT_NE((*job)["reason"].get<std::string>().find("stopped reporting"), std::string::npos);
  c_->StopScheduler();
}

TEST_F(CoordinatorTest, StateAndAuditSurviveRestartAndVerify) {
  Setup2();
  std::string id = Submit(Spec());
  ASSERT_TRUE(Approve(bank_, id).ok());
  Reopen();
  EXPECT_EQ(State(id), "proposed");
  ASSERT_TRUE(Approve(shop_, id).ok());
  EXPECT_EQ(State(id), "scheduled");
  auto page = Call(Caller::Node("bank"), "audit.range", {{"from", 0}, {"limit", 1000}});
  ASSERT_TRUE(page.ok()) << page.status();
  std::vector<std::string> kinds;
  for (const auto& e : (*page)["entries"]) kinds.push_back(e["kind"]);
  EXPECT_EQ(kinds, (std::vector<std::string>{"invite.created", "node.registered", "invite.created",
                                             "node.registered", "dataset.registered", "dataset.registered",
                                             "job.submitted", "job.approved", "job.approved", "job.state",
                                             "job.state"}));
  // A replica built from the pages verifies under the coordinator key.
  auto db = SqlDb::Open(JoinPath(home_, "replica.db"));
  ASSERT_TRUE(db.ok());
  auto replica = audit::LogStore::Open(&*db, c_->signing_key().public_key());
  ASSERT_TRUE(replica.ok());
  std::vector<audit::Entry> entries;
  for (const auto& e : (*page)["entries"]) entries.push_back(*audit::Entry::FromJson(e));
  ASSERT_TRUE(replica->Ingest(entries).ok());
  EXPECT_TRUE(audit::VerifyLog(*replica, c_->signing_key().public_key()).ok);
}

TEST_F(CoordinatorTest, UnknownMethodAndMalformedBodies) {
  EXPECT_EQ(Call(Admin(), "job.explode", Json::object()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Call(Admin(), "job.get", {{"job_id", "xyz"}}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Call(Admin(), "job.get", {{"job_id", std::string(64, 'a')}}).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Call(Admin(), "job.submit", Json::array()).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Call(Caller::Anonymous(), "job.list", Json::object()).status().code(), absl::StatusCode::kUnauthenticated);
  // Wrongly typed fields are the caller's error, never an exception.
  EXPECT_EQ(Call(Admin(), "audit.range", {{"from", "zero"}}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Call(Admin(), "job.cancel", {{"job_id", std::string(64, 'a')}, {"reason", 5}}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(CoordinatorTest, CoordinatorSignsAndRunsTheDealerOfJobsThatNameIt) {
  Setup2();
  // No peer endpoint yet: the coordinator cannot deal, and says so at submission.
  auto early = Call(Caller::Node("bank"), "job.submit", {{"spec", DealtSpec("0")}});
  EXPECT_EQ(early.status().code(), absl::StatusCode::kFailedPrecondition) << early.status();
  ASSERT_TRUE(c_->StartPeerEndpoint("127.0.0.1:0").ok());
  EXPECT_EQ(c_->StartPeerEndpoint("127.0.0.1:0").code(), absl::StatusCode::kFailedPrecondition);
  auto info = Call(Admin(), "info", Json::object());
  ASSERT_TRUE(info.ok());
  EXPECT_EQ((*info)["peer_address"], c_->peer_address());
  EXPECT_EQ((*info)["hosts_dealer"], true);
  auto members = Call(Caller::Node("bank"), "members.list", Json::object());
  ASSERT_TRUE(members.ok());
  EXPECT_EQ((*members)["coordinator"]["peer_address"], c_->peer_address());
  auto bank_t = StartNodeTransport(bank_, shop_);
  auto shop_t = StartNodeTransport(shop_, bank_);
  ASSERT_TRUE(bank_t && shop_t);
  c_->StartScheduler();

  std::string id = Submit(DealtSpec());
  ASSERT_FALSE(id.empty());
  // The coordinator approved its own part at once, with a signature every node can check
  // under the coordinator key it pinned.
  Json job = Job(id);
  EXPECT_EQ(job["approvals"][engine::kCoordinatorParty], "approved");
  EXPECT_EQ(job["approvals"]["bank"], "pending");
  auto sig = crypto::DecodeSignature(job["signatures"][engine::kCoordinatorParty].get<std::string>());
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(crypto::VerifyFor(c_->signing_key().public_key(), "job-approval",
                                AsBytes(engine::ApprovalMessage(id, 0)), *sig)
                  .ok());
  ASSERT_TRUE(Approve(bank_, id).ok());
  ASSERT_TRUE(Approve(shop_, id).ok());

  // Scheduled: the coordinator runs the operator's dealer side over pinned peer links.
  Status bank_status, shop_status;
  std::thread bank([&] { bank_status = PlayDataParty(*bank_t, id, "bank"); });
  std::thread shop([&] { shop_status = PlayDataParty(*shop_t, id, "shop"); });
  bank.join();
  shop.join();
  EXPECT_TRUE(bank_status.ok()) << bank_status;
  EXPECT_TRUE(shop_status.ok()) << shop_status;
  ASSERT_TRUE(WaitFor([&] { return CoordinatorRunState(id) == "succeeded"; })) << Job(id).dump();
  EXPECT_EQ(State(id), "running");
  for (const char* p : {"bank", "shop"}) {
    ASSERT_TRUE(Call(Caller::Node(p), "job.report", {{"job_id", id}, {"outcome", "succeeded"}}).ok());
  }
  EXPECT_EQ(State(id), "succeeded");
  c_->StopScheduler();
}

TEST_F(CoordinatorTest, HostedDealerEndsWithItsJobAndSignsEveryRetry) {
  Setup2();
  ASSERT_TRUE(c_->StartPeerEndpoint("127.0.0.1:0").ok());
  auto bank_t = StartNodeTransport(bank_, shop_);
  ASSERT_TRUE(bank_t);
  c_->StartScheduler();
  std::string id = Submit(DealtSpec());
  ASSERT_TRUE(Approve(bank_, id).ok());
  ASSERT_TRUE(Approve(shop_, id).ok());
  // The dealer waits for shop, which fails before it connects: the dealer is cancelled and
  // reports why, so that the job can be retried.
  ASSERT_TRUE(WaitFor([&] { return CoordinatorRunState(id) == "started"; }));
  ASSERT_TRUE(Call(Caller::Node("shop"), "job.report",
                   {{"job_id", id}, {"outcome", "failed"}, {"reason", "disk full"}})
                  .ok());
  ASSERT_TRUE(Call(Caller::Node("bank"), "job.report", {{"job_id", id}, {"outcome", "failed"}}).ok());
  ASSERT_TRUE(WaitFor([&] { return CoordinatorRunState(id) == "failed"; })) << Job(id).dump();
  EXPECT_EQ(Job(id)["reason"], "shop: disk full");

  auto retry = Call(Caller::Node("bank"), "job.retry", {{"job_id", id}});
  ASSERT_TRUE(retry.ok()) << retry.status();
  Json job = Job(id);
  EXPECT_EQ(job["attempt"], 1);
  EXPECT_EQ(job["approvals"][engine::kCoordinatorParty], "approved");
  auto sig = crypto::DecodeSignature(job["signatures"][engine::kCoordinatorParty].get<std::string>());
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(crypto::VerifyFor(c_->signing_key().public_key(), "job-approval",
                                AsBytes(engine::ApprovalMessage(id, 1)), *sig)
                  .ok());

  // Stopping the coordinator mid-job ends its part and names the reason.
  for (const FakeNode* n : {&bank_, &shop_}) {
    auto s1 = n->key.SignFor("job-approval", AsBytes(engine::ApprovalMessage(id, 1)));
    ASSERT_TRUE(Call(Caller::Node(n->name), "job.approve",
                     {{"job_id", id}, {"signature", crypto::EncodeSignature(s1)}})
                    .ok());
  }
  ASSERT_TRUE(WaitFor([&] { return CoordinatorRunState(id) == "started"; }));
  c_->StopScheduler();
  job = Job(id);
  EXPECT_EQ(job["state"], "failed");
  EXPECT_EQ(job["reason"], "coordinator: the coordinator stopped during the job");

  // A run that a killed coordinator left 'started' is ended at the next start, even when the
  // coordinator comes back without its peer endpoint (no longer dealing).
  TamperRunState(id);
  Reopen();
  c_->StartScheduler();
  ASSERT_TRUE(WaitFor([&] { return CoordinatorRunState(id) == "failed"; })) << Job(id).dump();
  EXPECT_EQ(Job(id)["reason"], "coordinator: the coordinator restarted during the job");
  // Without a dealer, a retry is refused up front instead of being scheduled to time out.
  auto no_dealer = Call(Caller::Node("bank"), "job.retry", {{"job_id", id}});
  EXPECT_EQ(no_dealer.status().code(), absl::StatusCode::kFailedPrecondition) << no_dealer.status();
  EXPECT_NE(std::string(no_dealer.status().message()).find("dealer"), std::string::npos);
  ASSERT_TRUE(c_->StartPeerEndpoint("127.0.0.1:0").ok());
  auto again = Call(Caller::Node("bank"), "job.retry", {{"job_id", id}});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*again)["attempt"], 2);
  c_->StopScheduler();
}

TEST_F(CoordinatorTest, AThrowingDealerSideFailsItsJobAndTheCoordinatorServesOn) {
  Setup2();
  ASSERT_TRUE(c_->StartPeerEndpoint("127.0.0.1:0").ok());
  c_->StartScheduler();
  Json spec = DealtSpec();
  spec["operator"] = "test.throwing";
  std::string id = Submit(spec);
  ASSERT_TRUE(Approve(bank_, id).ok());
  ASSERT_TRUE(Approve(shop_, id).ok());
  ASSERT_TRUE(WaitFor([&] { return CoordinatorRunState(id) == "failed"; })) << Job(id).dump();
  EXPECT_EQ(State(id), "failed");
  EXPECT_NE(Job(id)["reason"].get<std::string>().find("the dealer side threw"), std::string::npos)
      << Job(id).dump();
  EXPECT_TRUE(Call(Admin(), "info", Json::object()).ok());
  c_->StopScheduler();
}

TEST_F(CoordinatorTest, TheCoordinatorPartyIsReservedAndOnlyDeals) {
  Setup2();
  ASSERT_TRUE(c_->StartPeerEndpoint("127.0.0.1:0").ok());
  auto invite = Call(Admin(), "invite.create", {{"name", engine::kCoordinatorParty}});
  EXPECT_EQ(invite.status().code(), absl::StatusCode::kInvalidArgument) << invite.status();
  auto submit = [&](const Json& spec) { return Call(Caller::Node("bank"), "job.submit", {{"spec", spec}}); };
  Json with_data = DealtSpec();
  with_data["parties"][engine::kCoordinatorParty] = {{"dataset", "x"}, {"columns", {"phone"}}};
  EXPECT_EQ(submit(with_data).status().code(), absl::StatusCode::kInvalidArgument);
  Json other_role = DealtSpec();
  other_role["parties"][engine::kCoordinatorParty] = {{"role", "helper"}};
  EXPECT_EQ(submit(other_role).status().code(), absl::StatusCode::kInvalidArgument);
  Json receives = DealtSpec();
  receives["outputs"][engine::kCoordinatorParty] = "size";
  EXPECT_EQ(submit(receives).status().code(), absl::StatusCode::kInvalidArgument);
  // A coordinator configured not to deal refuses such jobs whatever its endpoint.
  c_.reset();
  auto text = ReadFile(JoinPath(home_, "coordinator.json"));
  ASSERT_TRUE(text.ok());
  Json config = *ParseJson(*text, "config");
  config["host_dealer"] = false;
  ASSERT_TRUE(WriteFileAtomic(JoinPath(home_, "coordinator.json"), config.dump()).ok());
  Reopen();
  ASSERT_TRUE(c_->StartPeerEndpoint("127.0.0.1:0").ok());
  auto refused = submit(DealtSpec());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(refused.status().message()).find("host_dealer"), std::string::npos);
}

}  // namespace
}  // namespace consort::coordinator
