#pragma once
// Invite tokens: everything a new node needs to join, in one copy-pasteable string.
//   "csi1." + base64url(canonical JSON {name, grpc, api, fp, key, secret})
// `fp` pins the coordinator's TLS certificate and `key` its signing key (the trust root for the
// audit log), so a node never trusts anything the network tells it about the coordinator.
// The coordinator stores only SHA-256(secret); a token works once and expires.

#include <string>

#include "consort/common/status.h"

namespace consort::coordinator {

struct Invite {
  std::string name;             // the node this invite is for
  std::string grpc_address;     // coordinator control plane (host:port)
  std::string api_address;      // coordinator REST API (host:port), used to register
  std::string tls_fingerprint;  // hex SHA-256 of the coordinator certificate (DER)
  std::string coordinator_key;  // base64url Ed25519 public key
  std::string secret;           // 64 hex characters

  StatusOr<std::string> Encode() const;
  // InvalidArgument ("invite token is malformed: ...") for anything unexpected.
  static StatusOr<Invite> Decode(const std::string& token);
};

}  // namespace consort::coordinator
