#pragma once
// Prg: a deterministic stream of pseudorandom 64-bit words from a 32-byte seed, for
// correlated randomness (Beaver triples, pairwise masks). AES-128 in counter mode (OpenSSL EVP,
// AES-NI): key = seed[0..16), initial counter block = seed[16..32). Two Prgs with the same seed
// produce the same stream, which is how the dealer and a party agree on a triple without
// sending it.
//
// Security: the stream is indistinguishable from uniform for anyone without the seed
// (128-bit, AES as a PRF; at most 2^64 blocks per seed, far beyond any job).
// Not thread-safe. The key schedule is wiped when the Prg is destroyed (EVP_CIPHER_CTX_free
// cleanses it); seeds live in SecretBytes.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "consort/crypto/random.h"

typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;

namespace consort::crypto {

inline constexpr size_t kPrgSeedBytes = 32;

// A fresh seed from the OS CSPRNG.
SecretBytes RandomSeed();
// A copy of a seed (seeds are move-only so that copies are deliberate).
SecretBytes CopySeed(const SecretBytes& seed);

class Prg {
 public:
  // `seed` must be kPrgSeedBytes long (CHECKed: seeds come from RandomSeed or validated messages).
  explicit Prg(const SecretBytes& seed);
  ~Prg();
  Prg(const Prg&) = delete;
  Prg& operator=(const Prg&) = delete;

  // Fills `out` with the next out.size() words of the stream.
  void Fill(std::span<uint64_t> out);
  std::vector<uint64_t> Next(size_t n);
  uint64_t words_generated() const { return words_; }

 private:
  EVP_CIPHER_CTX* ctx_;
  uint64_t words_ = 0;
};

}  // namespace consort::crypto
