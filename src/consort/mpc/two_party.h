#pragma once
// Two-party additive secret sharing over Z_2^64 with Beaver triples from a dealer
// (semi-honest). x is shared as x = x0 + x1 mod 2^64; party i holds x_i.
//
// Protocols (one network round each, whole tensors per round):
//   setup     party 0 -> party 1: a 32-byte pairwise seed (1 round, 32 bytes; in Create).
//   Input     zero messages: both parties expand r from the pairwise seed; the owner holds
//             x - r, the other party r.
//   Mul       Beaver (1991): with a triple (a, b, c = ab), each party sends (x_i - a_i,
//             y_i - b_i); both open e = x - a, f = y - b and set
//             z_i = c_i + e b_i + f a_i (+ e f at party 0).
//             1 round, 16 n bytes per party; dealer: 26-byte request + 8 n bytes to party 1.
//             Pipelined by blocks of 2^16 (one message [x_i - a_i | y_i - b_i] per block),
//             so a party holds only a few blocks of triples at a time.
//   MatMul    the same with matrix triples (A m x k, B k x n, C = AB): 1 round,
//             8 (mk + kn) bytes per party; dealer: 26 + 8 mn bytes.
//   Trunc     local, SecureML (Mohassel-Zhang, S&P 2017, Sec. 4.1, Thm. 1): party 0 takes
//             x0 >> d, party 1 takes -((-x1) >> d) (logical shifts). If |x| < 2^l_x then,
//             except with probability at most 2^(l_x + 1 - 64), the result is floor(x / 2^d)
//             or floor(x / 2^d) + 1 (at most 1 ulp from the exact floor). A failure gives a
//             wildly wrong value, so keep the pre-truncation product small: e.g. with f = 18
//             a product |x y| < 2^8 has l_x = 44 and fails with probability <= 2^-19 per
//             element. The rounding direction (floor or floor + 1) depends on the shares, so
//             it is not an exact floor (the reference backend's floor may differ by 1 ulp),
//             and truncated shares are not uniform (party 0's is below 2^(64 - d)); they are
//             a local function of uniform shares and reveal nothing beyond the opened value.
//   Reveal    1 round, 8 n bytes per party.  RevealTo: 1 round, 8 n bytes from the other party.
// CostOf() returns these figures; the tests check them against the links' counters.
//
// Security: semi-honest, two computing parties plus a dealer that colludes with neither
// (see dealer.h); 128-bit computational (AES-128-CTR PRG), shares uniformly random in
// Z_2^64. Leaks: only what Reveal / RevealTo reveal (and the public program's shapes).
// Thread safety: one thread per backend; the peer link must not be used by anyone else.

#include <memory>
#include <vector>

#include "consort/mpc/backend.h"
#include "consort/mpc/dealer.h"
#include "consort/crypto/prg.h"
#include "consort/net/link.h"

namespace consort::mpc {

inline constexpr uint64_t kTwoPartySetupBytes = crypto::kPrgSeedBytes;
inline constexpr uint64_t kTripleRequestBytes = 26;

class TwoPartyBackend : public Backend {
 public:
  // Runs the setup round with the peer (party 0 sends the pairwise seed; party 1 receives it:
  // InvalidArgument if it is malformed). `peer` must outlive the backend; `triples` is this
  // party's triple source (ConnectToDealer or InProcessTripleSource).
  static StatusOr<std::unique_ptr<TwoPartyBackend>> Create(int party, net::Link& peer,
                                                           std::unique_ptr<TripleSource> triples,
                                                           FixedPoint fxp);

  // Tells the dealer this party is done (party 1 ends the dealer's loop).
  Status Close();

  int party() const { return party_; }
  std::string name() const override { return "2pc-dealer"; }
  int num_parties() const override { return 2; }
  bool HoldsInputOf(int party) const override { return party == party_; }

  StatusOr<Shared> Input(int owner, Shape shape, std::span<const uint64_t> values) override;
  StatusOr<Shared> AddPublic(const Shared& a, const RingTensor& c) override;
  StatusOr<Shared> Mul(const Shared& a, const Shared& b) override;
  StatusOr<Shared> MulFxp(const Shared& a, const Shared& b) override;
  StatusOr<Shared> MatMul(const Shared& a, const Shared& b) override;
  StatusOr<Shared> Trunc(const Shared& a, int bits) override;
  StatusOr<RingTensor> Reveal(const Shared& a) override;
  StatusOr<RingTensor> RevealTo(const Shared& a, int receiver) override;
  Cost CostOf(Op op, Shape a, Shape b = {}) const override { return Costs(op, a, b); }
  // The same figures without an instance (planning, benchmarks).
  static Cost Costs(Op op, Shape a, Shape b = {});

 private:
  TwoPartyBackend(int party, net::Link& peer, std::unique_ptr<TripleSource> triples,
                  FixedPoint fxp, crypto::SecretBytes pair_seed);

  // Beaver multiplication, pipelined by triple blocks; trunc_bits >= 0 fuses Trunc.
  StatusOr<Shared> MulImpl(const Shared& x, const Shared& y, int trunc_bits);

  int party_;
  net::Link& peer_;
  std::unique_ptr<TripleSource> triples_;
  crypto::Prg pair_prg_;  // shared with the peer: input masks
  std::vector<uint64_t> scratch_;  // Mul's pipeline slots, reused across calls
};

}  // namespace consort::mpc
