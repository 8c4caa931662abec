#pragma once
// Batched related-key oblivious PRF (OPRF) by OT extension: Kolesnikov, Kumaresan, Rosulek,
// Trieu, "Efficient Batched Oblivious PRF with Applications to Private Set Intersection",
// CCS 2016 (section 3, figure 2 "BaRK-OPRF"; section 4 for the code width).
//
// The OPRF receiver R holds inputs r_0 .. r_{m-1} (128-bit blocks, one per instance, e.g. per
// cuckoo bin); the OPRF sender S gets one key per instance and may evaluate
//   F_i(x) = H(i, q_i ^ (C(x) & s))        and R gets F_i(r_i) = H(i, t_i),
// where C is a pseudorandom code of width w = 512 bits (C(x) = AES_k0(x) || .. || AES_k3(x)),
// s the sender's secret w-bit string, q_i = t_i ^ (C(r_i) & s) the i-th row of the sender's
// OT-extension matrix and H a correlation-robust hash (BLAKE2b-128 with the instance index
// as salt and the session domain as personalization; modelled as a random oracle).
//
// Message flow:
//   R -> S, S -> R   w = 512 base OTs, R as OT sender (ot/base_ot.h; S chooses with s)
//   S -> R           "KKRT" tag || 16-byte seed of the code C
//   R -> S           per chunk of `count` instances (count % 128 == 0): the correction
//                    matrix U, column-major (w columns of count bits), u^j = G(k_j^0) ^
//                    G(k_j^1) ^ C^j, with G = AES-128-CTR (crypto/prg.h)        (64 B/instance)
// Both parties go chunk by chunk, so memory is O(chunk), not O(m), on both sides.
//
// Security model: semi-honest; 128-bit computational (AES as PRG/PRF, the base OTs, H
// correlation robust). KKRT16 section 4 needs codewords of distinct inputs at Hamming distance
// >= 128 (the computational parameter); for a random 512-bit code a pair falls short with
// probability 2^-102.3 (binomial tail), so even 2^30 inputs per run (2^59 pairs) stay below
// 2^-43: w = 512 exceeds the brief's minimum of 424.
// Leaks: S learns nothing about R's inputs; R learns F_i(r_i) only. Keys of different
// instances are related (same s): each instance may be evaluated on many inputs, but the
// values are pseudorandom only for inputs whose codes differ (distinct inputs).
//
// Thread safety: none (one object per party and per session); the link must not be used by
// others while a call runs.

#include <array>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "consort/common/status.h"
#include "consort/crypto/prg.h"
#include "consort/net/link.h"
#include "consort/ot/block.h"
#include "consort/ot/internal/aes.h"

namespace consort::ot {

inline constexpr size_t kKkrtCodeBits = 512;
inline constexpr size_t kKkrtCodeBlocks = kKkrtCodeBits / 128;
// Instances per Encode/Receive call must be a positive multiple of this.
inline constexpr size_t kKkrtBatchMultiple = 128;
// Upper bound on instances per call (keeps the U message within net::kMaxMessageBytes).
inline constexpr size_t kKkrtMaxChunk = net::kMaxMessageBytes / (kKkrtCodeBits / 8);

// One row of the OT-extension matrix / one codeword.
struct alignas(64) KkrtRow {
  Block b[kKkrtCodeBlocks];
};

// The pseudorandom code C (4 AES-128 keys derived from a seed). Not thread-safe.
class KkrtCode {
 public:
  explicit KkrtCode(Block seed);
  // out[i] = C(in[i]).
  void Encode(std::span<const Block> in, std::span<KkrtRow> out);

 private:
  std::vector<std::unique_ptr<internal::AesEcb>> aes_;
  std::vector<Block> tmp_;
};

// H: the correlation-robust hash, H(instance, row) -> 16 bytes. Thread-safe (stateless).
class KkrtHasher {
 public:
  explicit KkrtHasher(std::string_view domain);
  Block Hash(uint64_t instance, const KkrtRow& row) const;

 private:
  uint8_t personal_[16];
};

class KkrtOprfReceiver {
 public:
  // Runs the base OTs (as OT sender) and receives the code seed. Errors: those of
  // ot/base_ot.h; InvalidArgument for a malformed seed message.
  static StatusOr<std::unique_ptr<KkrtOprfReceiver>> Setup(net::Link& link,
                                                           std::string_view domain);
  // Next inputs.size() instances: sends U for them and writes t_i (the row that R hashes) to
  // `t_rows` (same size). inputs.size() must be a positive multiple of kKkrtBatchMultiple and
  // at most kKkrtMaxChunk (CHECKed). Errors: those of Link::Send.
  Status Encode(std::span<const Block> inputs, std::span<KkrtRow> t_rows);
  // F_i(r_i) for an instance and its t row.
  Block Output(uint64_t instance, const KkrtRow& t) const { return hasher_.Hash(instance, t); }
  uint64_t instances() const { return instances_; }

 private:
  KkrtOprfReceiver(net::Link& link, std::string_view domain) : link_(link), hasher_(domain) {}
  net::Link& link_;
  KkrtHasher hasher_;
  std::unique_ptr<KkrtCode> code_;
  std::vector<std::unique_ptr<crypto::Prg>> prg0_, prg1_;
  uint64_t instances_ = 0;
};

class KkrtOprfSender {
 public:
  // Runs the base OTs (as OT receiver with a fresh random s) and sends the code seed.
  static StatusOr<std::unique_ptr<KkrtOprfSender>> Setup(net::Link& link, std::string_view domain);
  ~KkrtOprfSender();  // wipes s
  // Receives U for the next `count` instances and writes q_i to `q_rows` (count rows).
  // count: as for KkrtOprfReceiver::Encode. Errors: InvalidArgument (U of the wrong size),
  // those of Link::Recv.
  Status Receive(size_t count, std::span<KkrtRow> q_rows);
  // out[i] = C(in[i]), the codewords that Evaluate takes.
  void Encode(std::span<const Block> in, std::span<KkrtRow> out) { code_->Encode(in, out); }
  // F_i(x) given q_i and c = C(x) (from Encode).
  Block Evaluate(uint64_t instance, const KkrtRow& q, const KkrtRow& c) const {
    KkrtRow r;
    for (size_t k = 0; k < kKkrtCodeBlocks; ++k) r.b[k] = q.b[k] ^ (c.b[k] & s_.b[k]);
    return hasher_.Hash(instance, r);
  }
  // The secret s (for tests of the correlation q_i = t_i ^ (C(r_i) & s)).
  const KkrtRow& secret_for_testing() const { return s_; }
  uint64_t instances() const { return instances_; }

 private:
  KkrtOprfSender(net::Link& link, std::string_view domain) : link_(link), hasher_(domain) {}
  net::Link& link_;
  KkrtHasher hasher_;
  KkrtRow s_;
  std::unique_ptr<KkrtCode> code_;
  std::vector<std::unique_ptr<crypto::Prg>> prg_;
  uint64_t instances_ = 0;
};

}  // namespace consort::ot
