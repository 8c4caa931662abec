#include "consort/psi/align.h"

#include <algorithm>
#include <mutex>
#include <thread>

#include "consort/crypto/hash.h"
#include "consort/engine/session.h"
#include "consort/psi/ecdh_psi.h"

namespace consort::psi {
namespace {

// Serializes progress reports from concurrent PSI runs and keeps them non-decreasing.
class ProgressMux {
 public:
  ProgressMux(const std::function<void(double)>& sink, size_t parts) : sink_(sink), parts_(parts) {
    done_.assign(parts, 0.0);
  }
  // Part `i` (of `parts`) is at `f` within [lo, hi] of the whole run.
  void Report(size_t i, double f, double lo, double hi) {
    if (!sink_) return;
    std::lock_guard<std::mutex> lock(mu_);
    done_[i] = std::clamp(f, 0.0, 1.0);
    double sum = 0;
    for (double d : done_) sum += d;
    double total = lo + (hi - lo) * sum / static_cast<double>(parts_);
    if (total > last_) {
      last_ = total;
      sink_(total);
    }
  }
  void Reset() {
    std::lock_guard<std::mutex> lock(mu_);
    done_.assign(parts_, 0.0);
  }

 private:
  const std::function<void(double)>& sink_;
  size_t parts_;
  std::mutex mu_;
  std::vector<double> done_;
  double last_ = -1;
};

void CloseAll(const std::map<std::string, net::Link*>& peers) {
  for (const auto& [name, link] : peers) {
    if (link) link->Close();
  }
}

// Runs one ECDH-PSI per (link, items, outputs) concurrently; on the first failure closes
// every link so that the other runs and the peers stop promptly.
struct PsiJob {
  net::Link* link;
  const std::vector<std::string>* items;
  PsiOutput mine, theirs;
  std::string domain;
  StatusOr<PsiResult> result = absl::UnknownError("not run");
};

Status RunConcurrently(std::vector<PsiJob>& jobs, const AlignOptions& opts, ProgressMux& mux,
                       double lo, double hi, const std::map<std::string, net::Link*>& peers) {
  mux.Reset();
  std::vector<std::thread> threads;
  std::mutex mu;
  bool failed = false;
  auto run = [&](size_t i) {
    PsiJob& j = jobs[i];
    EcdhPsiOptions eo;
    eo.my_output = j.mine;
    eo.peer_output = j.theirs;
    eo.domain = j.domain;
    eo.cancelled = opts.cancelled;
    eo.threads = opts.threads;
    eo.progress = [&mux, i, lo, hi](double f) { mux.Report(i, f, lo, hi); };
    j.result = RunEcdhPsi(*j.link, *j.items, eo);
    if (!j.result.ok()) {
      std::lock_guard<std::mutex> lock(mu);
      if (!failed) {
        failed = true;
        CloseAll(peers);
      }
    }
  };
  if (jobs.size() == 1) {
    run(0);
  } else {
    for (size_t i = 0; i < jobs.size(); ++i) threads.emplace_back(run, i);
    for (auto& t : threads) t.join();
  }
  // Report the root cause: once we close the links after a failure, the other runs end with
  // Cancelled (closed locally) or Unavailable, which are symptoms. Rank: any other code, then
  // Unavailable, then Cancelled.
  auto rank = [](const Status& st) {
    if (st.ok()) return 0;
    if (st.code() == absl::StatusCode::kCancelled) return 1;
    if (st.code() == absl::StatusCode::kUnavailable) return 2;
    return 3;
  };
  Status first = OkStatus();
  for (const auto& j : jobs) {
    if (rank(j.result.status()) > rank(first)) first = j.result.status();
  }
  if (first.ok() || !opts.cancelled || !opts.cancelled->load()) return first;
  return absl::CancelledError("alignment cancelled");
}

}  // namespace

std::vector<size_t> AgreedOrder(const std::vector<std::string>& keys,
                                std::span<const size_t> subset, const std::string& domain) {
  std::string prefix(8, '\0');
  uint64_t n = domain.size();
  for (int i = 0; i < 8; ++i) prefix[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  prefix += domain;
  std::vector<std::pair<crypto::Digest256, size_t>> tagged;
  tagged.reserve(subset.size());
  for (size_t idx : subset) {
    crypto::Sha256Hasher h;
    h.Update(std::string_view(prefix));
    h.Update(std::string_view(keys[idx]));
    tagged.emplace_back(h.Finish(), idx);
  }
  // Ties (a SHA-256 collision) are broken by the key bytes, which every party also shares.
  std::sort(tagged.begin(), tagged.end(), [&](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first < b.first;
    return keys[a.second] < keys[b.second];
  });
  std::vector<size_t> out;
  out.reserve(tagged.size());
  for (const auto& t : tagged) out.push_back(t.second);
  return out;
}

StatusOr<std::vector<size_t>> AlignByPsi(const std::vector<std::string>& keys,
                                         const std::map<std::string, net::Link*>& peers,
                                         const std::string& self, const AlignOptions& opts) {
  if (peers.empty()) return absl::InvalidArgumentError("alignment needs at least one peer");
  for (const auto& [name, link] : peers) {
    if (!link) return absl::InvalidArgumentError("alignment: no link to party '" + name + "'");
    if (name == self) return absl::InvalidArgumentError("alignment: a peer is named as self");
  }
  if (opts.cancelled && opts.cancelled->load()) {
    CloseAll(peers);
    return absl::CancelledError("alignment cancelled");
  }
  std::string leader = std::min(self, peers.begin()->first);
  ProgressMux mux(opts.progress, std::max<size_t>(1, peers.size()));
  std::vector<size_t> matched;

  if (peers.size() == 1) {
    std::vector<PsiJob> jobs(1);
    jobs[0] = PsiJob{peers.begin()->second, &keys, PsiOutput::kIntersection,
                     PsiOutput::kIntersection, opts.domain + "/align/2p"};
    CONSORT_RETURN_IF_ERROR(RunConcurrently(jobs, opts, mux, 0.0, 1.0, peers));
    matched = std::move(jobs[0].result->matched);
  } else if (self == leader) {
    // Round 1: which of my keys each peer holds.
    std::vector<PsiJob> r1;
    for (const auto& [name, link] : peers) {
      r1.push_back(PsiJob{link, &keys, PsiOutput::kIntersection, PsiOutput::kNone,
                          opts.domain + "/align/r1/" + name});
    }
    CONSORT_RETURN_IF_ERROR(RunConcurrently(r1, opts, mux, 0.0, 0.5, peers));
    std::vector<size_t> count(keys.size(), 0);
    for (const auto& j : r1) {
      for (size_t k : j.result->matched) {
        if (k >= keys.size()) {
          CloseAll(peers);
          return absl::InternalError("alignment: matched index out of range");
        }
        ++count[k];
      }
    }
    std::vector<std::string> common;
    for (size_t k = 0; k < keys.size(); ++k) {
      if (count[k] == peers.size()) {
        matched.push_back(k);
        common.push_back(keys[k]);
      }
    }
    // Round 2: each peer learns which of its keys are in S (all of S lies in its set).
    std::vector<PsiJob> r2;
    for (const auto& [name, link] : peers) {
      r2.push_back(PsiJob{link, &common, PsiOutput::kNone, PsiOutput::kIntersection,
                          opts.domain + "/align/r2/" + name});
    }
    CONSORT_RETURN_IF_ERROR(RunConcurrently(r2, opts, mux, 0.5, 1.0, peers));
  } else {
    auto it = peers.find(leader);
    CONSORT_CHECK(it != peers.end());
    std::vector<PsiJob> jobs(1);
    jobs[0] = PsiJob{it->second, &keys, PsiOutput::kNone, PsiOutput::kIntersection,
                     opts.domain + "/align/r1/" + self};
    CONSORT_RETURN_IF_ERROR(RunConcurrently(jobs, opts, mux, 0.0, 0.5, peers));
    jobs[0] = PsiJob{it->second, &keys, PsiOutput::kIntersection, PsiOutput::kNone,
                     opts.domain + "/align/r2/" + self};
    CONSORT_RETURN_IF_ERROR(RunConcurrently(jobs, opts, mux, 0.5, 1.0, peers));
    matched = std::move(jobs[0].result->matched);
  }
  for (size_t k : matched) {
    if (k >= keys.size()) {
      CloseAll(peers);
      return absl::InternalError("alignment: matched index out of range");
    }
  }
  if (opts.progress) opts.progress(1.0);
  return AgreedOrder(keys, matched, opts.domain);
}

StatusOr<std::vector<uint32_t>> AlignSessionRows(engine::Session& session,
                                                 const data::Table& table,
                                                 std::span<const std::string> key_columns,
                                                 const data::KeyOptions& key_options,
                                                 const std::vector<std::string>& parties,
                                                 double progress_from, double progress_to) {
  CONSORT_ASSIGN_OR_RETURN(data::KeyedRows keyed,
                           data::ExtractKeys(table, key_columns, key_options));
  std::map<std::string, net::Link*> peers;
  for (const auto& p : parties) {
    if (p == session.self()) continue;
    CONSORT_ASSIGN_OR_RETURN(net::Link * link, session.Peer(p));
    peers[p] = link;
  }
  AlignOptions opts;
  opts.domain = session.job_id();
  opts.cancelled = &session.cancelled();
  opts.progress = [&session, progress_from, progress_to](double f) {
    session.ReportProgress(progress_from + (progress_to - progress_from) * f, "align");
  };
  CONSORT_ASSIGN_OR_RETURN(std::vector<size_t> order,
                           AlignByPsi(keyed.keys, peers, session.self(), opts));
  std::vector<uint32_t> rows;
  rows.reserve(order.size());
  for (size_t k : order) rows.push_back(keyed.FirstRow(k));
  return rows;
}

}  // namespace consort::psi
