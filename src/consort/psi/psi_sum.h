#pragma once
// Two-party private intersection-sum with cardinality (DDH + Paillier).
//
// Paper: M. Ion, B. Kreuter, A. E. Nergiz, S. Patel, S. Saxena, K. Seth, M. Raykova, D. Shanahan,
// M. Yung, "On Deploying Secure Computing: Private Intersection-Sum-with-Cardinality",
// EuroS&P 2020, section 3.1 (the DDH-based protocol, Figure 2), deployed as Google's Private
// Join and Compute. Group: Curve25519 with RFC 9380 hash-to-curve (crypto/curve25519.h), DST
// "CONSORT-V01-PSI-SUM-with-" + suite + ":" + domain. Encryption: Paillier (crypto/paillier.h).
//
// Roles: A holds identifiers X and learns |X ∩ Y| and S = sum of B's values over X ∩ Y.
// B holds pairs (y, v_y), v_y int64, owns the Paillier key pair, and learns |X| (and |X ∩ Y|
// when b_learns_size). As in the paper, the value holder B owns the key and A sums the
// ciphertexts; unlike the paper (where the key owner learns S), A gets S through one extra
// masked round: A sends Enc(S + r) for r uniform in Z_n, B returns S + r mod n, A removes r.
//
// Message flow (A's scalar a, B's scalar b; H = hash to curve):
//   A -> B  hello: version, |X|, batch size, b_learns_size, SHA-256(domain)
//   B -> A  hello: version, |Y|, batch size, b_learns_size, SHA-256(domain), Paillier pk
//   A -> B  H(x)^a for x in X, in A's secret random order, in A-sized batches   (32 B each)
//   B -> A  H(x)^ab truncated to T bytes, after one global shuffle, in A-sized batches
//   B -> A  (H(y)^b, Enc(v_y)) for y in Y in B's secret random order, in B-sized batches
//                                                           (32 + 2 |n|/8 B each: 544 at 2048)
//   A       J = {j : H(y_j)^ab in the returned set}; C = Rerandomize(prod_{j in J} Enc(v_j) *
//           Enc(r)) for r uniform in Z_n
//   A -> B  C, and |J| if b_learns_size
//   B -> A  Dec(C) = S + r mod n                               A outputs |J| and S = Dec(C) - r
// Phases strictly alternate (one sender at a time), so bounded link buffers cannot deadlock.
// Encryption noise: B encrypts with DJN short-exponent noise h_s^a for a fresh uniform 256-bit a
// (Damgard, Jurik, Nielsen 2010, section 4.2; crypto::PaillierFastNoise from B's secret key:
// fixed-base tables mod p^2 and q^2; h_s stays with B), made by `threads` workers from key generation on, i.e. also while B waits for A
// (crypto::PaillierNoiseProducer, at most 64 MiB held ahead); the results do not depend on it.
// A's single re-randomization of C uses full-domain noise r^n, r uniform in Z_n^*: C is
// decrypted by B, who knows the factorization and the randomness of each Enc(v_j), and only
// uniform noise hides J from it (DJN noise would not: see psi_sum.cc).
// T = EcdhPsiReturnBytes(|X|, |Y|) (40-bit statistical bound on false matches).
//
// Overflow: S is exact for any |Y| <= 2^32 values of int64 (|S| < 2^95 << n/2); it is returned
// as a decimal string, and as int64 too when it fits.
// Security: semi-honest, two parties; 128-bit computational for the DDH part (Curve25519),
// Paillier with a 2048-bit modulus by default (112-bit; 3072 for 128-bit); 40-bit statistical.
// Hiding B's values from A rests on decisional composite residuosity plus the DJN
// short-exponent indistinguishability assumption stated in crypto/paillier.h (256-bit
// exponents); hiding S and J from B is statistical (uniform mask r, full-domain re-randomizer).
// Every peer message is validated (types, counts, sizes, points, ciphertexts in [1, n^2) and
// units, the public key's form), so a misbehaving peer gets an error, never undefined
// behaviour; correctness against a malicious peer is not guaranteed (it can lie about values,
// its set or the decryption).
// Leaks: A learns |Y|, |X ∩ Y| and S; B learns |X| (and |X ∩ Y| if b_learns_size); B sees
// S + r mod n, uniform in Z_n, so nothing about S. Neither learns which rows are in X ∩ Y.

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "consort/common/status.h"
#include "consort/crypto/paillier.h"
#include "consort/net/link.h"

namespace consort::psi {

inline constexpr uint32_t kPsiSumVersion = 1;
inline constexpr uint64_t kPsiSumMaxSetSize = uint64_t{1} << 32;
inline constexpr size_t kPsiSumMaxBatch = 8192;

struct PsiSumOptions {
  // Job id (or any string both parties agree on); bound into the hash-to-curve DST.
  std::string domain;
  bool b_learns_size = false;
  // Elements per message, 1 .. kPsiSumMaxBatch.
  size_t batch_size = 1024;
  // B only: Paillier modulus size (>= crypto::kPaillierMinBits unless allow_small_keys).
  int paillier_bits = crypto::kPaillierDefaultBits;
  // Tests only: B may generate, and A accepts, keys down to 512 bits.
  bool allow_small_keys_for_testing = false;
  // Worker threads for hashing, masking and encryption; B also runs this many (DJN) Paillier
  // noise workers. Results do not depend on it.
  int threads = 1;
  std::function<void(double)> progress;
  const std::atomic<bool>* cancelled = nullptr;
};

struct PsiSumResult {
  uint64_t peer_size = 0;
  // For A always; for B only with b_learns_size.
  std::optional<uint64_t> intersection_size;
  // A only: the exact sum in decimal, and as int64 when it fits.
  std::string sum_decimal;
  std::optional<int64_t> sum;
};

// Party A: `items` distinct canonical byte strings. Errors: InvalidArgument (duplicates, bad
// options, malformed peer message naming what is wrong), FailedPrecondition (handshake
// mismatch), Unavailable, DeadlineExceeded, Cancelled. On error the link is closed.
StatusOr<PsiSumResult> RunPsiSumA(net::Link& link, const std::vector<std::string>& items,
                                  const PsiSumOptions& opts);

// Party B: `items` distinct, `values[i]` belongs to `items[i]` (InvalidArgument if the sizes
// differ). Same errors as RunPsiSumA.
StatusOr<PsiSumResult> RunPsiSumB(net::Link& link, const std::vector<std::string>& items,
                                  const std::vector<int64_t>& values, const PsiSumOptions& opts);

}  // namespace consort::psi
