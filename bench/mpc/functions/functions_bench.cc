// consort_mpc_functions_bench: the nonlinear functions of mpc/functions.h over two-party MPC
// with a Beaver-triple dealer, next to the same calls on the plaintext backend in the same run.
//
//   consort_mpc_functions_bench [--transport=tcp|memory] [--n=1000000]
//                               [--ops=sigmoid,reciprocal,rsqrt,exp,max,log] [--costs_only=1]
//
// --costs_only=1 prints, without running anything, every function's cost function on n
// elements for the two-party and the three-party backends (rounds, bytes per element).
// Each op runs on n deterministic inputs (sigmoid: x in [-20, 20]; reciprocal and rsqrt:
// x = 2^u, u in [-10, 20] (log too, with --ops=...,log); exp: x in [-20, 10]; max: the
// maximum of n values in [-1000, 1000]).
// Inputs are shared first (no traffic); the timed section is the function call only (the
// dealer produces its correlated randomness online, during the timed section). Results are
// revealed afterwards and compared with exact double math (max_err: the largest
// |got - exact| / max(1, |exact|), i.e. absolute below 1 and relative above) and with the
// plaintext backend's result (ulp_pl: the largest difference in ulps, 2^-18). Bytes and rounds of
// the call are compared with the function's cost function (FooCost on the party's backend).
// Transports: tcp = dealer, party 0 and party 1 as three processes over TCP on 127.0.0.1
// (length-prefixed frames, no TLS); memory = three threads of one process, in-memory links.

#include <time.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "bench/common/bench_util.h"
#include "bench/common/flags.h"
#include "bench/common/party_report.h"
#include "bench/common/process_runner.h"
#include "consort/crypto/random.h"
#include "consort/mpc/dealer.h"
#include "consort/mpc/functions.h"
#include "consort/mpc/plaintext_backend.h"
#include "consort/mpc/three_party.h"
#include "consort/mpc/two_party.h"

namespace consort::bench {
namespace {

using consort::bench::CpuSeconds;

using mpc::Backend;
using mpc::Cost;
using mpc::Shape;
using mpc::Shared;

struct Flags {
  std::string transport = "tcp";
  size_t n = 1'000'000;
  std::vector<std::string> ops = {"sigmoid", "reciprocal", "rsqrt", "exp", "max"};
  bool costs_only = false;
};

constexpr char kUsage[] =
    "usage: consort_mpc_functions_bench [--transport=tcp|memory] [--n=1000000] "
    "[--ops=sigmoid,reciprocal,rsqrt,exp,max,log] [--costs_only=1]";

[[noreturn]] void Usage(const std::string& why) { ExitWithUsage(kUsage, why); }

Flags ParseFlags(int argc, char** argv) {
  if (WantsHelp(argc, argv)) ExitWithUsage(kUsage, "");
  Flags f;
  auto bad = [](const std::string&) { Usage("bad flag"); };
  for (const auto& [key, val] : SplitFlags(argc, argv, bad)) {
    if (key == "transport") {
      if (val != "tcp" && val != "memory") Usage("bad --transport");
      f.transport = val;
    } else if (key == "n") {
      char* end = nullptr;
      f.n = std::strtoull(val.c_str(), &end, 10);
      if (val.empty() || *end != 0 || f.n == 0) Usage("bad --n");
    } else if (key == "ops") {
      f.ops.clear();
      for (const std::string& item : SplitList(val)) {
        if (item != "sigmoid" && item != "reciprocal" && item != "rsqrt" && item != "exp" &&
            item != "max" && item != "log") {
          Usage("bad --ops");
        }
        f.ops.push_back(item);
      }
    } else if (key == "costs_only") {
      f.costs_only = val == "1";
    } else {
      Usage("unknown flag");
    }
  }
  return f;
}

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Op {
  std::string name;
  std::function<std::vector<double>(size_t)> inputs;
  std::function<StatusOr<Shared>(Backend&, const Shared&)> fn;
  std::function<Cost(const Backend&, Shape)> cost;
  std::function<double(double)> exact;  // elementwise reference (max: none)
};

std::vector<double> Uniform(size_t n, double lo, double hi, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> d(lo, hi);
  std::vector<double> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

Op MakeOp(const std::string& name) {
  if (name == "sigmoid") {
    return {name, [](size_t n) { return Uniform(n, -20, 20, 1); }, mpc::Sigmoid, mpc::SigmoidCost,
            [](double x) { return 1 / (1 + std::exp(-x)); }};
  }
  if (name == "reciprocal") {
    return {name,
            [](size_t n) {
              auto u = Uniform(n, -10, 20, 2);
              for (auto& x : u) x = std::exp2(x);
              return u;
            },
            mpc::Reciprocal, mpc::ReciprocalCost, [](double x) { return 1 / x; }};
  }
  if (name == "rsqrt") {
    return {name,
            [](size_t n) {
              auto u = Uniform(n, -10, 20, 3);
              for (auto& x : u) x = std::exp2(x);
              return u;
            },
            mpc::Rsqrt, mpc::RsqrtCost, [](double x) { return 1 / std::sqrt(x); }};
  }
  if (name == "log") {
    return {name,
            [](size_t n) {
              auto u = Uniform(n, -10, 20, 6);
              for (auto& x : u) x = std::exp2(x);
              return u;
            },
            mpc::Log, mpc::LogCost, [](double x) { return std::log(x); }};
  }
  if (name == "exp") {
    return {name, [](size_t n) { return Uniform(n, -20, 10, 4); }, mpc::Exp, mpc::ExpCost,
            [](double x) { return std::exp(x); }};
  }
  return {name, [](size_t n) { return Uniform(n, -1000, 1000, 5); },
          [](Backend& be, const Shared& x) { return mpc::Max(be, x); },
          [](const Backend& be, Shape s) { return mpc::MaxCost(be, s); }, nullptr};
}

struct Measured {
  double wall = 0, cpu = 0;
  std::vector<uint64_t> result;
};

StatusOr<Measured> RunOp(Backend& be, const Op& op, const std::vector<double>& x) {
  const Shape s = Shape::Vector(x.size());
  CONSORT_ASSIGN_OR_RETURN(Shared a, be.InputFixed(0, s,
                                                   be.HoldsInputOf(0) ? std::span<const double>(x)
                                                                      : std::span<const double>()));
  Measured m;
  const double t0 = Now(), c0 = CpuSeconds();
  CONSORT_ASSIGN_OR_RETURN(Shared z, op.fn(be, a));
  m.wall = Now() - t0;
  m.cpu = CpuSeconds() - c0;
  CONSORT_ASSIGN_OR_RETURN(mpc::RingTensor out, be.Reveal(z));
  m.result = std::move(out.data);
  return m;
}

struct Report : PartyStatus {
  double wall = 0, cpu = 0;
  uint64_t peer_sent = 0, dealer_bytes = 0, rounds = 0;
  Cost cost;           // the cost function, on this party's backend
  double max_err = 0;  // vs exact double math
  uint64_t max_ulps_vs_plain = 0;
  auto fields() {
    return std::tie(wall, cpu, peer_sent, dealer_bytes, rounds, cost.rounds, cost.peer_bytes,
                    cost.dealer_bytes, max_err, max_ulps_vs_plain);
  }
};

std::vector<Report> PartyMain(int party, net::Link& peer, net::Link& dealer,
                              const std::vector<Op>& ops,
                              const std::vector<std::vector<double>>& inputs,
                              const std::vector<std::vector<uint64_t>>& plain) {
  std::vector<Report> reps(ops.size());
  auto fail = [&](const Status& st) {
    for (auto& r : reps)
      if (!r.ok && r.error.empty()) r.error = std::string(st.message());
    return reps;
  };
  auto src = mpc::ConnectToDealer(party, dealer);
  if (!src.ok()) return fail(src.status());
  auto fxp = mpc::FixedPoint::Create().value();
  auto be = mpc::TwoPartyBackend::Create(party, peer, std::move(*src), fxp);
  if (!be.ok()) return fail(be.status());
  for (size_t i = 0; i < ops.size(); ++i) {
    const uint64_t sent0 = peer.bytes_sent(), d0 = dealer.bytes_sent() + dealer.bytes_received(),
                   r0 = (*be)->rounds();
    auto m = RunOp(**be, ops[i], inputs[i]);
    if (!m.ok()) return fail(m.status());
    Report& r = reps[i];
    r.wall = m->wall;
    r.cpu = m->cpu;
    const uint64_t n_out = m->result.size();  // the reveal: 1 round, 8 n per party
    r.peer_sent = peer.bytes_sent() - sent0 - 8 * n_out;
    r.dealer_bytes = dealer.bytes_sent() + dealer.bytes_received() - d0;
    r.rounds = (*be)->rounds() - r0 - 1;
    r.cost = ops[i].cost(**be, Shape::Vector(inputs[i].size()));
    if (ops[i].exact) {
      for (size_t k = 0; k < n_out; ++k) {
        const double want = ops[i].exact(fxp.DecodeOne(fxp.Encode({&inputs[i][k], 1})->at(0)));
        r.max_err = std::max(r.max_err, std::fabs(fxp.DecodeOne(m->result[k]) - want) /
                                            std::max(1.0, std::fabs(want)));
      }
    } else {
      double mx = -1e300;
      for (double v : inputs[i]) mx = std::max(mx, fxp.DecodeOne(fxp.Encode({&v, 1})->at(0)));
      r.max_err = std::fabs(fxp.DecodeOne(m->result[0]) - mx);
    }
    for (size_t k = 0; k < n_out && k < plain[i].size(); ++k) {
      const int64_t d = static_cast<int64_t>(m->result[k] - plain[i][k]);
      r.max_ulps_vs_plain = std::max<uint64_t>(r.max_ulps_vs_plain, d < 0 ? -d : d);
    }
    r.ok = true;
  }
  Status closed = (*be)->Close();
  if (!closed.ok()) return fail(closed);
  return reps;
}

// A backend that only answers CostOf (for the cost functions' dry runs).
class CostModel : public Backend {
 public:
  CostModel(bool three) : Backend(mpc::FixedPoint::Create().value()), three_(three) {}
  std::string name() const override { return three_ ? "3pc" : "2pc"; }
  int num_parties() const override { return three_ ? 3 : 2; }
  bool HoldsInputOf(int) const override { return false; }
  StatusOr<Shared> Input(int, Shape, std::span<const uint64_t>) override { return Unused(); }
  StatusOr<Shared> AddPublic(const Shared&, const mpc::RingTensor&) override { return Unused(); }
  StatusOr<Shared> Mul(const Shared&, const Shared&) override { return Unused(); }
  StatusOr<Shared> MatMul(const Shared&, const Shared&) override { return Unused(); }
  StatusOr<Shared> Trunc(const Shared&, int) override { return Unused(); }
  StatusOr<Shared> LessThanZero(const Shared&) override { return Unused(); }
  StatusOr<Shared> EqualZero(const Shared&) override { return Unused(); }
  StatusOr<mpc::RingTensor> Reveal(const Shared&) override { return Unused(); }
  StatusOr<mpc::RingTensor> RevealTo(const Shared&, int) override { return Unused(); }
  Cost CostOf(mpc::Op op, Shape a, Shape b = {}) const override {
    return three_ ? mpc::ThreePartyBackend::Costs(op, a, b) : mpc::TwoPartyBackend::Costs(op, a, b);
  }

 private:
  static absl::Status Unused() { return absl::UnimplementedError("cost model only"); }
  bool three_;
};

void PrintCosts(size_t n) {
  const Shape s = Shape::Vector(n);
  struct Row {
    const char* name;
    std::function<Cost(const Backend&)> cost;
  };
  const std::vector<Row> rows = {
      {"sigmoid", [&](const Backend& b) { return mpc::SigmoidCost(b, s); }},
      {"exp", [&](const Backend& b) { return mpc::ExpCost(b, s); }},
      {"log", [&](const Backend& b) { return mpc::LogCost(b, s); }},
      {"reciprocal", [&](const Backend& b) { return mpc::ReciprocalCost(b, s); }},
      {"divide", [&](const Backend& b) { return mpc::DivideCost(b, s); }},
      {"divide_int",
       [&](const Backend& b) {
         return mpc::DivideCost(b, s, {.b_frac_bits = 0, .quotient_int_bits = 8});
       }},
      {"rsqrt", [&](const Backend& b) { return mpc::RsqrtCost(b, s); }},
      {"sqrt", [&](const Backend& b) { return mpc::SqrtCost(b, s); }},
      {"elem_max", [&](const Backend& b) { return mpc::ElementwiseMaxCost(b, s); }},
      {"max", [&](const Backend& b) { return mpc::MaxCost(b, s); }},
      {"argmax", [&](const Backend& b) { return mpc::ArgmaxCost(b, s); }},
      {"mean", [&](const Backend& b) { return mpc::MeanCost(b, s); }},
      {"variance", [&](const Backend& b) { return mpc::VarianceCost(b, s); }},
      {"dot", [&](const Backend& b) { return mpc::DotProductCost(b, s); }},
  };
  CostModel two(false), three(true);
  std::printf("cost functions on n = %zu (bytes per element = total / n)\n", n);
  std::printf("%-11s %8s %12s %12s   %8s %12s\n", "function", "2pc_rnd", "2pc_peer_B",
              "2pc_dealer_B", "3pc_rnd", "3pc_peer_B");
  for (const Row& r : rows) {
    const Cost a = r.cost(two), b = r.cost(three);
    std::printf("%-11s %8llu %12.1f %12.1f   %8llu %12.1f\n", r.name,
                static_cast<unsigned long long>(a.rounds), double(a.peer_bytes) / n,
                double(a.dealer_bytes) / n, static_cast<unsigned long long>(b.rounds),
                double(b.peer_bytes) / n);
  }
}

int Main(int argc, char** argv) {
  Flags f = ParseFlags(argc, argv);
  if (f.costs_only) {
    PrintCosts(f.n);
    return 0;
  }
  crypto::InitCrypto();
  const std::string load_before = LoadAverage();
  std::vector<Op> ops;
  std::vector<std::vector<double>> inputs;
  for (auto& name : f.ops) {
    ops.push_back(MakeOp(name));
    inputs.push_back(ops.back().inputs(f.n));
  }

  // Plaintext reference: the same calls on the plaintext backend, before any party starts.
  std::vector<std::vector<uint64_t>> plain(ops.size());
  std::vector<double> plain_wall(ops.size());
  for (size_t i = 0; i < ops.size(); ++i) {
    mpc::PlaintextBackend be(mpc::FixedPoint::Create().value());
    auto m = RunOp(be, ops[i], inputs[i]);
    if (!m.ok()) {
      std::fprintf(stderr, "plaintext %s failed: %s\n", ops[i].name.c_str(),
                   m.status().ToString().c_str());
      return 1;
    }
    plain_wall[i] = m->wall;
    plain[i] = std::move(m->result);
  }

  // Parties 0 and 1 and the dealer (2), each pair connected.
  const auto out = RunParties(
      {"p0", "p1", "dealer"}, f.transport == "tcp" ? Transport::kTcp : Transport::kMemory,
      [&](int c, PartyLinks& links) {
        if (c == 2) {
          mpc::Dealer dealer;
          Status st = mpc::RunDealer(dealer, *links[0], *links[1]);
          return st.ok() ? std::string() : st.ToString();
        }
        return ToReportLines(PartyMain(c, *links[1 - c], *links[2], ops, inputs, plain));
      });
  const std::vector<Report> rep[2] = {FromReportLines<Report>(out[0], ops.size()),
                                      FromReportLines<Report>(out[1], ops.size())};
  if (!out[2].empty()) std::fprintf(stderr, "dealer: %s\n", out[2].c_str());

  std::printf(
      "mpc functions, two-party MPC with dealer, transport: %s; f = 18 in Z_2^64; "
      "n = %zu; load average before: %s\n",
      f.transport == "tcp" ? "3 processes over TCP 127.0.0.1 (no TLS)"
                           : "3 threads over in-memory links",
      f.n, load_before.c_str());
  std::printf("%-11s %8s %8s %8s %9s %10s %7s %9s %8s %10s %6s  %s\n", "op", "wall_s", "cpu0_s",
              "cpu1_s", "peer_MB", "dealer_MB", "rounds", "plain_s", "ratio", "max_err", "ulp_pl",
              "cost check");
  int bad = 0;
  for (size_t i = 0; i < ops.size(); ++i) {
    const Report& a = rep[0][i];
    const Report& b = rep[1][i];
    if (!a.ok || !b.ok) {
      std::printf("%-11s FAILED: %s %s\n", ops[i].name.c_str(), a.error.c_str(), b.error.c_str());
      ++bad;
      continue;
    }
    const double wall = std::max(a.wall, b.wall);
    const uint64_t peer = a.peer_sent + b.peer_sent;
    const uint64_t dealer = a.dealer_bytes + b.dealer_bytes;
    const bool cost_ok = a.rounds == a.cost.rounds && b.rounds == a.cost.rounds &&
                         peer == a.cost.peer_bytes && dealer == a.cost.dealer_bytes;
    if (!cost_ok) ++bad;
    std::printf("%-11s %8.3f %8.3f %8.3f %9.1f %10.1f %7llu %9.4f %8.0f %10.2e %6llu  %s\n",
                ops[i].name.c_str(), wall, a.cpu, b.cpu, peer / 1e6, dealer / 1e6,
                static_cast<unsigned long long>(a.rounds), plain_wall[i],
                wall / std::max(plain_wall[i], 1e-9), a.max_err,
                static_cast<unsigned long long>(a.max_ulps_vs_plain),
                cost_ok ? "= cost function" : "MISMATCH");
  }
  std::printf("load average after: %s\n", LoadAverage().c_str());
  return bad == 0 ? 0 : 1;
}

}  // namespace
}  // namespace consort::bench

int main(int argc, char** argv) { return consort::bench::Main(argc, argv); }
