// The RestServer constructor that serves a real Coordinator. Kept in its own file so that code
// using only the DispatchFn/AuthFn constructor does not pull in the coordinator.
#include "consort/api/rest_server.h"

#include <httplib.h>

namespace consort::api {

RestServer::RestServer(coordinator::Coordinator& coordinator, std::string listen) {
  options_.listen = std::move(listen);
  options_.tls = coordinator.tls_identity();
  dispatch_ = [c = &coordinator](const coordinator::Caller& caller, const std::string& method,
                                 const Json& body) { return c->Dispatch(caller, method, body); };
  auth_ = [c = &coordinator](const std::string& token) { return c->AuthenticateToken(token); };
  on_bound_ = [c = &coordinator](const std::string& address) {
    c->set_bound_addresses("", address);
  };
}

}  // namespace consort::api
