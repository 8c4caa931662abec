#pragma once
// Measurement helpers every benchmark uses: this process's CPU time and peak resident memory.

namespace consort::bench {

// User + system CPU seconds of this process so far (all threads).
double CpuSeconds();
// Peak resident set size of this process so far, in KiB (getrusage ru_maxrss).
long MaxRssKb();

}  // namespace consort::bench
