#include "consort/mpc/plaintext_backend.h"

#include <string>

namespace consort::mpc {

StatusOr<Shared> PlaintextBackend::Input(int owner, Shape shape,
                                         std::span<const uint64_t> values) {
  CONSORT_RETURN_IF_ERROR(CheckInput(owner, shape, values));
  return Shared{shape, std::vector<uint64_t>(values.begin(), values.end()), {}};
}

StatusOr<Shared> PlaintextBackend::AddPublic(const Shared& a, const RingTensor& c) {
  if (c.shape != a.shape || c.data.size() != a.shape.numel()) {
    return absl::InvalidArgumentError("mpc add_public: constant of shape " + c.shape.ToString() +
                                      " for a value of shape " + a.shape.ToString());
  }
  Shared out = a;
  RingAdd(a.s0, c.data, out.s0);
  return out;
}

StatusOr<Shared> PlaintextBackend::Mul(const Shared& a, const Shared& b) {
  CONSORT_RETURN_IF_ERROR(CheckSameShape(a, b, "mul"));
  Shared out{a.shape, std::vector<uint64_t>(a.s0.size()), {}};
  RingMul(a.s0, b.s0, out.s0);
  return out;
}

StatusOr<Shared> PlaintextBackend::MatMul(const Shared& a, const Shared& b) {
  CONSORT_RETURN_IF_ERROR(CheckMatMulShapes(a, b));
  Shape s{a.shape.rows, b.shape.cols};
  Shared out{s, std::vector<uint64_t>(s.numel(), 0), {}};
  RingMatMulAdd(a.s0.data(), b.s0.data(), out.s0.data(), a.shape.rows, a.shape.cols,
                b.shape.cols);
  return out;
}

StatusOr<Shared> PlaintextBackend::Trunc(const Shared& a, int bits) {
  if (bits < 0 || bits >= kRingBits) {
    return absl::InvalidArgumentError("mpc trunc: bad shift " + std::to_string(bits));
  }
  Shared out = a;
  for (auto& v : out.s0) v = ArithmeticShiftRight(v, bits);
  return out;
}

StatusOr<Shared> PlaintextBackend::LessThanZero(const Shared& a) {
  Shared out = a;
  for (auto& v : out.s0) v >>= 63;
  return out;
}

StatusOr<Shared> PlaintextBackend::EqualZero(const Shared& a) {
  Shared out = a;
  for (auto& v : out.s0) v = v == 0 ? 1 : 0;
  return out;
}

StatusOr<RingTensor> PlaintextBackend::Reveal(const Shared& a) {
  return RingTensor{a.shape, a.s0};
}

StatusOr<RingTensor> PlaintextBackend::RevealTo(const Shared& a, int receiver) {
  if (receiver < 0 || receiver >= num_parties_) {
    return absl::InvalidArgumentError("mpc reveal_to: no party " + std::to_string(receiver));
  }
  return RingTensor{a.shape, a.s0};
}

}  // namespace consort::mpc
