#pragma once
// The program API shared by every MPC mode: a program is ordinary C++ that calls a Backend.
// The same program runs on the plaintext reference backend (one process holds every value)
// and on the secret-sharing backends (each party runs it over its links, in the same order).
//
//   Shared x = be.Input(0, shape, x_if_party0);   // party 0's private vector
//   Shared y = be.Input(1, shape, y_if_party1);
//   Shared z = be.MulFxp(x, y);                   // fixed-point product, truncated
//   RingTensor out = be.RevealTo(z, 0);           // only party 0 learns z
//
// Ring semantics: every value is an element of Z_2^64; Mul/MatMul are ring products (a
// product of two fixed-point values has 2f fractional bits until Trunc). Costs of each
// operation are returned by CostOf() and checked by the tests against link byte counters.
// Thread safety: a Backend is used by one thread at a time.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "consort/common/status.h"
#include "consort/mpc/ring.h"

namespace consort::mpc {

// This party's view of a secret tensor. 2PC: `s0` is this party's additive share.
// Plaintext: `s0` is the value. 3PC replicated sharing (next): `s0`, `s1` are the two shares a
// party holds. Programs treat it as opaque.
struct Shared {
  Shape shape;
  std::vector<uint64_t> s0;
  std::vector<uint64_t> s1;
};

// kMulFxp / kMatMulFxp: MulFxp / MatMulFxp (product then truncation by fxp().frac_bits(),
// possibly fused by the backend); their cost is not always kMul/kMatMul + kTrunc.
enum class Op { kInput, kAdd, kSub, kNeg, kAddPublic, kMulPublic, kMul, kMatMul, kTrunc,
                kReveal, kRevealTo, kLessThanZero, kLessThan, kEqualZero, kEqual, kSelect,
                kMulFxp, kMatMulFxp };
const char* OpName(Op op);

// Cost of one call. Bytes are payload bytes summed over all parties (as counted by
// Link::bytes_sent); rounds are sequential message latencies on the critical path.
struct Cost {
  uint64_t rounds = 0;
  uint64_t peer_bytes = 0;    // between the computing parties
  uint64_t dealer_bytes = 0;  // to and from the dealer (2PC), both directions
  bool operator==(const Cost&) const = default;
  Cost& operator+=(const Cost& o) {
    rounds += o.rounds;
    peer_bytes += o.peer_bytes;
    dealer_bytes += o.dealer_bytes;
    return *this;
  }
  friend Cost operator+(Cost a, const Cost& b) { return a += b; }
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::string name() const = 0;
  virtual int num_parties() const = 0;
  // Whether this backend instance holds `party`'s private inputs (the plaintext backend
  // holds all of them; a party's MPC backend only its own).
  virtual bool HoldsInputOf(int party) const = 0;
  const FixedPoint& fxp() const { return fxp_; }

  // Secret-shares `owner`'s private tensor of `shape`. Where HoldsInputOf(owner), `values`
  // has shape.numel() ring elements; elsewhere it is empty. InvalidArgument otherwise.
  virtual StatusOr<Shared> Input(int owner, Shape shape, std::span<const uint64_t> values) = 0;
  // Fixed-point input: encodes (range check: InvalidArgument naming the index) then Input.
  StatusOr<Shared> InputFixed(int owner, Shape shape, std::span<const double> values);

  // Local operations (no communication). Shape mismatches are InvalidArgument.
  StatusOr<Shared> Add(const Shared& a, const Shared& b);
  StatusOr<Shared> Sub(const Shared& a, const Shared& b);
  Shared Neg(const Shared& a);
  // a + c for a public ring tensor c of the same shape.
  virtual StatusOr<Shared> AddPublic(const Shared& a, const RingTensor& c) = 0;
  // a * c elementwise for a public ring tensor c of a's shape, or a 1x1 c (a scalar). A
  // fixed-point c adds f fractional bits: follow with Trunc.
  StatusOr<Shared> MulPublic(const Shared& a, const RingTensor& c);

  // Ring product, elementwise (shapes equal) / matrix (a.cols == b.rows). InvalidArgument on
  // shape mismatch; Unavailable/DeadlineExceeded/InvalidArgument from the peers.
  virtual StatusOr<Shared> Mul(const Shared& a, const Shared& b) = 0;
  virtual StatusOr<Shared> MatMul(const Shared& a, const Shared& b) = 0;
  // Divides by 2^bits (fixed-point rescale). Exact floor on the plaintext backend; see each
  // backend for its error.
  virtual StatusOr<Shared> Trunc(const Shared& a, int bits) = 0;
  // Mul/MatMul followed by Trunc(f), f = fxp().frac_bits(). A backend may fuse them (fewer
  // rounds or bytes: CostOf(Op::kMulFxp / kMatMulFxp)); the result then has the same error
  // bound as that backend's Trunc. Errors as Mul/MatMul and Trunc.
  virtual StatusOr<Shared> MulFxp(const Shared& a, const Shared& b);
  virtual StatusOr<Shared> MatMulFxp(const Shared& a, const Shared& b);

  // Comparisons, elementwise. Results are shared ring integers 0 or 1 (NOT fixed-point
  // encoded), ready for Select or Mul; they stay secret until revealed. Exact (no error, no
  // failure probability) on every backend. Leaks: nothing (the result stays shared).
  // 1 where a < 0 as a signed 64-bit value (the top bit of the ring element), else 0.
  virtual StatusOr<Shared> LessThanZero(const Shared& a) = 0;
  // 1 where a == 0, else 0.
  virtual StatusOr<Shared> EqualZero(const Shared& a) = 0;
  // 1 where a < b: LessThanZero(a - b), exact whenever a - b does not wrap, i.e. for
  // -2^62 <= a, b < 2^62 (always true for fixed-point inputs). Costs as LessThanZero.
  StatusOr<Shared> LessThan(const Shared& a, const Shared& b);
  // 1 where a == b (any ring elements): EqualZero(a - b).
  StatusOr<Shared> Equal(const Shared& a, const Shared& b);
  // cond ? a : b elementwise, for cond in {0, 1} (as the comparisons return) and any a, b:
  // b + Mul(cond, a - b). Costs one Mul. InvalidArgument if the shapes differ.
  StatusOr<Shared> Select(const Shared& cond, const Shared& a, const Shared& b);

  // Leaks: the value of `a` to every party.
  virtual StatusOr<RingTensor> Reveal(const Shared& a) = 0;
  // Leaks: the value of `a` to `receiver` only; other parties get a tensor with a's shape
  // and empty data.
  virtual StatusOr<RingTensor> RevealTo(const Shared& a, int receiver) = 0;

  // Rounds and bytes of one call of `op` on operands of shapes a (and b for binary ops).
  virtual Cost CostOf(Op op, Shape a, Shape b = {}) const = 0;
  // Rounds this backend has run so far.
  uint64_t rounds() const { return rounds_; }

 protected:
  explicit Backend(FixedPoint fxp) : fxp_(fxp) {}
  void CountRounds(uint64_t r) { rounds_ += r; }
  static Status CheckSameShape(const Shared& a, const Shared& b, const char* op);
  static Status CheckMatMulShapes(const Shared& a, const Shared& b);
  Status CheckInput(int owner, Shape shape, std::span<const uint64_t> values) const;

 private:
  FixedPoint fxp_;
  uint64_t rounds_ = 0;
};

}  // namespace consort::mpc
