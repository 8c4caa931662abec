#include "consort/net/peer_directory.h"

#include "consort/net/tls.h"

namespace consort::net {

Status StaticPeerDirectory::Put(PeerInfo info) {
  if (info.name.empty()) return absl::InvalidArgumentError("peer name is empty");
  if (info.address.empty()) {
    return absl::InvalidArgumentError("peer '" + info.name + "' has an empty address");
  }
  if (!IsFingerprint(info.cert_fingerprint)) {
    return absl::InvalidArgumentError("peer '" + info.name +
                                      "': certificate fingerprint must be 64 lowercase hex");
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [name, other] : by_name_) {
    if (name != info.name && other.cert_fingerprint == info.cert_fingerprint) {
      return absl::InvalidArgumentError("peers '" + name + "' and '" + info.name +
                                        "' cannot share a certificate");
    }
  }
  std::string name = info.name;
  by_name_[name] = std::move(info);
  return OkStatus();
}

void StaticPeerDirectory::Remove(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  by_name_.erase(name);
}

StatusOr<PeerInfo> StaticPeerDirectory::Lookup(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return absl::NotFoundError("unknown peer '" + name + "'");
  return it->second;
}

StatusOr<std::string> StaticPeerDirectory::NameForFingerprint(const std::string& fp) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [name, info] : by_name_) {
    if (info.cert_fingerprint == fp) return name;
  }
  return absl::NotFoundError("no peer has certificate " + fp);
}

}  // namespace consort::net
