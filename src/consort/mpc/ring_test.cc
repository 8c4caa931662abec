#include "consort/mpc/ring.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

namespace consort::mpc {
namespace {

TEST(FixedPoint, RoundTripsWithinHalfUlp) {
  auto fp = FixedPoint::Create().value();
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> d(-fp.limit() + 1, fp.limit() - 1);
  std::vector<double> xs = {0.0, 1.0, -1.0, 0.5, -0.25, 3.14159, -fp.limit() + 0.001};
  for (int i = 0; i < 1000; ++i) xs.push_back(d(rng));
  auto enc = fp.Encode(xs).value();
  auto dec = fp.Decode(enc);
  for (size_t i = 0; i < xs.size(); ++i) {
    EXPECT_LE(std::fabs(dec[i] - xs[i]), std::ldexp(0.5, -18)) << i;
  }
  EXPECT_EQ(enc[1], uint64_t{1} << 18);
  EXPECT_EQ(enc[2], ~(uint64_t{1} << 18) + 1);  // -2^18 in two's complement
}

TEST(FixedPoint, RejectsOutOfRangeNamingTheIndex) {
  auto fp = FixedPoint::Create().value();
  const double lim = fp.limit();  // 2^26
  for (double bad : {lim, -lim, lim * 4, std::nextafter(lim, 0.0),  // rounds up to 2^26
                     std::numeric_limits<double>::infinity(), std::nan("")}) {
    std::vector<double> xs = {1.0, 2.0, bad, 3.0};
    auto st = fp.Encode(xs).status();
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(st.message().find("index 2"), std::string::npos) << st.message();
  }
  std::vector<int64_t> ints = {5, -(int64_t{1} << 26)};
  auto st = fp.EncodeInt(ints).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("index 1"), std::string::npos);
  std::vector<int64_t> ok = {(int64_t{1} << 26) - 1, -((int64_t{1} << 26) - 1), -7};
  auto enc = fp.EncodeInt(ok).value();
  EXPECT_EQ(fp.DecodeOne(enc[2]), -7.0);
  EXPECT_EQ(fp.DecodeOne(enc[0]), std::ldexp(1.0, 26) - 1);
}

TEST(FixedPoint, ConfigIsValidated) {
  EXPECT_EQ(FixedPoint::Create({.frac_bits = 40, .int_bits = 30}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FixedPoint::Create({.frac_bits = -1, .int_bits = 10}).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto fp = FixedPoint::Create({.frac_bits = 8, .int_bits = 10}).value();
  std::vector<double> xs = {1023.5, 1024.0};
  EXPECT_EQ(fp.Encode(std::span(xs).first(1)).value()[0], uint64_t{1023 * 256 + 128});
  EXPECT_EQ(fp.Encode(xs).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Ring, WrapsAndMatMulMatchesNaive) {
  std::vector<uint64_t> a = {~uint64_t{0}, 5}, b = {2, 7}, out(2);
  RingAdd(a, b, out);
  EXPECT_EQ(out[0], 1u);
  RingMul(a, b, out);
  EXPECT_EQ(out[0], ~uint64_t{0} - 1);
  EXPECT_EQ(out[1], 35u);
  std::mt19937_64 rng(2);
  const size_t m = 7, k = 130, n = 9;
  std::vector<uint64_t> x(m * k), y(k * n), z(m * n, 0);
  for (auto& v : x) v = rng();
  for (auto& v : y) v = rng();
  RingMatMulAdd(x.data(), y.data(), z.data(), m, k, n);
  for (size_t i = 0; i < m; ++i)
    for (size_t j = 0; j < n; ++j) {
      uint64_t s = 0;
      for (size_t p = 0; p < k; ++p) s += x[i * k + p] * y[p * n + j];
      EXPECT_EQ(z[i * n + j], s);
    }
}

}  // namespace
}  // namespace consort::mpc
