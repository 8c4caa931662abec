// consort_psi_bucketed_bench: two-party bucketed ECDH-PSI over CSV files, each party in its own
// process over TCP on 127.0.0.1, against the X25519 floor measured in the same run.
//
//   consort_psi_bucketed_bench [--n=65536 | --log2n=16] [--memory-budget-mb=1024]
//       [--buckets=0] [--threads=1] [--batch=4096] [--floor-seconds=2] [--dir=/tmp/...]
//       [--keep-files] [--outputs=intersection,size]
//
// Party A's CSV holds n random 16-hex-digit ids [0, n), B's [n/2, 3n/2): n/2 in common. Each
// party streams its file with data::OpenCsvReader (the node's reader, fingerprint checked),
// runs psi::RunBucketedEcdhPsi in its own scratch directory and, if it receives
// "intersection", writes its matched rows as CSV (WriteMatchedRowsCsv). Reported per party:
// wall time (and how much of it was the local first pass: reading, key checks, bucketing),
// bytes sent, peak RSS (getrusage ru_maxrss), B. Floor: 2n X25519 multiplications per party at
// the rate one core reaches in a tight loop while both cores are busy.

#include <sodium.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "bench/common/bench_util.h"
#include "bench/common/flags.h"
#include "bench/common/party_report.h"
#include "bench/common/process_runner.h"
#include "bench/common/psi_flags.h"
#include "bench/common/x25519_floor.h"
#include "consort/crypto/hash.h"
#include "consort/crypto/random.h"
#include "consort/data/csv_reader.h"
#include "consort/data/describe.h"
#include "consort/psi/bucketed_psi.h"

namespace consort::bench {
namespace {

using consort::bench::MaxRssKb;

using Clock = std::chrono::steady_clock;
using psi::PsiOutput;

struct Flags {
  uint64_t n = 1 << 16;
  size_t budget_mb = 1024;
  uint32_t buckets = 0;
  int threads = 1;
  size_t batch = 4096;
  double floor_seconds = 2.0;
  std::string dir;
  bool keep = false;
  PsiOutput out_a = PsiOutput::kIntersection;
  PsiOutput out_b = PsiOutput::kSize;
};

constexpr char kUsage[] =
    "usage: consort_psi_bucketed_bench [--n=N | --log2n=K] [--memory-budget-mb=1024] "
    "[--buckets=0] [--threads=1] [--batch=4096] [--floor-seconds=2] [--dir=DIR] "
    "[--keep-files] [--outputs=intersection,size]";

[[noreturn]] void Usage(const std::string& msg) { ExitWithUsage(kUsage, msg); }

Flags ParseFlags(int argc, char** argv) {
  if (WantsHelp(argc, argv)) ExitWithUsage(kUsage, "");
  Flags f;
  auto bad = [](const std::string& a) { Usage(("bad flag " + a).c_str()); };
  for (const auto& [key, val] : SplitFlags(argc, argv, bad, {"keep-files"})) {
    if (key == "keep-files") {
      f.keep = true;
    } else if (key == "n") {
      f.n = std::strtoull(val.c_str(), nullptr, 10);
    } else if (key == "log2n") {
      int k = std::atoi(val.c_str());
      if (k < 1 || k > 32) Usage("log2n must be in [1, 32]");
      f.n = uint64_t{1} << k;
    } else if (key == "memory-budget-mb") {
      f.budget_mb = std::strtoull(val.c_str(), nullptr, 10);
    } else if (key == "buckets") {
      f.buckets = static_cast<uint32_t>(std::strtoul(val.c_str(), nullptr, 10));
    } else if (key == "threads") {
      f.threads = std::atoi(val.c_str());
    } else if (key == "batch") {
      f.batch = std::strtoull(val.c_str(), nullptr, 10);
    } else if (key == "floor-seconds") {
      f.floor_seconds = std::atof(val.c_str());
    } else if (key == "dir") {
      f.dir = val;
    } else if (key == "outputs") {
      if (std::string e = ParsePsiOutputs(val, &f.out_a, &f.out_b); !e.empty()) Usage(e.c_str());
    } else {
      Usage(("unknown flag " + key).c_str());
    }
  }
  if (f.n < 2) Usage("n must be at least 2");
  return f;
}

// Writes "id,amount" rows: ids are 16 hex digits of SHA-256(seed || i) for i in [first,
// first + n), so both parties derive the same ids for the same i.
double WriteCsv(const std::string& path, uint64_t first, uint64_t n) {
  const auto start = Clock::now();
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) std::abort();
  std::setvbuf(f, nullptr, _IOFBF, 1 << 20);
  std::fputs("id,amount\n", f);
  uint8_t in[16] = {'c', 'o', 'n', 's', 'o', 'r', 't', '-'};
  for (uint64_t i = first; i < first + n; ++i) {
    std::memcpy(in + 8, &i, 8);
    uint8_t h[32];
    crypto_hash_sha256(h, in, sizeof(in));
    std::fprintf(f, "%02x%02x%02x%02x%02x%02x%02x%02x,%" PRIu64 "\n", h[0], h[1], h[2], h[3], h[4],
                 h[5], h[6], h[7], i % 1000);
  }
  if (std::fclose(f) != 0) std::abort();
  return std::chrono::duration<double>(Clock::now() - start).count();
}

struct Report : PartyStatus {
  double wall_s = 0, prep_s = 0, output_s = 0, cpu_s = 0;
  uint64_t bytes_sent = 0;
  long max_rss_kb = 0;
  uint64_t buckets = 0, intersection = 0, matched = 0, size_only = 0;
  auto fields() {
    return std::tie(wall_s, prep_s, output_s, cpu_s, bytes_sent, max_rss_kb, buckets,
                    intersection, matched, size_only);
  }
};

Report RunParty(net::Link& link, char party, const std::string& csv, const std::string& scratch,
                const Flags& f) {
  Report rep;
  link.set_timeout(std::chrono::minutes(30));
  const auto start = Clock::now();
  const double cpu_start = CpuSeconds();
  auto fp = data::FileFingerprint(csv);
  if (!fp.ok()) {
    rep.error = fp.status().ToString();
    return rep;
  }
  data::CsvStreamOptions so;
  so.read.source_name = party == 'a' ? "a.csv" : "b.csv";
  so.read.column_types = {{"id", data::ColumnType::kString}, {"amount", data::ColumnType::kInt64}};
  so.expected_fingerprint = *fp;
  so.batch_rows = 65536;
  psi::InputOpener open = [&]() { return data::OpenCsvReader(csv, so); };
  psi::BucketedPsiOptions o;
  o.my_output = party == 'a' ? f.out_a : f.out_b;
  o.peer_output = party == 'a' ? f.out_b : f.out_a;
  o.domain = "bench-bucketed-" + std::to_string(f.n);
  o.key_columns = {"id"};
  o.memory_budget_mb = f.budget_mb;
  o.force_buckets = f.buckets;
  o.scratch_dir = scratch;
  o.input_fingerprint = *fp;
  o.psi_batch_size = f.batch;
  o.threads = f.threads;
  bool prep_done = false;
  o.progress = [&](double, const std::string& stage) {
    // The first cryptography: a bucket's ECDH-PSI, or the size-only flow's masking.
    if (!prep_done && (stage.rfind("bucket ", 0) == 0 || stage == "masking keys")) {
      prep_done = true;
      rep.prep_s = std::chrono::duration<double>(Clock::now() - start).count();
    }
  };
  auto r = psi::RunBucketedEcdhPsi(link, open, o);
  rep.bytes_sent = link.bytes_sent();
  if (!r.ok()) {
    rep.error = r.status().ToString();
    return rep;
  }
  const auto out_start = Clock::now();
  if (o.my_output == PsiOutput::kIntersection) {
    auto n = psi::WriteMatchedRowsCsv(open, r->matched_rows_path, r->matched_rows, f.budget_mb,
                                      scratch + "/result.csv");
    if (!n.ok()) {
      rep.error = n.status().ToString();
      return rep;
    }
  }
  rep.output_s = std::chrono::duration<double>(Clock::now() - out_start).count();
  rep.wall_s = std::chrono::duration<double>(Clock::now() - start).count();
  rep.cpu_s = CpuSeconds() - cpu_start;
  rep.max_rss_kb = MaxRssKb();
  rep.size_only = r->size_only ? 1 : 0;
  rep.ok = true;
  rep.buckets = r->buckets;
  rep.intersection = r->intersection_size;
  rep.matched = r->matched_rows;
  return rep;
}

int Main(int argc, char** argv) {
  Flags f = ParseFlags(argc, argv);
  const std::string load_before = LoadAverage();
  crypto::InitCrypto();
  const bool own_dir = f.dir.empty();
  if (own_dir) {
    char tmpl[] = "/tmp/consort-bucketed-bench-XXXXXX";
    if (!mkdtemp(tmpl)) std::abort();
    f.dir = tmpl;
  }
  std::filesystem::create_directories(f.dir + "/a");
  std::filesystem::create_directories(f.dir + "/b");
  const std::string csv_a = f.dir + "/a.csv", csv_b = f.dir + "/b.csv";
  double gen_s = WriteCsv(csv_a, 0, f.n) + WriteCsv(csv_b, f.n / 2, f.n);
  const Rate busy = MeasureConcurrentX25519Rate(f.floor_seconds);
  const double rate = busy.per_wall_s;
  const double floor_s = 2.0 * static_cast<double>(f.n) / rate;
  // CPU floor: the same multiplications per CPU second of the tight loops (load-independent).
  const double cpu_floor_s = 2.0 * static_cast<double>(f.n) / busy.per_cpu_s;

  // Each party its own process, TCP on 127.0.0.1.
  const auto out = RunParties({"a", "b"}, Transport::kTcp, [&](int c, PartyLinks& links) {
    return ToReportLine(RunParty(*links[1 - c], c == 0 ? 'a' : 'b', c == 0 ? csv_a : csv_b,
                              f.dir + (c == 0 ? "/a" : "/b"), f));
  });
  const Report reps[2] = {FromReportLine<Report>(out[0]), FromReportLine<Report>(out[1])};
  std::printf("bucketed ECDH-PSI, n = %" PRIu64 " per party (n/2 common), memory budget %zu MiB, "
              "threads %d, batch %zu, TCP 127.0.0.1, CSV via data::OpenCsvReader\n",
              f.n, f.budget_mb, f.threads, f.batch);
  std::printf("input generation: %.2f s (2 files); load average before %s, after %s (2 cores)\n",
              gen_s, load_before.c_str(), LoadAverage().c_str());
  std::printf("X25519 floor: %.0f mult/s per core with both cores busy -> %.2f s for 2n mults\n",
              rate, floor_s);
  int rc = 0;
  for (int c = 0; c < 2; ++c) {
    const Report& r = reps[c];
    if (!r.ok) {
      std::printf("party %c: FAILED: %s\n", c == 0 ? 'A' : 'B', r.error.c_str());
      rc = 1;
      continue;
    }
    std::printf("party %c: wall %.2f s (first pass %.2f s, output %.2f s) = %.2fx floor, "
                "cpu %.2f s = %.2fx cpu floor, sent %.1f MB, peak RSS %.1f MiB, %s = %" PRIu64
                ", intersection %" PRIu64 ", matched rows %" PRIu64 "\n",
                c == 0 ? 'A' : 'B', r.wall_s, r.prep_s, r.output_s, r.wall_s / floor_s, r.cpu_s,
                r.cpu_s / cpu_floor_s, r.bytes_sent / 1e6, r.max_rss_kb / 1024.0,
                r.size_only ? "size-only flow, partitions" : "B", r.buckets, r.intersection,
                r.matched);
  }
  const PsiOutput outs[2] = {f.out_a, f.out_b};
  for (int c = 0; c < 2 && rc == 0; ++c) {
    if (outs[c] != PsiOutput::kNone && reps[c].intersection != f.n - f.n / 2) {
      std::printf("WRONG intersection at party %c: expected %" PRIu64 "\n", c == 0 ? 'A' : 'B',
                  f.n - f.n / 2);
      rc = 1;
    }
  }
  std::printf("cpu floor: 2n X25519 in %.2f CPU s (tight loop, per CPU second)\n", cpu_floor_s);
  if (!f.keep && own_dir) std::filesystem::remove_all(f.dir);
  return rc;
}

}  // namespace
}  // namespace consort::bench

int main(int argc, char** argv) { return consort::bench::Main(argc, argv); }
