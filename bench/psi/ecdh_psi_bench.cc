// consort_psi_bench: two-party ECDH-PSI, each party in its own process, against the X25519
// floor measured in the same run.
//
//   consort_psi_bench [--log2n=16,20] [--transport=grpc|socket|memory] [--threads=1]
//                     [--batch=4096] [--floor_seconds=3] [--outputs=intersection,intersection]
//
// Party A holds n items, party B n items, n/2 of them common. Each party needs
// n (own) + n (peer's) X25519 multiplications; floor = 2n / (mult/s of one core in a tight
// loop). Transports: grpc = net::PeerTransport (gRPC over pinned mutual TLS on 127.0.0.1),
// socket = length-prefixed frames over a Unix socketpair, memory = both parties as threads
// of one process (their RSS is then shared).
// The parent only measures the floor, forks the parties and prints; it never starts gRPC
// (gRPC does not survive fork).

#include <sodium.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench/common/bench_util.h"
#include "bench/common/flags.h"
#include "bench/common/party_report.h"
#include "bench/common/process_runner.h"
#include "bench/common/psi_flags.h"
#include "bench/common/x25519_floor.h"
#include "consort/crypto/random.h"
#include "consort/crypto/tls_identity.h"
#include "consort/net/grpc_transport.h"
#include "consort/net/peer_directory.h"
#include "consort/psi/ecdh_psi.h"

namespace consort::bench {
namespace {

using consort::bench::CpuSeconds;
using consort::bench::MaxRssKb;

using Clock = std::chrono::steady_clock;
using psi::PsiOutput;

struct Flags {
  std::vector<int> log2n = {16, 20};
  std::string transport = "grpc";
  int threads = 1;
  size_t batch = 4096;
  double floor_seconds = 3.0;
  PsiOutput out_a = PsiOutput::kIntersection;
  PsiOutput out_b = PsiOutput::kIntersection;
};

constexpr char kUsage[] =
    "usage: consort_psi_bench [--log2n=16,20] [--transport=grpc|socket|memory] "
    "[--threads=1] [--batch=4096] [--floor_seconds=3] "
    "[--outputs=intersection,intersection]";

[[noreturn]] void Usage(const std::string& msg) { ExitWithUsage(kUsage, msg); }

Flags ParseFlags(int argc, char** argv) {
  if (WantsHelp(argc, argv)) ExitWithUsage(kUsage, "");
  Flags f;
  auto bad = [](const std::string& a) { Usage(("bad flag " + a).c_str()); };
  for (const auto& [key, val] : SplitFlags(argc, argv, bad)) {
    if (key == "log2n") {
      f.log2n = IntList(val, 1, 26, [] { Usage("log2n must be in [1, 26]"); });
    } else if (key == "transport") {
      if (val != "grpc" && val != "socket" && val != "memory") Usage("bad --transport");
      f.transport = val;
    } else if (key == "threads") {
      f.threads = std::atoi(val.c_str());
    } else if (key == "batch") {
      f.batch = std::strtoull(val.c_str(), nullptr, 10);
    } else if (key == "floor_seconds") {
      f.floor_seconds = std::atof(val.c_str());
    } else if (key == "outputs") {
      if (std::string e = ParsePsiOutputs(val, &f.out_a, &f.out_b); !e.empty()) Usage(e.c_str());
    } else {
      Usage(("unknown flag " + key).c_str());
    }
  }
  return f;
}

std::vector<std::string> MakeItems(char party, uint64_t n) {
  // A: ids [0, n); B: ids [n/2, 3n/2): n/2 in common.
  const uint64_t first = party == 'a' ? 0 : n / 2;
  std::vector<std::string> items;
  items.reserve(n);
  char buf[32];
  for (uint64_t i = first; i < first + n; ++i) {
    std::snprintf(buf, sizeof(buf), "customer-%012" PRIu64, i);
    items.emplace_back(buf);
  }
  return items;
}

struct Report : PartyStatus, CallCost {
  uint64_t intersection = 0;
  uint64_t matched = 0;
  auto fields() { return std::tie(wall_s, cpu_s, bytes_sent, max_rss_kb, intersection, matched); }
};

Report RunParty(net::Link& link, char party, uint64_t n, const Flags& f) {
  const std::vector<std::string> items = MakeItems(party, n);
  psi::EcdhPsiOptions o;
  o.my_output = party == 'a' ? f.out_a : f.out_b;
  o.peer_output = party == 'a' ? f.out_b : f.out_a;
  o.domain = "bench-job-" + std::to_string(n);
  o.batch_size = f.batch;
  o.threads = f.threads;
  link.set_timeout(std::chrono::minutes(10));
  Report rep;
  auto r = MeasureCall(link, &rep, [&] { return psi::RunEcdhPsi(link, items, o); });
  if (!r.ok()) {
    rep.error = r.status().ToString();
    return rep;
  }
  rep.ok = true;
  rep.intersection = r->intersection_size;
  rep.matched = r->matched.size();
  return rep;
}

struct Identity {
  std::string name;
  net::TlsConfig tls;
  std::string fp;
};

// Party body for the grpc transport: start a PeerTransport, trade ports with the peer over the
// runner's socket `side`, connect and run.
Report GrpcParty(char party, const Identity& me, const Identity& peer, net::Link& side,
                 uint64_t n, const Flags& f) {
  Report rep;
  auto dir = std::make_shared<net::StaticPeerDirectory>();
  auto t = net::PeerTransport::Start(me.name, "127.0.0.1:0", me.tls, dir);
  if (!t.ok()) {
    rep.error = t.status().ToString();
    return rep;
  }
  Status sent = side.Send(AsBytes(std::to_string((*t)->port())));
  auto got = sent.ok() ? side.Recv() : StatusOr<Bytes>(sent);
  const int peer_port = got.ok() ? std::atoi(ToString(*got).c_str()) : 0;
  if (peer_port <= 0) {
    rep.error = "no peer port";
    return rep;
  }
  auto st = dir->Put({peer.name, "127.0.0.1:" + std::to_string(peer_port), peer.fp});
  if (!st.ok()) {
    rep.error = st.ToString();
    return rep;
  }
  auto link = (*t)->Connect("bench-psi-" + std::to_string(n), peer.name);
  if (!link.ok()) {
    rep.error = link.status().ToString();
    return rep;
  }
  rep = RunParty(**link, party, n, f);
  (*link)->Close();
  return rep;
}

// grpc: the runner's Unix socketpair only carries the ports; the PSI runs over gRPC.
std::pair<Report, Report> RunOnce(uint64_t n, const Flags& f, const Identity& ida,
                                  const Identity& idb) {
  const Transport t = f.transport == "memory" ? Transport::kMemory : Transport::kUnixSocket;
  const auto out = RunParties({"a", "b"}, t, [&](int c, PartyLinks& links) {
    const char party = c == 0 ? 'a' : 'b';
    net::Link& link = *links[1 - c];
    if (f.transport == "grpc") {
      return ToReportLine(GrpcParty(party, c == 0 ? ida : idb, c == 0 ? idb : ida, link, n, f));
    }
    return ToReportLine(RunParty(link, party, n, f));
  });
  return {FromReportLine<Report>(out[0]), FromReportLine<Report>(out[1])};
}

Identity NewIdentity(const std::string& name) {
  auto id = crypto::GenerateTlsIdentity(name);
  CONSORT_CHECK(id.ok());
  Identity out{name, net::TlsConfig{id->key_pem, id->cert_pem}, ""};
  out.fp = *crypto::CertificateFingerprint(out.tls.cert_pem);
  return out;
}

int Main(int argc, char** argv) {
  const Flags f = ParseFlags(argc, argv);
  crypto::InitCrypto();
  const char* transport_name = f.transport == "grpc"     ? "gRPC + pinned mTLS on 127.0.0.1"
                               : f.transport == "socket" ? "Unix socketpair, length-prefixed"
                                                         : "in-memory link, one process";
  std::printf("ECDH-PSI benchmark: transport %s; %d worker thread(s) per party; batch %zu;\n"
              "outputs A=%s B=%s; each party in its own process%s.\n",
              transport_name, f.threads, f.batch, std::string(psi::PsiOutputName(f.out_a)).c_str(),
              std::string(psi::PsiOutputName(f.out_b)).c_str(),
              f.transport == "memory" ? " (no: memory transport shares one)" : "");
  std::fflush(stdout);
  const Rate alone = MeasureX25519Rate(f.floor_seconds);
  const Rate busy = MeasureConcurrentX25519Rate(f.floor_seconds);
  const double rate_alone = alone.per_wall_s, rate_busy = busy.per_wall_s;
  const double rate_cpu = alone.per_cpu_s;
  std::printf("X25519 floor (crypto_scalarmult_curve25519, tight loop): %.0f mult/s on one core "
              "alone; %.0f mult/s per process with two processes at once; %.0f mult per CPU "
              "second.\nfloor_s = 2n / (one core alone); cpu/floor = cpu_s / (2n / per-CPU-second "
              "rate), which other load on the machine does not distort.\n\n",
              rate_alone, rate_busy, rate_cpu);
  std::printf("%-5s %-5s %8s %8s %7s %8s %10s %8s %8s %10s %10s %9s  %s\n", "log2n", "party",
              "items", "wall_s", "cpu_s", "sent_MB", "peakRSS_MB", "mults", "floor_s",
              "wall/floor", "wall/busy", "cpu/floor", "result");
  std::fflush(stdout);
  Identity ida, idb;
  if (f.transport == "grpc") {
    ida = NewIdentity("a");
    idb = NewIdentity("b");
  }
  int failures = 0;
  for (int k : f.log2n) {
    const uint64_t n = uint64_t{1} << k;
    auto [ra, rb] = RunOnce(n, f, ida, idb);
    const Report* reps[2] = {&ra, &rb};
    for (int c = 0; c < 2; ++c) {
      const Report& r = *reps[c];
      const PsiOutput out = c == 0 ? f.out_a : f.out_b;
      if (!r.ok) {
        std::printf("%-5d %-5s  FAILED: %s\n", k, c == 0 ? "A" : "B", r.error.c_str());
        ++failures;
        continue;
      }
      const uint64_t mults = 2 * n;
      const double floor_s = static_cast<double>(mults) / rate_alone;
      const double busy_floor_s = static_cast<double>(mults) / rate_busy;
      const bool correct = out == PsiOutput::kNone ||
                           (r.intersection == n / 2 &&
                            (out != PsiOutput::kIntersection || r.matched == n / 2));
      if (!correct) ++failures;
      std::printf("%-5d %-5s %8" PRIu64 " %8.2f %7.2f %8.2f %10.1f %8" PRIu64
                  " %8.2f %10.2f %10.2f %9.2f  %s\n",
                  k, c == 0 ? "A" : "B", n, r.wall_s, r.cpu_s, r.bytes_sent / 1e6,
                  r.max_rss_kb / 1024.0, mults, floor_s, r.wall_s / floor_s,
                  r.wall_s / busy_floor_s, r.cpu_s / (static_cast<double>(mults) / rate_cpu),
                  correct ? (out == PsiOutput::kNone ? "ok (no output)" : "ok |X∩Y| = n/2")
                          : "WRONG RESULT");
      std::fflush(stdout);
    }
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace consort::bench

int main(int argc, char** argv) { return consort::bench::Main(argc, argv); }
