#pragma once
// Beaver-triple dealer for the two-party mode, and the parties' side of it.
//
// Protocol (seeded triples, as in SPU's "Beaver TTP" and Demmler et al. ABY's precomputation):
//   setup:   dealer draws seed0, seed1 (32 bytes each) and sends seed_i to party i.
//   triple:  party 0 expands a0, b0, c0 from crypto::Prg(seed0); party 1 expands a1, b1 from
//            crypto::Prg(seed1) and asks the dealer for c1. The dealer expands the same streams and
//            returns c1 = (a0 + a1) * (b0 + b1) - c0 (elementwise, or a matrix product for
//            matmul triples). Only party 1 ever receives words from the dealer, and only c1.
//   trunc:   a truncation pair for shift d (two_party.h, Trunc): party 0 expands r0, h0, m0;
//            party 1 expands r1 and receives [h1 | m1] with, for r = r0 + r1,
//            h0 + h1 = r >> d (logical) and m0 + m1 = r >> 63 (the top bit of r).
//   binary:  AND triples on 64-bit words, XOR-shared: party 0 expands a0, b0, c0; party 1
//            expands a1, b1 and receives c1 = ((a0 ^ a1) & (b0 ^ b1)) ^ c0.
//   maskbits: party 0 expands r0, q0; party 1 expands r1 and receives q1 = (r0 + r1) ^ q0:
//            r = r0 + r1 additively and XOR-shared bitwise (comparisons, two_party.h).
//   dabit:   a random bit s, XOR-shared and additively shared: party 0 expands u0, s0; party 1
//            expands u1 and receives s1 = ((u0 ^ u1) & 1) - s0.
//   Messages (party 1 <-> dealer):
//     dealer -> party i   kSeed:    u8 type=1, u8 party, 32-byte seed           (34 bytes)
//     party 1 -> dealer   kRequest: u8 type=2, u8 kind, u64 m, u64 k, u64 n   (26 bytes, LE)
//                         (trunc pairs: kind 3, m = count, k = d in [1, 62], n = 0;
//                         binary triples / maskbits / dabits: kind 4 / 5 / 6, m = count)
//     dealer -> party 1   c1 as little-endian u64 words: one message per block of 2^16
//                         elementwise triples (2 words per pair for trunc pairs: [h1 | m1]);
//                         a matmul's c1 in messages of at most 2^20 words
//     party 1 -> dealer   kDone:    u8 type=3                                   (1 byte)
//   Every message is validated (type, exact length, party index, dimensions and work limits);
//   anything else is InvalidArgument naming the problem.
//
// Trust assumption: the dealer is semi-honest and does NOT collude with either party. It knows
// every triple (a, b, c), so together with one party's view of the opened e = x - a and
// f = y - b it would learn the other party's inputs. It never receives inputs or shares.
// Security: 128-bit computational (AES-128-CTR as a PRF).
// Leaks: nothing about inputs to the dealer; the dealer learns only the number and shapes of
// triples and truncation pairs the program uses (which the public program reveals anyway).

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "consort/common/status.h"
#include "consort/crypto/random.h"
#include "consort/crypto/prg.h"
#include "consort/net/link.h"

namespace consort::mpc {

enum class TripleKind : uint8_t {
  kElementwise = 1, kMatMul = 2, kTruncPair = 3, kBinary = 4, kMaskBits = 5, kDaBit = 6
};

// Elementwise: m triples (k = n = 0). MatMul: A is m x k, B is k x n, C is m x n.
// TruncPair: m pairs (r, r >> k, r >> 63) for a shift of k bits (1 <= k <= 62, n = 0); Expand
// fills a = r_i, b = h_i, c = m_i at party 0 and only a at party 1, whose Correct() gets
// [h_1 | m_1] (2 words per pair).
// Binary: m word triples; Expand(a, b, c) as for elementwise, Correct() gets c1.
// MaskBits: m masks; Expand fills a = r_i, b = q_i (party 0) / a = r_1 (party 1, b and c
// empty); Correct() gets q1. DaBit: m bits; Expand fills a = u_i, b = s_i (party 0) / a = u_1;
// Correct() gets s1. All kinds but MatMul have k = n = 0 except TruncPair (k = shift).
struct TripleShape {
  TripleKind kind = TripleKind::kElementwise;
  uint64_t m = 0, k = 0, n = 0;

  static TripleShape Elementwise(uint64_t count) { return {TripleKind::kElementwise, count, 0, 0}; }
  static TripleShape MatMul(uint64_t m, uint64_t k, uint64_t n) {
    return {TripleKind::kMatMul, m, k, n};
  }
  static TripleShape TruncPairs(uint64_t count, int bits) {
    return {TripleKind::kTruncPair, count, static_cast<uint64_t>(bits), 0};
  }
  static TripleShape Of(TripleKind kind, uint64_t count) { return {kind, count, 0, 0}; }
  bool streamed() const { return kind != TripleKind::kMatMul; }
  uint64_t a_words() const { return kind == TripleKind::kMatMul ? m * k : m; }
  uint64_t b_words() const { return kind == TripleKind::kMatMul ? k * n : m; }
  // Words party 1 receives from the dealer.
  uint64_t c_words() const {
    return kind == TripleKind::kMatMul ? m * n : kind == TripleKind::kTruncPair ? 2 * m : m;
  }
};

// Limits the dealer enforces on a request (a peer must not make it allocate or compute
// without bound). Elementwise batches are streamed in blocks, so only their count is capped;
// a matmul is held whole: each of A, B, C at most kMaxMatrixWords words (256 MiB) and at most
// kMaxMatMulWork multiply-adds.
inline constexpr uint64_t kMaxElementwiseTriples = uint64_t{1} << 36;
inline constexpr uint64_t kMaxMatrixWords = uint64_t{1} << 25;
inline constexpr uint64_t kMaxMatMulWork = uint64_t{1} << 36;
// InvalidArgument naming the offending dimension if `shape` is outside those limits.
Status ValidateTripleShape(const TripleShape& shape);

// Elementwise batches are produced, expanded and sent in blocks of kTripleBlock triples (the
// last block shorter), so no party or dealer ever holds a whole batch of triples: party i
// expands a_i, b_i (, c_0) of block j right before block j is used, and the dealer sends c1 of
// block j as one message. Matmul triples are produced whole (c1 in messages of at most 2^20
// words).
inline constexpr uint64_t kTripleBlock = uint64_t{1} << 16;

// The dealer's computation: owns seed0 and seed1 and mirrors both parties' streams.
// Not thread-safe (serve one party-1 request stream at a time).
class Dealer {
 public:
  // Fresh seeds from the OS CSPRNG.
  Dealer();
  const crypto::SecretBytes& seed(int party) const { return party == 0 ? seed0_ : seed1_; }
  // Starts a batch (InvalidArgument if the shape is outside the limits).
  Status Start(const TripleShape& shape);
  // c1 for the next block of the current elementwise batch (c1.size() triples), [h1 | m1] for
  // the next block of truncation pairs (c1.size() = 2 x pairs), or the whole c1 of the
  // current matmul batch (c1.size() == m * n). Advances both streams.
  void NextCorrection(std::span<uint64_t> c1);

 private:
  crypto::SecretBytes seed0_, seed1_;
  crypto::Prg prg0_, prg1_;
  TripleShape shape_;
  std::vector<uint64_t> a0_, b0_, c0_, a1_, b1_;
};

// Runs the dealer role over links to party 0 and party 1 until party 1 sends kDone (OK) or a
// link fails (its status) or a message is malformed (InvalidArgument).
Status RunDealer(Dealer& dealer, net::Link& to_party0, net::Link& to_party1);

// A party's source of triples. For each batch: Start(shape) (party 1 sends its request to
// the dealer), then for each block (elementwise) or once (matmul) Expand() the own shares
// a, b (and c at party 0) and, at party 1, Correct() to get c. Expand may run on another
// thread than Correct (one thread each). Batches must follow the program order, identically
// at both parties.
class TripleSource {
 public:
  virtual ~TripleSource() = default;
  virtual int party() const = 0;
  // InvalidArgument if the shape is outside the limits; the link's status at party 1.
  virtual Status Start(const TripleShape& shape) = 0;
  // The next a.size(), b.size() (and c.size() at party 0; c is empty at party 1) words of
  // this party's triple stream.
  virtual void Expand(std::span<uint64_t> a, std::span<uint64_t> b, std::span<uint64_t> c) = 0;
  // Party 1: c for the block just expanded (InvalidArgument if the dealer's message has the
  // wrong size). Party 0: no-op.
  virtual Status Correct(std::span<uint64_t> c) = 0;
  // Tells the dealer the program is done (party 1 sends kDone). Idempotent.
  virtual Status Close() = 0;
};

// The party side over a Link to the dealer: receives and validates this party's seed first
// (InvalidArgument on a malformed seed message, the link's status if it fails).
StatusOr<std::unique_ptr<TripleSource>> ConnectToDealer(int party, net::Link& dealer);

// In-process dealer (tests, single-host runs): party 0 needs only its seed, party 1 calls
// `dealer` directly; `dealer` must outlive the source and is used only by party 1.
std::unique_ptr<TripleSource> InProcessTripleSource(int party, Dealer& dealer);

}  // namespace consort::mpc
