#include "consort/net/control_client.h"

#include <grpcpp/client_context.h>

#include "consort/net/proto/control.grpc.pb.h"

namespace consort::net {

struct ControlClient::Impl {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<proto::Control::Stub> stub;
};

StatusOr<std::unique_ptr<ControlClient>> ControlClient::Create(
    const std::string& address, const TlsConfig& me, const std::string& coordinator_fingerprint) {
  CONSORT_ASSIGN_OR_RETURN(auto channel, CreatePinnedChannel(address, me, coordinator_fingerprint));
  std::unique_ptr<ControlClient> c(new ControlClient());
  c->address_ = address;
  c->impl_ = std::make_unique<Impl>();
  c->impl_->channel = channel;
  c->impl_->stub = proto::Control::NewStub(channel);
  return c;
}

ControlClient::~ControlClient() = default;

StatusOr<Json> ControlClient::Call(const std::string& method, const Json& body,
                                   std::chrono::milliseconds timeout) {
  proto::CallRequest req;
  req.set_method(method);
  req.set_body_json(body.dump());
  proto::CallReply reply;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  grpc::Status st = impl_->stub->Call(&ctx, req, &reply);
  if (!st.ok()) {
    Status s = FromGrpcStatus(st);
    if (s.code() == absl::StatusCode::kUnavailable) {
      return absl::UnavailableError("coordinator at " + address_ + " is unreachable: " +
                                    std::string(s.message()));
    }
    return s;
  }
  return ParseJson(reply.body_json(), "coordinator reply");
}

}  // namespace consort::net
