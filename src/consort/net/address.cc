#include "consort/net/address.h"

#include <string>

namespace consort::net {
namespace {

struct HostPort {
  std::string_view host, port;  // port empty when absent
};

// Splits "host", "host:port", "[v6]" or "[v6]:port"; InvalidArgument for anything else.
StatusOr<HostPort> Split(std::string_view a, std::string_view what) {
  HostPort hp;
  if (!a.empty() && a.front() == '[') {
    const size_t close = a.find(']');
    if (close == std::string_view::npos) {
      return absl::InvalidArgumentError(std::string(what) + " '" + std::string(a) +
                                        "': '[' without ']'");
    }
    hp.host = a.substr(0, close + 1);
    std::string_view rest = a.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return absl::InvalidArgumentError(std::string(what) + " '" + std::string(a) +
                                          "': expected ':port' after ']'");
      }
      hp.port = rest.substr(1);
      if (hp.port.empty()) {
        return absl::InvalidArgumentError(std::string(what) + " '" + std::string(a) +
                                          "': empty port");
      }
    }
    return hp;
  }
  const size_t colon = a.find(':');
  if (colon == std::string_view::npos) {
    hp.host = a;
    return hp;
  }
  if (a.find(':', colon + 1) != std::string_view::npos) {
    return absl::InvalidArgumentError(std::string(what) + " '" + std::string(a) +
                                      "': write an IPv6 host in brackets, e.g. [2001:db8::1]:7500");
  }
  hp.host = a.substr(0, colon);
  hp.port = a.substr(colon + 1);
  if (hp.port.empty()) {
    return absl::InvalidArgumentError(std::string(what) + " '" + std::string(a) + "': empty port");
  }
  return hp;
}

bool ValidPort(std::string_view p) {
  if (p.empty() || p.size() > 5) return false;
  int v = 0;
  for (char c : p) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  return v >= 1 && v <= 65535;
}

}  // namespace

bool IsWildcardHost(std::string_view host) {
  return host.empty() || host == "0.0.0.0" || host == "::" || host == "[::]" || host == "*";
}

StatusOr<std::string> AdvertisedAddress(std::string_view listen, std::string_view advertise,
                                        int bound_port, std::string_view advertise_option) {
  const std::string bound = std::to_string(bound_port);
  if (!advertise.empty()) {
    CONSORT_ASSIGN_OR_RETURN(HostPort hp, Split(advertise, advertise_option));
    if (hp.host.empty() || hp.host == "[]") {
      return absl::InvalidArgumentError(std::string(advertise_option) + " '" +
                                        std::string(advertise) + "': empty host");
    }
    if (IsWildcardHost(hp.host)) {
      return absl::FailedPreconditionError(
          std::string(advertise_option) + " '" + std::string(advertise) +
          "' is a wildcard, which no peer can dial; give a host name or IP address");
    }
    if (hp.port.empty()) return std::string(hp.host) + ":" + bound;
    if (!ValidPort(hp.port)) {
      return absl::InvalidArgumentError(std::string(advertise_option) + " '" +
                                        std::string(advertise) + "': port must be in [1, 65535]");
    }
    return std::string(advertise);
  }
  // The listen address: everything before the last ':' (it was bound, so it parses).
  const size_t colon = listen.rfind(':');
  const std::string_view host =
      colon == std::string_view::npos ? listen : listen.substr(0, colon);
  if (IsWildcardHost(host)) {
    return absl::FailedPreconditionError(
        "the listen address '" + std::string(listen) +
        "' binds every interface, which no peer can dial; set " + std::string(advertise_option) +
        " to the host (or host:port) peers should use");
  }
  return std::string(host) + ":" + bound;
}

}  // namespace consort::net
