#pragma once
// Bit-matrix transpose (SSE2 movemask), the inner loop of OT extension.

#include <cstddef>
#include <cstdint>

namespace consort::ot::internal {

// `in` is a rows x cols bit matrix, row-major, rows of cols/8 bytes, bit c of a row is bit
// (c % 8) of byte c / 8. Writes its transpose (cols x rows, rows of rows/8 bytes) to `out`.
// Requires rows % 16 == 0 and cols % 8 == 0 (CHECKed); in and out must not overlap.
void TransposeBits(const uint8_t* in, size_t rows, size_t cols, uint8_t* out);

}  // namespace consort::ot::internal
