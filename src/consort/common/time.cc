#include "consort/common/time.h"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace consort {

int64_t NowUnixMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double MonotonicSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string FormatRfc3339(int64_t unix_millis) {
  time_t secs = static_cast<time_t>(unix_millis / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

StatusOr<int64_t> ParseRfc3339(const std::string& text) {
  struct tm tm = {};
  int y, mo, d, h = 0, mi = 0, s = 0;
  char tail = 0;
  int n = std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &s, &tail);
  bool date_only = n == 3 && text.size() == 10;
  bool full = n == 7 && tail == 'Z' && text.size() == 20;
  if (!date_only && !full) {
    return absl::InvalidArgumentError("invalid time '" + text +
                                      "': expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ");
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) {
    return absl::InvalidArgumentError("invalid time '" + text + "': field out of range");
  }
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

}  // namespace consort
