// consort_aby3_bench: three-party replicated secret sharing (mpc/three_party.h, no dealer)
// against the same program on the plaintext backend, measured in the same run.
//
//   consort_aby3_bench [--transport=tcp|memory] [--mul=1000000,10000000] [--matmul=1000]
//                      [--compare=1000000]
//
// Workloads (each: inputs shared first, then the timed operation, then a Reveal checked
// against plaintext, outside the timed section):
//   mul+trunc     MulFxp on two vectors of n fixed-point values (fused, 2 rounds)
//   matmul+trunc  MatMulFxp of two d x d fixed-point matrices (fused: 2 rounds)
//   less_than     LessThan on two vectors of n fixed-point values (shared 0/1 results)
// Transports: tcp = parties 0, 1, 2 as three processes connected pairwise over TCP on
// 127.0.0.1 (length-prefixed frames, no TLS); memory = three threads over in-memory links.
// Bytes are what the three parties sent during the timed operation (all six directions);
// "cost check" compares them and party 0's rounds with ThreePartyBackend::Costs.

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "bench/common/bench_util.h"
#include "bench/common/flags.h"
#include "bench/common/party_report.h"
#include "bench/common/process_runner.h"
#include "consort/crypto/random.h"
#include "consort/mpc/plaintext_backend.h"
#include "consort/mpc/three_party.h"

namespace consort::bench {
namespace {

using consort::bench::CpuSeconds;

using mpc::Backend;
using mpc::Shape;
using mpc::Shared;

struct Flags {
  std::string transport = "tcp";
  std::vector<size_t> mul = {1'000'000, 10'000'000};
  size_t matmul = 1000;
  size_t compare = 1'000'000;
};

constexpr char kUsage[] =
    "usage: consort_aby3_bench [--transport=tcp|memory] [--mul=1000000,10000000] "
    "[--matmul=1000 (0 = skip)] [--compare=1000000 (0 = skip)]";

[[noreturn]] void Usage(const std::string& why) { ExitWithUsage(kUsage, why); }

size_t ParseCount(const std::string& s, const char* flag) {
  char* end = nullptr;
  unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (s.empty() || *end != 0) Usage(flag);
  return v;
}

Flags ParseFlags(int argc, char** argv) {
  if (WantsHelp(argc, argv)) ExitWithUsage(kUsage, "");
  Flags f;
  auto bad = [](const std::string&) { Usage("bad flag"); };
  for (const auto& [key, val] : SplitFlags(argc, argv, bad)) {
    if (key == "transport") {
      if (val != "tcp" && val != "memory") Usage("bad --transport");
      f.transport = val;
    } else if (key == "mul") {
      f.mul.clear();
      for (const std::string& item : SplitList(val)) {
        const size_t v = ParseCount(item, "bad --mul");
        if (v > 0) f.mul.push_back(v);
      }
    } else if (key == "matmul") {
      f.matmul = ParseCount(val, "bad --matmul");
    } else if (key == "compare") {
      f.compare = ParseCount(val, "bad --compare");
    } else {
      Usage("unknown flag");
    }
  }
  return f;
}

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Deterministic inputs in [-8, 8), so every process derives the same data.
std::vector<double> Inputs(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> d(-8, 8);
  std::vector<double> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

enum class Kind { kMulFxp, kMatMulFxp, kLessThan };

struct Workload {
  std::string name;
  Kind kind;
  Shape a, b;
};

std::vector<Workload> Workloads(const Flags& f) {
  std::vector<Workload> w;
  for (size_t n : f.mul)
    w.push_back({"mul+trunc", Kind::kMulFxp, Shape::Vector(n), Shape::Vector(n)});
  if (f.matmul > 0) {
    const Shape s{f.matmul, f.matmul};
    w.push_back({"matmul+trunc", Kind::kMatMulFxp, s, s});
  }
  if (f.compare > 0) {
    const Shape s = Shape::Vector(f.compare);
    w.push_back({"less_than", Kind::kLessThan, s, s});
  }
  return w;
}

mpc::Cost ExpectedCost(const Workload& w) {
  using mpc::ThreePartyBackend;
  switch (w.kind) {
    case Kind::kMulFxp:
      return ThreePartyBackend::MulFxpCost(w.a);
    case Kind::kLessThan:
      return ThreePartyBackend::Costs(mpc::Op::kLessThan, w.a, w.b);
    case Kind::kMatMulFxp:
      return ThreePartyBackend::Costs(mpc::Op::kMatMulFxp, w.a, w.b);
  }
  return {};
}

struct Measured {
  double wall = 0, cpu = 0;       // timed operation only; cpu = this process, all threads
  uint64_t sent = 0, rounds = 0;  // this party, timed operation only
  std::vector<uint64_t> result;
};

// Shares the inputs (a from party 0, b from party 1), runs the timed op, reveals.
// `sent` reads this party's link counters (null for plaintext).
StatusOr<Measured> RunWorkload(Backend& be, const Workload& w,
                               const std::function<uint64_t()>& sent) {
  auto x = Inputs(w.a.numel(), 1), y = Inputs(w.b.numel(), 2);
  auto mine = [&](int p, const std::vector<double>& v) {
    return be.HoldsInputOf(p) ? std::span<const double>(v) : std::span<const double>();
  };
  CONSORT_ASSIGN_OR_RETURN(Shared a, be.InputFixed(0, w.a, mine(0, x)));
  CONSORT_ASSIGN_OR_RETURN(Shared b, be.InputFixed(1, w.b, mine(1, y)));
  Measured m;
  const uint64_t s0 = sent ? sent() : 0, r0 = be.rounds();
  const double t0 = Now(), c0 = CpuSeconds();
  CONSORT_ASSIGN_OR_RETURN(Shared z, w.kind == Kind::kLessThan    ? be.LessThan(a, b)
                                     : w.kind == Kind::kMatMulFxp ? be.MatMulFxp(a, b)
                                                                  : be.MulFxp(a, b));
  m.wall = Now() - t0;
  m.cpu = CpuSeconds() - c0;
  m.sent = sent ? sent() - s0 : 0;
  m.rounds = be.rounds() - r0;
  CONSORT_ASSIGN_OR_RETURN(mpc::RingTensor out, be.Reveal(z));
  m.result = std::move(out.data);
  return m;
}

struct PartyReport : PartyStatus {
  double wall = 0, cpu = 0;
  uint64_t sent = 0, rounds = 0;
  size_t failures = 0;
  auto fields() { return std::tie(wall, cpu, sent, rounds, failures); }
};

std::vector<PartyReport> PartyMain(int party, net::Link& next, net::Link& prev,
                                   const std::vector<Workload>& ws,
                                   const std::vector<std::vector<uint64_t>>& want) {
  std::vector<PartyReport> reports(ws.size());
  auto fail = [&](const Status& st) {
    for (auto& r : reports) {
      if (!r.ok && r.error.empty()) r.error = st.ToString();
    }
    next.Close();
    prev.Close();
    return reports;
  };
  auto be = mpc::ThreePartyBackend::Create(party, next, prev, mpc::FixedPoint::Create().value());
  if (!be.ok()) return fail(be.status());
  auto sent = [&] { return next.bytes_sent() + prev.bytes_sent(); };
  for (size_t i = 0; i < ws.size(); ++i) {
    auto m = RunWorkload(**be, ws[i], sent);
    if (!m.ok()) return fail(m.status());
    PartyReport& r = reports[i];
    r.ok = true;
    r.wall = m->wall;
    r.cpu = m->cpu;
    r.sent = m->sent;
    r.rounds = m->rounds;
    r.failures = CountUlpFailures(m->result, want[i], ws[i].kind == Kind::kLessThan);
  }
  return reports;
}

int Main(int argc, char** argv) {
  Flags f = ParseFlags(argc, argv);
  crypto::InitCrypto();
  const auto ws = Workloads(f);

  // Plaintext reference: the same program, same process, before the parties start.
  std::vector<std::vector<uint64_t>> want(ws.size());
  std::vector<double> plain_wall(ws.size());
  for (size_t i = 0; i < ws.size(); ++i) {
    mpc::PlaintextBackend be(mpc::FixedPoint::Create().value(), 3);
    auto m = RunWorkload(be, ws[i], nullptr);
    if (!m.ok()) {
      std::fprintf(stderr, "plaintext failed: %s\n", m.status().ToString().c_str());
      return 1;
    }
    plain_wall[i] = m->wall;
    want[i] = std::move(m->result);
  }

  // Parties 0, 1, 2, each pair connected; party p's next is p+1, its prev p-1.
  const auto out = RunParties(
      {"p0", "p1", "p2"}, f.transport == "tcp" ? Transport::kTcp : Transport::kMemory,
      [&](int p, PartyLinks& links) {
        return ToReportLines(PartyMain(p, *links[(p + 1) % 3], *links[(p + 2) % 3], ws, want));
      });
  std::vector<PartyReport> rep[3];
  for (int p = 0; p < 3; ++p) rep[p] = FromReportLines<PartyReport>(out[p], ws.size());

  std::printf(
      "three-party replicated MPC (ABY3-style, no dealer), transport: %s; fixed point "
      "f=18 in Z_2^64; load average %s\n",
      f.transport == "tcp" ? "3 processes over TCP 127.0.0.1 (no TLS)"
                           : "3 threads over in-memory links",
      LoadAverage().c_str());
  std::printf("%-13s %10s %8s %7s %7s %7s %10s %7s %8s %8s %6s  %s\n", "op", "n", "wall_s",
              "cpu0_s", "cpu1_s", "cpu2_s", "peer_MB", "rounds", "plain_s", "ratio", "fails",
              "cost check");
  int rc = 0;
  for (size_t i = 0; i < ws.size(); ++i) {
    bool ok = true;
    std::string err;
    for (auto& r : rep) {
      if (!r[i].ok) {
        ok = false;
        err += " [" + (r[i].error.empty() ? std::string("no report") : r[i].error) + "]";
      }
    }
    if (!ok) {
      std::printf("%-13s FAILED:%s\n", ws[i].name.c_str(), err.c_str());
      rc = 1;
      continue;
    }
    const double wall = std::max({rep[0][i].wall, rep[1][i].wall, rep[2][i].wall});
    const uint64_t bytes = rep[0][i].sent + rep[1][i].sent + rep[2][i].sent;
    const mpc::Cost c = ExpectedCost(ws[i]);
    const bool cost_ok = bytes == c.peer_bytes && rep[0][i].rounds == c.rounds &&
                         rep[1][i].rounds == c.rounds && rep[2][i].rounds == c.rounds;
    const size_t fails = std::max({rep[0][i].failures, rep[1][i].failures, rep[2][i].failures});
    if (!cost_ok || fails > 0) rc = 1;
    const std::string n = ws[i].kind == Kind::kMatMulFxp ? std::to_string(ws[i].a.rows) + "^2"
                                                         : std::to_string(ws[i].a.numel());
    std::printf("%-13s %10s %8.3f %7.3f %7.3f %7.3f %10.1f %7" PRIu64 " %8.3f %8.1f %6zu  %s\n",
                ws[i].name.c_str(), n.c_str(), wall, rep[0][i].cpu, rep[1][i].cpu, rep[2][i].cpu,
                bytes / 1e6, rep[0][i].rounds, plain_wall[i], wall / plain_wall[i], fails,
                cost_ok ? "= CostOf" : "MISMATCH with CostOf");
  }
  std::printf(
      "wall_s = slowest party, timed op only; cpu = each party's process%s; peer_MB = "
      "sent by all three parties; ratio = wall_s / plain_s; fails = revealed results "
      "off the plaintext floor by more than +1 ulp (less_than: any difference)\n",
      f.transport == "memory" ? " (one process: all threads)" : "");
  return rc;
}

}  // namespace
}  // namespace consort::bench

int main(int argc, char** argv) { return consort::bench::Main(argc, argv); }
