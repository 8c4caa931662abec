// consort_mpc_bench: two-party secret-shared arithmetic with a Beaver-triple dealer, against
// the same program on the plaintext backend measured in the same run.
//
//   consort_mpc_bench [--transport=tcp|memory] [--mul=1000000,10000000] [--matmul=1000]
//                     [--trunc=pair|local] [--compare=1000000]
//
// Workloads: n fixed-point multiplications with truncation (MulFxp on vectors of n), and one
// d x d fixed-point matmul with truncation (MatMulFxp), and n secure comparisons LessThan(a, b)
// (shared 0/1 results; checked exactly against plaintext). Inputs are shared first (no traffic),
// then the timed operation runs; the triples are produced online (the dealer works during the
// timed section, no preprocessing is excluded). Results are revealed afterwards and checked
// against plaintext (values more than 1 ulp off are counted as truncation failures).
// --trunc: pair = dealer truncation pairs (default; exact to 1 ulp, one more round), local =
// SecureML local truncation fused into the multiplication (see mpc/two_party.h).
// Transports: tcp = dealer, party 0 and party 1 as three processes connected over TCP on
// 127.0.0.1 (length-prefixed frames, no TLS); memory = three threads of one process over
// in-memory links.

#include <sys/resource.h>
#include <time.h>

#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "bench/common/bench_util.h"
#include "bench/common/flags.h"
#include "bench/common/party_report.h"
#include "bench/common/process_runner.h"
#include "consort/crypto/random.h"
#include "consort/mpc/dealer.h"
#include "consort/mpc/plaintext_backend.h"
#include "consort/crypto/prg.h"
#include "consort/mpc/two_party.h"

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
  mpc::TruncMode trunc = mpc::TruncMode::kDealerPair;
  size_t compare = 1'000'000;
};

constexpr char kUsage[] =
    "usage: consort_mpc_bench [--transport=tcp|memory] [--mul=1000000,10000000] "
    "[--matmul=1000 (0 = skip)] [--trunc=pair|local] [--compare=1000000 (0 = skip)]";

[[noreturn]] void Usage(const std::string& why) { ExitWithUsage(kUsage, why); }

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
        char* end = nullptr;
        unsigned long long v = std::strtoull(item.c_str(), &end, 10);
        if (item.empty() || *end != 0 || v == 0) Usage("bad --mul");
        f.mul.push_back(v);
      }
    } else if (key == "matmul") {
      char* end = nullptr;
      f.matmul = std::strtoull(val.c_str(), &end, 10);
      if (val.empty() || *end != 0) Usage("bad --matmul");
    } else if (key == "compare") {
      char* end = nullptr;
      f.compare = std::strtoull(val.c_str(), &end, 10);
      if (val.empty() || *end != 0) Usage("bad --compare");
    } else if (key == "trunc") {
      if (val != "pair" && val != "local") Usage("bad --trunc");
      f.trunc = val == "pair" ? mpc::TruncMode::kDealerPair : mpc::TruncMode::kLocal;
    } else {
      Usage("unknown flag");
    }
  }
  return f;
}

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Deterministic inputs, so every process derives the same data: x, y in [-8, 8) (products
// below 2^6: truncation failure probability <= 2^(6 + 36 + 1 - 64) = 2^-21 per element).
std::vector<double> Inputs(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> d(-8, 8);
  std::vector<double> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

struct Workload {
  std::string name;
  Shape a, b;
  bool matmul;
  mpc::TruncMode trunc;
  bool compare = false;  // LessThan instead of a product
};

std::vector<Workload> Workloads(const Flags& f) {
  std::vector<Workload> w;
  for (size_t n : f.mul) {
    w.push_back({"mul+trunc", Shape::Vector(n), Shape::Vector(n), false, f.trunc});
  }
  if (f.matmul > 0) {
    Shape s{f.matmul, f.matmul};
    w.push_back({"matmul+trunc", s, s, true, f.trunc});
  }
  if (f.compare > 0) {
    const Shape s = Shape::Vector(f.compare);
    w.push_back({"less_than", s, s, false, f.trunc, true});
  }
  return w;
}

struct Measured {
  double wall = 0;  // timed operation only
  double cpu = 0;   // this process (all its threads) during the timed operation
  std::vector<uint64_t> result;
};

// Shares the inputs (owner 0: a, owner 1: b), runs the timed op, reveals.
StatusOr<Measured> RunWorkload(Backend& be, const Workload& w) {
  auto x = Inputs(w.a.numel(), 1), y = Inputs(w.b.numel(), 2);
  auto mine = [&](int p, const std::vector<double>& v) {
    return be.HoldsInputOf(p) ? std::span<const double>(v) : std::span<const double>();
  };
  CONSORT_ASSIGN_OR_RETURN(Shared a, be.InputFixed(0, w.a, mine(0, x)));
  CONSORT_ASSIGN_OR_RETURN(Shared b, be.InputFixed(1, w.b, mine(1, y)));
  if (auto* two = dynamic_cast<mpc::TwoPartyBackend*>(&be)) two->set_trunc_mode(w.trunc);
  Measured m;
  const double t0 = Now(), c0 = CpuSeconds();
  CONSORT_ASSIGN_OR_RETURN(Shared z, w.compare  ? be.LessThan(a, b)
                                     : w.matmul ? be.MatMulFxp(a, b)
                                                : be.MulFxp(a, b));
  m.wall = Now() - t0;
  m.cpu = CpuSeconds() - c0;
  CONSORT_ASSIGN_OR_RETURN(mpc::RingTensor out, be.Reveal(z));
  m.result = std::move(out.data);
  return m;
}

struct PartyReport : PartyStatus {
  double wall = 0, cpu = 0;
  uint64_t peer_sent = 0, dealer_bytes = 0, rounds = 0;
  size_t failures = 0;
  auto fields() { return std::tie(wall, cpu, peer_sent, dealer_bytes, rounds, failures); }
};

// One party's whole run (all workloads). `peer`/`dealer` links are this party's.
std::vector<PartyReport> PartyMain(int party, net::Link& peer, net::Link& dealer,
                                   const std::vector<Workload>& ws,
                                   const std::vector<std::vector<uint64_t>>& want) {
  std::vector<PartyReport> reports(ws.size());
  auto fail = [&](const Status& st) {
    for (auto& r : reports)
      if (!r.ok && r.error.empty()) r.error = std::string(st.message());
    return reports;
  };
  auto src = mpc::ConnectToDealer(party, dealer);
  if (!src.ok()) return fail(src.status());
  auto be = mpc::TwoPartyBackend::Create(party, peer, std::move(*src),
                                         mpc::FixedPoint::Create().value());
  if (!be.ok()) return fail(be.status());
  for (size_t i = 0; i < ws.size(); ++i) {
    const uint64_t sent0 = peer.bytes_sent(),
                   d0 = dealer.bytes_sent() + dealer.bytes_received(), r0 = (*be)->rounds();
    auto m = RunWorkload(**be, ws[i]);
    if (!m.ok()) return fail(m.status());
    PartyReport& r = reports[i];
    r.wall = m->wall;
    r.cpu = m->cpu;
    // Bytes and rounds of the timed operation: subtract the reveal (1 round, 8 n per party).
    const uint64_t n_out = m->result.size();
    r.peer_sent = peer.bytes_sent() - sent0 - 8 * n_out;
    r.dealer_bytes = dealer.bytes_sent() + dealer.bytes_received() - d0;
    r.rounds = (*be)->rounds() - r0 - 1;
    r.failures = CountUlpFailures(m->result, want[i], ws[i].compare);
    r.ok = true;
  }
  Status closed = (*be)->Close();
  if (!closed.ok()) return fail(closed);
  return reports;
}

int Main(int argc, char** argv) {
  Flags f = ParseFlags(argc, argv);
  crypto::InitCrypto();
  const auto ws = Workloads(f);

  // The PRG that expands triples, one core: 32 fills of 8 MiB.
  double prg_gbs = 0;
  {
    crypto::Prg prg(crypto::RandomSeed());
    std::vector<uint64_t> buf(1 << 20);
    const double t0 = Now();
    for (int i = 0; i < 32; ++i) prg.Fill(buf);
    prg_gbs = 32.0 * 8 * buf.size() / (Now() - t0) / 1e9;
  }

  // Plaintext: the same program on the reference backend, same process, before any party.
  std::vector<std::vector<uint64_t>> want(ws.size());
  std::vector<double> plain_wall(ws.size());
  for (size_t i = 0; i < ws.size(); ++i) {
    mpc::PlaintextBackend be(mpc::FixedPoint::Create().value());
    auto m = RunWorkload(be, ws[i]);
    if (!m.ok()) {
      std::fprintf(stderr, "plaintext failed: %s\n", std::string(m.status().message()).c_str());
      return 1;
    }
    plain_wall[i] = m->wall;
    want[i] = std::move(m->result);
  }

  // Parties 0 and 1 and the dealer (2), each pair connected.
  const auto out = RunParties(
      {"p0", "p1", "dealer"}, f.transport == "tcp" ? Transport::kTcp : Transport::kMemory,
      [&](int c, PartyLinks& links) {
        if (c == 2) {
          mpc::Dealer dealer;
          const double c0 = CpuSeconds();
          Status st = mpc::RunDealer(dealer, *links[0], *links[1]);
          return std::to_string(CpuSeconds() - c0) + (st.ok() ? "" : " " + st.ToString());
        }
        return ToReportLines(PartyMain(c, *links[1 - c], *links[2], ws, want));
      });
  const std::vector<PartyReport> rep[2] = {FromReportLines<PartyReport>(out[0], ws.size()),
                                           FromReportLines<PartyReport>(out[1], ws.size())};
  const double dealer_cpu = std::atof(out[2].c_str());
  if (const size_t sp = out[2].find(' '); sp != std::string::npos) {
    std::fprintf(stderr, "dealer: %s\n", out[2].substr(sp + 1).c_str());
  }

  std::printf("two-party MPC (dealer), transport: %s; fixed point f=18 in Z_2^64; "
              "truncation: %s; PRG (AES-128-CTR, one core) %.2f GB/s\n",
              f.transport == "tcp" ? "3 processes over TCP 127.0.0.1 (no TLS)"
                                   : "3 threads over in-memory links",
              f.trunc == mpc::TruncMode::kDealerPair ? "dealer pairs" : "local (SecureML)",
              prg_gbs);
  std::printf("%-13s %10s %8s %8s %8s %10s %10s %7s %8s %8s %7s  %s\n", "op", "n", "wall_s",
              "cpu0_s", "cpu1_s", "peer_MB", "dealer_MB", "rounds", "plain_s", "ratio",
              "fails", "cost check");
  for (size_t i = 0; i < ws.size(); ++i) {
    const PartyReport& a = rep[0][i];
    const PartyReport& b = rep[1][i];
    if (!a.ok || !b.ok) {
      std::printf("%-13s FAILED: %s %s\n", ws[i].name.c_str(), a.error.c_str(), b.error.c_str());
      continue;
    }
    const double wall = std::max(a.wall, b.wall);
    const uint64_t peer = a.peer_sent + b.peer_sent;
    mpc::Cost want_cost = mpc::TwoPartyBackend::Costs(
        ws[i].compare ? mpc::Op::kLessThan : ws[i].matmul ? mpc::Op::kMatMul : mpc::Op::kMul,
        ws[i].a, ws[i].b);
    const mpc::Shape out_shape{ws[i].a.rows, ws[i].b.cols};
    const mpc::Cost trunc_cost =
        ws[i].compare ? mpc::Cost{}
                      : mpc::TwoPartyBackend::Costs(mpc::Op::kTrunc, out_shape, {}, ws[i].trunc);
    want_cost.rounds += trunc_cost.rounds;
    want_cost.peer_bytes += trunc_cost.peer_bytes;
    want_cost.dealer_bytes += trunc_cost.dealer_bytes;
    const bool cost_ok = peer == want_cost.peer_bytes && a.dealer_bytes + b.dealer_bytes ==
                                                             want_cost.dealer_bytes &&
                         a.rounds == want_cost.rounds;
    const std::string n = ws[i].matmul ? std::to_string(ws[i].a.rows) + "^2"
                                       : std::to_string(ws[i].a.numel());
    std::printf("%-13s %10s %8.3f %8.3f %8.3f %10.1f %10.1f %7" PRIu64
                " %8.3f %8.1f %7zu  %s\n",
                ws[i].name.c_str(), n.c_str(), wall, a.cpu, b.cpu, peer / 1e6,
                (a.dealer_bytes + b.dealer_bytes) / 1e6, a.rounds, plain_wall[i],
                wall / plain_wall[i], std::max(a.failures, b.failures),
                cost_ok ? "= CostOf" : "MISMATCH with CostOf");
  }
  if (f.transport == "tcp") std::printf("dealer process CPU for all workloads: %.3f s\n", dealer_cpu);
  std::printf("wall_s = slower party, timed op only (triples produced online, inside it); "
              "cpu = that party's process%s; ratio = wall_s / plain_s; fails = revealed results "
              "> 1 ulp from plaintext (truncation failures; both parties see the same; less_than: "
              "any result different from plaintext)\n",
              f.transport == "memory" ? " (all threads: one process)" : "");
  return 0;
}

}  // namespace
}  // namespace consort::bench

int main(int argc, char** argv) { return consort::bench::Main(argc, argv); }
