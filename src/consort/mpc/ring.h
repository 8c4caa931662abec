#pragma once
// The ring Z_2^64 (uint64_t with wrap-around) and fixed-point encoding of reals into it.
//
// A real x is encoded as round(x * 2^f) in two's complement, f = frac_bits (default 18).
// Encoding rejects, with InvalidArgument naming the index, every value that is not finite or
// has |x| >= 2^int_bits (default 26): values are never silently wrapped. The headroom left
// above int_bits + frac_bits (64 - 44 = 20 bits by default) absorbs sums of many values and
// the sign; a product of two encodings carries 2f fractional bits until it is truncated
// (see two_party.h for the truncation error bound).
//
// Thread safety: all types here are values; const methods may be called concurrently.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "consort/common/status.h"

namespace consort::mpc {

inline constexpr int kRingBits = 64;

// rows x cols; a vector of n values is n x 1.
struct Shape {
  size_t rows = 0;
  size_t cols = 1;

  static Shape Vector(size_t n) { return Shape{n, 1}; }
  size_t numel() const { return rows * cols; }
  bool operator==(const Shape&) const = default;
  std::string ToString() const;
};

// A public (plaintext) tensor of ring elements, row-major.
struct RingTensor {
  Shape shape;
  std::vector<uint64_t> data;

  static RingTensor Vector(std::vector<uint64_t> v) {
    Shape s = Shape::Vector(v.size());
    return RingTensor{s, std::move(v)};
  }
};

struct FixedPointConfig {
  int frac_bits = 18;
  int int_bits = 26;  // accepted inputs: |x| < 2^int_bits
};

// Fixed-point codec. Create() returns InvalidArgument unless 0 <= frac_bits,
// 1 <= int_bits and frac_bits + int_bits <= 62.
class FixedPoint {
 public:
  static StatusOr<FixedPoint> Create(const FixedPointConfig& config = {});

  int frac_bits() const { return config_.frac_bits; }
  int int_bits() const { return config_.int_bits; }
  const FixedPointConfig& config() const { return config_; }
  // Smallest magnitude that is rejected: 2^int_bits.
  double limit() const;

  // Encodes reals; InvalidArgument naming the first bad index (non-finite or out of range).
  StatusOr<std::vector<uint64_t>> Encode(std::span<const double> values) const;
  // Encodes integers as x * 2^f with the same range check.
  StatusOr<std::vector<uint64_t>> EncodeInt(std::span<const int64_t> values) const;
  // Decodes ring elements as signed two's complement / 2^f (no range check: any ring
  // element has a value).
  std::vector<double> Decode(std::span<const uint64_t> values) const;
  double DecodeOne(uint64_t v) const;

 private:
  explicit FixedPoint(FixedPointConfig c) : config_(c) {}
  FixedPointConfig config_;
};

// Elementwise ring helpers (all wrap mod 2^64). Spans must have equal sizes (CHECKed).
void RingAdd(std::span<const uint64_t> a, std::span<const uint64_t> b, std::span<uint64_t> out);
void RingSub(std::span<const uint64_t> a, std::span<const uint64_t> b, std::span<uint64_t> out);
void RingMul(std::span<const uint64_t> a, std::span<const uint64_t> b, std::span<uint64_t> out);
// out (m x n) += a (m x k) * b (k x n), row-major, mod 2^64.
void RingMatMulAdd(const uint64_t* a, const uint64_t* b, uint64_t* out, size_t m, size_t k,
                   size_t n);
// Arithmetic (sign-preserving) shift right of a two's-complement ring element.
inline uint64_t ArithmeticShiftRight(uint64_t v, int bits) {
  return static_cast<uint64_t>(static_cast<int64_t>(v) >> bits);
}

}  // namespace consort::mpc
