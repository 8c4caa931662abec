#include "consort/net/job_links.h"

#include <vector>

namespace consort::net {

StatusOr<Link*> JobLinks::Get(const std::string& peer) {
  std::lock_guard<std::mutex> lock(mu_);
  if (cancelled_) return absl::CancelledError("job cancelled");
  auto it = links_.find(peer);
  if (it != links_.end()) return it->second.get();
  CONSORT_ASSIGN_OR_RETURN(std::unique_ptr<Link> link, connect_(peer));
  link->set_timeout(timeout_);
  Link* raw = link.get();
  links_.emplace(peer, std::shared_ptr<Link>(std::move(link)));
  return raw;
}

void JobLinks::Cancel() {
  std::vector<std::shared_ptr<Link>> links;
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
    for (auto& [_, link] : links_) links.push_back(link);
  }
  // Outside the lock: Close may wait for a stream to finish.
  for (auto& link : links) link->Close();
}

void JobLinks::CloseAll() {
  std::map<std::string, std::shared_ptr<Link>> links;
  {
    std::lock_guard<std::mutex> lock(mu_);
    links.swap(links_);
  }
  for (auto& [_, link] : links) link->Close();
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [_, link] : links) {
    closed_sent_ += link->bytes_sent();
    closed_received_ += link->bytes_received();
  }
}

uint64_t JobLinks::bytes_sent() const {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t n = closed_sent_;
  for (const auto& [_, l] : links_) n += l->bytes_sent();
  return n;
}

uint64_t JobLinks::bytes_received() const {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t n = closed_received_;
  for (const auto& [_, l] : links_) n += l->bytes_received();
  return n;
}

}  // namespace consort::net
