#pragma once
// Who the other parties are and how to reach them: the node fills a PeerDirectory from its
// replica of the federation registry; PeerTransport asks it (a) where to connect for a party
// and which certificate to pin, and (b) which party a connecting certificate belongs to.

#include <map>
#include <mutex>
#include <string>

#include "consort/common/status.h"

namespace consort::net {

struct PeerInfo {
  std::string name;              // party name
  std::string address;           // host:port of its PeerTransport
  std::string cert_fingerprint;  // lowercase hex SHA-256 of its certificate (DER)
};

// Implementations must be thread-safe; both calls run on gRPC threads, NameForFingerprint even
// inside TLS handshakes, so they must be fast and must not block on the network.
class PeerDirectory {
 public:
  virtual ~PeerDirectory() = default;
  // NotFound if `name` is not a registered party.
  virtual StatusOr<PeerInfo> Lookup(const std::string& name) = 0;
  // The party whose registered certificate has fingerprint `fp`; NotFound if none.
  virtual StatusOr<std::string> NameForFingerprint(const std::string& fp) = 0;
};

// An in-memory directory (tests, demos, or a snapshot of the registry). Thread-safe.
class StaticPeerDirectory final : public PeerDirectory {
 public:
  StaticPeerDirectory() = default;
  // Adds or replaces the entry for info.name. InvalidArgument if the name or address is empty,
  // the fingerprint is not 64 lowercase hex, or another party already has that fingerprint.
  Status Put(PeerInfo info);
  void Remove(const std::string& name);

  StatusOr<PeerInfo> Lookup(const std::string& name) override;
  StatusOr<std::string> NameForFingerprint(const std::string& fp) override;

 private:
  std::mutex mu_;
  std::map<std::string, PeerInfo> by_name_;
};

}  // namespace consort::net
