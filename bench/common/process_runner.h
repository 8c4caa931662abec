#pragma once
// Runs the parties of a benchmark as separate processes (or threads) with every pair of parties
// connected, and collects one report string per party. Benchmark scaffolding: the links are
// bench/common/socket_link.h links (no TLS, no authentication) or in-memory links.
//
// Process model: the caller's process only forks and reads reports; it never runs a party, so
// each party's CPU time and peak RSS (bench_util.h) are its own. Reports travel back through a
// pipe; a party that dies without one yields an empty string.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "consort/net/link.h"

namespace consort::bench {

enum class Transport {
  kTcp,         // one process per party; each pair: TCP on 127.0.0.1, TCP_NODELAY
  kUnixSocket,  // one process per party; each pair: a Unix socketpair
  kMemory,      // one child process for all parties, one thread each, in-memory links
};

// links[j] is this party's link to party j (its peer() is names[j]); links[self] is null.
using PartyLinks = std::vector<std::unique_ptr<net::Link>>;
// A party's body: runs the protocol on its links and returns its report (any text).
using PartyFn = std::function<std::string(int party, PartyLinks& links)>;

// Runs names.size() (>= 2) parties, every pair connected, and returns their reports in party
// order ("" for a party that died without one). The links are closed before the report is
// sent. Aborts the program if sockets, pipes or fork fail (a benchmark cannot go on).
std::vector<std::string> RunParties(const std::vector<std::string>& names, Transport transport,
                                    const PartyFn& fn);

// Runs fn(0), ..., fn(k - 1) in k forked child processes at once and returns what each
// returned ("" if that child died). RunInChild: the same for one child.
std::vector<std::string> RunInChildren(int k, const std::function<std::string(int)>& fn);
std::string RunInChild(const std::function<std::string()>& fn);

// The 1, 5 and 15 minute load averages as "0.52 1.03 2.00", or "unknown".
std::string LoadAverage();

}  // namespace consort::bench
