#include "bench/common/x25519_floor.h"

#include <sodium.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench/common/bench_util.h"
#include "bench/common/process_runner.h"

namespace consort::bench {

using Clock = std::chrono::steady_clock;

// X25519 multiplications per second on the calling thread, in a dependent chain.
Rate MeasureX25519Rate(double seconds) {
  uint8_t scalar[32], point[32] = {9};
  randombytes_buf(scalar, sizeof(scalar));
  uint64_t count = 0;
  const auto start = Clock::now();
  const double cpu_start = ThreadCpuSeconds();
  double elapsed = 0;
  while (elapsed < seconds) {
    for (int i = 0; i < 256; ++i) {
      if (crypto_scalarmult_curve25519(point, scalar, point) != 0) std::abort();
    }
    count += 256;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  }
  return {static_cast<double>(count) / elapsed,
          static_cast<double>(count) / (ThreadCpuSeconds() - cpu_start)};
}

// The same, in two processes at once (both cores busy, as during the PSI run); the mean.
Rate MeasureConcurrentX25519Rate(double seconds) {
  const auto out = RunInChildren(2, [&](int) {
    const Rate r = MeasureX25519Rate(seconds);
    char buf[80];
    std::snprintf(buf, sizeof(buf), "%a %a", r.per_wall_s, r.per_cpu_s);
    return std::string(buf);
  });
  Rate sum;
  for (const std::string& o : out) {
    Rate r;
    if (std::sscanf(o.c_str(), "%la %la", &r.per_wall_s, &r.per_cpu_s) != 2) r = {};
    sum.per_wall_s += r.per_wall_s / 2;
    sum.per_cpu_s += r.per_cpu_s / 2;
  }
  return sum;
}

}  // namespace consort::bench
