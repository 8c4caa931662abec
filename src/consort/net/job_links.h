#pragma once
// JobLinks: the links one party of one job holds to its peers, opened on first use and closed
// together. Both runtimes that host a party use it: the node (node/node_session.h) and the
// coordinator when it hosts a dataless role such as the MPC dealer (coordinator/hosted_party.h).
//
// Cancel() may be called from any thread while the party's program is blocked in a Send or
// Recv on one of the links: it closes them all, so those calls return (Cancelled), and refuses
// new ones. The links stay allocated until CloseAll(), because the program may still be inside
// them. Thread-safe.

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "consort/common/status.h"
#include "consort/net/link.h"

namespace consort::net {

class JobLinks {
 public:
  // Opens the link to `peer` (e.g. PeerTransport::Connect bound to the job id).
  using Connector = std::function<StatusOr<std::unique_ptr<Link>>(const std::string& peer)>;

  JobLinks(Connector connect, std::chrono::milliseconds timeout)
      : connect_(std::move(connect)), timeout_(timeout) {}
  ~JobLinks() { CloseAll(); }
  JobLinks(const JobLinks&) = delete;
  JobLinks& operator=(const JobLinks&) = delete;

  // The link to `peer`, connected on first use with the configured timeout. Cancelled after
  // Cancel(); the connector's error otherwise. The pointer stays valid until CloseAll().
  StatusOr<Link*> Get(const std::string& peer);

  // Closes every link (unblocking pending calls) and refuses new ones.
  void Cancel();
  bool cancelled() const { return cancelled_.load(); }
  const std::atomic<bool>& cancelled_flag() const { return cancelled_; }

  // Closes and releases every link, keeping their byte counts. Only once the program is done.
  void CloseAll();

  uint64_t bytes_sent() const;
  uint64_t bytes_received() const;

 private:
  Connector connect_;
  std::chrono::milliseconds timeout_;
  std::atomic<bool> cancelled_{false};
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Link>> links_;
  uint64_t closed_sent_ = 0, closed_received_ = 0;
};

}  // namespace consort::net
