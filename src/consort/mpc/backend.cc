#include "consort/mpc/backend.h"

#include <string>

namespace consort::mpc {

const char* OpName(Op op) {
  switch (op) {
    case Op::kInput: return "input";
    case Op::kAdd: return "add";
    case Op::kSub: return "sub";
    case Op::kNeg: return "neg";
    case Op::kAddPublic: return "add_public";
    case Op::kMulPublic: return "mul_public";
    case Op::kMul: return "mul";
    case Op::kMatMul: return "matmul";
    case Op::kTrunc: return "trunc";
    case Op::kReveal: return "reveal";
    case Op::kRevealTo: return "reveal_to";
    case Op::kLessThanZero: return "less_than_zero";
    case Op::kLessThan: return "less_than";
    case Op::kEqualZero: return "equal_zero";
    case Op::kEqual: return "equal";
    case Op::kSelect: return "select";
    case Op::kMulFxp: return "mul_fxp";
    case Op::kMatMulFxp: return "matmul_fxp";
  }
  return "?";
}

Status Backend::CheckSameShape(const Shared& a, const Shared& b, const char* op) {
  if (a.shape != b.shape) {
    return absl::InvalidArgumentError(std::string("mpc ") + op + ": shapes " +
                                      a.shape.ToString() + " and " + b.shape.ToString() +
                                      " differ");
  }
  return OkStatus();
}

Status Backend::CheckMatMulShapes(const Shared& a, const Shared& b) {
  if (a.shape.cols != b.shape.rows || a.shape.numel() == 0 || b.shape.numel() == 0) {
    return absl::InvalidArgumentError("mpc matmul: cannot multiply " + a.shape.ToString() +
                                      " by " + b.shape.ToString());
  }
  return OkStatus();
}

Status Backend::CheckInput(int owner, Shape shape, std::span<const uint64_t> values) const {
  if (owner < 0 || owner >= num_parties()) {
    return absl::InvalidArgumentError("mpc input: no party " + std::to_string(owner));
  }
  const size_t want = HoldsInputOf(owner) ? shape.numel() : 0;
  if (values.size() != want) {
    return absl::InvalidArgumentError("mpc input from party " + std::to_string(owner) + ": " +
                                      std::to_string(values.size()) + " values, expected " +
                                      std::to_string(want) + " for shape " + shape.ToString());
  }
  return OkStatus();
}

StatusOr<Shared> Backend::InputFixed(int owner, Shape shape, std::span<const double> values) {
  std::vector<uint64_t> enc;
  if (HoldsInputOf(owner)) {
    CONSORT_ASSIGN_OR_RETURN(enc, fxp_.Encode(values));
  } else if (!values.empty()) {
    return absl::InvalidArgumentError("mpc input: values given for another party's input");
  }
  return Input(owner, shape, enc);
}

namespace {
// Applies f to every share vector of a (s0 and, for replicated sharing, s1).
template <typename F>
void ForEachShare(const Shared& a, const Shared& b, Shared& out, F f) {
  out.shape = a.shape;
  out.s0.resize(a.s0.size());
  f(a.s0, b.s0, out.s0);
  if (!a.s1.empty()) {
    out.s1.resize(a.s1.size());
    f(a.s1, b.s1, out.s1);
  }
}
}  // namespace

StatusOr<Shared> Backend::Add(const Shared& a, const Shared& b) {
  CONSORT_RETURN_IF_ERROR(CheckSameShape(a, b, "add"));
  Shared out;
  ForEachShare(a, b, out, [](auto& x, auto& y, auto& z) { RingAdd(x, y, z); });
  return out;
}

StatusOr<Shared> Backend::Sub(const Shared& a, const Shared& b) {
  CONSORT_RETURN_IF_ERROR(CheckSameShape(a, b, "sub"));
  Shared out;
  ForEachShare(a, b, out, [](auto& x, auto& y, auto& z) { RingSub(x, y, z); });
  return out;
}

Shared Backend::Neg(const Shared& a) {
  Shared out = a;
  for (auto& v : out.s0) v = 0 - v;
  for (auto& v : out.s1) v = 0 - v;
  return out;
}

StatusOr<Shared> Backend::MulPublic(const Shared& a, const RingTensor& c) {
  const bool scalar = c.shape == Shape{1, 1} && c.data.size() == 1;
  if (!scalar && (c.shape != a.shape || c.data.size() != a.shape.numel())) {
    return absl::InvalidArgumentError("mpc mul_public: constant of shape " + c.shape.ToString() +
                                      " for a value of shape " + a.shape.ToString());
  }
  Shared out = a;
  for (auto* v : {&out.s0, &out.s1}) {
    for (size_t i = 0; i < v->size(); ++i) (*v)[i] *= scalar ? c.data[0] : c.data[i];
  }
  return out;
}

StatusOr<Shared> Backend::MulFxp(const Shared& a, const Shared& b) {
  CONSORT_ASSIGN_OR_RETURN(Shared z, Mul(a, b));
  return Trunc(z, fxp_.frac_bits());
}

StatusOr<Shared> Backend::LessThan(const Shared& a, const Shared& b) {
  CONSORT_ASSIGN_OR_RETURN(Shared d, Sub(a, b));
  return LessThanZero(d);
}

StatusOr<Shared> Backend::Equal(const Shared& a, const Shared& b) {
  CONSORT_ASSIGN_OR_RETURN(Shared d, Sub(a, b));
  return EqualZero(d);
}

StatusOr<Shared> Backend::Select(const Shared& cond, const Shared& a, const Shared& b) {
  CONSORT_RETURN_IF_ERROR(CheckSameShape(cond, a, "select"));
  CONSORT_ASSIGN_OR_RETURN(Shared d, Sub(a, b));
  CONSORT_ASSIGN_OR_RETURN(Shared t, Mul(cond, d));
  return Add(b, t);
}

StatusOr<Shared> Backend::MatMulFxp(const Shared& a, const Shared& b) {
  CONSORT_ASSIGN_OR_RETURN(Shared z, MatMul(a, b));
  return Trunc(z, fxp_.frac_bits());
}

}  // namespace consort::mpc
