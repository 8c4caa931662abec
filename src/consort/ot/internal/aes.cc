#include "consort/ot/internal/aes.h"

#include <openssl/evp.h>

#include <climits>

#include "consort/common/status.h"

namespace consort::ot::internal {

AesEcb::AesEcb(Block key) : ctx_(EVP_CIPHER_CTX_new()) {
  uint8_t k[16];
  key.ToBytes(k);
  CONSORT_CHECK(ctx_ != nullptr);
  CONSORT_CHECK(EVP_EncryptInit_ex(ctx_, EVP_aes_128_ecb(), nullptr, k, nullptr) == 1);
  CONSORT_CHECK(EVP_CIPHER_CTX_set_padding(ctx_, 0) == 1);
  OPENSSL_cleanse(k, sizeof(k));
}

AesEcb::~AesEcb() { EVP_CIPHER_CTX_free(ctx_); }

void AesEcb::Encrypt(const Block* in, Block* out, size_t n) {
  const uint8_t* src = reinterpret_cast<const uint8_t*>(in);
  uint8_t* dst = reinterpret_cast<uint8_t*>(out);
  // EVP takes an int length: go in slices well below INT_MAX.
  constexpr size_t kSlice = size_t{1} << 20;  // blocks
  while (n > 0) {
    size_t m = n < kSlice ? n : kSlice;
    int outl = 0;
    CONSORT_CHECK(EVP_EncryptUpdate(ctx_, dst, &outl, src, static_cast<int>(m * 16)) == 1);
    CONSORT_CHECK(static_cast<size_t>(outl) == m * 16);
    src += m * 16;
    dst += m * 16;
    n -= m;
  }
}

}  // namespace consort::ot::internal
