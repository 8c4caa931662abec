#include "consort/crypto/curve25519.h"

#include <gmp.h>
#include <sodium.h>

#include <cstring>
#include <vector>

namespace consort::crypto {
namespace {

constexpr size_t kSha512Bytes = 64;
constexpr size_t kSha512BlockBytes = 128;  // s_in_bytes for SHA-512
constexpr size_t kHashToFieldBytes = 48;   // L = ceil((ceil(log2(p)) + k) / 8), k = 128
constexpr unsigned long kMontgomeryA = 486662;
constexpr char kOversizeDstPrefix[] = "H2C-OVERSIZE-DST-";

// RFC 9380 section 5.3.3: DSTs longer than 255 bytes are replaced by a hash of themselves.
Bytes DstPrime(ByteSpan dst) {
  Bytes out;
  if (dst.size() > 255) {
    crypto_hash_sha512_state st;
    crypto_hash_sha512_init(&st);
    crypto_hash_sha512_update(&st, reinterpret_cast<const uint8_t*>(kOversizeDstPrefix),
                              sizeof(kOversizeDstPrefix) - 1);
    crypto_hash_sha512_update(&st, dst.data(), dst.size());
    out.resize(kSha512Bytes);
    crypto_hash_sha512_final(&st, out.data());
  } else {
    out.assign(dst.begin(), dst.end());
  }
  out.push_back(static_cast<uint8_t>(out.size()));
  return out;
}

// GMP scratch for batched field arithmetic mod p = 2^255 - 19. Not thread-safe.
class FieldBatch {
 public:
  FieldBatch() {
    mpz_inits(p_, a_, t0_, t1_, inv_, nullptr);
    mpz_ui_pow_ui(p_, 2, 255);
    mpz_sub_ui(p_, p_, 19);
    mpz_set_ui(a_, kMontgomeryA);
  }
  ~FieldBatch() {
    mpz_clears(p_, a_, t0_, t1_, inv_, nullptr);
    for (auto& z : u_) mpz_clear(z.v);
    for (auto& z : prefix_) mpz_clear(z.v);
  }
  FieldBatch(const FieldBatch&) = delete;
  FieldBatch& operator=(const FieldBatch&) = delete;

  // Makes room for n inputs; u(i) are then set by the caller (any value >= 0).
  void Resize(size_t n) {
    while (u_.size() < n) {
      u_.emplace_back();
      mpz_init2(u_.back().v, 512);
      prefix_.emplace_back();
      mpz_init2(prefix_.back().v, 512);
    }
    n_ = n;
  }
  mpz_ptr u(size_t i) { return u_[i].v; }
  mpz_srcptr p() const { return p_; }

  // Replaces u(i) by the Elligator 2 u-coordinate and writes it to out[i] (little-endian).
  void Map(std::span<X25519Point> out) {
    CONSORT_CHECK(out.size() == n_);
    if (n_ == 0) return;
    // den_i = 1 + Z u_i^2 (Z = 2), kept in u(i); prefix(i) = den_0 * ... * den_i.
    // den_i is never 0 for curve25519 (-1/2 is not a square mod p) but inv0 semantics are
    // kept anyway: a zero denominator is replaced by 1 and flagged (x1 = -A below).
    std::vector<uint8_t> zero_den(n_, 0);
    for (size_t i = 0; i < n_; ++i) {
      mpz_ptr ui = u(i);
      mpz_mod(ui, ui, p_);
      mpz_mul(t0_, ui, ui);
      mpz_mul_2exp(t0_, t0_, 1);
      mpz_add_ui(t0_, t0_, 1);
      mpz_mod(ui, t0_, p_);
      if (mpz_sgn(ui) == 0) {
        zero_den[i] = 1;
        mpz_set_ui(ui, 1);
      }
      if (i == 0) {
        mpz_set(prefix_[0].v, ui);
      } else {
        mpz_mul(t0_, prefix_[i - 1].v, ui);
        mpz_mod(prefix_[i].v, t0_, p_);
      }
    }
    // Montgomery's trick: one inversion, then walk back.
    CONSORT_CHECK(mpz_invert(inv_, prefix_[n_ - 1].v, p_) != 0);
    for (size_t i = n_; i-- > 0;) {
      mpz_ptr den = u(i);
      if (i > 0) {
        mpz_mul(t0_, inv_, prefix_[i - 1].v);  // 1 / den_i
        mpz_mul(t1_, inv_, den);                // 1 / (den_0 ... den_{i-1})
        mpz_mod(inv_, t1_, p_);
      } else {
        mpz_set(t0_, inv_);
      }
      // x1 = -A / den_i, or -A when den_i was 0 (inv0(0) = 0, then step 2 of 6.7.1).
      if (zero_den[i]) {
        mpz_set_ui(t0_, 1);
      }
      mpz_mul_ui(t0_, t0_, kMontgomeryA);
      mpz_mod(t0_, t0_, p_);
      mpz_sub(den, p_, t0_);  // den now holds x1 (t0 != 0 since A != 0 and den_i != 0)
      // gx1 = x1 (x1 (x1 + A) + 1)
      mpz_add_ui(t1_, den, kMontgomeryA);
      mpz_mul(t1_, t1_, den);
      mpz_add_ui(t1_, t1_, 1);
      mpz_mod(t1_, t1_, p_);
      mpz_mul(t1_, t1_, den);
      mpz_mod(t1_, t1_, p_);
      // is_square(gx1) includes 0; otherwise x2 = -x1 - A, and gx2 = gx1 * Z u^2 is square.
      if (mpz_jacobi(t1_, p_) < 0) {
        mpz_add_ui(t1_, den, kMontgomeryA);
        mpz_sub(den, p_, t1_);
        if (mpz_sgn(den) < 0) mpz_add(den, den, p_);
      }
      Export(den, out[i]);
    }
  }

  static void Export(mpz_srcptr z, X25519Point& out) {
    out.fill(0);
    size_t count = 0;
    mpz_export(out.data(), &count, -1, 1, 0, 0, z);
    CONSORT_CHECK(count <= out.size());
  }

 private:
  struct Z {
    mpz_t v;
  };
  mpz_t p_, a_, t0_, t1_, inv_;
  std::vector<Z> u_, prefix_;
  size_t n_ = 0;
};

}  // namespace

StatusOr<Bytes> ExpandMessageXmdSha512(ByteSpan msg, ByteSpan dst, size_t len_in_bytes) {
  if (dst.empty()) return absl::InvalidArgumentError("expand_message_xmd: empty DST");
  if (len_in_bytes == 0 || len_in_bytes > 65535) {
    return absl::InvalidArgumentError("expand_message_xmd: len_in_bytes must be in [1, 65535]");
  }
  const size_t ell = (len_in_bytes + kSha512Bytes - 1) / kSha512Bytes;
  if (ell > 255) return absl::InvalidArgumentError("expand_message_xmd: output too long");
  InitCrypto();
  const Bytes dst_prime = DstPrime(dst);
  const uint8_t zero_pad[kSha512BlockBytes] = {};
  const uint8_t lib_str[3] = {static_cast<uint8_t>(len_in_bytes >> 8),
                              static_cast<uint8_t>(len_in_bytes & 0xff), 0};
  uint8_t b0[kSha512Bytes], bi[kSha512Bytes];
  crypto_hash_sha512_state st;
  crypto_hash_sha512_init(&st);
  crypto_hash_sha512_update(&st, zero_pad, sizeof(zero_pad));
  crypto_hash_sha512_update(&st, msg.data(), msg.size());
  crypto_hash_sha512_update(&st, lib_str, sizeof(lib_str));
  crypto_hash_sha512_update(&st, dst_prime.data(), dst_prime.size());
  crypto_hash_sha512_final(&st, b0);
  Bytes out;
  out.reserve(ell * kSha512Bytes);
  for (size_t i = 1; i <= ell; ++i) {
    uint8_t in[kSha512Bytes];
    for (size_t j = 0; j < kSha512Bytes; ++j) in[j] = i == 1 ? b0[j] : (b0[j] ^ bi[j]);
    const uint8_t idx = static_cast<uint8_t>(i);
    crypto_hash_sha512_init(&st);
    crypto_hash_sha512_update(&st, in, sizeof(in));
    crypto_hash_sha512_update(&st, &idx, 1);
    crypto_hash_sha512_update(&st, dst_prime.data(), dst_prime.size());
    crypto_hash_sha512_final(&st, bi);
    out.insert(out.end(), bi, bi + kSha512Bytes);
  }
  out.resize(len_in_bytes);
  sodium_memzero(b0, sizeof(b0));
  sodium_memzero(bi, sizeof(bi));
  return out;
}

void MapToCurve25519(std::span<const Fe25519> u, std::span<X25519Point> out) {
  CONSORT_CHECK(u.size() == out.size());
  FieldBatch batch;
  batch.Resize(u.size());
  for (size_t i = 0; i < u.size(); ++i) mpz_import(batch.u(i), 32, -1, 1, 0, 0, u[i].data());
  batch.Map(out);
}

bool IsOnCurve25519(const X25519Point& u) {
  mpz_t p, x, g;
  mpz_inits(p, x, g, nullptr);
  mpz_ui_pow_ui(p, 2, 255);
  mpz_sub_ui(p, p, 19);
  mpz_import(x, 32, -1, 1, 0, 0, u.data());
  mpz_mod(x, x, p);
  mpz_add_ui(g, x, kMontgomeryA);
  mpz_mul(g, g, x);
  mpz_add_ui(g, g, 1);
  mpz_mul(g, g, x);
  mpz_mod(g, g, p);
  const bool on_curve = mpz_jacobi(g, p) >= 0;
  mpz_clears(p, x, g, nullptr);
  return on_curve;
}

bool IsCanonicalX25519(const X25519Point& u) {
  if (u[31] & 0x80) return false;
  if (u[31] != 0x7f) return true;
  for (size_t i = 30; i >= 1; --i) {
    if (u[i] != 0xff) return true;
  }
  return u[0] < 0xed;  // p = 2^255 - 19 ends in byte 0xed
}

// ---------------------------------------------------------------------------------------------

struct Curve25519Encoder::State {
  Bytes dst_prime;
  // SHA-512 state after absorbing Z_pad (one zero block): shared prefix of every b_0.
  crypto_hash_sha512_state after_zpad;
  FieldBatch field;
};

Curve25519Encoder::Curve25519Encoder(std::unique_ptr<State> state) : state_(std::move(state)) {}
Curve25519Encoder::Curve25519Encoder(Curve25519Encoder&&) noexcept = default;
Curve25519Encoder& Curve25519Encoder::operator=(Curve25519Encoder&&) noexcept = default;
Curve25519Encoder::~Curve25519Encoder() = default;

StatusOr<Curve25519Encoder> Curve25519Encoder::Create(ByteSpan dst) {
  if (dst.empty()) return absl::InvalidArgumentError("hash-to-curve DST must not be empty");
  InitCrypto();
  auto state = std::make_unique<State>();
  state->dst_prime = DstPrime(dst);
  const uint8_t zero_pad[kSha512BlockBytes] = {};
  crypto_hash_sha512_init(&state->after_zpad);
  crypto_hash_sha512_update(&state->after_zpad, zero_pad, sizeof(zero_pad));
  return Curve25519Encoder(std::move(state));
}

namespace {
// expand_message_xmd(msg, DST, 48): ell = 1, so uniform_bytes = b_1[0..48).
void UniformBytes48(const crypto_hash_sha512_state& after_zpad, const Bytes& dst_prime,
                    ByteSpan msg, uint8_t out[kSha512Bytes]) {
  static constexpr uint8_t kLibStr[3] = {0, kHashToFieldBytes, 0};
  static constexpr uint8_t kOne = 1;
  uint8_t b0[kSha512Bytes];
  crypto_hash_sha512_state st = after_zpad;
  crypto_hash_sha512_update(&st, msg.data(), msg.size());
  crypto_hash_sha512_update(&st, kLibStr, sizeof(kLibStr));
  crypto_hash_sha512_update(&st, dst_prime.data(), dst_prime.size());
  crypto_hash_sha512_final(&st, b0);
  crypto_hash_sha512_init(&st);
  crypto_hash_sha512_update(&st, b0, sizeof(b0));
  crypto_hash_sha512_update(&st, &kOne, 1);
  crypto_hash_sha512_update(&st, dst_prime.data(), dst_prime.size());
  crypto_hash_sha512_final(&st, out);
}
}  // namespace

Fe25519 Curve25519Encoder::HashToField(ByteSpan msg) const {
  uint8_t uniform[kSha512Bytes];
  UniformBytes48(state_->after_zpad, state_->dst_prime, msg, uniform);
  mpz_t z, p;
  mpz_inits(z, p, nullptr);
  mpz_ui_pow_ui(p, 2, 255);
  mpz_sub_ui(p, p, 19);
  mpz_import(z, kHashToFieldBytes, 1, 1, 1, 0, uniform);  // OS2IP: big-endian
  mpz_mod(z, z, p);
  Fe25519 out;
  FieldBatch::Export(z, out);
  mpz_clears(z, p, nullptr);
  return out;
}

void Curve25519Encoder::Encode(std::span<const std::string_view> msgs,
                               std::span<X25519Point> out) {
  CONSORT_CHECK(msgs.size() == out.size());
  State& s = *state_;
  s.field.Resize(msgs.size());
  uint8_t uniform[kSha512Bytes];
  for (size_t i = 0; i < msgs.size(); ++i) {
    UniformBytes48(s.after_zpad, s.dst_prime, AsBytes(msgs[i]), uniform);
    mpz_import(s.field.u(i), kHashToFieldBytes, 1, 1, 1, 0, uniform);
  }
  s.field.Map(out);
}

void Curve25519Encoder::Encode(std::span<const std::string> msgs, std::span<X25519Point> out) {
  std::vector<std::string_view> views(msgs.begin(), msgs.end());
  Encode(std::span<const std::string_view>(views), out);
}

// ---------------------------------------------------------------------------------------------

X25519Scalar X25519Scalar::Generate() {
  X25519Scalar s;
  s.secret_ = SecretBytes(crypto_scalarmult_curve25519_SCALARBYTES);
  RandomBytes(s.secret_.data(), s.secret_.size());
  return s;
}

StatusOr<X25519Scalar> X25519Scalar::FromBytes(ByteSpan bytes) {
  if (bytes.size() != crypto_scalarmult_curve25519_SCALARBYTES) {
    return absl::InvalidArgumentError("X25519 scalar must be 32 bytes, got " +
                                      std::to_string(bytes.size()));
  }
  InitCrypto();
  X25519Scalar s;
  s.secret_ = SecretBytes(bytes.data(), bytes.size());
  return s;
}

Status X25519Scalar::Multiply(std::span<const X25519Point> in, std::span<X25519Point> out) const {
  CONSORT_CHECK(in.size() == out.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (!IsCanonicalX25519(in[i])) {
      return absl::InvalidArgumentError("point " + std::to_string(i) +
                                        " is not a canonical X25519 u-coordinate");
    }
    X25519Point r;
    if (crypto_scalarmult_curve25519(r.data(), secret_.data(), in[i].data()) != 0) {
      return absl::InvalidArgumentError("point " + std::to_string(i) +
                                        " has low order (X25519 result is zero)");
    }
    out[i] = r;
  }
  return OkStatus();
}

}  // namespace consort::crypto
