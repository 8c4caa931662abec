#pragma once
// Measurement helpers every benchmark uses: this process's (or thread's) CPU time and peak
// resident memory.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace consort::bench {

// User + system CPU seconds of this process so far (all threads).
double CpuSeconds();
// Peak resident set size of this process so far, in KiB (getrusage ru_maxrss).
long MaxRssKb();
// CPU seconds of the calling thread so far (CLOCK_THREAD_CPUTIME_ID).
double ThreadCpuSeconds();

// MPC results (ring elements) against the plaintext reference: how many are below it or more
// than 1 ulp above it (any difference when `exact`); sizes that differ count every element.
size_t CountUlpFailures(const std::vector<uint64_t>& got, const std::vector<uint64_t>& want,
                        bool exact);

}  // namespace consort::bench
