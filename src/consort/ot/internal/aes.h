#pragma once
// AES-128 in ECB mode over many blocks at once (OpenSSL EVP, AES-NI when the CPU has it), for
// the pseudorandom code of KKRT16 (as a PRF keyed with a session key, never as a cipher for
// data at rest). Not thread-safe (one EVP context); the key schedule is wiped on destruction.

#include <cstddef>

#include "consort/ot/block.h"

typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;

namespace consort::ot::internal {

class AesEcb {
 public:
  explicit AesEcb(Block key);
  ~AesEcb();
  AesEcb(const AesEcb&) = delete;
  AesEcb& operator=(const AesEcb&) = delete;

  // out[i] = AES_key(in[i]) for i < n; in and out may be the same array.
  void Encrypt(const Block* in, Block* out, size_t n);

 private:
  EVP_CIPHER_CTX* ctx_;
};

}  // namespace consort::ot::internal
