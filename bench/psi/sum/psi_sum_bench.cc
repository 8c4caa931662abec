// consort_psi_sum_bench: two-party PSI-sum (psi/psi_sum.h: ECDH on Curve25519 + Paillier with
// DJN noise), each party in its own process over TCP on 127.0.0.1, against a floor measured in
// the same run.
//
//   consort_psi_sum_bench [--log2n=16,20] [--threads=1] [--batch=1024] [--bits=2048]
//                         [--floor_seconds=2]
//
// Party A holds n ids [0, n), party B n ids [n/2, 3n/2) with int64 values (deterministic,
// uniform in [-10^9, 10^9]); n/2 in common. A's result (|X ∩ Y| and the sum) is checked against
// the plaintext sum computed by the parent.
// Floor: the cryptography each party must do, at the rate one thread reaches in a tight loop:
//   A: 2n X25519 multiplications (its own n, B's n) + n/2 ciphertext multiplications mod n^2;
//   B: 2n X25519 multiplications (A's n, its own n) + n Paillier encryptions with DJN noise
//      (PaillierFastNoise from the secret key, as psi_sum.cc does: noise + encode + encrypt).
// Hash-to-curve, ciphertext validation, shuffles, the network and B's one-off key generation
// and DJN table are not in the floor (key generation and table build are timed separately).
// floor_s uses the per-elapsed-second rates, cpu/floor the per-CPU-second rates (which other
// load on the machine does not distort). The floors are measured in a child process and the
// parent stays small, so each party's peak RSS (getrusage ru_maxrss) is its own.

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
#include "consort/crypto/paillier.h"
#include "consort/crypto/random.h"
#include "consort/psi/psi_sum.h"

namespace consort::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Flags {
  std::vector<int> log2n = {16, 20};
  int threads = 1;
  size_t batch = 1024;
  int bits = crypto::kPaillierDefaultBits;
  double floor_seconds = 2.0;
};

constexpr char kUsage[] =
    "usage: consort_psi_sum_bench [--log2n=16,20] [--threads=1] [--batch=1024] "
    "[--bits=2048] [--floor_seconds=2]";

[[noreturn]] void Usage(const std::string& msg) { ExitWithUsage(kUsage, msg); }

Flags ParseFlags(int argc, char** argv) {
  if (WantsHelp(argc, argv)) ExitWithUsage(kUsage, "");
  Flags f;
  auto bad = [](const std::string& a) { Usage(("bad flag " + a).c_str()); };
  for (const auto& [key, val] : SplitFlags(argc, argv, bad)) {
    if (key == "log2n") {
      f.log2n = IntList(val, 1, 24, [] { Usage("log2n must be in [1, 24]"); });
    } else if (key == "threads") {
      f.threads = std::atoi(val.c_str());
      if (f.threads < 1 || f.threads > 64) Usage("threads must be in [1, 64]");
    } else if (key == "batch") {
      f.batch = std::strtoull(val.c_str(), nullptr, 10);
      if (f.batch < 1 || f.batch > psi::kPsiSumMaxBatch) Usage("batch must be in [1, 8192]");
    } else if (key == "bits") {
      f.bits = std::atoi(val.c_str());
      if (f.bits < crypto::kPaillierMinBits) Usage("bits must be >= 2048");
    } else if (key == "floor_seconds") {
      f.floor_seconds = std::atof(val.c_str());
      if (f.floor_seconds <= 0) Usage("floor_seconds must be > 0");
    } else {
      Usage(("unknown flag " + key).c_str());
    }
  }
  return f;
}

struct Rate {
  double per_wall_s = 0;  // operations per elapsed second
  double per_cpu_s = 0;   // operations per second of CPU this thread received
};

// Runs op (which does `per_call` operations) for about `seconds`; one thread.
template <typename Op>
Rate Measure(double seconds, int per_call, Op op) {
  op();  // warm-up
  uint64_t count = 0;
  const auto start = Clock::now();
  const double cpu_start = ThreadCpuSeconds();
  double elapsed = 0;
  while (elapsed < seconds) {
    op();
    count += static_cast<uint64_t>(per_call);
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  }
  return {static_cast<double>(count) / elapsed,
          static_cast<double>(count) / (ThreadCpuSeconds() - cpu_start)};
}

struct Floors {
  bool ok = false;
  Rate x25519, djn_encrypt, ct_mul;
  double keygen_s = 0, table_s = 0;
};

// Measured in a child process (the parent stays small for the parties' peak RSS).
Floors MeasureFloors(const Flags& f) {
  Floors fl;
  crypto::InitCrypto();
  uint8_t scalar[32], point[32] = {9};
  randombytes_buf(scalar, sizeof(scalar));
  fl.x25519 = Measure(f.floor_seconds, 64, [&] {
    for (int i = 0; i < 64; ++i) {
      if (crypto_scalarmult_curve25519(point, scalar, point) != 0) std::abort();
    }
  });
  auto t0 = Clock::now();
  auto sk = crypto::PaillierSecretKey::Generate(f.bits);
  if (!sk.ok()) return fl;
  fl.keygen_s = std::chrono::duration<double>(Clock::now() - t0).count();
  const crypto::PaillierPublicKey& pk = sk->public_key();
  t0 = Clock::now();
  // The same parameters as psi_sum.cc (B's noise).
  auto fast = crypto::PaillierFastNoise::Create(*sk, crypto::kPaillierDjnExponentBits, 8);
  if (!fast.ok()) return fl;
  fl.table_s = std::chrono::duration<double>(Clock::now() - t0).count();
  int64_t v = -123456789;
  Bytes out(pk.ciphertext_bytes());
  fl.djn_encrypt = Measure(f.floor_seconds, 8, [&] {
    for (int i = 0; i < 8; ++i) {
      crypto::PaillierCiphertext c = pk.Encrypt(pk.Encode(v++), fast->Generate());
      pk.SerializeCiphertextTo(c, out.data());
    }
  });
  crypto::PaillierCiphertext acc = pk.Zero(), c = sk->Encrypt(int64_t{7});
  fl.ct_mul = Measure(f.floor_seconds, 64, [&] {
    for (int i = 0; i < 64; ++i) pk.AddInPlace(acc, c);
  });
  fl.ok = true;
  return fl;
}

Floors MeasureFloorsInChild(const Flags& f) {
  const std::string out = RunInChild([&] {
    const Floors fl = MeasureFloors(f);
    if (!fl.ok) return std::string();
    char buf[256];
    std::snprintf(buf, sizeof(buf), "%a %a %a %a %a %a %a %a", fl.x25519.per_wall_s,
                  fl.x25519.per_cpu_s, fl.djn_encrypt.per_wall_s, fl.djn_encrypt.per_cpu_s,
                  fl.ct_mul.per_wall_s, fl.ct_mul.per_cpu_s, fl.keygen_s, fl.table_s);
    return std::string(buf);
  });
  Floors fl;
  fl.ok = std::sscanf(out.c_str(), "%la %la %la %la %la %la %la %la", &fl.x25519.per_wall_s,
                      &fl.x25519.per_cpu_s, &fl.djn_encrypt.per_wall_s, &fl.djn_encrypt.per_cpu_s,
                      &fl.ct_mul.per_wall_s, &fl.ct_mul.per_cpu_s, &fl.keygen_s,
                      &fl.table_s) == 8;
  return fl;
}

// B's value for id i: deterministic, uniform in [-10^9, 10^9].
int64_t ValueOf(uint64_t i) {
  uint64_t z = i + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return static_cast<int64_t>(z % 2000000001ULL) - 1000000000;
}

std::string Id(uint64_t i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "customer-%012" PRIu64, i);
  return buf;
}

std::string Int128Decimal(__int128 v) {
  if (v == 0) return "0";
  const bool neg = v < 0;
  unsigned __int128 u = neg ? -static_cast<unsigned __int128>(v) : static_cast<unsigned __int128>(v);
  std::string s;
  for (; u > 0; u /= 10) s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(u % 10)));
  return neg ? "-" + s : s;
}

struct Report : PartyStatus, CallCost {
  uint64_t intersection = 0;
  std::string sum = "-";
  auto fields() { return std::tie(wall_s, cpu_s, bytes_sent, max_rss_kb, intersection, sum); }
};

Report RunParty(net::Link& link, char party, uint64_t n, const Flags& f) {
  const uint64_t first = party == 'a' ? 0 : n / 2;
  std::vector<std::string> items;
  std::vector<int64_t> values;
  items.reserve(n);
  for (uint64_t i = first; i < first + n; ++i) {
    items.push_back(Id(i));
    if (party == 'b') values.push_back(ValueOf(i));
  }
  psi::PsiSumOptions o;
  o.domain = "bench-psi-sum-" + std::to_string(n);
  o.b_learns_size = true;
  o.batch_size = f.batch;
  o.paillier_bits = f.bits;
  o.threads = f.threads;
  link.set_timeout(std::chrono::minutes(60));
  Report rep;
  auto r = MeasureCall(link, &rep, [&] {
    return party == 'a' ? psi::RunPsiSumA(link, items, o) : psi::RunPsiSumB(link, items, values, o);
  });
  if (!r.ok()) {
    rep.error = r.status().ToString();
    return rep;
  }
  rep.ok = true;
  rep.intersection = r->intersection_size.value_or(0);
  if (party == 'a') rep.sum = r->sum_decimal;
  return rep;
}

// Each party its own process, TCP on 127.0.0.1.
std::pair<Report, Report> RunOnce(uint64_t n, const Flags& f) {
  const auto out = RunParties({"a", "b"}, Transport::kTcp, [&](int c, PartyLinks& links) {
    return ToReportLine(RunParty(*links[1 - c], c == 0 ? 'a' : 'b', n, f));
  });
  return {FromReportLine<Report>(out[0]), FromReportLine<Report>(out[1])};
}

int Main(int argc, char** argv) {
  const Flags f = ParseFlags(argc, argv);
  crypto::InitCrypto();
  const std::string load_before = LoadAverage();
  std::printf("PSI-sum benchmark: Paillier %d-bit with DJN 256-bit noise (B, 8-bit windows); "
              "%d worker thread(s) per party (B also %d noise worker(s)); batch %zu; each party "
              "its own process, TCP 127.0.0.1.\n",
              f.bits, f.threads, f.threads, f.batch);
  std::fflush(stdout);
  const Floors fl = MeasureFloorsInChild(f);
  if (!fl.ok) {
    std::fprintf(stderr, "floor measurement failed\n");
    return 1;
  }
  std::printf(
      "floor (one thread, tight loop): X25519 %.0f mult/s (%.0f per CPU s); DJN encryption "
      "%.0f/s = %.3f ms (%.0f per CPU s); ciphertext mult mod n^2 %.0f/s (%.0f per CPU s).\n"
      "B's one-off setup (not in the floor): key generation %.2f s (varies), DJN table %.3f s.\n"
      "floor A = 2n X25519 + n/2 ct mults; floor B = 2n X25519 + n DJN encryptions.\n\n",
      fl.x25519.per_wall_s, fl.x25519.per_cpu_s, fl.djn_encrypt.per_wall_s,
      1e3 / fl.djn_encrypt.per_wall_s, fl.djn_encrypt.per_cpu_s, fl.ct_mul.per_wall_s,
      fl.ct_mul.per_cpu_s, fl.keygen_s, fl.table_s);
  std::printf("parent peak RSS before forking the parties: %.1f MiB\n\n", MaxRssKb() / 1024.0);
  std::printf("%-5s %-5s %8s %8s %7s %8s %10s %8s %10s %9s  %s\n", "log2n", "party", "items",
              "wall_s", "cpu_s", "sent_MB", "peakRSS_MB", "floor_s", "wall/floor", "cpu/floor",
              "result");
  std::fflush(stdout);
  int failures = 0;
  for (int k : f.log2n) {
    const uint64_t n = uint64_t{1} << k;
    __int128 expected = 0;
    for (uint64_t i = n / 2; i < n; ++i) expected += ValueOf(i);
    const std::string want = Int128Decimal(expected);
    auto [ra, rb] = RunOnce(n, f);
    const Report* reps[2] = {&ra, &rb};
    for (int c = 0; c < 2; ++c) {
      const Report& r = *reps[c];
      if (!r.ok) {
        std::printf("%-5d %-5s  FAILED: %s\n", k, c == 0 ? "A" : "B", r.error.c_str());
        ++failures;
        continue;
      }
      const double mults = 2.0 * static_cast<double>(n);
      const double paillier = c == 0 ? static_cast<double>(n / 2) : static_cast<double>(n);
      const Rate& pr = c == 0 ? fl.ct_mul : fl.djn_encrypt;
      const double floor_s = mults / fl.x25519.per_wall_s + paillier / pr.per_wall_s;
      const double floor_cpu = mults / fl.x25519.per_cpu_s + paillier / pr.per_cpu_s;
      const bool correct = r.intersection == n - n / 2 && (c == 1 || r.sum == want);
      if (!correct) ++failures;
      std::printf("%-5d %-5s %8" PRIu64 " %8.2f %7.2f %8.2f %10.1f %8.2f %10.2f %9.2f  %s\n", k,
                  c == 0 ? "A" : "B", n, r.wall_s, r.cpu_s, r.bytes_sent / 1e6,
                  r.max_rss_kb / 1024.0, floor_s, r.wall_s / floor_s, r.cpu_s / floor_cpu,
                  !correct     ? "WRONG RESULT"
                  : c == 0 ? ("ok |X∩Y| = n/2, sum = " + r.sum + " (plaintext)").c_str()
                           : "ok |X∩Y| = n/2");
      std::fflush(stdout);
    }
  }
  std::printf("\nload average before %s, after %s (2 cores)\n", load_before.c_str(),
              LoadAverage().c_str());
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace consort::bench

int main(int argc, char** argv) { return consort::bench::Main(argc, argv); }
