#pragma once
// Dry run for the cost functions of functions.h: a Backend that computes on plaintext values
// (shapes flow exactly as in a real run) and adds up another backend's CostOf() for every
// operation issued. Because the functions are data-oblivious, running one on zeros issues the
// same calls with the same shapes as a real run, so the sum is that run's exact cost.
// Thread safety: one thread; `model` must outlive this object.

#include <functional>

#include "consort/mpc/backend.h"
#include "consort/mpc/plaintext_backend.h"

namespace consort::mpc::internal {

class CostingBackend : public Backend {
 public:
  explicit CostingBackend(const Backend& model);

  std::string name() const override { return "cost(" + model_.name() + ")"; }
  int num_parties() const override { return model_.num_parties(); }
  bool HoldsInputOf(int) const override { return true; }

  StatusOr<Shared> Input(int owner, Shape shape, std::span<const uint64_t> values) override;
  StatusOr<Shared> AddPublic(const Shared& a, const RingTensor& c) override;
  StatusOr<Shared> Mul(const Shared& a, const Shared& b) override;
  StatusOr<Shared> MatMul(const Shared& a, const Shared& b) override;
  StatusOr<Shared> Trunc(const Shared& a, int bits) override;
  // Counted as one Op::kMulFxp / kMatMulFxp (the model may fuse them).
  StatusOr<Shared> MulFxp(const Shared& a, const Shared& b) override;
  StatusOr<Shared> MatMulFxp(const Shared& a, const Shared& b) override;
  StatusOr<Shared> LessThanZero(const Shared& a) override;
  StatusOr<Shared> EqualZero(const Shared& a) override;
  StatusOr<RingTensor> Reveal(const Shared& a) override;
  StatusOr<RingTensor> RevealTo(const Shared& a, int receiver) override;
  Cost CostOf(Op op, Shape a, Shape b = {}) const override { return model_.CostOf(op, a, b); }

  const Cost& total() const { return total_; }

 private:
  void Add(Op op, Shape a, Shape b = {});

  const Backend& model_;
  PlaintextBackend plain_;
  Cost total_;
};

// Runs `f` on a zero input of shape `x` under a CostingBackend for `model` and returns the
// summed cost. If f rejects its arguments (it does so before issuing any operation), that is
// the cost of the rejected call: zero.
Cost DryRunCost(const Backend& model, Shape x,
                const std::function<Status(Backend&, const Shared&)>& f);

}  // namespace consort::mpc::internal
