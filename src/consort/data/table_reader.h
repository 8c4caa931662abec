#pragma once
// TableReader: a table read batch by batch, so that operators can stream inputs larger than
// memory (e.g. bucketed PSI over 10^8 rows). Every batch has the same columns.

#include <cstddef>
#include <memory>

#include "consort/common/status.h"
#include "consort/data/table.h"

namespace consort::data {

class TableReader {
 public:
  virtual ~TableReader() = default;
  // Replaces *batch with the next batch (at least one row); returns false at the end (and
  // leaves *batch empty). Errors name the source position (file:line), never values.
  // Not thread-safe.
  virtual StatusOr<bool> Next(Table* batch) = 0;
};

// A reader over an in-memory table, in slices of at most `batch_rows` rows (>= 1). The reader
// shares ownership of `table`.
std::unique_ptr<TableReader> SliceTable(std::shared_ptr<const Table> table, size_t batch_rows);

}  // namespace consort::data
