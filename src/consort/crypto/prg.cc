#include "consort/crypto/prg.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>

#include "consort/common/status.h"

namespace consort::crypto {

SecretBytes RandomSeed() {
  SecretBytes s(kPrgSeedBytes);
  crypto::RandomBytes(s.data(), s.size());
  return s;
}

SecretBytes CopySeed(const SecretBytes& seed) {
  return SecretBytes(seed.data(), seed.size());
}

Prg::Prg(const SecretBytes& seed) : ctx_(EVP_CIPHER_CTX_new()) {
  CONSORT_CHECK(seed.size() == kPrgSeedBytes);
  // A failure here means OpenSSL itself is broken (out of memory or no AES): not something a
  // user or peer can cause.
  CONSORT_CHECK(ctx_ != nullptr);
  CONSORT_CHECK(EVP_EncryptInit_ex(ctx_, EVP_aes_128_ctr(), nullptr, seed.data(),
                                   seed.data() + 16) == 1);
}

Prg::~Prg() { EVP_CIPHER_CTX_free(ctx_); }

void Prg::Fill(std::span<uint64_t> out) {
  // CTR keystream = encryption of zeros. EVP keeps the partial-block position between calls,
  // so the stream does not depend on how it is split into Fill calls. Chunks keep the int
  // length argument in range and the zeroed buffer in cache.
  constexpr size_t kChunkWords = 1 << 13;
  uint8_t* p = reinterpret_cast<uint8_t*>(out.data());
  size_t left = out.size();
  while (left > 0) {
    const size_t w = std::min(left, kChunkWords);
    const int bytes = static_cast<int>(w * 8);
    std::memset(p, 0, bytes);
    int outl = 0;
    CONSORT_CHECK(EVP_EncryptUpdate(ctx_, p, &outl, p, bytes) == 1 && outl == bytes);
    p += bytes;
    left -= w;
  }
  words_ += out.size();
}

std::vector<uint64_t> Prg::Next(size_t n) {
  std::vector<uint64_t> v(n);
  Fill(v);
  return v;
}

}  // namespace consort::crypto
