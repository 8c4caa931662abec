#include "consort/ot/kkrt_oprf.h"

#include <cstring>

#include "consort/crypto/hash.h"
#include "consort/crypto/random.h"
#include "consort/ot/base_ot.h"
#include "consort/ot/internal/bit_transpose.h"
#include "consort/crypto/wipe.h"

namespace consort::ot {
namespace {

constexpr char kSeedTag[4] = {'K', 'K', 'R', 'T'};

std::string BaseOtDomain(std::string_view domain) {
  return "consort/ot/kkrt-base/v1:" + std::string(domain);
}

// A PRG stream G(k) for one column: AES-128-CTR under the base-OT key, counter from zero.
std::unique_ptr<crypto::Prg> ColumnPrg(const Block& key) {
  crypto::SecretBytes seed(crypto::kPrgSeedBytes);
  key.ToBytes(seed.data());
  return std::make_unique<crypto::Prg>(seed);
}

void FillColumn(crypto::Prg& prg, uint8_t* col, size_t bytes) {
  prg.Fill(std::span<uint64_t>(reinterpret_cast<uint64_t*>(col), bytes / 8));
}

void CheckCount(size_t n) {
  CONSORT_CHECK(n > 0 && n % kKkrtBatchMultiple == 0 && n <= kKkrtMaxChunk);
}

}  // namespace

KkrtCode::KkrtCode(Block seed) {
  internal::AesEcb derive(seed);
  for (size_t k = 0; k < kKkrtCodeBlocks; ++k) {
    Block in{k, 0x636f6465ull};  // "code"
    Block key;
    derive.Encrypt(&in, &key, 1);
    aes_.push_back(std::make_unique<internal::AesEcb>(key));
  }
}

void KkrtCode::Encode(std::span<const Block> in, std::span<KkrtRow> out) {
  CONSORT_CHECK(in.size() == out.size());
  constexpr size_t kStep = 4096;
  tmp_.resize(kStep);
  for (size_t off = 0; off < in.size(); off += kStep) {
    const size_t n = std::min(kStep, in.size() - off);
    for (size_t k = 0; k < kKkrtCodeBlocks; ++k) {
      aes_[k]->Encrypt(in.data() + off, tmp_.data(), n);
      for (size_t i = 0; i < n; ++i) out[off + i].b[k] = tmp_[i];
    }
  }
  crypto::WipeObject(tmp_);  // pieces of the codewords of the inputs
}

KkrtHasher::KkrtHasher(std::string_view domain) {
  crypto::Digest256 d = crypto::Sha256("consort/ot/kkrt-hash/v1:" + std::string(domain));
  std::memcpy(personal_, d.data(), sizeof(personal_));
}

Block KkrtHasher::Hash(uint64_t instance, const KkrtRow& row) const {
  uint8_t salt[16] = {0};
  for (int k = 0; k < 8; ++k) salt[k] = static_cast<uint8_t>(instance >> (8 * k));
  alignas(16) uint8_t out[16];
  crypto::Blake2bSaltPersonal(out, sizeof(out), reinterpret_cast<const uint8_t*>(&row),
                              sizeof(row), salt, personal_);
  const Block h = Block::FromBytes(out);
  crypto::SecureWipe(out, sizeof(out));  // an OPRF output; only the returned copy remains
  return h;
}

StatusOr<std::unique_ptr<KkrtOprfReceiver>> KkrtOprfReceiver::Setup(net::Link& link,
                                                                    std::string_view domain) {
  std::unique_ptr<KkrtOprfReceiver> r(new KkrtOprfReceiver(link, domain));
  StatusOr<std::vector<std::array<Block, 2>>> keys_or =
      BaseOtSendRandom(link, kKkrtCodeBits, BaseOtDomain(domain));
  if (!keys_or.ok()) return keys_or.status();
  const std::vector<std::array<Block, 2>>& keys = *keys_or;
  crypto::WipeOnExit wipe_keys(*keys_or);  // the base-OT keys, on every return path
  CONSORT_ASSIGN_OR_RETURN(Bytes seed_msg, link.Recv());
  if (seed_msg.size() != 20 || std::memcmp(seed_msg.data(), kSeedTag, 4) != 0) {
    return absl::InvalidArgumentError("KKRT: malformed code-seed message");
  }
  r->code_ = std::make_unique<KkrtCode>(Block::FromBytes(seed_msg.data() + 4));
  for (size_t j = 0; j < kKkrtCodeBits; ++j) {
    r->prg0_.push_back(ColumnPrg(keys[j][0]));
    r->prg1_.push_back(ColumnPrg(keys[j][1]));
  }
  return r;
}

Status KkrtOprfReceiver::Encode(std::span<const Block> inputs, std::span<KkrtRow> t_rows) {
  const size_t n = inputs.size();
  CheckCount(n);
  CONSORT_CHECK(t_rows.size() == n);
  const size_t col = n / 8;
  // Codewords as rows (in t_rows for now), then as columns.
  code_->Encode(inputs, t_rows);
  std::vector<uint8_t> ccols(kKkrtCodeBits * col), tcols(kKkrtCodeBits * col);
  // Codewords of the inputs and the t matrix, wiped on every return path.
  crypto::WipeOnExit wipe_c(ccols);
  crypto::WipeOnExit wipe_t(tcols);
  internal::TransposeBits(reinterpret_cast<const uint8_t*>(t_rows.data()), n, kKkrtCodeBits,
                          ccols.data());
  Bytes u(kKkrtCodeBits * col);
  for (size_t j = 0; j < kKkrtCodeBits; ++j) {
    uint8_t* t = tcols.data() + j * col;
    uint8_t* uj = u.data() + j * col;
    const uint8_t* c = ccols.data() + j * col;
    FillColumn(*prg0_[j], t, col);
    FillColumn(*prg1_[j], uj, col);
    for (size_t k = 0; k < col; k += 8) {
      uint64_t a, b, d;
      std::memcpy(&a, t + k, 8);
      std::memcpy(&b, uj + k, 8);
      std::memcpy(&d, c + k, 8);
      b ^= a ^ d;
      std::memcpy(uj + k, &b, 8);
    }
  }
  CONSORT_RETURN_IF_ERROR(link_.Send(u));
  internal::TransposeBits(tcols.data(), kKkrtCodeBits, n,
                          reinterpret_cast<uint8_t*>(t_rows.data()));
  instances_ += n;
  return OkStatus();
}

StatusOr<std::unique_ptr<KkrtOprfSender>> KkrtOprfSender::Setup(net::Link& link,
                                                                std::string_view domain) {
  std::unique_ptr<KkrtOprfSender> s(new KkrtOprfSender(link, domain));
  crypto::RandomBytes(reinterpret_cast<uint8_t*>(&s->s_), sizeof(s->s_));
  std::vector<bool> choices(kKkrtCodeBits);  // the bits of s
  crypto::WipeOnExit wipe_choices(choices);
  const uint8_t* sb = reinterpret_cast<const uint8_t*>(&s->s_);
  for (size_t j = 0; j < kKkrtCodeBits; ++j) choices[j] = (sb[j / 8] >> (j % 8)) & 1;
  StatusOr<std::vector<Block>> keys_or = BaseOtReceiveRandom(link, choices, BaseOtDomain(domain));
  if (!keys_or.ok()) return keys_or.status();
  const std::vector<Block>& keys = *keys_or;
  crypto::WipeOnExit wipe_keys(*keys_or);  // the base-OT keys, on every return path
  Bytes seed_msg(20);
  std::memcpy(seed_msg.data(), kSeedTag, 4);
  crypto::RandomBytes(seed_msg.data() + 4, 16);
  s->code_ = std::make_unique<KkrtCode>(Block::FromBytes(seed_msg.data() + 4));
  CONSORT_RETURN_IF_ERROR(link.Send(seed_msg));
  for (size_t j = 0; j < kKkrtCodeBits; ++j) s->prg_.push_back(ColumnPrg(keys[j]));
  return s;
}

KkrtOprfSender::~KkrtOprfSender() { crypto::WipeObject(s_); }

Status KkrtOprfSender::Receive(size_t count, std::span<KkrtRow> q_rows) {
  CheckCount(count);
  CONSORT_CHECK(q_rows.size() == count);
  const size_t col = count / 8;
  CONSORT_ASSIGN_OR_RETURN(Bytes u, link_.Recv());
  if (u.size() != kKkrtCodeBits * col) {
    return absl::InvalidArgumentError("KKRT: correction matrix has " + std::to_string(u.size()) +
                                      " bytes, expected " + std::to_string(kKkrtCodeBits * col));
  }
  const uint8_t* sb = reinterpret_cast<const uint8_t*>(&s_);
  std::vector<uint8_t> g(col);
  crypto::WipeOnExit wipe_u(u);  // u becomes the q matrix
  crypto::WipeOnExit wipe_g(g);
  for (size_t j = 0; j < kKkrtCodeBits; ++j) {
    uint8_t* q = u.data() + j * col;
    if ((sb[j / 8] >> (j % 8)) & 1) {
      // q^j = G(k_j^1) ^ u^j = t^j ^ c^j.
      FillColumn(*prg_[j], g.data(), col);
      for (size_t k = 0; k < col; k += 8) {
        uint64_t a, b;
        std::memcpy(&a, g.data() + k, 8);
        std::memcpy(&b, q + k, 8);
        b ^= a;
        std::memcpy(q + k, &b, 8);
      }
    } else {
      FillColumn(*prg_[j], q, col);  // q^j = G(k_j^0) = t^j
    }
  }
  internal::TransposeBits(u.data(), kKkrtCodeBits, count,
                          reinterpret_cast<uint8_t*>(q_rows.data()));
  instances_ += count;
  return OkStatus();
}

}  // namespace consort::ot
