#include "consort/mpc/internal/functions_cost.h"

namespace consort::mpc::internal {

CostingBackend::CostingBackend(const Backend& model)
    : Backend(model.fxp()), model_(model), plain_(model.fxp(), model.num_parties()) {}

void CostingBackend::Add(Op op, Shape a, Shape b) {
  const Cost c = model_.CostOf(op, a, b);
  total_.rounds += c.rounds;
  total_.peer_bytes += c.peer_bytes;
  total_.dealer_bytes += c.dealer_bytes;
  CountRounds(c.rounds);
}

StatusOr<Shared> CostingBackend::Input(int owner, Shape shape, std::span<const uint64_t> values) {
  Add(Op::kInput, shape);
  return plain_.Input(owner, shape, values);
}

StatusOr<Shared> CostingBackend::AddPublic(const Shared& a, const RingTensor& c) {
  Add(Op::kAddPublic, a.shape);
  return plain_.AddPublic(a, c);
}

StatusOr<Shared> CostingBackend::Mul(const Shared& a, const Shared& b) {
  Add(Op::kMul, a.shape, b.shape);
  return plain_.Mul(a, b);
}

StatusOr<Shared> CostingBackend::MatMul(const Shared& a, const Shared& b) {
  Add(Op::kMatMul, a.shape, b.shape);
  return plain_.MatMul(a, b);
}

StatusOr<Shared> CostingBackend::Trunc(const Shared& a, int bits) {
  if (bits != 0) Add(Op::kTrunc, a.shape);  // a shift of 0 is the identity everywhere
  return plain_.Trunc(a, bits);
}

StatusOr<Shared> CostingBackend::MulFxp(const Shared& a, const Shared& b) {
  Add(Op::kMulFxp, a.shape, b.shape);
  return plain_.MulFxp(a, b);
}

StatusOr<Shared> CostingBackend::MatMulFxp(const Shared& a, const Shared& b) {
  Add(Op::kMatMulFxp, a.shape, b.shape);
  return plain_.MatMulFxp(a, b);
}

StatusOr<Shared> CostingBackend::LessThanZero(const Shared& a) {
  Add(Op::kLessThanZero, a.shape);
  return plain_.LessThanZero(a);
}

StatusOr<Shared> CostingBackend::EqualZero(const Shared& a) {
  Add(Op::kEqualZero, a.shape);
  return plain_.EqualZero(a);
}

StatusOr<RingTensor> CostingBackend::Reveal(const Shared& a) {
  Add(Op::kReveal, a.shape);
  return plain_.Reveal(a);
}

StatusOr<RingTensor> CostingBackend::RevealTo(const Shared& a, int receiver) {
  Add(Op::kRevealTo, a.shape);
  return plain_.RevealTo(a, receiver);
}

Cost DryRunCost(const Backend& model, Shape x,
                const std::function<Status(Backend&, const Shared&)>& f) {
  CostingBackend be(model);
  std::vector<uint64_t> zeros(x.numel(), 0);
  Shared in{x, std::move(zeros), {}};
  // A call the function rejects (bad shape or parameter) is rejected before any operation, so
  // its cost is what was counted until then: nothing.
  (void)f(be, in);
  return be.total();
}

}  // namespace consort::mpc::internal
