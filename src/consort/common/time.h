#pragma once
// Wall-clock and monotonic time helpers.

#include <cstdint>
#include <string>

#include "consort/common/status.h"

namespace consort {

int64_t NowUnixMillis();
// Monotonic seconds, for measuring durations.
double MonotonicSeconds();
// "2026-11-22T14:03:07Z" (UTC, second precision).
std::string FormatRfc3339(int64_t unix_millis);
// Accepts "2026-11-22", "2026-11-22T14:03:07Z". InvalidArgument otherwise.
StatusOr<int64_t> ParseRfc3339(const std::string& text);

}  // namespace consort
