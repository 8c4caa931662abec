#include "consort/ot/internal/bit_transpose.h"

#include <emmintrin.h>

#include <cstring>

#include "consort/common/status.h"

namespace consort::ot::internal {
namespace {

// Writes the 8 output rows of input byte-column `cb` for input rows [r, r+16), given v with
// byte i = byte cb of input row r + i. movemask collects bit 7 of every byte, i.e. input
// column 8 cb + 7 for the 16 rows at once; shifting left by one brings the next column up.
inline void EmitByteColumn(__m128i v, uint8_t* out, size_t out_stride, size_t r, size_t cb) {
  uint8_t* dst = out + (cb * 8) * out_stride + r / 8;
  for (int b = 7; b >= 0; --b) {
    const uint16_t m = static_cast<uint16_t>(_mm_movemask_epi8(v));
    std::memcpy(dst + b * out_stride, &m, 2);
    v = _mm_slli_epi64(v, 1);
  }
}

// 16x16 byte transpose: t[k] byte i = a[i] byte k (four rounds of unpacks).
inline void TransposeBytes16(const __m128i a[16], __m128i t[16]) {
  __m128i b[16], c[16], d[16];
  for (int j = 0; j < 8; ++j) {  // 16-bit words: rows (2j, 2j+1); b[j]: k 0..7, b[j+8]: k 8..15
    b[j] = _mm_unpacklo_epi8(a[2 * j], a[2 * j + 1]);
    b[j + 8] = _mm_unpackhi_epi8(a[2 * j], a[2 * j + 1]);
  }
  for (int h = 0; h < 2; ++h) {  // 32-bit words: rows 4m..4m+3; c[m + 4q]: k 4q..4q+3
    for (int m = 0; m < 4; ++m) {
      c[m + 8 * h] = _mm_unpacklo_epi16(b[2 * m + 8 * h], b[2 * m + 1 + 8 * h]);
      c[m + 8 * h + 4] = _mm_unpackhi_epi16(b[2 * m + 8 * h], b[2 * m + 1 + 8 * h]);
    }
  }
  for (int q = 0; q < 4; ++q) {  // 64-bit words: rows 8p..8p+7; d[p + 2r]: k 2r, 2r+1
    for (int p = 0; p < 2; ++p) {
      d[p + 4 * q] = _mm_unpacklo_epi32(c[2 * p + 4 * q], c[2 * p + 1 + 4 * q]);
      d[p + 4 * q + 2] = _mm_unpackhi_epi32(c[2 * p + 4 * q], c[2 * p + 1 + 4 * q]);
    }
  }
  for (int r = 0; r < 8; ++r) {
    t[2 * r] = _mm_unpacklo_epi64(d[2 * r], d[2 * r + 1]);
    t[2 * r + 1] = _mm_unpackhi_epi64(d[2 * r], d[2 * r + 1]);
  }
}

}  // namespace

// Tile by tile: 16 input rows x 128 input columns (16 bytes of each row) are loaded as 16
// registers and byte-transposed, then each byte column gives 8 output rows by movemask.
// Input widths that are not a multiple of 128 bits finish with a byte-at-a-time gather.
void TransposeBits(const uint8_t* in, size_t rows, size_t cols, uint8_t* out) {
  CONSORT_CHECK(rows % 16 == 0 && cols % 8 == 0);
  const size_t in_stride = cols / 8;
  const size_t out_stride = rows / 8;
  __m128i a[16], t[16];
  alignas(16) uint8_t tile[16];
  for (size_t r = 0; r < rows; r += 16) {
    const uint8_t* src = in + r * in_stride;
    size_t cb = 0;
    for (; cb + 16 <= in_stride; cb += 16) {
      for (int i = 0; i < 16; ++i) {
        a[i] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i * in_stride + cb));
      }
      TransposeBytes16(a, t);
      for (int k = 0; k < 16; ++k) EmitByteColumn(t[k], out, out_stride, r, cb + k);
    }
    for (; cb < in_stride; ++cb) {
      for (int i = 0; i < 16; ++i) tile[i] = src[i * in_stride + cb];
      EmitByteColumn(_mm_load_si128(reinterpret_cast<const __m128i*>(tile)), out, out_stride, r,
                     cb);
    }
  }
}

}  // namespace consort::ot::internal
