#pragma once
// Test seam: parses in-memory CSV text fed to the incremental parser `chunk_bytes` at a time,
// so tests can put every parser state on a chunk boundary. Same contract as ParseCsv.

#include <cstddef>
#include <string_view>

#include "consort/data/csv.h"

namespace consort::data::internal {

StatusOr<Table> ParseCsvInChunks(std::string_view text, std::string_view source_name,
                                 const CsvReadOptions& options, size_t chunk_bytes);

}  // namespace consort::data::internal
