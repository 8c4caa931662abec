#pragma once
// The one-line report a party process sends back to the parent (bench/common/process_runner.h):
// "OK <field> <field> ...\n" or "ERR <message>\n". Each benchmark chooses its own fields.

#include <chrono>
#include <cstdint>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "bench/common/bench_util.h"
#include "consort/net/link.h"

namespace consort::bench {

// The base of a party's report: whether the call succeeded, and if not, why.
struct PartyStatus {
  bool ok = false;
  std::string error;
};

// What a party's protocol call cost: wall and CPU seconds (this process, all threads), bytes
// its link sent in all, peak RSS of the process.
struct CallCost {
  double wall_s = 0, cpu_s = 0;
  uint64_t bytes_sent = 0;
  long max_rss_kb = 0;
};

// R derives from PartyStatus and has `auto fields()` returning std::tie(...) of the fields it
// reports (numbers, or strings without white space).
// "OK f1 f2 ...\n" (numbers with 17 significant digits) when r.ok, else "ERR <error>\n".
template <typename R>
std::string ToReportLine(R r) {
  if (!r.ok) {
    for (char& c : r.error) {
      if (c == '\n') c = ' ';
    }
    return "ERR " + r.error + "\n";
  }
  std::ostringstream o;
  o.precision(17);
  o << "OK";
  std::apply([&](const auto&... f) { ((o << ' ' << f), ...); }, r.fields());
  o << '\n';
  return o.str();
}

// Parses a ToReportLine line; a line that is not "OK ..." gives ok = false and its ERR message
// ("party process died without a report" when there is none).
template <typename R>
R FromReportLine(const std::string& line) {
  R r;
  std::istringstream in(line);
  std::string tag;
  in >> tag;
  if (tag == "OK") {
    r.ok = true;
    std::apply([&](auto&... f) { ((in >> f), ...); }, r.fields());
  } else {
    std::getline(in, r.error);
    if (r.error.empty()) r.error = "party process died without a report";
  }
  return r;
}

// Several reports, one line each (e.g. one per workload).
template <typename R>
std::string ToReportLines(const std::vector<R>& rs) {
  std::string out;
  for (const R& r : rs) out += ToReportLine(r);
  return out;
}

// The first n reports of ToReportLines output; missing ones as FromReportLine("").
template <typename R>
std::vector<R> FromReportLines(const std::string& s, size_t n) {
  std::vector<R> rs;
  std::istringstream in(s);
  std::string line;
  while (rs.size() < n && std::getline(in, line)) rs.push_back(FromReportLine<R>(line));
  while (rs.size() < n) rs.push_back(FromReportLine<R>(""));
  return rs;
}

// Runs fn() (the protocol call on `link`), fills *cost and returns fn's result.
template <typename Fn>
auto MeasureCall(net::Link& link, CallCost* cost, Fn&& fn) {
  const double cpu_start = CpuSeconds();
  const auto start = std::chrono::steady_clock::now();
  auto result = fn();
  cost->wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  cost->cpu_s = CpuSeconds() - cpu_start;
  cost->bytes_sent = link.bytes_sent();
  cost->max_rss_kb = MaxRssKb();
  return result;
}

}  // namespace consort::bench
