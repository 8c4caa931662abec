#pragma once
// The one-line report a party process sends back to the parent (bench/common/process_runner.h):
// "OK <field> <field> ...\n" or "ERR <message>\n". Each benchmark chooses its own fields; the
// fields are written with the stream's default format and must not contain spaces.

#include <chrono>
#include <cstdint>
#include <sstream>
#include <string>

#include "bench/common/bench_util.h"
#include "consort/net/link.h"

namespace consort::bench {

// "OK f1 f2 ...\n".
template <typename... T>
std::string OkReport(const T&... fields) {
  std::ostringstream o;
  o << "OK";
  ((o << ' ' << fields), ...);
  o << '\n';
  return o.str();
}

// "ERR <error>\n".
inline std::string ErrReport(const std::string& error) { return "ERR " + error + "\n"; }

// Parses an OkReport line into `fields` and returns true; for anything else returns false and
// sets *error to the ERR message ("party process died without a report" when there is none).
template <typename... T>
bool ParseReport(const std::string& line, std::string* error, T&... fields) {
  std::istringstream in(line);
  std::string tag;
  in >> tag;
  if (tag == "OK") {
    ((in >> fields), ...);
    return true;
  }
  std::getline(in, *error);
  if (error->empty()) *error = "party process died without a report";
  return false;
}

// What a party's protocol call cost: wall and CPU seconds (this process, all threads), bytes
// its link sent in all, peak RSS of the process.
struct CallCost {
  double wall_s = 0, cpu_s = 0;
  uint64_t bytes_sent = 0;
  long max_rss_kb = 0;
};

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
