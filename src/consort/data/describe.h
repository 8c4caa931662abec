#pragma once
// Dataset metadata for the catalog and change detection for registered files.
// Neither function ever reads out a value: the metadata names columns, types and a row count.

#include <cstdint>
#include <string>
#include <string_view>

#include "consort/common/json.h"
#include "consort/common/status.h"
#include "consort/crypto/hash.h"
#include "consort/data/table.h"

namespace consort::data {

// {"columns": [{"name": "id", "type": "int64"}, ...], "rows": 1000}. Pure, thread-safe.
Json DescribeTable(const Table& table);

// Lowercase hex SHA-256 of the file's bytes, read in 1 MiB chunks, so a node can tell that a
// registered file changed. NotFound if missing, PermissionDenied if unreadable, Internal on
// other I/O errors.
StatusOr<std::string> FileFingerprint(const std::string& path);

// Fingerprint of a table's content rather than of a file: "content:" + lowercase hex SHA-256
// over a versioned encoding of the schema (names, types), every value row by row (null, int64,
// float64 bits, string bytes; length-prefixed) and the row count. Independent of how the rows
// are split into batches. Used for SQLite datasets, whose file bytes do not change when a
// write sits in the WAL. Never reveals values (a hash of all of them).
inline constexpr std::string_view kContentFingerprintPrefix = "content:";
bool IsContentFingerprint(std::string_view fingerprint);

// The incremental form: feed every batch (same schema as given) in order, then Finish().
// Not thread-safe.
class TableContentHasher {
 public:
  explicit TableContentHasher(const Schema& schema);
  void Update(const Table& batch);
  std::string Finish();

 private:
  void Flush();
  crypto::Sha256Hasher hasher_;
  std::string buf_;
  uint64_t rows_ = 0;
};

std::string TableContentFingerprint(const Table& table);

}  // namespace consort::data
