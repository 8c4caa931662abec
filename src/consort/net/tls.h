#pragma once
// Mutual TLS with pinned certificates for every gRPC connection in Consort (node<->node peer
// links, node<->coordinator control plane).
//
// Security model: no certificate authority is trusted. Each side presents its self-signed
// certificate (crypto/tls_identity.h) and accepts the other only if the SHA-256 fingerprint of
// the peer's leaf certificate (DER) is the one recorded in the federation registry. Both checks
// run inside the TLS handshake (gRPC's custom certificate verifier), so an unregistered or
// unexpected certificate never reaches a service handler: the caller sees UNAVAILABLE.
//   client -> server: ClientHello ... server cert (client verifier: fingerprint == pinned?)
//   server <- client: client cert (server verifier: accept(fingerprint)?)
// Certificate chains, host names, validity dates and CA bits are deliberately not checked: the
// pin is the whole trust decision (rotation = registering a new fingerprint).
// Leaks: to a network observer, what TLS 1.3 leaks (endpoints, timing, sizes); certificates
// are encrypted in TLS 1.3 but visible to the peer.

#include <grpcpp/channel.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/channel_arguments.h>
#include <grpcpp/support/status.h>

#include <functional>
#include <memory>
#include <string>

#include "consort/common/status.h"
#include "consort/net/link.h"

namespace consort::net {

// Our identity for TLS: PKCS#8 private key and self-signed certificate (PEM).
struct TlsConfig {
  std::string key_pem, cert_pem;
};

// Largest gRPC message accepted or sent: one Link message plus framing overhead.
inline constexpr int kMaxGrpcMessageBytes = static_cast<int>(kMaxMessageBytes) + (64 << 10);
// Keepalive: a silent peer is pinged every kKeepaliveTime and dropped if it does not answer
// within kKeepaliveTimeout, so a dead peer is detected within ~15 s even when idle.
inline constexpr int kKeepaliveTimeMs = 10'000;
inline constexpr int kKeepaliveTimeoutMs = 5'000;

// Accepts (true) or refuses (false) a client certificate by its fingerprint (lowercase hex
// SHA-256 of the DER). Called on a gRPC thread during every handshake: must be thread-safe,
// fast and non-blocking.
using FingerprintPolicy = std::function<bool(const std::string& fingerprint)>;

// Checks that `tls` holds a parseable certificate and the private key that matches it.
// InvalidArgument otherwise.
Status ValidateTlsConfig(const TlsConfig& tls);

// Server credentials presenting `me` and requiring a client certificate that `accept` approves
// (refused certificates fail the handshake). InvalidArgument if `me` is invalid or `accept` empty.
StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsConfig& me, FingerprintPolicy accept);

// Applies the server-side keepalive policy (matching the channel's pings) and message size
// limits. Every server that accepts pinned channels must call this, or gRPC's default ping
// policy (5 min) makes it send GOAWAY to our 10 s keepalive pings.
void ApplyServerDefaults(grpc::ServerBuilder& builder);

// The channel arguments CreatePinnedChannel uses by default: keepalive, message size, fast
// reconnect, and a channel-local subchannel pool (connections are never shared between
// channels with different pins).
grpc::ChannelArguments DefaultChannelArguments();

// A channel to `address` ("host:port") that presents `me` and accepts the server only if its
// certificate fingerprint equals `expected_server_fingerprint` (64 lowercase hex). Host names
// are not checked. Connection is lazy; a refused server makes calls fail with UNAVAILABLE.
// InvalidArgument if `me` or the fingerprint is malformed.
StatusOr<std::shared_ptr<grpc::Channel>> CreatePinnedChannel(
    const std::string& address, const TlsConfig& me, const std::string& expected_server_fingerprint);
StatusOr<std::shared_ptr<grpc::Channel>> CreatePinnedChannel(
    const std::string& address, const TlsConfig& me, const std::string& expected_server_fingerprint,
    const grpc::ChannelArguments& args);

// The fingerprint of the authenticated client certificate of the call (from the auth context
// property "x509_pem_cert"). Unauthenticated if the call did not come over mutual TLS.
StatusOr<std::string> PeerFingerprint(const grpc::ServerContext& context);

// Status conversions at the gRPC boundary (the numeric codes are the same).
Status FromGrpcStatus(const grpc::Status& s);
grpc::Status ToGrpcStatus(const Status& s);

// True iff `fp` looks like a certificate fingerprint: 64 lowercase hex characters.
bool IsFingerprint(const std::string& fp);

}  // namespace consort::net
