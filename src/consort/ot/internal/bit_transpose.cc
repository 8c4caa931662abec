#include "consort/ot/internal/bit_transpose.h"

#include <emmintrin.h>

#include <cstring>

#include "consort/common/status.h"

namespace consort::ot::internal {

// Tile by tile: 16 input rows x 8 input columns (one byte of each of 16 rows). Loading the 16
// bytes into one SSE register puts bit b of row r at bit b of byte r; movemask collects bit 7
// of every byte, i.e. column (8k + 7) for the 16 rows at once, and shifting left by one brings
// the next column up. Each movemask yields 16 consecutive bits of one output row.
void TransposeBits(const uint8_t* in, size_t rows, size_t cols, uint8_t* out) {
  CONSORT_CHECK(rows % 16 == 0 && cols % 8 == 0);
  const size_t in_stride = cols / 8;
  const size_t out_stride = rows / 8;
  alignas(16) uint8_t tile[16];
  for (size_t r = 0; r < rows; r += 16) {
    const uint8_t* src = in + r * in_stride;
    for (size_t cb = 0; cb < in_stride; ++cb) {
      for (int i = 0; i < 16; ++i) tile[i] = src[i * in_stride + cb];
      __m128i v = _mm_load_si128(reinterpret_cast<const __m128i*>(tile));
      uint8_t* dst = out + (cb * 8) * out_stride + r / 8;
      for (int b = 7; b >= 0; --b) {
        const uint16_t m = static_cast<uint16_t>(_mm_movemask_epi8(v));
        std::memcpy(dst + b * out_stride, &m, 2);
        v = _mm_slli_epi64(v, 1);
      }
    }
  }
}

}  // namespace consort::ot::internal
