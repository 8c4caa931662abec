#pragma once
// Canonical key serialization for PSI and joins.
//
// The key of a row is, for each key column in order:
//   type tag (1 byte) || length (4 bytes, little-endian) || canonical UTF-8 text of the value
// with tags kKeyTagInt64 / kKeyTagFloat64 / kKeyTagString. Canonical text: int64 in decimal
// without '+' or leading zeros; float64 in its shortest round-trip form with '.' or an exponent
// ("2.5", "1.0", "1e+20"; -0.0 is written "0.0"); strings as stored, optionally trimmed and
// ASCII case-folded. The tag and length make the encoding injective: ("a","bc") != ("ab","c")
// and int64 7 != string "7". Both parties of a PSI must therefore key on columns of the same
// types (compare DescribeTable metadata, or force types with CsvReadOptions::column_types).
//
// Errors never contain key values (they are private data and may reach shared logs), only the
// source, line/row numbers and column names. Thread-safe: pure functions.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "consort/common/status.h"
#include "consort/data/table.h"

namespace consort::data {

inline constexpr uint8_t kKeyTagInt64 = 0x01;
inline constexpr uint8_t kKeyTagFloat64 = 0x02;
inline constexpr uint8_t kKeyTagString = 0x03;

enum class DuplicateKeys {
  kError,        // InvalidArgument naming the first two lines that carry the same key
  kDeduplicate,  // one entry per distinct key, listing every row that carries it
};

struct KeyOptions {
  bool trim_whitespace = false;  // strip ASCII whitespace around string values
  bool fold_ascii_case = false;  // map A-Z to a-z in string values (non-ASCII left as is)
  DuplicateKeys duplicates = DuplicateKeys::kError;
};

// Distinct keys and the rows that carry them, in compressed form (two flat arrays instead of a
// vector per key: 8 bytes per row rather than ~40 at 1M rows).
struct KeyedRows {
  std::vector<std::string> keys;  // distinct keys, in order of first occurrence
  std::vector<uint32_t> offsets;  // keys.size() + 1 entries
  std::vector<uint32_t> rows;  // row indices of key k: rows[offsets[k] .. offsets[k+1]), ascending

  size_t size() const { return keys.size(); }
  std::span<const uint32_t> RowsFor(size_t k) const {
    return std::span<const uint32_t>(rows).subspan(offsets[k], offsets[k + 1] - offsets[k]);
  }
  uint32_t FirstRow(size_t k) const { return rows[offsets[k]]; }
};

// Serializes the key of every row of `table` over `key_columns` (composite keys allowed).
// Errors: InvalidArgument if `key_columns` is empty or repeats a column, if a key value is null
// or empty (after trimming) - "customers.csv:12: column 'phone': empty key value" - or, under
// DuplicateKeys::kError, on a repeated key - "customers.csv: duplicate key in column(s) phone at
// lines 12 and 873"; NotFound for an unknown column.
StatusOr<KeyedRows> ExtractKeys(const Table& table, std::span<const std::string> key_columns,
                                const KeyOptions& options = {});

// Appends one key component (tag, length, text) to `out`. `text` must be shorter than 4 GiB.
void AppendKeyComponent(std::string& out, uint8_t tag, std::string_view text);

}  // namespace consort::data
