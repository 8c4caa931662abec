#include "consort/coordinator/control_server.h"

#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include "consort/common/logging.h"
#include "consort/net/proto/control.grpc.pb.h"
#include "consort/net/tls.h"

namespace consort::coordinator {

class ControlServer::Service final : public net::proto::Control::Service {
 public:
  explicit Service(Coordinator& c) : coordinator_(c) {}

  grpc::Status Call(grpc::ServerContext* ctx, const net::proto::CallRequest* req,
                    net::proto::CallReply* reply) override {
    auto fp = net::PeerFingerprint(*ctx);
    if (!fp.ok()) return net::ToGrpcStatus(fp.status());
    auto caller = coordinator_.AuthenticateNode(*fp);
    if (!caller.ok()) return net::ToGrpcStatus(caller.status());
    auto body = ParseJson(req->body_json(), "request");
    if (!body.ok()) return net::ToGrpcStatus(body.status());
    auto result = coordinator_.Dispatch(*caller, req->method(), *body);
    if (!result.ok()) {
      if (result.status().code() == absl::StatusCode::kInternal) {
        CONSORT_LOG(ERROR) << req->method() << " from " << caller->name << ": " << result.status();
      }
      return net::ToGrpcStatus(result.status());
    }
    reply->set_body_json(result->dump());
    return grpc::Status::OK;
  }

 private:
  Coordinator& coordinator_;
};

StatusOr<std::unique_ptr<ControlServer>> ControlServer::Start(Coordinator& coordinator,
                                                              const std::string& address) {
  net::TlsConfig tls{coordinator.tls_identity().key_pem, coordinator.tls_identity().cert_pem};
  Coordinator* c = &coordinator;
  CONSORT_ASSIGN_OR_RETURN(auto creds, net::MakeServerCredentials(tls, [c](const std::string& fp) {
                             return c->IsRegisteredFingerprint(fp);
                           }));
  std::unique_ptr<ControlServer> s(new ControlServer());
  s->service_ = std::make_unique<Service>(coordinator);
  grpc::ServerBuilder builder;
  net::ApplyServerDefaults(builder);
  builder.AddListeningPort(address, creds, &s->port_);
  builder.RegisterService(s->service_.get());
  s->server_ = builder.BuildAndStart();
  if (!s->server_ || s->port_ == 0) {
    return absl::UnavailableError("cannot listen on " + address + " (address in use?)");
  }
  return s;
}

ControlServer::~ControlServer() { Shutdown(); }

void ControlServer::Shutdown() {
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    server_.reset();
  }
}

}  // namespace consort::coordinator
