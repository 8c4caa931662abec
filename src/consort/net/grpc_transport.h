#pragma once
// PeerTransport: the production Link between nodes, over gRPC with pinned mutual TLS.
//
// Every node runs one PeerTransport: a gRPC server (service PeerLink, net/proto/peer.proto)
// plus one pinned channel per peer. A Link for (job, peer) is two one-way streams:
//   outgoing: our client stream  ──Frame*──►  peer's server  → peer's mailbox (job, us)
//   incoming: peer's client stream ──Frame*──► our server    → our mailbox (job, peer)
// Send writes to the outgoing stream; Recv pops our mailbox. The job id travels in the
// metadata "consort-job-id"; the sender's party name is never taken from the wire but from
// its authenticated certificate (PeerDirectory::NameForFingerprint), so a party cannot speak
// for another. Certificates not in the directory are refused inside the TLS handshake.
//
// Buffering and backpressure: frames that arrive before the local Connect wait in a mailbox
// created on first use (dropped after `orphan_ttl` if the job never connects). A mailbox is
// bounded (mailbox_bytes); while full the server stops reading, HTTP/2 flow control stalls the
// sender, whose Send blocks once `send_buffer_bytes` are queued, then fails with
// DeadlineExceeded after Link::timeout().
//
// Failure semantics:
//   peer closes its Link cleanly   → our Recv drains, then Unavailable("peer X closed the link")
//   peer dies / its transport stops → our Recv drains, then Unavailable("peer X disconnected");
//                                     our Send fails with Unavailable once the stream breaks
//                                     (a Send may succeed into the local buffer before that)
//   frame > kMaxMessageBytes from the peer → its stream fails with INVALID_ARGUMENT and our
//                                     Recv returns InvalidArgument after draining
//   dead host without a TCP reset   → keepalive (net/tls.h) breaks the streams within ~15 s
// Security model: authenticated, confidential, integrity-protected channel against a network
// attacker (TLS 1.3); peers are only trusted to be who their pinned certificate says.
// Leaks: message sizes, counts and timing to the network; job ids to the peer.

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>

#include "consort/common/status.h"
#include "consort/net/link.h"
#include "consort/net/peer_directory.h"
#include "consort/net/tls.h"

namespace grpc {
class Server;
class Service;
}  // namespace grpc

namespace consort::net {

struct PeerTransportOptions {
  // Buffer of one incoming (job, peer) direction.
  size_t mailbox_bytes = 8u << 20;
  size_t mailbox_messages = 4096;
  // Bytes a Link queues for the network before Send blocks.
  size_t send_buffer_bytes = 4u << 20;
  // A mailbox whose job never Connects locally is dropped after this long.
  std::chrono::milliseconds orphan_ttl{std::chrono::minutes(10)};
  // Per sending party, how many not-yet-connected mailboxes may exist, which bounds what a
  // registered peer can make us hold for jobs we never run to max_orphans_per_peer *
  // max(mailbox_bytes, kMaxMessageBytes). Further streams fail with RESOURCE_EXHAUSTED.
  size_t max_orphans_per_peer = 16;
};

namespace internal {
class TransportCore;
}

// Thread-safe. Links it creates stay valid (but fail with Cancelled) after Shutdown or
// destruction of the transport.
class PeerTransport {
 public:
  // Starts the server on `listen_address` ("127.0.0.1:0" picks a free port). InvalidArgument
  // for a bad TLS identity or name, Unavailable if the address cannot be bound.
  static StatusOr<std::unique_ptr<PeerTransport>> Start(std::string self_name,
                                                        std::string listen_address, TlsConfig tls,
                                                        std::shared_ptr<PeerDirectory> directory,
                                                        PeerTransportOptions options = {});
  ~PeerTransport();  // Shutdown()
  PeerTransport(const PeerTransport&) = delete;
  PeerTransport& operator=(const PeerTransport&) = delete;

  const std::string& self_name() const;
  // The bound port.
  int port() const { return port_; }

  // The Link for `job_id` with party `peer`. Opens the outgoing stream now (no round trip is
  // awaited: an unreachable or refusing peer shows up as Unavailable from Send; a Send may
  // succeed into the send buffer before the failure is known). The Link's Close flushes queued
  // messages for up to its timeout(), then ends the stream (cancels it if the peer is stuck),
  // and releases the mailbox; its destructor closes it. At most one
  // Link per (job, peer) at a time: AlreadyExists. NotFound for an unknown peer,
  // InvalidArgument for a bad job id (1-128 chars of [A-Za-z0-9._:-]) or peer == self,
  // FailedPrecondition after Shutdown.
  StatusOr<std::unique_ptr<Link>> Connect(const std::string& job_id, const std::string& peer);

  // Stops the server and breaks every stream (peers see "disconnected"). Our Links then fail
  // with Cancelled: Send at once, Recv after handing over what had already arrived.
  // Idempotent; returns within about a second.
  void Shutdown();

  // Mailboxes currently held (connected or orphan); for tests and metrics.
  size_t mailbox_count() const;

 private:
  PeerTransport() = default;
  std::shared_ptr<internal::TransportCore> core_;
  std::unique_ptr<grpc::Service> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::mutex shutdown_mu_;
};

}  // namespace consort::net
