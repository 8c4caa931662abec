// Unbalanced PSI and k-party PSI benchmark.
//
//   consort_unbalanced_bench [--server-log10=6] [--client=1000] [--overlap=100] [--threads=2]
//                            [--dir=/tmp/...] [--keep] [--mp-log2=16] [--mp-parties=3]
//                            [--floor_seconds=2] [--skip-unbalanced] [--skip-multiparty]
//
// Phases, each in a forked child process so that each peak RSS is its own:
//   prepare: the server's one-time preparation of 10^server-log10 items on --threads threads
//            (hash-to-curve + one X25519 + SHA-256 per item, sort, serialize, save to --dir)
//   job 1:   Load the saved preprocessing, then one job over an in-memory link with a client of
//            --client items (--overlap of them in the server set) and an empty client cache:
//            the encoded set is transferred and cached
//   job 2:   the same with the client's cache warm (the per-job cost after preparation)
//   k-party: --mp-parties parties x 2^mp-log2 items, every party in one process (one thread
//            per party) over in-memory links
// Floors: X25519 (crypto_scalarmult_curve25519 through crypto::X25519Scalar, one core, tight
// loop) for the same number of multiplications: preparation n_s; a job n_c (server) + 2 n_c
// (client); k-party k * sum of set sizes.
// Every result is checked against the intersection known by construction.

#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "bench/common/bench_util.h"
#include "bench/common/flags.h"
#include "bench/common/process_runner.h"
#include "consort/crypto/curve25519.h"
#include "consort/crypto/random.h"
#include "consort/net/link.h"
#include "consort/psi/multiparty_psi.h"
#include "consort/psi/unbalanced_psi.h"

namespace consort::bench {
namespace {

using consort::bench::CpuSeconds;

using Clock = std::chrono::steady_clock;

struct Flags {
  int server_log10 = 6;
  uint64_t client = 1000;
  uint64_t overlap = 100;
  int threads = 2;
  std::string dir;
  bool keep = false;
  int mp_log2 = 16;
  int mp_parties = 3;
  double floor_seconds = 2.0;
  bool skip_unbalanced = false, skip_multiparty = false;
};

constexpr char kUsage[] =
    "usage: consort_unbalanced_bench [--server-log10=6] [--client=1000] [--overlap=100] "
    "[--threads=2] [--dir=DIR] [--keep] [--mp-log2=16] [--mp-parties=3] "
    "[--floor_seconds=2] [--skip-unbalanced] [--skip-multiparty]";

[[noreturn]] void Usage(const std::string& why = "bad flags") { ExitWithUsage(kUsage, why); }

Flags Parse(int argc, char** argv) {
  if (WantsHelp(argc, argv)) ExitWithUsage(kUsage, "");
  Flags f;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0) Usage();
    const size_t eq = a.find('=');
    const std::string k = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    const std::string v = eq == std::string::npos ? "" : a.substr(eq + 1);
    if (k == "server-log10")
      f.server_log10 = std::atoi(v.c_str());
    else if (k == "client")
      f.client = std::strtoull(v.c_str(), nullptr, 10);
    else if (k == "overlap")
      f.overlap = std::strtoull(v.c_str(), nullptr, 10);
    else if (k == "threads")
      f.threads = std::atoi(v.c_str());
    else if (k == "dir")
      f.dir = v;
    else if (k == "keep")
      f.keep = true;
    else if (k == "mp-log2")
      f.mp_log2 = std::atoi(v.c_str());
    else if (k == "mp-parties")
      f.mp_parties = std::atoi(v.c_str());
    else if (k == "floor_seconds")
      f.floor_seconds = std::atof(v.c_str());
    else if (k == "skip-unbalanced")
      f.skip_unbalanced = true;
    else if (k == "skip-multiparty")
      f.skip_multiparty = true;
    else
      Usage();
  }
  if (f.server_log10 < 0 || f.server_log10 > 9 || f.overlap > f.client || f.threads < 1 ||
      f.mp_parties < 3 || f.mp_parties > 16 || f.mp_log2 < 0 || f.mp_log2 > 24) {
    Usage();
  }
  return f;
}

double MaxRssMb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024.0;
}
double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

struct Rate {
  double wall = 0;  // mult/s of wall time (what one core gave us, load included)
  double cpu = 0;   // mult per CPU second (what the crypto costs, load excluded)
};

// One core, tight loop of batched X25519 multiplications.
Rate X25519Rate(double seconds) {
  crypto::InitCrypto();
  auto k = crypto::X25519Scalar::Generate();
  std::vector<crypto::X25519Point> p(1024);
  auto enc = crypto::Curve25519Encoder::Create(AsBytes("floor"));
  std::vector<std::string> m(p.size());
  for (size_t i = 0; i < m.size(); ++i) m[i] = std::to_string(i);
  enc->Encode(std::span<const std::string>(m), p);
  uint64_t done = 0;
  const auto start = Clock::now();
  const double cpu0 = ThreadCpuSeconds();
  while (Since(start) < seconds) {
    CONSORT_CHECK(k.Multiply(p, p).ok());
    done += p.size();
  }
  return {done / Since(start), done / (ThreadCpuSeconds() - cpu0)};
}

std::string ServerItem(uint64_t i) { return "srv-" + std::to_string(i); }

// Runs fn in a forked child; returns what it returned (one line) plus "\n", or "ERR ...".
std::string InChild(const std::function<std::string()>& fn) {
  const std::string out = RunInChild(fn);
  return out.empty() ? "ERR child died without a report\n" : out + "\n";
}

std::string Prepare(const Flags& f, uint64_t n) {
  psi::UnbalancedPsiPrepareOptions o;
  o.threads = f.threads;
  o.expected_items = n;
  o.max_client_size = std::max<uint64_t>(f.client, 1);
  const double cpu0 = CpuSeconds();
  const auto t0 = Clock::now();
  psi::UnbalancedPsiServerSet::Builder b(o);
  constexpr uint64_t kChunk = 1 << 16;
  std::vector<std::string> chunk;
  for (uint64_t i = 0; i < n; i += kChunk) {
    chunk.clear();
    for (uint64_t j = i; j < std::min(n, i + kChunk); ++j) chunk.push_back(ServerItem(j));
    Status st = b.Add(chunk);
    if (!st.ok()) return "ERR " + std::string(st.message());
  }
  auto set = b.Finish();
  if (!set.ok()) return "ERR " + std::string(set.status().message());
  const double encode_s = Since(t0);
  Status st = set->Save(f.dir, Json{{"bench", n}});
  if (!st.ok()) return "ERR " + std::string(st.message());
  char line[512];
  std::snprintf(line, sizeof(line), "OK %.3f %.3f %.3f %llu %.1f %zu", Since(t0), encode_s,
                CpuSeconds() - cpu0, static_cast<unsigned long long>(set->encoded_bytes()),
                MaxRssMb(), set->value_bytes());
  return line;
}

// Loads the preprocessing and runs `jobs` consecutive jobs with one client cache directory.
std::string Jobs(const Flags& f, uint64_t n, int jobs) {
  std::vector<std::string> client;
  const uint64_t step = std::max<uint64_t>(1, n / std::max<uint64_t>(f.overlap, 1));
  for (uint64_t i = 0; i < f.client; ++i) {
    client.push_back(i < f.overlap ? ServerItem((i * step) % n) : "cli-" + std::to_string(i));
  }
  std::string out = "OK";
  const std::string cache = f.dir + "/client-cache";
  for (int j = 0; j < jobs; ++j) {
    const double cpu0 = CpuSeconds();
    const auto t0 = Clock::now();
    auto set = psi::UnbalancedPsiServerSet::Load(f.dir);
    if (!set.ok()) return "ERR " + std::string(set.status().message());
    const double load_s = Since(t0);
    auto [a, b] = net::CreateInMemoryLinkPair("client", "server");
    a->set_timeout(std::chrono::minutes(10));
    b->set_timeout(std::chrono::minutes(10));
    StatusOr<psi::UnbalancedPsiServerResult> srv = absl::UnknownError("");
    std::thread t([&] {
      psi::UnbalancedPsiServerOptions o;
      o.domain = "bench-job-" + std::to_string(j);
      o.threads = f.threads;
      srv = psi::RunUnbalancedPsiServer(*b, *set, o);
    });
    psi::UnbalancedPsiClientOptions o;
    o.domain = "bench-job-" + std::to_string(j);
    o.cache_dir = cache;
    o.threads = f.threads;
    auto cli = psi::RunUnbalancedPsiClient(*a, client, o);
    t.join();
    if (!cli.ok()) return "ERR client: " + std::string(cli.status().message());
    if (!srv.ok()) return "ERR server: " + std::string(srv.status().message());
    const bool correct = cli->psi.intersection_size == std::min(f.overlap, n);
    char line[512];
    std::snprintf(line, sizeof(line), " %.3f %.3f %.3f %llu %llu %d %s", Since(t0), load_s,
                  CpuSeconds() - cpu0, static_cast<unsigned long long>(a->bytes_sent()),
                  static_cast<unsigned long long>(b->bytes_sent()), cli->used_cached_set ? 1 : 0,
                  correct ? "ok" : "MISMATCH");
    out += line;
  }
  char rss[64];
  std::snprintf(rss, sizeof(rss), " %.1f", MaxRssMb());
  return out + rss;
}

std::string Multiparty(const Flags& f) {
  const size_t k = f.mp_parties;
  const uint64_t n = uint64_t{1} << f.mp_log2, common = n / 4;
  std::vector<std::vector<std::string>> sets(k);
  for (size_t p = 0; p < k; ++p) {
    for (uint64_t i = 0; i < n; ++i) {
      sets[p].push_back(i < common ? "common-" + std::to_string(i)
                                   : "p" + std::to_string(p) + "-" + std::to_string(i));
    }
  }
  std::vector<std::vector<std::unique_ptr<net::Link>>> owned(k);
  std::vector<std::vector<net::Link*>> links(k, std::vector<net::Link*>(k, nullptr));
  for (auto& o : owned) o.resize(k);
  for (size_t i = 0; i < k; ++i) {
    for (size_t j = i + 1; j < k; ++j) {
      auto [a, b] = net::CreateInMemoryLinkPair(std::to_string(i), std::to_string(j));
      // The node's default link timeout: some links of the mesh carry nothing but keepalives
      // between the sizes and the result (the whole run, about 50 minutes at 2^24 here).
      a->set_timeout(std::chrono::seconds(120));
      b->set_timeout(std::chrono::seconds(120));
      links[i][j] = a.get();
      links[j][i] = b.get();
      owned[i][j] = std::move(a);
      owned[j][i] = std::move(b);
    }
  }
  std::vector<psi::MultipartyPsiOptions> opts(k);
  std::vector<StatusOr<psi::MultipartyPsiResult>> res(k, absl::UnknownError(""));
  const double cpu0 = CpuSeconds();
  const auto t0 = Clock::now();
  std::vector<std::thread> ts;
  for (size_t p = 0; p < k; ++p) {
    opts[p].self = p;
    opts[p].leader = k - 1;
    opts[p].outputs.assign(k, psi::PsiOutput::kIntersection);
    opts[p].outputs[k - 1] = psi::PsiOutput::kSize;
    opts[p].domain = "bench";
    opts[p].threads = 1;
    ts.emplace_back([&, p] { res[p] = psi::RunMultipartyPsi(links[p], sets[p], opts[p]); });
  }
  for (auto& t : ts) t.join();
  const double wall = Since(t0);
  uint64_t bytes = 0;
  bool correct = true;
  std::string errors;  // every party's, since the first to fail makes the others fail too
  for (size_t p = 0; p < k; ++p) {
    if (!res[p].ok()) {
      errors += " | party " + std::to_string(p) + ": " + res[p].status().ToString();
    }
  }
  if (!errors.empty()) return "ERR" + errors;
  for (size_t p = 0; p < k; ++p) {
    correct &= res[p]->intersection_size == common;
    // Items [0, common) of every set are the common ones; the leader receives the size only.
    const auto& m = res[p]->matched;
    correct &= p == k - 1 ? m.empty()
                          : m.size() == common && (common == 0 || (m.front() == 0 &&
                                                                   m.back() == common - 1));
    for (size_t q = 0; q < k; ++q) {
      if (links[p][q]) bytes += links[p][q]->bytes_sent();
    }
  }
  char line[256];
  std::snprintf(line, sizeof(line), "OK %.3f %.3f %llu %.1f %s", wall, CpuSeconds() - cpu0,
                static_cast<unsigned long long>(bytes), MaxRssMb(), correct ? "ok" : "MISMATCH");
  return line;
}

int Main(int argc, char** argv) {
  Flags f = Parse(argc, argv);
  crypto::InitCrypto();
  bool own_dir = false;
  if (f.dir.empty()) {
    f.dir = "/tmp/consort-upsi-bench-" + crypto::RandomHex(6);
    own_dir = true;
  }
  const Rate r = X25519Rate(f.floor_seconds);
  const double rate = r.cpu;
  std::printf(
      "X25519 floor (crypto_scalarmult_curve25519, one core, tight loop): %.0f mult per "
      "CPU second (%.0f mult/s of wall time on this machine now). Floors below use the "
      "CPU rate: floor_s = mults / CPU rate; cpu/floor compares the phase's CPU seconds "
      "with it, which other load does not distort.\n",
      r.cpu, r.wall);
  int rc = 0;
  if (!f.skip_unbalanced) {
    const uint64_t n = static_cast<uint64_t>(std::llround(std::pow(10.0, f.server_log10)));
    std::printf(
        "\nunbalanced PSI: server 10^%d = %llu items, client %llu (%llu in the server "
        "set), %d threads, dir %s\n",
        f.server_log10, static_cast<unsigned long long>(n),
        static_cast<unsigned long long>(f.client), static_cast<unsigned long long>(f.overlap),
        f.threads, f.dir.c_str());
    std::string p = InChild([&] { return Prepare(f, n); });
    double total = 0, enc = 0, cpu = 0, rss = 0;
    unsigned long long bytes = 0;
    size_t t = 0;
    if (std::sscanf(p.c_str(), "OK %lf %lf %lf %llu %lf %zu", &total, &enc, &cpu, &bytes, &rss,
                    &t) != 6) {
      std::printf("prepare failed: %s", p.c_str());
      return 1;
    }
    const double floor1 = n / rate;
    std::printf(
        "prepare (once): wall %.2f s (encode+sort %.2f s, save %.2f s), cpu %.2f s, "
        "encoded set %.2f MB (%.2f B/item, T = %zu B), peak RSS %.0f MB\n",
        total, enc, total - enc, cpu, bytes / 1e6, n ? double(bytes) / n : 0.0, t, rss);
    std::printf(
        "  X25519 floor for %llu mults: %.2f s on one core, %.2f s on %d cores; "
        "wall/floor(%d cores) = %.2f, cpu/floor = %.2f\n",
        static_cast<unsigned long long>(n), floor1, floor1 / f.threads, f.threads, f.threads,
        total / (floor1 / f.threads), cpu / floor1);
    std::string j = InChild([&] { return Jobs(f, n, 2); });
    double w[2], l[2], c[2], jrss = 0;
    unsigned long long cs[2], ss[2];
    int cached[2];
    char ok[2][16];
    if (std::sscanf(j.c_str(), "OK %lf %lf %lf %llu %llu %d %15s %lf %lf %lf %llu %llu %d %15s %lf",
                    &w[0], &l[0], &c[0], &cs[0], &ss[0], &cached[0], ok[0], &w[1], &l[1], &c[1],
                    &cs[1], &ss[1], &cached[1], ok[1], &jrss) != 15) {
      std::printf("jobs failed: %s", j.c_str());
      return 1;
    }
    const double job_floor = 3.0 * f.client / rate;
    for (int i = 0; i < 2; ++i) {
      std::printf(
          "job %d (%s client cache): wall %.3f s (load preprocessing %.3f s), cpu %.3f s, "
          "client sent %.3f MB, server sent %.3f MB, result %s\n",
          i + 1, cached[i] ? "warm" : "cold", w[i], l[i], c[i], cs[i] / 1e6, ss[i] / 1e6, ok[i]);
    }
    std::printf(
        "  X25519 floor per job (%llu server + %llu client mults): %.3f s on one core; "
        "peak RSS of the job process %.0f MB\n",
        static_cast<unsigned long long>(f.client), static_cast<unsigned long long>(2 * f.client),
        job_floor, jrss);
    if (std::string(ok[0]) != "ok" || std::string(ok[1]) != "ok" || cached[1] != 1) rc = 1;
  }
  if (!f.skip_multiparty) {
    const uint64_t n = uint64_t{1} << f.mp_log2;
    std::printf(
        "\nk-party PSI: %d parties x 2^%d items (a quarter common), one process, one "
        "thread per party, in-memory links\n",
        f.mp_parties, f.mp_log2);
    std::string m = InChild([&] { return Multiparty(f); });
    double wall = 0, cpu = 0, rss = 0;
    unsigned long long bytes = 0;
    char ok[16];
    if (std::sscanf(m.c_str(), "OK %lf %lf %llu %lf %15s", &wall, &cpu, &bytes, &rss, ok) != 5) {
      std::printf("k-party failed: %s", m.c_str());
      return 1;
    }
    const double mults = double(f.mp_parties) * f.mp_parties * n;
    std::printf("wall %.2f s, cpu %.2f s, sent %.2f MB in all, peak RSS %.0f MB, result %s\n", wall,
                cpu, bytes / 1e6, rss, ok);
    std::printf(
        "  X25519 floor for %.0f mults: %.2f s on one core, %.2f s on 2 cores; "
        "cpu/floor = %.2f\n",
        mults, mults / rate, mults / rate / 2, cpu / (mults / rate));
    if (std::string(ok) != "ok") rc = 1;
  }
  if (own_dir && !f.keep) std::filesystem::remove_all(f.dir);
  return rc;
}

}  // namespace
}  // namespace consort::bench

int main(int argc, char** argv) { return consort::bench::Main(argc, argv); }
