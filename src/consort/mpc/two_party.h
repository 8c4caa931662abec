#pragma once
// Two-party additive secret sharing over Z_2^64 with Beaver triples from a dealer
// (semi-honest). x is shared as x = x0 + x1 mod 2^64; party i holds x_i.
//
// Protocols (whole tensors per round; rounds and bytes per call below):
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
//   Trunc     default (TruncMode::kDealerPair): one round with a dealer truncation pair
//             (r, r >> d, r >> 63) for uniform r in Z_2^64 (dealer.h), in the style of the
//             masked-opening truncation of Escudero, Ghosh, Keller, Rachuri, Scholl (edaBits,
//             CRYPTO 2020), with the wrap-around taken from the top bit of r instead of a
//             statistical gap. Party 0 adds 2^62, so x' = x + 2^62 lies in [0, 2^63); the parties open
//             c = x' + r mod 2^64 (uniform: perfectly hides x'); since msb(x') = 0 the
//             wrap is w = msb(r) (1 - msb(c)), linear in the shared msb(r); each party then
//             takes [c >> d] - <r >> d> + <msb(r)> (1 - msb(c)) 2^(64-d) [- 2^(62-d)].
//             Error bound, with certainty (no failure probability): if -2^62 <= x < 2^62
//             (signed) and 1 <= d <= 62, the result is floor(x / 2^d) + b with b in {0, 1},
//             b = [c mod 2^d < r mod 2^d], which is 1 with probability (x mod 2^d) / 2^d:
//             unbiased stochastic rounding, never more than 1 ulp above the exact floor.
//             Outside that range the result is undefined (ring overflow; the fixed-point
//             range check on inputs keeps products of encoded values far inside it).
//             1 round, 8 n bytes per party; dealer: 26-byte request + 16 n bytes to party 1.
//             MulFxp = Mul then Trunc: 2 rounds, the sum of both costs (Op::kMulFxp);
//             MatMulFxp = MatMul then Trunc of the m x n product (Op::kMatMulFxp).
//             TruncMode::kLocal: SecureML (Mohassel-Zhang, S&P 2017, Sec. 4.1, Thm. 1),
//             local: party 0 takes x0 >> d, party 1 takes -((-x1) >> d) (logical shifts). If
//             |x| < 2^l_x then, except with probability at most 2^(l_x + 1 - 64), the result
//             is floor(x / 2^d) or floor(x / 2^d) + 1; a failure gives a wildly wrong value
//             (about 2^(64 - d) off), e.g. 3% of values at l_x = 60. Zero communication;
//             fused into MulFxp (1 round; MatMulFxp: the MatMul round only). Truncated shares are a local function of uniform
//             shares (not uniform themselves) and reveal nothing beyond the opened value;
//             dealer-pair truncated shares are uniform.
//   LessThanZero  msb(x) with a dealer mask whose bits the dealer also XOR-shares (the edaBit
//             idea of Escudero et al., CRYPTO 2020) and a bit-sliced carry tree over binary
//             Beaver triples (as in ABY, Demmler et al., NDSS 2015). Exact for every ring
//             element. Rounds: (1) open c = x + r for a dealer mask r, additively and
//             bitwise-XOR shared (dealer maskbits); msb(x) = msb(c) ^ msb(r) ^ borrow,
//             borrow = [c mod 2^63 < r mod 2^63]. (2-7) borrow by a carry tree on the 63
//             low bits packed in one word per element: g = r & ~c and p = ~(r ^ c) are local
//             (c is public), then 6 levels of (G, P) <- (G>>s ^ (P>>s & G), P>>s & P) for
//             s = 1..32, each level one round of word-wise Beaver ANDs (dealer binary triples;
//             2 ANDs per element per level, 1 on the last). (8) the XOR-shared bit becomes
//             additive with a dealer daBit s: open t = b ^ s, [b] = t + [s] - 2 t [s].
//             8 rounds; per party 8 + 176 + 8 = 192 n bytes; dealer: 8 requests
//             (208 bytes) + 13 words (104 n bytes) per element to party 1.
//   EqualZero the same mask; x == 0 iff all 64 bits of p = ~(r ^ c) are 1: 6 levels of
//             P <- P>>s & P (1 AND per element per level), then the daBit conversion.
//             8 rounds; per party 8 + 96 + 8 = 112 n bytes; dealer 208 + 64 n bytes.
//   Select    b + Mul(cond, a - b): the Mul figures.
//             Opened values in all three (c, the Beaver-AND differences, t) are uniformly
//             random (masked by dealer randomness neither party knows in full), so the
//             comparisons leak nothing; the result bit stays shared.
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
// Largest shift Trunc accepts in TruncMode::kDealerPair.
inline constexpr int kMaxTruncBits = 62;

// How Trunc (and the truncation in MulFxp / MatMulFxp) is done; see the header comment.
enum class TruncMode { kDealerPair, kLocal };

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
  // Both parties must use the same mode (it changes the protocol). Default kDealerPair.
  void set_trunc_mode(TruncMode mode) { trunc_mode_ = mode; }
  TruncMode trunc_mode() const { return trunc_mode_; }
  std::string name() const override { return "2pc-dealer"; }
  int num_parties() const override { return 2; }
  bool HoldsInputOf(int party) const override { return party == party_; }

  StatusOr<Shared> Input(int owner, Shape shape, std::span<const uint64_t> values) override;
  StatusOr<Shared> AddPublic(const Shared& a, const RingTensor& c) override;
  StatusOr<Shared> Mul(const Shared& a, const Shared& b) override;
  StatusOr<Shared> MulFxp(const Shared& a, const Shared& b) override;
  StatusOr<Shared> MatMul(const Shared& a, const Shared& b) override;
  // InvalidArgument unless 0 <= bits <= kMaxTruncBits (kDealerPair) or < 64 (kLocal).
  StatusOr<Shared> Trunc(const Shared& a, int bits) override;
  StatusOr<Shared> LessThanZero(const Shared& a) override;
  StatusOr<Shared> EqualZero(const Shared& a) override;
  StatusOr<RingTensor> Reveal(const Shared& a) override;
  StatusOr<RingTensor> RevealTo(const Shared& a, int receiver) override;
  // Costs() for this instance's trunc mode; kMulFxp / kMatMulFxp with frac_bits 0 cost as
  // kMul / kMatMul (the truncation is the identity).
  Cost CostOf(Op op, Shape a, Shape b = {}) const override;
  // The same figures without an instance (planning, benchmarks). kTrunc, kMulFxp and
  // kMatMulFxp assume a shift >= 1 (fxp().frac_bits() >= 1).
  static Cost Costs(Op op, Shape a, Shape b = {}, TruncMode trunc = TruncMode::kDealerPair);

 private:
  TwoPartyBackend(int party, net::Link& peer, std::unique_ptr<TripleSource> triples,
                  FixedPoint fxp, crypto::SecretBytes pair_seed);

  // Beaver multiplication, pipelined by triple blocks; trunc_bits >= 0 fuses Trunc.
  StatusOr<Shared> MulImpl(const Shared& x, const Shared& y, int trunc_bits);
  // Trunc with a dealer truncation pair (0 <= d <= kMaxTruncBits, checked by the caller).
  StatusOr<Shared> TruncPair(const Shared& x, int d);
  // Opens c = x + r for a dealer mask r; `q` gets this party's XOR share of r's bits (1 round).
  Status OpenMasked(const Shared& x, std::vector<uint64_t>& c, std::vector<uint64_t>& q);
  // XOR-shared words: this party's share of x & y (1 round, binary Beaver triples).
  StatusOr<std::vector<uint64_t>> AndWords(std::span<const uint64_t> x,
                                           std::span<const uint64_t> y);
  // XOR shares of bit 0 of `b` -> additive shares of that bit, in `shape` (1 round, daBits).
  StatusOr<Shared> BitToArith(Shape shape, std::span<const uint64_t> b);

  int party_;
  net::Link& peer_;
  std::unique_ptr<TripleSource> triples_;
  crypto::Prg pair_prg_;  // shared with the peer: input masks
  std::vector<uint64_t> scratch_;  // pipeline slots (Mul, Trunc), reused across calls
  TruncMode trunc_mode_ = TruncMode::kDealerPair;
};

}  // namespace consort::mpc
