#pragma once
// Measurement helpers every benchmark uses: this process's (or thread's) CPU time and peak
// resident memory.

namespace consort::bench {

// User + system CPU seconds of this process so far (all threads).
double CpuSeconds();
// Peak resident set size of this process so far, in KiB (getrusage ru_maxrss).
long MaxRssKb();
// CPU seconds of the calling thread so far (CLOCK_THREAD_CPUTIME_ID).
double ThreadCpuSeconds();

}  // namespace consort::bench
