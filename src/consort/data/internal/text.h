#pragma once
// Text helpers private to data/: UTF-8 validation and the strict number grammars used by CSV
// type inference. Pure functions, thread-safe.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace consort::data::internal {

// Offset (0-based) of the first byte that makes `s` invalid UTF-8 (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF), or nullopt if `s` is valid.
std::optional<size_t> FindInvalidUtf8(std::string_view s);

// Parses a canonical int64: -?(0|[1-9][0-9]*) within range, and not "-0". Values with a '+',
// leading zeros or surrounding spaces are not canonical (a "0044" phone number must stay text).
std::optional<int64_t> ParseCanonicalInt64(std::string_view s);

// Parses a float64 written in the JSON number grammar that has a fraction or an exponent
// (-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?), with a finite result. No inf/nan/hex.
std::optional<double> ParseDecimalFloat64(std::string_view s);

}  // namespace consort::data::internal
