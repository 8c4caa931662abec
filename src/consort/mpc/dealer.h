#pragma once
// Beaver-triple dealer for the two-party mode, and the parties' side of it.
//
// Protocol (seeded triples, as in SPU's "Beaver TTP" and Demmler et al. ABY's precomputation):
//   setup:   dealer draws seed0, seed1 (32 bytes each) and sends seed_i to party i.
//   triple:  party 0 expands a0, b0, c0 from Prg(seed0); party 1 expands a1, b1 from
//            Prg(seed1) and asks the dealer for c1. The dealer expands the same streams and
//            returns c1 = (a0 + a1) * (b0 + b1) - c0 (elementwise, or a matrix product for
//            matmul triples). Only party 1 ever receives words from the dealer, and only c1.
//   Messages (party 1 <-> dealer):
//     dealer -> party i   kSeed:    u8 type=1, u8 party, 32-byte seed           (34 bytes)
//     party 1 -> dealer   kRequest: u8 type=2, u8 kind, u64 m, u64 k, u64 n   (26 bytes, LE)
//     dealer -> party 1   c1 as little-endian u64 words, in messages of at most 2^20 words
//     party 1 -> dealer   kDone:    u8 type=3                                   (1 byte)
//   Every message is validated (type, exact length, party index, dimensions and work limits);
//   anything else is InvalidArgument naming the problem.
//
// Trust assumption: the dealer is semi-honest and does NOT collude with either party. It knows
// every triple (a, b, c), so together with one party's view of the opened e = x - a and
// f = y - b it would learn the other party's inputs. It never receives inputs or shares.
// Security: 128-bit computational (AES-128-CTR as a PRF).
// Leaks: nothing about inputs to the dealer; the dealer learns only the number and shapes of
// triples the program uses (which the public program reveals anyway).

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "consort/common/status.h"
#include "consort/crypto/random.h"
#include "consort/mpc/prg.h"
#include "consort/net/link.h"

namespace consort::mpc {

enum class TripleKind : uint8_t { kElementwise = 1, kMatMul = 2 };

// Elementwise: m triples (k = n = 0). MatMul: A is m x k, B is k x n, C is m x n.
struct TripleShape {
  TripleKind kind = TripleKind::kElementwise;
  uint64_t m = 0, k = 0, n = 0;

  static TripleShape Elementwise(uint64_t count) { return {TripleKind::kElementwise, count, 0, 0}; }
  static TripleShape MatMul(uint64_t m, uint64_t k, uint64_t n) {
    return {TripleKind::kMatMul, m, k, n};
  }
  uint64_t a_words() const { return kind == TripleKind::kElementwise ? m : m * k; }
  uint64_t b_words() const { return kind == TripleKind::kElementwise ? m : k * n; }
  uint64_t c_words() const { return kind == TripleKind::kElementwise ? m : m * n; }
};

// Limits the dealer enforces on a request (a peer must not make it allocate or compute
// without bound): each tensor at most kMaxTripleWords words, a matmul at most
// kMaxMatMulWork multiply-adds.
inline constexpr uint64_t kMaxTripleWords = uint64_t{1} << 28;
inline constexpr uint64_t kMaxMatMulWork = uint64_t{1} << 36;
// InvalidArgument naming the offending dimension if `shape` is outside those limits.
Status ValidateTripleShape(const TripleShape& shape);

// One party's shares of a batch of triples.
struct TripleShares {
  TripleShape shape;
  std::vector<uint64_t> a, b, c;
};

// The dealer's computation: owns seed0 and seed1 and mirrors both parties' streams.
// Not thread-safe (serve one party-1 request stream at a time).
class Dealer {
 public:
  // Fresh seeds from the OS CSPRNG.
  Dealer();
  const crypto::SecretBytes& seed(int party) const { return party == 0 ? seed0_ : seed1_; }
  // c1 for the next triple batch of `shape` (advances both streams). InvalidArgument if the
  // shape is outside the limits.
  StatusOr<std::vector<uint64_t>> Correction(const TripleShape& shape);

 private:
  crypto::SecretBytes seed0_, seed1_;
  Prg prg0_, prg1_;
};

// Runs the dealer role over links to party 0 and party 1 until party 1 sends kDone (OK) or a
// link fails (its status) or a message is malformed (InvalidArgument).
Status RunDealer(Dealer& dealer, net::Link& to_party0, net::Link& to_party1);

// A party's source of triples. Begin() returns a and b (and c at party 0) without waiting;
// Finish() fills c (party 1 waits for the dealer's correction). Calls must follow the
// program order, identically at both parties. Not thread-safe.
class TripleSource {
 public:
  virtual ~TripleSource() = default;
  virtual int party() const = 0;
  virtual StatusOr<TripleShares> Begin(const TripleShape& shape) = 0;
  virtual Status Finish(TripleShares& t) = 0;
  // Tells the dealer the program is done (party 1 sends kDone). Idempotent.
  virtual Status Close() = 0;
  // Bytes this source sent to and received from the dealer.
  virtual uint64_t dealer_bytes() const = 0;
};

// The party side over a Link to the dealer: receives and validates this party's seed first
// (InvalidArgument on a malformed seed message, the link's status if it fails).
StatusOr<std::unique_ptr<TripleSource>> ConnectToDealer(int party, net::Link& dealer);

// In-process dealer (tests, single-host runs): party 0 needs only its seed, party 1 calls
// `dealer` directly; `dealer` must outlive the source and is used only by party 1.
std::unique_ptr<TripleSource> InProcessTripleSource(int party, Dealer& dealer);

}  // namespace consort::mpc
