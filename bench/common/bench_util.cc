#include "bench/common/bench_util.h"

#include <sys/resource.h>
#include <time.h>

namespace consort::bench {

double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1e-6 * (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

long MaxRssKb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

size_t CountUlpFailures(const std::vector<uint64_t>& got, const std::vector<uint64_t>& want,
                        bool exact) {
  if (got.size() != want.size()) return got.size() + want.size();
  size_t bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const int64_t d = static_cast<int64_t>(got[i] - want[i]);
    if (d < 0 || d > (exact ? 0 : 1)) ++bad;
  }
  return bad;
}

}  // namespace consort::bench
