#pragma once
// Small filesystem helpers. Writes are atomic (temporary file, fsync, rename) so that a crash
// never leaves a half-written key or config behind.

#include <string>
#include <string_view>

#include "consort/common/bytes.h"
#include "consort/common/status.h"

namespace consort {

// NotFound if the file does not exist; Internal on other I/O errors.
StatusOr<std::string> ReadFile(const std::string& path);
// Writes atomically with the given permission bits (0600 for secrets).
Status WriteFileAtomic(const std::string& path, std::string_view contents, int mode = 0644);
// Creates the directory and its parents (mode 0700 for data directories).
Status MakeDirs(const std::string& path, int mode = 0700);
bool FileExists(const std::string& path);
std::string JoinPath(std::string_view a, std::string_view b);

}  // namespace consort
