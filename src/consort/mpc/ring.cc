#include "consort/mpc/ring.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace consort::mpc {

std::string Shape::ToString() const {
  return std::to_string(rows) + "x" + std::to_string(cols);
}

StatusOr<FixedPoint> FixedPoint::Create(const FixedPointConfig& config) {
  if (config.frac_bits < 0 || config.int_bits < 1 || config.frac_bits + config.int_bits > 62) {
    return absl::InvalidArgumentError(
        "fixed-point config: need 0 <= frac_bits, 1 <= int_bits, frac_bits + int_bits <= 62 "
        "(got frac_bits=" +
        std::to_string(config.frac_bits) + ", int_bits=" + std::to_string(config.int_bits) + ")");
  }
  return FixedPoint(config);
}

double FixedPoint::limit() const { return std::ldexp(1.0, config_.int_bits); }

namespace {
Status OutOfRange(size_t index, const FixedPointConfig& c, const char* what) {
  // The value itself is data and is never put into an error message.
  return absl::InvalidArgumentError("fixed-point encoding: value at index " +
                                    std::to_string(index) + " is " + what +
                                    " (accepted: |x| < 2^" + std::to_string(c.int_bits) +
                                    " with " + std::to_string(c.frac_bits) +
                                    " fractional bits)");
}
}  // namespace

StatusOr<std::vector<uint64_t>> FixedPoint::Encode(std::span<const double> values) const {
  std::vector<uint64_t> out(values.size());
  const double scale = std::ldexp(1.0, config_.frac_bits);
  const double bound = std::ldexp(1.0, config_.int_bits + config_.frac_bits);
  for (size_t i = 0; i < values.size(); ++i) {
    const double x = values[i];
    if (!std::isfinite(x)) return OutOfRange(i, config_, "not finite");
    // Round first, then compare the encoding: a value just below 2^int_bits may round up to
    // exactly 2^(int_bits + frac_bits), which is rejected too.
    const double e = std::nearbyint(x * scale);
    if (!(std::fabs(e) < bound)) return OutOfRange(i, config_, "outside the representable range");
    out[i] = static_cast<uint64_t>(static_cast<int64_t>(e));
  }
  return out;
}

StatusOr<std::vector<uint64_t>> FixedPoint::EncodeInt(std::span<const int64_t> values) const {
  std::vector<uint64_t> out(values.size());
  const int64_t bound = int64_t{1} << config_.int_bits;
  for (size_t i = 0; i < values.size(); ++i) {
    const int64_t x = values[i];
    if (x >= bound || x <= -bound) return OutOfRange(i, config_, "outside the representable range");
    out[i] = static_cast<uint64_t>(x) << config_.frac_bits;
  }
  return out;
}

double FixedPoint::DecodeOne(uint64_t v) const {
  return std::ldexp(static_cast<double>(static_cast<int64_t>(v)), -config_.frac_bits);
}

std::vector<double> FixedPoint::Decode(std::span<const uint64_t> values) const {
  std::vector<double> out(values.size());
  for (size_t i = 0; i < values.size(); ++i) out[i] = DecodeOne(values[i]);
  return out;
}

void RingAdd(std::span<const uint64_t> a, std::span<const uint64_t> b, std::span<uint64_t> out) {
  CONSORT_CHECK(a.size() == b.size() && a.size() == out.size());
  const size_t n = a.size();
  for (size_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

void RingSub(std::span<const uint64_t> a, std::span<const uint64_t> b, std::span<uint64_t> out) {
  CONSORT_CHECK(a.size() == b.size() && a.size() == out.size());
  const size_t n = a.size();
  for (size_t i = 0; i < n; ++i) out[i] = a[i] - b[i];
}

void RingMul(std::span<const uint64_t> a, std::span<const uint64_t> b, std::span<uint64_t> out) {
  CONSORT_CHECK(a.size() == b.size() && a.size() == out.size());
  const size_t n = a.size();
  for (size_t i = 0; i < n; ++i) out[i] = a[i] * b[i];
}

void RingMatMulAdd(const uint64_t* a, const uint64_t* b, uint64_t* out, size_t m, size_t k,
                   size_t n) {
  // i-p-j order with blocks of p so a block of b's rows stays in cache while a row of `out`
  // is accumulated; the inner loop is a contiguous multiply-add the compiler vectorizes.
  constexpr size_t kBlock = 64;
  for (size_t p0 = 0; p0 < k; p0 += kBlock) {
    const size_t p1 = std::min(k, p0 + kBlock);
    for (size_t i = 0; i < m; ++i) {
      uint64_t* __restrict__ orow = out + i * n;
      const uint64_t* arow = a + i * k;
      for (size_t p = p0; p < p1; ++p) {
        const uint64_t av = arow[p];
        const uint64_t* __restrict__ brow = b + p * n;
        for (size_t j = 0; j < n; ++j) orow[j] += av * brow[j];
      }
    }
  }
}

}  // namespace consort::mpc
