#pragma once
// Dataset metadata for the catalog and change detection for registered files.
// Neither function ever reads out a value: the metadata names columns, types and a row count.

#include <string>

#include "consort/common/json.h"
#include "consort/common/status.h"
#include "consort/data/table.h"

namespace consort::data {

// {"columns": [{"name": "id", "type": "int64"}, ...], "rows": 1000}. Pure, thread-safe.
Json DescribeTable(const Table& table);

// Lowercase hex SHA-256 of the file's bytes, read in 1 MiB chunks, so a node can tell that a
// registered file changed. NotFound if missing, PermissionDenied if unreadable, Internal on
// other I/O errors.
StatusOr<std::string> FileFingerprint(const std::string& path);

}  // namespace consort::data
