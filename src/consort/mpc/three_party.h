#pragma once
// Three-party replicated secret sharing over Z_2^64 (ABY3-style), no dealer, semi-honest.
//
// Papers: Mohassel, Rindal, "ABY3: A Mixed Protocol Framework for Machine Learning", CCS 2018
// (eprint 2018/403): replicated arithmetic and binary sharing with pairwise PRF keys and
// 3-out-of-3 zero sharings, multiplication with one re-sharing message (after Araki, Furukawa,
// Lindell, Nof, Ohara, CCS 2016), the share-truncation section (Pi_trunc1 / Pi_trunc2;
// see Trunc below for what is done instead) and the share-conversion section (bit
// decomposition with a parallel-prefix adder, bit injection); cited by section title.
//
// Sharing: x = x0 + x1 + x2 mod 2^64 (binary: b = b0 ^ b1 ^ b2, bit-sliced in 64-bit words).
// Party i holds the pair (x_i, x_{i+1}) (indices mod 3): Shared::s0 = x_i, Shared::s1 =
// x_{i+1}. Component x_j is held by parties j and j-1; any two parties can reconstruct.
// Links: party i has `next` (to party i+1) and `prev` (to party i-1).
//
// Setup (in Create): party i draws a 32-byte PRG seed k_i and sends it to party i-1, so
//   party i holds k_i (shared with i-1) and k_{i+1} (shared with i+1). 1 round, 96 bytes in
//   all (kThreePartySetupBytes). 3-out-of-3 zero sharing: alpha_i = F(k_i) - F(k_{i+1})
//   (XOR for binary), summing to 0; no communication.
// Protocols (n = elements; bytes are summed over all three parties):
//   Input     owner o: x_o = F(k_o), x_{o+1} = F(k_{o+1}) (each known to the owner and one
//             other party), x_{o+2} = x - x_o - x_{o+1} sent to both others. 1 round, 16 n.
//   AddPublic c added to component 0 (parties 0 and 2). Local. Add/Sub/Neg/MulPublic: local.
//   Mul       z_i = x_i y_i + x_i y_{i+1} + x_{i+1} y_i + alpha_i (a 3-out-of-3 sharing of
//             xy); party i sends z_i to party i-1. 1 round, 24 n (one word per output
//             element per party, to one neighbour).
//   MatMul    the same with matrix products: Z_i = X_i (Y_i + Y_{i+1}) + X_{i+1} Y_i +
//             alpha_i. 1 round, 24 m n for an m x k by k x n product.
//   Trunc     exact to one ulp with certainty, the masked-opening truncation of two_party.h
//             (Escudero, Ghosh, Keller, Rachuri, Scholl, CRYPTO 2020; wrap taken from the top
//             bit of the mask) with party 0 in the role of the dealer, which honest majority
//             allows: party 0 knows the mask r = F_{k1} + F_{k0} but never sees the opened
//             value; parties 1 and 2 each miss one of the two PRG terms of r. Round 1:
//             party 0 sends party 1 its additive share of r >> d and party 2 its share of
//             msb(r) (the other shares come from the pairwise PRGs); parties 1 and 2 exchange
//             masked 2-out-of-2 shares of x, x' = x + 2^62, and open c = x' + r mod 2^64.
//             Each then holds a 2-out-of-2 share of
//               [c >> d] - [r >> d] + [msb(r)] (1 - msb(c)) 2^(64-d) - 2^(62-d).
//             Round 2: parties 1 and 2 re-share it into the replicated form (components 0
//             and 1 are fresh PRG values known to party 0 and one of them; each sends the
//             other its share minus its PRG component). 2 rounds, 48 n.
//             Error bound, with certainty (no failure probability): for -2^62 <= x < 2^62
//             and 1 <= d <= 62 the result is floor(x / 2^d) + b, b in {0, 1}, b = 1 with
//             probability (x mod 2^d) / 2^d (unbiased stochastic rounding). Outside that
//             range: undefined (ring overflow). This replaces ABY3's Pi_trunc1 (a SecureML-
//             style local shift, failure probability 2^(l_x + 1 - 64)) and Pi_trunc2 (whose
//             (r, r / 2^d) pairs need a binary adder circuit per pair).
//   MulFxp    fused: the multiplication's 3-out-of-3 shares feed the truncation's opening
//             (party 0 also sends its masked 3-out-of-3 share z_0 to both others in round 1).
//             2 rounds, 64 n (Op::kMulFxp, MulFxpCost).
//   MatMulFxp fused the same way: each party computes its 3-out-of-3 share Z_i of the m x n
//             product (as in MatMul, with a zero share) and the truncation opens Z + r
//             directly, so the product is never re-shared on its own. 2 rounds, 64 m n
//             (Op::kMatMulFxp; unfused MatMul + Trunc: 3 rounds, 72 m n).
//   LessThanZero  msb(x), exact for every ring element. Arithmetic -> binary: party 0
//             knows u = x0 + x1 and binary-shares it (components F(k0), u ^ F(k0), 0: one
//             message to party 1); x2 is already known to parties 1 and 2 (a binary sharing
//             with one non-zero component). msb(u + x2) = msb(u ^ x2) ^ carry into bit 63:
//             g = u & x2 (one AND round), p = u ^ x2, then the bit-sliced parallel-prefix
//             carry tree of two_party.h: 6 levels (G, P) <- (G>>s ^ (P>>s & G), P>>s & P),
//             s = 1..32 (2 ANDs per element per level, 1 on the last). 3PC AND: z_i =
//             a_i b_i ^ a_i b_{i+1} ^ a_{i+1} b_i ^ alpha_i, re-shared as for Mul (1 round,
//             24 bytes per word). Bit injection (the share-conversion section's 3-party OT;
//             1 round): for the shared bit b = b0^b1^b2 the output components are comp1 = s
//             (PRG of parties 0, 1), comp2 = w (PRG of parties 1, 2) and comp0 = b - w - s,
//             which party 1 (knows b1, b2, s, w) offers for both values of b0 to party 0 and
//             to party 2 in two OTs, each pair of offers masked with a PRG pair shared by
//             party 1 and the other receiver, which also knows b0 and sends the mask that
//             opens the right offer.
//             Party 1 sends 2 words per element to each neighbour, parties 0 and 2 one each.
//             9 rounds, 344 n: 8 (input u) + 24 (g) + 264 (tree) + 48 (injection).
//   EqualZero x == 0 iff u == -x2: all 64 bits of ~(u ^ -x2) are 1; 6 levels of
//             P <- P>>s & P (1 AND per element each), bit injection. 8 rounds, 200 n.
//   LessThan / Equal: on a - b, as above.  Select: one Mul.
//   Reveal    party i sends x_i to party i+1. 1 round, 24 n.
//   RevealTo(r)  party r-1 sends x_{r-1} to party r. 1 round, 8 n.
// CostOf() returns these figures; the tests check them against the links' byte counters.
// Every round is pipelined in blocks of kThreePartyBlock elements, one message per block and
// direction (w words per element: w * len words per message): a sender thread prepares and sends
// blocks ahead (at most 4 in flight) while this thread receives and finishes earlier ones;
// Mul, the ANDs and Trunc also compute block by block, so their memory beyond the operands
// and the result stays bounded. Receivers check every message's exact size.
//
// Security: semi-honest, honest majority (no two parties collude; any two together hold
// every share). 128-bit computational (AES-128-CTR PRG, crypto/prg.h). Every message a party
// receives is masked by a PRG word of a key that party does not hold, so each party's view is
// uniformly random apart from what Reveal / RevealTo open. Shares produced by Input, Mul,
// Trunc and the comparisons are fresh uniform components.
// Leaks: only what Reveal / RevealTo reveal (and the public program: shapes, op sequence).
// Errors: a malformed peer message (wrong size) is InvalidArgument naming the peer; a closed
// or vanished peer is Unavailable; after any error in a round the backend closes both its
// links (the parties are out of step, and the neighbours learn it at once instead of waiting
// for a timeout); the backend must not be used again.
// Thread safety: one thread per backend; the links must not be used by anyone else meanwhile.

#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "consort/crypto/prg.h"
#include "consort/mpc/backend.h"
#include "consort/net/link.h"

namespace consort::mpc {

// Bytes the three setup messages carry in all (one 32-byte seed per party).
inline constexpr uint64_t kThreePartySetupBytes = 3 * crypto::kPrgSeedBytes;
// Elements per message in the pipelined elementwise rounds.
inline constexpr size_t kThreePartyBlock = size_t{1} << 16;
// Largest shift Trunc accepts.
inline constexpr int kMaxThreePartyTruncBits = 62;

class ThreePartyBackend : public Backend {
 public:
  // Runs the setup round (party ∈ {0, 1, 2}; CHECKed). `next` links to party (party+1) % 3,
  // `prev` to party (party+2) % 3; both must outlive the backend. InvalidArgument if a peer
  // sends a malformed seed, the link's status if it fails.
  static StatusOr<std::unique_ptr<ThreePartyBackend>> Create(int party, net::Link& next,
                                                             net::Link& prev, FixedPoint fxp);

  int party() const { return party_; }
  std::string name() const override { return "3pc-replicated"; }
  int num_parties() const override { return 3; }
  bool HoldsInputOf(int party) const override { return party == party_; }

  StatusOr<Shared> Input(int owner, Shape shape, std::span<const uint64_t> values) override;
  StatusOr<Shared> AddPublic(const Shared& a, const RingTensor& c) override;
  StatusOr<Shared> Mul(const Shared& a, const Shared& b) override;
  StatusOr<Shared> MulFxp(const Shared& a, const Shared& b) override;
  StatusOr<Shared> MatMul(const Shared& a, const Shared& b) override;
  StatusOr<Shared> MatMulFxp(const Shared& a, const Shared& b) override;
  // InvalidArgument unless 0 <= bits <= kMaxThreePartyTruncBits (0 is the identity, free).
  StatusOr<Shared> Trunc(const Shared& a, int bits) override;
  StatusOr<Shared> LessThanZero(const Shared& a) override;
  StatusOr<Shared> EqualZero(const Shared& a) override;
  // Leaks: the value of `a` to all three parties.
  StatusOr<RingTensor> Reveal(const Shared& a) override;
  // Leaks: the value of `a` to `receiver` only (InvalidArgument unless 0 <= receiver <= 2);
  // the others get a's shape with empty data.
  StatusOr<RingTensor> RevealTo(const Shared& a, int receiver) override;
  // Costs(); kMulFxp / kMatMulFxp with frac_bits 0 cost as kMul / kMatMul (no truncation).
  Cost CostOf(Op op, Shape a, Shape b = {}) const override;
  // The same figures without an instance. kTrunc, kMulFxp and kMatMulFxp assume a shift >= 1.
  static Cost Costs(Op op, Shape a, Shape b = {});
  // MulFxp (fused multiplication and truncation) on operands of shape a.
  static Cost MulFxpCost(Shape a);

 private:
  ThreePartyBackend(int party, net::Link& next, net::Link& prev, FixedPoint fxp,
                    crypto::SecretBytes own_seed, crypto::SecretBytes next_seed);

  // One communication step over n elements, pipelined in blocks: sends to_next / to_prev
  // (nothing if empty) while receiving exactly from_next.size() / from_prev.size() words; each
  // span holds a whole number of words per element, element-major. InvalidArgument naming
  // `op` on a wrong-sized message; closes both links on a receive error.
  Status Round(size_t n, std::span<const uint64_t> to_next, std::span<const uint64_t> to_prev,
               std::span<uint64_t> from_next, std::span<uint64_t> from_prev, const char* op);
  // Adds (arithmetic) or XORs (binary) this party's share of a fresh 3-out-of-3 zero sharing.
  void AddZeroShare(std::span<uint64_t> z, bool binary);
  // 3-out-of-3 share z (this party's) -> replicated (z_i, z_{i+1}); 1 round.
  StatusOr<Shared> Reshare(Shape shape, std::vector<uint64_t> z);
  // Local cross terms of a replicated product (arithmetic or AND).
  StatusOr<Shared> MulImpl(const Shared& x, const Shared& y, bool binary);
  // Fills this party's 3-out-of-3 share of words [off, off + len) of the value to truncate
  // (called in block order from one thread; may draw from the PRGs).
  using BlockFn = std::function<void(size_t off, size_t len, uint64_t* z)>;
  // Truncation from 3-out-of-3 shares of x (party 2's includes x_0 and party 0's is unused
  // when !fused; when fused, party 0 sends its share to both others).
  StatusOr<Shared> TruncImpl(Shape shape, const BlockFn& z, int d, bool fused);
  // A binary sharing of party 0's private words `u` with components (F(k0), u ^ F(k0), 0):
  // one message from party 0 to party 1. `u` is empty at parties 1 and 2.
  StatusOr<Shared> InputFromParty0(Shape shape, std::vector<uint64_t> u);
  // The replicated sharing whose only non-zero component is component 2 (held by parties 1
  // and 2): v = f(x2) for this party's copy of x2.
  Shared Component2(const Shared& x, uint64_t (*f)(uint64_t)) const;
  // XOR-shared bit 0 of each word -> arithmetic 0/1 (1 round, 3-party OTs).
  StatusOr<Shared> BitInject(const Shared& b);
  // Binary sharing of x (u = x0 + x1 from party 0) and of x2: returns (U, X2 component).
  StatusOr<Shared> BinaryU(const Shared& x);
  Status CheckShares(const Shared& a, const char* op) const;

  int party_;
  net::Link& next_;
  net::Link& prev_;
  crypto::Prg own_prg_;            // k_party: shared with prev
  crypto::Prg next_prg_;           // k_{party+1}: shared with next
  std::vector<uint64_t> scratch_;  // pipeline slots, reused across calls
};

}  // namespace consort::mpc
