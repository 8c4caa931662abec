#pragma once
// Peer addresses: what a listener binds versus what its peers dial. A node (or the
// coordinator's dealer endpoint) may bind every interface ("0.0.0.0:7500") or sit behind NAT;
// peers then need another address, the advertised one, which the listener announces to the
// coordinator and the coordinator passes on in members.list.

#include <string>
#include <string_view>

#include "consort/common/status.h"

namespace consort::net {

// True for hosts that bind every interface and that no peer can dial: "", "0.0.0.0", "::",
// "[::]" and "*".
bool IsWildcardHost(std::string_view host);

// The address peers dial to reach a listener bound on `listen` ("host:port") at `bound_port`
// (the port it actually got, which differs from listen's when that says 0):
//  - `advertise` non-empty: "host:port" as given, or "host" with the bound port;
//  - otherwise the host of `listen` with the bound port.
// IPv6 hosts are written in brackets ("[2001:db8::1]:7500").
// Errors: InvalidArgument for a malformed `advertise` (empty host, bad port, unbracketed IPv6);
// FailedPrecondition when the host would be a wildcard, naming `advertise_option` (e.g.
// "--peer-advertise") as the way out.
StatusOr<std::string> AdvertisedAddress(std::string_view listen, std::string_view advertise,
                                        int bound_port, std::string_view advertise_option);

}  // namespace consort::net
