#pragma once
// Test hook of bucketed ECDH-PSI (psi/bucketed_psi.h): the largest number of distinct keys one
// bucket/partition load has held in memory since the last reset, maximum over all runs in the
// process (thread-safe, relaxed). Internal to psi/; tests use it to check that a key repeated
// many times does not grow the loader beyond the bucket's distinct keys.

#include <cstdint>

namespace consort::psi::internal {

uint64_t BucketLoaderPeakKeys();
void ResetBucketLoaderPeakKeys();

}  // namespace consort::psi::internal
