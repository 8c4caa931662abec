// consort_kkrt_bench: two-party KKRT16 PSI (psi/kkrt_psi.h), each party in its own process,
// talking over TCP on 127.0.0.1 (length-prefixed frames, bench/common/process_runner.h), or both as
// threads of one process over an in-memory link (--transport=memory; CPU seconds and peak RSS
// are then those of the shared process).
//
//   consort_kkrt_bench [--log2n=16,20] [--transport=tcp|memory] [--chunk=65536]
//                      [--outputs=intersection,intersection]
//
// Party A (OPRF receiver) holds n items, party B (OPRF sender) n items, n/2 in common.
// Floor: the same number of AES-128 blocks (ECB, one core, tight loop: code words, PRG
// columns) plus the same number of BLAKE2b-128 hashes of 64 bytes (item digests, OPRF
// outputs) that both parties compute, measured in this run on one core; floor_s is their sum
// (all work on one core), so wall/floor < 1 means the two processes overlapped.

#include <openssl/evp.h>
#include <sodium.h>

#include <algorithm>
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
#include "consort/crypto/random.h"
#include "consort/psi/internal/cuckoo.h"
#include "consort/psi/kkrt_psi.h"

namespace consort::bench {
namespace {

using consort::bench::CpuSeconds;
using consort::bench::MaxRssKb;

using Clock = std::chrono::steady_clock;
using psi::PsiOutput;

struct Flags {
  std::vector<int> log2n = {16, 20};
  std::string transport = "tcp";
  size_t chunk = size_t{1} << 16;
  PsiOutput out_a = PsiOutput::kIntersection;
  PsiOutput out_b = PsiOutput::kIntersection;
};

constexpr char kUsage[] =
    "usage: consort_kkrt_bench [--log2n=16,20] [--transport=tcp|memory] [--chunk=65536] "
    "[--outputs=intersection,intersection]";

[[noreturn]] void Usage(const std::string& msg) { ExitWithUsage(kUsage, msg); }

Flags ParseFlags(int argc, char** argv) {
  if (WantsHelp(argc, argv)) ExitWithUsage(kUsage, "");
  Flags f;
  auto bad = [](const std::string& a) { Usage("bad flag " + a); };
  for (const auto& [key, val] : SplitFlags(argc, argv, bad)) {
    if (key == "log2n") {
      f.log2n = IntList(val, 1, 26, [] { Usage("log2n must be in [1, 26]"); });
    } else if (key == "transport") {
      if (val != "tcp" && val != "memory") Usage("bad --transport");
      f.transport = val;
    } else if (key == "chunk") {
      f.chunk = std::strtoull(val.c_str(), nullptr, 10);
    } else if (key == "outputs") {
      if (std::string e = ParsePsiOutputs(val, &f.out_a, &f.out_b); !e.empty()) Usage(e);
    } else {
      Usage("unknown flag " + key);
    }
  }
  return f;
}

// Seconds for `blocks` AES-128-ECB blocks on this thread (measured on a 1 MiB buffer, over at
// most 2^24 blocks and scaled).
double AesSeconds(uint64_t total_blocks) {
  const uint64_t blocks = std::min<uint64_t>(total_blocks, uint64_t{1} << 24);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  uint8_t key[16] = {1};
  EVP_EncryptInit_ex(ctx, EVP_aes_128_ecb(), nullptr, key, nullptr);
  EVP_CIPHER_CTX_set_padding(ctx, 0);
  std::vector<uint8_t> buf(1 << 20);
  const uint64_t per = buf.size() / 16;
  const auto start = Clock::now();
  for (uint64_t done = 0; done < blocks; done += per) {
    int outl = 0;
    const uint64_t m = std::min(per, blocks - done);
    EVP_EncryptUpdate(ctx, buf.data(), &outl, buf.data(), static_cast<int>(m * 16));
  }
  EVP_CIPHER_CTX_free(ctx);
  return std::chrono::duration<double>(Clock::now() - start).count() * total_blocks / blocks;
}

// Seconds for `count` BLAKE2b-128 hashes of 64 bytes with salt and personalization (measured
// over at most 2^21 hashes and scaled).
double HashSeconds(uint64_t total) {
  const uint64_t count = std::min<uint64_t>(total, uint64_t{1} << 21);
  uint8_t row[64] = {0}, salt[16] = {0}, pers[16] = {0}, out[16];
  const auto start = Clock::now();
  for (uint64_t i = 0; i < count; ++i) {
    salt[0] = static_cast<uint8_t>(i);
    crypto_generichash_blake2b_salt_personal(out, 16, row, 64, nullptr, 0, salt, pers);
    row[i & 63] ^= out[0];
  }
  return std::chrono::duration<double>(Clock::now() - start).count() * total / count;
}

std::vector<std::string> MakeItems(char party, uint64_t n) {
  const uint64_t first = party == 'a' ? 0 : n / 2;  // n/2 in common
  std::vector<std::string> items;
  items.reserve(n);
  char buf[32];
  for (uint64_t i = first; i < first + n; ++i) {
    std::snprintf(buf, sizeof(buf), "c%013" PRIu64, i);  // 14 chars: no heap allocation
    items.emplace_back(buf);
  }
  return items;
}

struct Report : PartyStatus, CallCost {
  uint64_t intersection = 0, matched = 0;
  auto fields() { return std::tie(wall_s, cpu_s, bytes_sent, max_rss_kb, intersection, matched); }
};

Report RunParty(net::Link& link, char party, uint64_t n, const Flags& f) {
  const std::vector<std::string> items = MakeItems(party, n);
  psi::KkrtPsiOptions o;
  o.my_output = party == 'a' ? f.out_a : f.out_b;
  o.peer_output = party == 'a' ? f.out_b : f.out_a;
  o.role = psi::ChooseKkrtRole(o.my_output, o.peer_output, party == 'a');
  o.domain = "bench-kkrt-" + std::to_string(n);
  o.chunk_bins = f.chunk;
  link.set_timeout(std::chrono::minutes(10));
  Report rep;
  auto r = MeasureCall(link, &rep, [&] { return psi::RunKkrtPsi(link, items, o); });
  if (!r.ok()) {
    rep.error = r.status().ToString();
    return rep;
  }
  rep.ok = true;
  rep.intersection = r->intersection_size;
  rep.matched = r->matched.size();
  return rep;
}

std::pair<Report, Report> RunOnce(uint64_t n, const Flags& f) {
  const auto out = RunParties(
      {"a", "b"}, f.transport == "tcp" ? Transport::kTcp : Transport::kMemory,
      [&](int party, PartyLinks& links) {
        return ToReportLine(RunParty(*links[1 - party], party == 0 ? 'a' : 'b', n, f));
      });
  return {FromReportLine<Report>(out[0]), FromReportLine<Report>(out[1])};
}

int Main(int argc, char** argv) {
  const Flags f = ParseFlags(argc, argv);
  crypto::InitCrypto();
  std::printf(
      "KKRT16 PSI benchmark: transport %s; chunk %zu bins; outputs A=%s B=%s; A is the "
      "OPRF receiver; n/2 items in common.\nload average at start: %s\n",
      f.transport == "tcp" ? "TCP 127.0.0.1, one process per party"
                           : "in-memory link, both parties in one process",
      f.chunk, std::string(psi::PsiOutputName(f.out_a)).c_str(),
      std::string(psi::PsiOutputName(f.out_b)).c_str(), LoadAverage().c_str());
  std::printf("%-5s %-5s %9s %8s %7s %8s %10s %9s %9s %10s  %s\n", "log2n", "party", "items",
              "wall_s", "cpu_s", "sent_MB", "peakRSS_MB", "aes_fl_s", "hash_fl_s", "wall/floor",
              "result");
  std::fflush(stdout);
  int failures = 0;
  for (int k : f.log2n) {
    const uint64_t n = uint64_t{1} << k;
    const uint64_t m = psi::internal::CuckooBins(n);
    // AES blocks: R: code 4m + PRG 2*512*m/128; S: PRG 512*m/128 + code 12n.
    const uint64_t aes_blocks = 4 * m + 8 * m + 4 * m + 12 * n;
    // BLAKE2b: digests 2n; OPRF outputs: R n, S 3n.
    const uint64_t hashes = 2 * n + n + 3 * n;
    const double aes_s = AesSeconds(aes_blocks);
    const double hash_s = HashSeconds(hashes);
    auto [ra, rb] = RunOnce(n, f);
    const Report* reps[2] = {&ra, &rb};
    for (int c = 0; c < 2; ++c) {
      const Report& r = *reps[c];
      if (!r.ok) {
        std::printf("%-5d %-5s %9" PRIu64 "  FAILED: %s\n", k, c == 0 ? "A" : "B", n,
                    r.error.c_str());
        ++failures;
        continue;
      }
      const PsiOutput out = c == 0 ? f.out_a : f.out_b;
      const bool right = out == PsiOutput::kNone || r.intersection == n / 2;
      if (!right) ++failures;
      std::printf("%-5d %-5s %9" PRIu64
                  " %8.3f %7.3f %8.1f %10.1f %9.3f %9.3f %10.2f  |X∩Y|=%" PRIu64 "%s\n",
                  k, c == 0 ? "A" : "B", n, r.wall_s, r.cpu_s, r.bytes_sent / 1e6,
                  r.max_rss_kb / 1024.0, aes_s, hash_s, r.wall_s / (aes_s + hash_s), r.intersection,
                  right ? "" : " WRONG (expected n/2)");
    }
    std::fflush(stdout);
  }
  std::printf("load average at end: %s\n", LoadAverage().c_str());
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace consort::bench

int main(int argc, char** argv) { return consort::bench::Main(argc, argv); }
