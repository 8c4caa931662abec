#include "consort/psi/kkrt_psi.h"


#include <algorithm>
#include <bit>
#include <cstring>
#include <span>

#include "consort/crypto/hash.h"
#include "consort/crypto/random.h"
#include "consort/ot/block.h"
#include "consort/crypto/wipe.h"
#include "consort/ot/kkrt_oprf.h"
#include "consort/psi/internal/cuckoo.h"

namespace consort::psi {
namespace {

using ot::Block;
using crypto::WipeObject;
using crypto::WipeOnExit;

// Wipes a buffer of secrets and frees it now (the scope's WipeOnExit then sees it empty).
template <typename T>
void WipeAndFree(std::vector<T>& v) {
  WipeObject(v);
  std::vector<T>().swap(v);
}

constexpr char kHelloTag[4] = {'K', 'P', 'S', 'I'};
constexpr size_t kHelloBytes = 76;
// OPRF values per message from S to R, and positions per message from R to S.
constexpr size_t kValuesPerMessage = size_t{1} << 19;
constexpr size_t kPositionsPerMessage = size_t{1} << 18;
// Sender items are processed in sub-batches of this many (item, h) pairs per chunk.
constexpr size_t kEvalBatch = 4096;

bool ValidOutput(PsiOutput o) {
  return o == PsiOutput::kNone || o == PsiOutput::kSize || o == PsiOutput::kIntersection;
}

void PutU64(uint8_t* p, uint64_t v) {
  for (int k = 0; k < 8; ++k) p[k] = static_cast<uint8_t>(v >> (8 * k));
}
uint64_t GetU64(const uint8_t* p) {
  uint64_t v = 0;
  for (int k = 0; k < 8; ++k) v |= static_cast<uint64_t>(p[k]) << (8 * k);
  return v;
}
uint32_t GetU32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

// The OPRF input for item digest d under hash function h: distinct (item, h) pairs give
// distinct inputs except with probability 2^-128 per pair.
Block Tweak(const Block& d, int h) {
  return d ^ Block { static_cast<uint64_t>(h) + 1, 0 };
}

uint64_t CeilLog2(uint64_t x) { return x <= 1 ? 0 : 64 - std::countl_zero(x - 1); }

// Digests of every item (BLAKE2b-128 personalised with the domain); InvalidArgument on a
// duplicate (equal digests: equal items, or a 2^-128 collision treated alike).
StatusOr<std::vector<Block>> DigestItems(const std::vector<std::string>& items,
                                         const std::string& domain) {
  crypto::Digest256 p = crypto::Sha256("consort/psi/kkrt-item/v1:" + domain);
  std::vector<Block> d(items.size());
  WipeOnExit wipe_d(d);  // on the duplicate error; moved out (empty) on success
  for (size_t i = 0; i < items.size(); ++i) {
    crypto::Blake2bSaltPersonal(reinterpret_cast<uint8_t*>(&d[i]), 16,
                                reinterpret_cast<const uint8_t*>(items[i].data()),
                                items[i].size(), nullptr, p.data());
  }
  // Duplicate check: open addressing over the digests.
  size_t cap = 16;
  while (cap < 2 * items.size()) cap <<= 1;
  std::vector<uint32_t> slot(cap, UINT32_MAX);
  for (uint32_t i = 0; i < d.size(); ++i) {
    size_t s = d[i].lo & (cap - 1);
    while (slot[s] != UINT32_MAX) {
      if (d[slot[s]] == d[i]) {
        return absl::InvalidArgumentError("duplicate items at positions " +
                                          std::to_string(slot[s]) + " and " + std::to_string(i) +
                                          " (PSI needs distinct items)");
      }
      s = (s + 1) & (cap - 1);
    }
    slot[s] = i;
  }
  return d;
}

class KkrtPsiParty {
 public:
  KkrtPsiParty(net::Link& link, const std::vector<std::string>& items, const KkrtPsiOptions& opts)
      : link_(link), items_(items), opts_(opts) {}

  StatusOr<PsiResult> Run() {
    CONSORT_RETURN_IF_ERROR(CheckOptions());
    CONSORT_RETURN_IF_ERROR(Handshake());
    CONSORT_ASSIGN_OR_RETURN(digests_, DigestItems(items_, opts_.domain));
    if (opts_.my_output == PsiOutput::kNone && opts_.peer_output == PsiOutput::kNone) {
      PsiResult r;  // nobody learns anything beyond the sizes: nothing more to run
      r.peer_size = peer_size_;
      Progress(1.0);
      return r;
    }
    const bool receiver = role_ == KkrtRole::kOprfReceiver;
    n_r_ = receiver ? items_.size() : peer_size_;
    n_s_ = receiver ? peer_size_ : items_.size();
    bins_ = internal::CuckooBins(n_r_);
    value_bytes_ = KkrtPsiValueBytes(n_r_, n_s_);
    Progress(0.02);
    PsiResult r = receiver ? RunReceiver() : RunSender();
    if (!status_.ok()) return status_;
    r.peer_size = peer_size_;
    Progress(1.0);
    return r;
  }

 private:
  Status CheckOptions() {
    if (opts_.role != KkrtRole::kAuto && opts_.role != KkrtRole::kOprfReceiver &&
        opts_.role != KkrtRole::kOprfSender) {
      return absl::InvalidArgumentError("KKRT PSI: bad role");
    }
    if (!ValidOutput(opts_.my_output) || !ValidOutput(opts_.peer_output)) {
      return absl::InvalidArgumentError("KKRT PSI: bad output");
    }
    if (opts_.chunk_bins < ot::kKkrtBatchMultiple || opts_.chunk_bins > ot::kKkrtMaxChunk ||
        opts_.chunk_bins % ot::kKkrtBatchMultiple != 0) {
      return absl::InvalidArgumentError("KKRT PSI: chunk_bins must be a multiple of 128 in [128, " +
                                        std::to_string(ot::kKkrtMaxChunk) + "]");
    }
    if (items_.size() > kKkrtPsiMaxSetSize) {
      return absl::InvalidArgumentError("KKRT PSI: set larger than 2^28 items");
    }
    return OkStatus();
  }

  Status Handshake() {
    Bytes hello(kHelloBytes, 0);
    std::memcpy(hello.data(), kHelloTag, 4);
    hello[4] = kKkrtPsiVersion & 0xff;
    hello[8] = static_cast<uint8_t>(opts_.role);
    hello[9] = static_cast<uint8_t>(opts_.my_output);
    hello[10] = static_cast<uint8_t>(opts_.peer_output);
    PutU64(hello.data() + 12, items_.size());
    PutU64(hello.data() + 20, opts_.chunk_bins);
    crypto::Digest256 dom = crypto::Sha256(opts_.domain);
    std::memcpy(hello.data() + 28, dom.data(), 32);
    crypto::RandomBytes(hello.data() + 60, 16);  // tie-break nonce for KkrtRole::kAuto
    CONSORT_RETURN_IF_ERROR(link_.Send(hello));
    CONSORT_ASSIGN_OR_RETURN(Bytes peer, link_.Recv());
    if (peer.size() != kHelloBytes || std::memcmp(peer.data(), kHelloTag, 4) != 0) {
      return absl::InvalidArgumentError("KKRT PSI: malformed handshake from the peer");
    }
    if (GetU32(peer.data() + 4) != kKkrtPsiVersion) {
      return absl::FailedPreconditionError("KKRT PSI: peer runs protocol version " +
                                           std::to_string(GetU32(peer.data() + 4)));
    }
    if (std::memcmp(peer.data() + 28, dom.data(), 32) != 0) {
      return absl::FailedPreconditionError("KKRT PSI: peer runs a different job (domain)");
    }
    const auto peer_role = static_cast<KkrtRole>(peer[8]);
    if (peer_role != KkrtRole::kAuto && peer_role != KkrtRole::kOprfReceiver &&
        peer_role != KkrtRole::kOprfSender) {
      return absl::InvalidArgumentError("KKRT PSI: peer sent an unknown role");
    }
    if (peer_role != KkrtRole::kAuto && peer_role == opts_.role) {
      return absl::FailedPreconditionError("KKRT PSI: both parties claim the same role");
    }
    if (peer[9] != static_cast<uint8_t>(opts_.peer_output) ||
        peer[10] != static_cast<uint8_t>(opts_.my_output)) {
      return absl::FailedPreconditionError("KKRT PSI: the parties disagree on who receives what");
    }
    peer_size_ = GetU64(peer.data() + 12);
    if (peer_size_ > kKkrtPsiMaxSetSize) {
      return absl::InvalidArgumentError("KKRT PSI: peer set size out of range");
    }
    // Resolve the roles: an explicit role wins; two kAuto parties rank by output and then by
    // nonce (each side computes the same answer from the same two hellos).
    if (opts_.role != KkrtRole::kAuto) {
      role_ = opts_.role;
    } else if (peer_role != KkrtRole::kAuto) {
      role_ =
          peer_role == KkrtRole::kOprfReceiver ? KkrtRole::kOprfSender : KkrtRole::kOprfReceiver;
    } else {
      const int c = std::memcmp(hello.data() + 60, peer.data() + 60, 16);
      if (c == 0) return absl::InternalError("KKRT PSI: equal handshake nonces; retry");
      role_ = ChooseKkrtRole(opts_.my_output, opts_.peer_output, c < 0);
    }
    if (role_ == KkrtRole::kOprfSender) {
      chunk_ = GetU64(peer.data() + 20);
      if (chunk_ < ot::kKkrtBatchMultiple || chunk_ > ot::kKkrtMaxChunk ||
          chunk_ % ot::kKkrtBatchMultiple != 0) {
        return absl::InvalidArgumentError("KKRT PSI: peer chunk size out of range");
      }
    } else {
      chunk_ = opts_.chunk_bins;
    }
    return OkStatus();
  }

  Status CheckCancelled() {
    if (opts_.cancelled && opts_.cancelled->load())
      return absl::CancelledError("KKRT PSI cancelled");
    return OkStatus();
  }
  void Progress(double f) {
    if (opts_.progress) opts_.progress(f);
  }
  // Records the first error; returns an empty result for convenience.
  PsiResult Fail(Status st) {
    status_ = std::move(st);
    return {};
  }

  uint64_t NumChunks() const { return (bins_ + chunk_ - 1) / chunk_; }
  uint64_t ChunkCount(uint64_t c) const { return std::min<uint64_t>(chunk_, bins_ - c * chunk_); }

  PsiResult RunReceiver() {
    auto table = internal::CuckooTable::Build(digests_, bins_);
    if (!table.ok()) return Fail(table.status());
    auto oprf = ot::KkrtOprfReceiver::Setup(link_, opts_.domain);
    if (!oprf.ok()) return Fail(oprf.status());
    const size_t L = value_bytes_;
    const size_t n = items_.size();
    // OPRF outputs of the own items, the OT-extension rows t, the OPRF inputs, the peer's
    // values as received, and the last output: wiped on every return path.
    std::vector<uint8_t> own(n * L);
    std::vector<Block> inputs;
    std::vector<ot::KkrtRow> t;
    Block v;
    WipeOnExit wipe_own(own);
    WipeOnExit wipe_inputs(inputs);
    WipeOnExit wipe_t(t);
    WipeOnExit wipe_v(v);
    // Sized once for the largest (first) chunk and never reallocated: no copy of a secret is
    // left in a freed buffer, and the guards see every entry ever written.
    inputs.resize(ChunkCount(0));
    t.resize(ChunkCount(0));
    for (uint64_t c = 0; c < NumChunks(); ++c) {
      if (Status st = CheckCancelled(); !st.ok()) return Fail(st);
      const uint64_t begin = c * chunk_, cnt = ChunkCount(c);
      std::fill(inputs.begin(), inputs.begin() + cnt, Block{});
      for (uint64_t k = 0; k < cnt; ++k) {
        if (table->occupied(begin + k)) {
          inputs[k] = Tweak(digests_[table->item(begin + k)], table->hash_index(begin + k));
        }
      }
      if (Status st = (*oprf)->Encode(std::span<const Block>(inputs.data(), cnt),
                                      std::span<ot::KkrtRow>(t.data(), cnt));
          !st.ok()) {
        return Fail(st);
      }
      for (uint64_t k = 0; k < cnt; ++k) {
        if (!table->occupied(begin + k)) continue;
        v = (*oprf)->Output(begin + k, t[k]);
        std::memcpy(own.data() + static_cast<size_t>(table->item(begin + k)) * L, &v, L);
      }
      Progress(0.02 + 0.6 * static_cast<double>(c + 1) / NumChunks());
    }
    // Digests and bins are no longer needed: free them before the index (peak memory).
    WipeAndFree(digests_);
    *table = internal::CuckooTable();
    WipeAndFree(inputs);
    WipeAndFree(t);
    // Index of own values by their first 8 bytes.
    size_t cap = 16;
    while (cap < 2 * n) cap <<= 1;
    std::vector<uint32_t> index(cap, UINT32_MAX);
    // Its layout encodes the low bits of every own OPRF output: wiped like them.
    WipeOnExit wipe_index(index);
    for (uint32_t i = 0; i < n; ++i) {
      uint64_t key;
      std::memcpy(&key, own.data() + static_cast<size_t>(i) * L, 8);
      size_t s = key & (cap - 1);
      while (index[s] != UINT32_MAX) s = (s + 1) & (cap - 1);
      index[s] = i;
    }
    std::vector<bool> hit(n, false);
    std::vector<uint32_t> peer_positions;
    const uint64_t total = 3 * n_s_;
    uint64_t got = 0;
    while (got < total) {
      if (Status st = CheckCancelled(); !st.ok()) return Fail(st);
      auto msg = link_.Recv();
      if (!msg.ok()) return Fail(msg.status());
      WipeOnExit wipe_msg(*msg);  // the sender's OPRF values
      const uint64_t expect = std::min<uint64_t>(kValuesPerMessage, total - got);
      if (msg->size() != expect * L) {
        return Fail(absl::InvalidArgumentError("KKRT PSI: value batch has " +
                                               std::to_string(msg->size()) + " bytes, expected " +
                                               std::to_string(expect * L)));
      }
      for (uint64_t k = 0; k < expect; ++k) {
        const uint8_t* v = msg->data() + k * L;
        uint64_t key;
        std::memcpy(&key, v, 8);
        for (size_t s = key & (cap - 1); index[s] != UINT32_MAX; s = (s + 1) & (cap - 1)) {
          const uint32_t i = index[s];
          const uint8_t* mine = own.data() + static_cast<size_t>(i) * L;
          uint64_t mine_key;
          std::memcpy(&mine_key, mine, 8);
          if (mine_key == key && std::memcmp(mine + 8, v + 8, L - 8) == 0) {
            hit[i] = true;
            peer_positions.push_back(static_cast<uint32_t>((got + k) / 3));
          }
        }
      }
      got += expect;
      Progress(0.62 + 0.33 * static_cast<double>(got) / total);
    }
    PsiResult r;
    for (size_t i = 0; i < n; ++i) {
      if (hit[i]) r.matched.push_back(i);
    }
    r.intersection_size = r.matched.size();
    if (opts_.my_output != PsiOutput::kIntersection) r.matched.clear();
    if (opts_.my_output == PsiOutput::kNone) r.intersection_size = 0;
    std::sort(peer_positions.begin(), peer_positions.end());
    peer_positions.erase(std::unique(peer_positions.begin(), peer_positions.end()),
                         peer_positions.end());
    if (opts_.peer_output == PsiOutput::kSize) {
      Bytes m(8);
      PutU64(m.data(), peer_positions.size());
      if (Status st = link_.Send(m); !st.ok()) return Fail(st);
    } else if (opts_.peer_output == PsiOutput::kIntersection) {
      Bytes head(8);
      PutU64(head.data(), peer_positions.size());
      if (Status st = link_.Send(head); !st.ok()) return Fail(st);
      for (size_t off = 0; off < peer_positions.size(); off += kPositionsPerMessage) {
        const size_t cnt = std::min(kPositionsPerMessage, peer_positions.size() - off);
        Bytes m(cnt * 4);
        for (size_t k = 0; k < cnt; ++k) {
          const uint32_t p = peer_positions[off + k];
          for (int b = 0; b < 4; ++b) m[4 * k + b] = static_cast<uint8_t>(p >> (8 * b));
        }
        if (Status st = link_.Send(m); !st.ok()) return Fail(st);
      }
    }
    return r;
  }

  PsiResult RunSender() {
    auto oprf = ot::KkrtOprfSender::Setup(link_, opts_.domain);
    if (!oprf.ok()) return Fail(oprf.status());
    const size_t L = value_bytes_;
    const uint64_t n = items_.size();
    // A secret random order of the items (Fisher-Yates): item k's values go to slot pos[k].
    std::vector<uint32_t> pos(n);
    for (uint32_t k = 0; k < n; ++k) pos[k] = k;
    {
      crypto::Csprng rng;
      for (uint64_t k = n; k > 1; --k) std::swap(pos[k - 1], pos[rng.Uniform(k)]);
    }
    // The (item, h) pairs are bucketed by chunk of their bin (counting sort), a group of
    // chunks at a time so that the bucket array stays near opts.sender_bucket_entries
    // entries instead of 3n (one pass over the digests per group).
    const uint64_t chunks = NumChunks();
    const uint64_t per_chunk = std::max<uint64_t>(1, 3 * n * chunk_ / std::max<uint64_t>(bins_, 1));
    const uint64_t group = std::max<uint64_t>(1, opts_.sender_bucket_entries / per_chunk);
    // OPRF outputs of the own items, the OT-extension rows q (the OPRF keys of each bin), the
    // codewords and inputs of a batch and the last output: wiped on every return path.
    std::vector<uint8_t> values(3 * n * L);
    std::vector<ot::KkrtRow> q, codes(kEvalBatch);
    std::vector<Block> inputs(kEvalBatch);
    Block v;
    WipeOnExit wipe_values(values);
    WipeOnExit wipe_q(q);
    WipeOnExit wipe_codes(codes);
    WipeOnExit wipe_inputs(inputs);
    WipeOnExit wipe_v(v);
    q.resize(ChunkCount(0));  // sized once for the largest (first) chunk, never reallocated
    std::vector<uint32_t> entries;
    std::vector<uint64_t> start;
    for (uint64_t g0 = 0; g0 < chunks; g0 += group) {
      const uint64_t g1 = std::min(chunks, g0 + group);
      const uint64_t lo = g0 * chunk_, hi = std::min<uint64_t>(bins_, g1 * chunk_);
      start.assign(g1 - g0 + 1, 0);
      for (uint64_t k = 0; k < n; ++k) {
        for (int h = 0; h < 3; ++h) {
          const uint64_t bin = internal::CuckooBin(digests_[k], h, bins_);
          if (bin >= lo && bin < hi) ++start[bin / chunk_ - g0 + 1];
        }
      }
      for (uint64_t c = 0; c + 1 < start.size(); ++c) start[c + 1] += start[c];
      entries.resize(start.back());
      {
        std::vector<uint64_t> fill(start.begin(), start.end() - 1);
        for (uint64_t k = 0; k < n; ++k) {
          for (int h = 0; h < 3; ++h) {
            const uint64_t bin = internal::CuckooBin(digests_[k], h, bins_);
            if (bin >= lo && bin < hi) {
              entries[fill[bin / chunk_ - g0]++] = static_cast<uint32_t>(k << 2 | h);
            }
          }
        }
      }
      for (uint64_t c = g0; c < g1; ++c) {
        if (Status st = CheckCancelled(); !st.ok()) return Fail(st);
        const uint64_t begin = c * chunk_, cnt = ChunkCount(c);
        if (Status st = (*oprf)->Receive(cnt, std::span<ot::KkrtRow>(q.data(), cnt)); !st.ok()) {
          return Fail(st);
        }
        const uint64_t e_end = start[c - g0 + 1];
        for (uint64_t e = start[c - g0]; e < e_end; e += kEvalBatch) {
          const size_t m = std::min<uint64_t>(kEvalBatch, e_end - e);
          for (size_t j = 0; j < m; ++j) {
            const uint32_t en = entries[e + j];
            inputs[j] = Tweak(digests_[en >> 2], static_cast<int>(en & 3));
          }
          (*oprf)->Encode(std::span<const Block>(inputs.data(), m),
                          std::span<ot::KkrtRow>(codes.data(), m));
          for (size_t j = 0; j < m; ++j) {
            const uint32_t en = entries[e + j];
            const int h = static_cast<int>(en & 3);
            const uint64_t bin = internal::CuckooBin(digests_[en >> 2], h, bins_);
            v = (*oprf)->Evaluate(bin, q[bin - begin], codes[j]);
            std::memcpy(values.data() + (3 * static_cast<size_t>(pos[en >> 2]) + h) * L, &v, L);
          }
        }
        Progress(0.02 + 0.6 * static_cast<double>(c + 1) / chunks);
      }
    }
    WipeAndFree(digests_);
    WipeAndFree(q);
    std::vector<uint32_t>().swap(entries);
    const uint64_t total = 3 * n;
    for (uint64_t off = 0; off < total; off += kValuesPerMessage) {
      if (Status st = CheckCancelled(); !st.ok()) return Fail(st);
      const uint64_t cnt = std::min<uint64_t>(kValuesPerMessage, total - off);
      if (Status st = link_.Send(ByteSpan(values.data() + off * L, cnt * L)); !st.ok()) {
        return Fail(st);
      }
      Progress(0.62 + 0.33 * static_cast<double>(off + cnt) / total);
    }
    WipeAndFree(values);
    PsiResult r;
    const uint64_t max_matches = std::min<uint64_t>(n, n_r_);
    if (opts_.my_output == PsiOutput::kSize) {
      auto m = link_.Recv();
      if (!m.ok()) return Fail(m.status());
      if (m->size() != 8 || GetU64(m->data()) > max_matches) {
        return Fail(absl::InvalidArgumentError("KKRT PSI: malformed intersection size"));
      }
      r.intersection_size = GetU64(m->data());
    } else if (opts_.my_output == PsiOutput::kIntersection) {
      auto head = link_.Recv();
      if (!head.ok()) return Fail(head.status());
      if (head->size() != 8 || GetU64(head->data()) > max_matches) {
        return Fail(absl::InvalidArgumentError("KKRT PSI: malformed intersection header"));
      }
      const uint64_t count = GetU64(head->data());
      std::vector<uint32_t> inverse(n);
      for (uint32_t k = 0; k < n; ++k) inverse[pos[k]] = k;
      uint64_t got = 0;
      int64_t last = -1;
      while (got < count) {
        auto m = link_.Recv();
        if (!m.ok()) return Fail(m.status());
        const uint64_t expect = std::min<uint64_t>(kPositionsPerMessage, count - got);
        if (m->size() != expect * 4) {
          return Fail(absl::InvalidArgumentError("KKRT PSI: malformed intersection positions"));
        }
        for (uint64_t k = 0; k < expect; ++k) {
          const uint32_t p = GetU32(m->data() + 4 * k);
          if (p >= n || static_cast<int64_t>(p) <= last) {
            return Fail(absl::InvalidArgumentError(
                "KKRT PSI: intersection positions out of range or not ascending"));
          }
          last = p;
          r.matched.push_back(inverse[p]);
        }
        got += expect;
      }
      std::sort(r.matched.begin(), r.matched.end());
      r.intersection_size = r.matched.size();
    }
    return r;
  }

  net::Link& link_;
  const std::vector<std::string>& items_;
  const KkrtPsiOptions& opts_;
  Status status_;
  KkrtRole role_ = KkrtRole::kAuto;
  uint64_t peer_size_ = 0;
  uint64_t chunk_ = 0;
  uint64_t n_r_ = 0, n_s_ = 0, bins_ = 0;
  size_t value_bytes_ = 0;
  std::vector<Block> digests_;  // item digests (wiped on destruction if still held)
  WipeOnExit<std::vector<Block>> wipe_digests_{digests_};
};

}  // namespace

KkrtRole ChooseKkrtRole(PsiOutput mine, PsiOutput peer, bool i_am_first) {
  const int a = static_cast<int>(mine), b = static_cast<int>(peer);
  if (a != b) return a > b ? KkrtRole::kOprfReceiver : KkrtRole::kOprfSender;
  return i_am_first ? KkrtRole::kOprfReceiver : KkrtRole::kOprfSender;
}

size_t KkrtPsiValueBytes(uint64_t n_receiver, uint64_t n_sender) {
  const uint64_t bits = 40 + CeilLog2(3 * std::max<uint64_t>(n_sender, 1)) +
                        CeilLog2(std::max<uint64_t>(n_receiver, 1));
  return std::clamp<size_t>((bits + 7) / 8, 8, 16);
}

uint64_t KkrtPsiBytesSent(KkrtRole role, uint64_t n_receiver, uint64_t n_sender,
                          PsiOutput receiver_output, PsiOutput sender_output,
                          uint64_t intersection_size) {
  if (receiver_output == PsiOutput::kNone && sender_output == PsiOutput::kNone) return kHelloBytes;
  if (role == KkrtRole::kOprfReceiver) {
    uint64_t b = kHelloBytes + 40 + 64 * internal::CuckooBins(n_receiver);
    if (sender_output == PsiOutput::kSize) b += 8;
    if (sender_output == PsiOutput::kIntersection) b += 8 + 4 * intersection_size;
    return b;
  }
  return kHelloBytes + 32 * ot::kKkrtCodeBits + 20 +
         3 * n_sender * KkrtPsiValueBytes(n_receiver, n_sender);
}

StatusOr<PsiResult> RunKkrtPsi(net::Link& link, const std::vector<std::string>& items,
                               const KkrtPsiOptions& opts) {
  crypto::InitCrypto();
  KkrtPsiParty party(link, items, opts);
  StatusOr<PsiResult> r = party.Run();
  if (!r.ok()) link.Close();
  return r;
}

}  // namespace consort::psi
