#pragma once
// Test helpers for data/ (header-only, no GoogleTest dependency).

#include "consort/common/test_temp_dir.h"

namespace consort::data::internal {

// A fresh directory under the system temp dir, removed with its contents on destruction.
using TempDir = TestTempDir;

}  // namespace consort::data::internal
