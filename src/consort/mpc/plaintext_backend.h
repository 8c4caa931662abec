#pragma once
// Plaintext reference backend: runs a program on the clear values of every party, in one
// process, with exactly the ring semantics of the MPC backends (wrap-around mod 2^64; Trunc is
// the exact arithmetic shift, i.e. floor). Tests compare MPC results with it; it also measures
// the accuracy lost to fixed-point alone.
// Leaks: everything (it is a reference, not a protocol). Zero rounds and bytes.

#include <memory>

#include "consort/mpc/backend.h"

namespace consort::mpc {

class PlaintextBackend : public Backend {
 public:
  // `num_parties` parties whose inputs this backend holds (all of them).
  PlaintextBackend(FixedPoint fxp, int num_parties = 2)
      : Backend(fxp), num_parties_(num_parties) {}

  std::string name() const override { return "plaintext"; }
  int num_parties() const override { return num_parties_; }
  bool HoldsInputOf(int party) const override { return true; }

  StatusOr<Shared> Input(int owner, Shape shape, std::span<const uint64_t> values) override;
  StatusOr<Shared> AddPublic(const Shared& a, const RingTensor& c) override;
  StatusOr<Shared> Mul(const Shared& a, const Shared& b) override;
  StatusOr<Shared> MatMul(const Shared& a, const Shared& b) override;
  StatusOr<Shared> Trunc(const Shared& a, int bits) override;
  StatusOr<Shared> LessThanZero(const Shared& a) override;
  StatusOr<Shared> EqualZero(const Shared& a) override;
  StatusOr<RingTensor> Reveal(const Shared& a) override;
  StatusOr<RingTensor> RevealTo(const Shared& a, int receiver) override;
  Cost CostOf(Op op, Shape a, Shape b = {}) const override { return Cost{}; }

 private:
  int num_parties_;
};

}  // namespace consort::mpc
