#pragma once
// The X25519 floor of the PSI benchmarks: crypto_scalarmult_curve25519 in a dependent chain,
// timed alone on the calling thread or in two processes at once (both cores busy, as during a
// two-party run).

namespace consort::bench {

struct Rate {
  double per_wall_s = 0;  // multiplications per elapsed second
  double per_cpu_s = 0;   // multiplications per second of CPU actually received
};

// On the calling thread, for about `seconds`.
Rate MeasureX25519Rate(double seconds);
// In two forked processes at once; the mean of the two.
Rate MeasureConcurrentX25519Rate(double seconds);

}  // namespace consort::bench
