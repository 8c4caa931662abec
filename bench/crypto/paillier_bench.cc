// Paillier (crypto/paillier.h) throughput next to the floor measured in the same run (GMP's
// mpz_powm_sec at the sizes Paillier uses), and PSI-sum (psi/psi_sum.h) end to end over an
// in-memory link, both parties in this process (`--threads` workers each; B also runs that many
// Paillier noise workers).
//
// Usage: consort_paillier_bench [--bits 2048] [--psi-sum-log2 16] [--seconds 2] [--threads 1]
#include <gmp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "bench/common/bench_util.h"
#include "bench/common/flags.h"
#include "consort/crypto/paillier.h"
#include "consort/crypto/random.h"
#include "consort/net/link.h"
#include "consort/psi/psi_sum.h"

namespace {

using consort::bench::CpuSeconds;

using Clock = std::chrono::steady_clock;
using consort::crypto::PaillierCiphertext;
using consort::crypto::PaillierNoise;
using consort::crypto::PaillierPublicKey;
using consort::crypto::PaillierSecretKey;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// User + system CPU seconds of this process (all threads) so far.
// Runs fn repeatedly for about `budget` seconds; prints and returns ops/s.
double Rate(const char* name, double budget, const std::function<void()>& fn) {
  fn();  // warm-up
  size_t n = 0;
  const auto start = Clock::now();
  auto now = start;
  do {
    for (int i = 0; i < 8; ++i) fn();
    n += 8;
    now = Clock::now();
  } while (Seconds(start, now) < budget);
  const double rate = n / Seconds(start, now);
  std::printf("  %-46s %12.1f ops/s  %10.3f ms/op\n", name, rate, 1e3 / rate);
  return rate;
}

void RandomMpz(mpz_t out, int bits) {
  std::vector<uint8_t> b((bits + 7) / 8);
  consort::crypto::RandomBytes(b.data(), b.size());
  mpz_import(out, b.size(), 1, 1, 1, 0, b.data());
  mpz_setbit(out, bits - 1);
}

void PowmFloor(const char* name, int mod_bits, int exp_bits, double budget) {
  mpz_t m, e, base, r;
  mpz_inits(m, e, base, r, nullptr);
  RandomMpz(m, mod_bits);
  mpz_setbit(m, 0);  // odd, as powm_sec requires
  RandomMpz(e, exp_bits);
  RandomMpz(base, mod_bits - 1);
  Rate(name, budget, [&] { mpz_powm_sec(r, base, e, m); });
  mpz_clears(m, e, base, r, nullptr);
}

}  // namespace

constexpr char kUsage[] =
    "usage: consort_paillier_bench [--bits 2048] [--psi-sum-log2 16] [--seconds 2] "
    "[--threads 1]";

int main(int argc, char** argv) {
  if (consort::bench::WantsHelp(argc, argv)) consort::bench::ExitWithUsage(kUsage, "");
  int bits = 2048, log2n = 16, threads = 1;
  double budget = 2.0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--bits")) bits = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--psi-sum-log2")) log2n = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--seconds")) budget = std::atof(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
  }
  consort::crypto::InitCrypto();
  std::printf("GMP %s, Paillier modulus %d bits, one thread\n", gmp_version, bits);

  std::printf("floor: GMP mpz_powm_sec\n");
  PowmFloor("powm_sec mod 2048, exp 2048 (~decrypt half x2)", 2048, 2048, budget);
  PowmFloor("powm_sec mod 1024^2=2048, exp 1024 (CRT half)", 2048, 1024, budget);
  PowmFloor("powm_sec mod 4096, exp 2048 (r^n mod n^2)", 4096, 2048, budget);
  PowmFloor("powm_sec mod 4096, exp 4096", 4096, 4096, budget);
  {
    // GMP's non-constant-time mpz_powm (what a public exponent may use) at r^n mod n^2 size.
    mpz_t mm, e, base, r;
    mpz_inits(mm, e, base, r, nullptr);
    RandomMpz(mm, 4096);
    mpz_setbit(mm, 0);
    RandomMpz(e, 2048);
    RandomMpz(base, 4095);
    Rate("powm (raw) mod 4096, exp 2048", budget, [&] { mpz_powm(r, base, e, mm); });
    RandomMpz(e, 256);
    Rate("powm (raw) mod 4096, exp 256", budget, [&] { mpz_powm(r, base, e, mm); });
    mpz_clears(mm, e, base, r, nullptr);
  }

  const auto kg0 = Clock::now();
  auto sk = PaillierSecretKey::Generate(bits);
  const auto kg1 = Clock::now();
  if (!sk.ok()) {
    std::fprintf(stderr, "keygen: %s\n", std::string(sk.status().message()).c_str());
    return 1;
  }
  std::printf("keygen %d bits: %.3f s\n", bits, Seconds(kg0, kg1));
  const PaillierPublicKey& pk = sk->public_key();
  auto m = pk.Encode(123456789);
  auto c1 = pk.Encrypt(m), c2 = pk.Encrypt(pk.Encode(-5));
  PaillierCiphertext sink;

  std::printf("Paillier\n");
  Rate("encrypt, public key (fresh r^n mod n^2)", budget, [&] { sink = pk.Encrypt(m); });
  Rate("encrypt, key owner (CRT noise)", budget, [&] { sink = sk->Encrypt(m); });
  Rate("noise only, key owner (CRT)", budget, [&] { PaillierNoise z = sk->GenerateNoise(); });
  // DJN fixed-base noise (PaillierFastNoise): table build time, then per-value rates.
  for (int exp_bits : {consort::crypto::kPaillierDjnExponentBits, bits / 2}) {
    for (bool crt : {false, true}) {
      const auto t0 = Clock::now();
      auto fast = crt ? consort::crypto::PaillierFastNoise::Create(*sk, exp_bits, 8)
                      : consort::crypto::PaillierFastNoise::Create(pk, exp_bits, 8);
      if (!fast.ok()) return 1;
      std::printf("  DJN table (%s, %d-bit exponent, 8-bit windows): %.3f s\n",
                  crt ? "key owner, mod p^2 and q^2" : "public, mod n^2", exp_bits,
                  Seconds(t0, Clock::now()));
      const std::string name = std::string("encrypt, DJN noise, ") + (crt ? "key owner" : "public") +
                               ", exp " + std::to_string(exp_bits);
      Rate(name.c_str(), budget, [&] { sink = pk.Encrypt(m, fast->Generate()); });
    }
  }
  {
    // Both cores: `threads`+1 producers (PaillierNoiseProducer over the key owner's DJN table)
    // feeding one encrypting thread, K values.
    auto fast = consort::crypto::PaillierFastNoise::Create(*sk);
    if (!fast.ok()) return 1;
    const size_t k = 4096;
    const auto t0 = Clock::now();
    consort::crypto::PaillierNoiseProducer producer(*fast, k, std::max(1, threads), 1024);
    for (size_t i = 0; i < k; ++i) sink = pk.Encrypt(m, producer.Take());
    const double rate = k / Seconds(t0, Clock::now());
    const std::string name = "encrypt, DJN key owner, producer x" + std::to_string(std::max(1, threads)) + " + caller";
    std::printf("  %-46s %12.1f ops/s  %10.3f ms/op\n", name.c_str(), rate, 1e3 / rate);
  }
  {
    // Encrypt with noise computed ahead of time (PaillierNoisePool): time exactly K of them.
    constexpr size_t kPre = 256;
    std::vector<PaillierNoise> noise;
    for (size_t i = 0; i < kPre; ++i) noise.push_back(sk->GenerateNoise());
    const auto t0 = Clock::now();
    for (size_t i = 0; i < kPre; ++i) sink = pk.Encrypt(m, std::move(noise[i]));
    const double rate = kPre / Seconds(t0, Clock::now());
    std::printf("  %-46s %12.1f ops/s  %10.3f ms/op\n", "encrypt with precomputed noise", rate,
                1e3 / rate);
  }
  Rate("decrypt, CRT", budget, [&] { (void)sk->Decrypt(c1); });
  Rate("decrypt, textbook (no CRT)", budget, [&] { (void)sk->DecryptWithoutCrt(c1); });
  Rate("add (ciphertext x ciphertext mod n^2)", budget, [&] { pk.AddInPlace(c1, c2); });
  Rate("scalar multiply, 64-bit scalar", budget,
       [&] { sink = pk.MultiplyScalar(c2, int64_t{0x7fffffff12345678}); });
  auto big = pk.RandomPlaintext();
  Rate("scalar multiply, full-size scalar", budget, [&] { sink = pk.MultiplyScalar(c2, big); });
  Rate("rerandomize (fresh noise)", budget, [&] { sink = pk.Rerandomize(c2); });

  if (log2n > 0) {
    const size_t n = size_t{1} << log2n;
    std::vector<std::string> x(n), y(n);
    std::vector<int64_t> v(n);
    __int128 expected = 0;
    for (size_t i = 0; i < n; ++i) {
      x[i] = "id" + std::to_string(i);
      y[i] = "id" + std::to_string(i + n / 2);  // half overlap
      v[i] = static_cast<int64_t>(i % 1000);
      if (i < n / 2) expected += v[i];
    }
    auto [la, lb] = consort::net::CreateInMemoryLinkPair("a", "b");
    la->set_timeout(std::chrono::milliseconds(600'000));
    lb->set_timeout(std::chrono::milliseconds(600'000));
    consort::psi::PsiSumOptions opts;
    opts.domain = "bench";
    opts.paillier_bits = bits;
    opts.threads = threads;
    consort::StatusOr<consort::psi::PsiSumResult> rb = absl::UnknownError("");
    const double cpu0 = CpuSeconds();
    const auto t0 = Clock::now();
    std::thread tb([&] { rb = consort::psi::RunPsiSumB(*lb, y, v, opts); });
    auto ra = consort::psi::RunPsiSumA(*la, x, opts);
    tb.join();
    const auto t1 = Clock::now();
    const double cpu = CpuSeconds() - cpu0;
    if (!ra.ok() || !rb.ok()) {
      std::fprintf(stderr, "psi-sum failed: %s / %s\n", ra.status().ToString().c_str(),
                   rb.status().ToString().c_str());
      return 1;
    }
    const bool correct = ra->intersection_size == n / 2 &&
                         ra->sum_decimal == std::to_string(static_cast<int64_t>(expected));
    std::printf("PSI-sum 2^%d x 2^%d (in-memory link, threads=%d per party, B also %d noise "
                "workers): %.2f s wall, %.1f s CPU (both parties), A sent %.1f MB, B sent %.1f MB, |J| = %llu, sum %s (%s)\n",
                log2n, log2n, threads, threads, Seconds(t0, t1), cpu, la->bytes_sent() / 1e6, lb->bytes_sent() / 1e6,
                static_cast<unsigned long long>(*ra->intersection_size), ra->sum_decimal.c_str(),
                correct ? "correct" : "WRONG");
    if (!correct) return 1;
  }
  return 0;
}
