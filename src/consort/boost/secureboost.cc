#include "consort/boost/secureboost.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <numeric>
#include <thread>

#include <sys/resource.h>

#include "consort/boost/internal/wire.h"
#include "consort/crypto/paillier.h"
#include "consort/crypto/random.h"

namespace consort::boost {
namespace {

using crypto::PaillierCiphertext;
using crypto::PaillierFastNoise;
using crypto::PaillierPacker;
using crypto::PaillierPublicKey;
using crypto::PaillierSecretKey;
using internal::GH;
using internal::Msg;
using internal::Reader;
using internal::Writer;
using Clock = std::chrono::steady_clock;

constexpr uint32_t kVersion = 1;
constexpr size_t kRowsPerCipherMessage = 2048;   // 1 MiB of 2048-bit ciphertexts
constexpr size_t kQueriesPerMessage = 1u << 20;  // prediction queries, 8 MiB
constexpr uint32_t kMaxHostFeatures = 1u << 16;

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// CPU seconds of this process so far (all threads).
double ProcessCpu() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

// Runs fn(i) for i in [0, n) on `threads` threads (the caller is one of them), dynamically.
void ParallelEach(size_t n, int threads, const std::function<void(size_t)>& fn) {
  const size_t t = std::min<size_t>(static_cast<size_t>(std::max(1, threads)), n);
  if (t <= 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < n; i = next++) fn(i);
  };
  std::vector<std::thread> pool;
  for (size_t k = 1; k < t; ++k) pool.emplace_back(work);
  work();
  for (auto& th : pool) th.join();
}

Status CheckCancelled(const SecureBoostOptions& opts) {
  if (opts.cancelled != nullptr && opts.cancelled->load()) {
    return absl::CancelledError("secureboost: cancelled");
  }
  return absl::OkStatus();
}

void Progress(const SecureBoostOptions& opts, double f, const std::string& stage) {
  if (opts.progress) opts.progress(std::clamp(f, 0.0, 1.0), stage);
}

size_t CountSet(std::span<const uint8_t> flags, std::span<const uint32_t> rows) {
  size_t c = 0;
  for (uint32_t r : rows) c += flags[r];
  return c;
}

// Histogram entries (features x (bins + 1)) packed K per ciphertext.
size_t PackedCount(size_t entries, size_t per_ct) { return (entries + per_ct - 1) / per_ct; }

// Wire: the parameters both sides must agree on.
struct Hello {
  uint64_t rows = 0;
  uint32_t bins = 0, trees = 0, depth = 0, slot_bits = 0, per_ct = 0;
  Bytes pk;
};

// ------------------------------------------------------------------ guest

struct GNode {
  int32_t id = 0;
  std::vector<uint32_t> rows;
  GH total;
  size_t sampled = 0;
  std::vector<GH> local;
  std::vector<std::vector<GH>> host;  // per host: slots x (bins + 1)
};

class Guest {
 public:
  Guest(const FeatureMatrix& x, std::span<const double> labels,
        const std::vector<net::Link*>& hosts, const BoostParams& params,
        const SecureBoostOptions& opts, SecureBoostStats* stats)
      : x_(x), y_(labels), hosts_(hosts), p_(params), opts_(opts), stats_(stats) {}

  StatusOr<GbdtModel> Run(std::vector<double>* train_raw) {
    CONSORT_RETURN_IF_ERROR(p_.Validate());
    n_ = x_.rows();
    if (n_ == 0 || y_.size() != n_) {
      return absl::InvalidArgumentError("secureboost guest: " + std::to_string(n_) +
                                        " feature rows, " + std::to_string(y_.size()) + " labels");
    }
    if (n_ > (1u << 31)) return absl::InvalidArgumentError("secureboost: too many rows");
    if (hosts_.empty()) return absl::InvalidArgumentError("secureboost guest: no hosts");
    for (auto* h : hosts_) {
      if (h == nullptr) return absl::InvalidArgumentError("secureboost guest: null link");
    }
    CONSORT_RETURN_IF_ERROR(internal::CheckLabels(y_));
    CONSORT_ASSIGN_OR_RETURN(bins_, BuildBins(x_, p_.bins));
    width_ = static_cast<size_t>(p_.bins) + 1;

    const auto t_setup = Clock::now();
    auto sk = opts_.key_bits >= crypto::kPaillierMinBits
                  ? PaillierSecretKey::Generate(opts_.key_bits)
                  : PaillierSecretKey::GenerateForTesting(opts_.key_bits);
    if (!sk.ok()) return sk.status();
    sk_ = std::make_unique<PaillierSecretKey>(std::move(*sk));
    const PaillierPublicKey& pk = sk_->public_key();
    CONSORT_ASSIGN_OR_RETURN(PaillierFastNoise fast,
                             PaillierFastNoise::Create(*sk_, crypto::kPaillierDjnExponentBits,
                                                       opts_.noise_window_bits));
    fast_ = std::make_unique<PaillierFastNoise>(std::move(fast));
    if (opts_.precompute_noise) {
      // Exactly one noise value per encryption of the whole training, produced by one
      // background worker up to one tree ahead (while the guest waits for the hosts).
      const size_t per_tree = internal::SampleRows(n_, p_.subsample, &probe_rng_).size();
      producer_ = std::make_unique<crypto::PaillierNoiseProducer>(
          *fast_, per_tree * static_cast<size_t>(p_.num_trees), 1, per_tree);
    }
    slot_bits_ = PaillierPacker::SlotBitsFor(uint64_t{1} << kGradientFracBits, n_);
    CONSORT_ASSIGN_OR_RETURN(PaillierPacker rp, PaillierPacker::Create(pk, 2, slot_bits_));
    row_packer_ = std::make_unique<PaillierPacker>(rp);
    per_ct_ = static_cast<size_t>(PaillierPacker::MaxSlots(pk, slot_bits_) / 2);
    CONSORT_ASSIGN_OR_RETURN(PaillierPacker bp, PaillierPacker::Create(
                                                    pk, static_cast<int>(2 * per_ct_), slot_bits_));
    bin_packer_ = std::make_unique<PaillierPacker>(bp);
    if (stats_ != nullptr) stats_->setup_seconds = Since(t_setup);

    // Hello / ack: hosts check the row count and parameters, tell their feature counts.
    for (auto* h : hosts_) {
      Writer w(Msg::kHello);
      w.U32(kVersion).U64(n_).U32(static_cast<uint32_t>(p_.bins));
      w.U32(static_cast<uint32_t>(p_.num_trees)).U32(static_cast<uint32_t>(p_.max_depth));
      w.U32(static_cast<uint32_t>(slot_bits_)).U32(static_cast<uint32_t>(per_ct_));
      w.Blob(pk.ToBytes());
      CONSORT_RETURN_IF_ERROR(h->Send(w.bytes()));
    }
    for (auto* h : hosts_) {
      CONSORT_ASSIGN_OR_RETURN(Bytes msg, h->Recv());
      Reader r(msg, "hello ack");
      CONSORT_RETURN_IF_ERROR(r.Expect(Msg::kHelloAck));
      CONSORT_ASSIGN_OR_RETURN(uint32_t f, r.U32());
      CONSORT_RETURN_IF_ERROR(r.Done());
      if (f > kMaxHostFeatures) return r.Error("too many host features");
      host_features_.push_back(f);
    }

    GbdtModel model;
    model.params = p_;
    model.features = x_.names;
    for (auto* h : hosts_) model.hosts.push_back(h->peer());
    model.base_score = internal::BaseScore(y_);
    std::vector<double> raw(n_, model.base_score);
    uint64_t rng = p_.seed;
    if (rng == 0) crypto::RandomBytes(reinterpret_cast<uint8_t*>(&rng), sizeof(rng));
    gh_.resize(n_);
    sampled_.assign(n_, 0);
    for (int t = 0; t < p_.num_trees; ++t) {
      CONSORT_RETURN_IF_ERROR(CheckCancelled(opts_));
      const auto t0 = Clock::now();
      for (size_t r = 0; r < n_; ++r) gh_[r] = internal::Gradient(raw[r], y_[r]);
      const std::vector<uint32_t> sample = internal::SampleRows(n_, p_.subsample, &rng);
      CONSORT_ASSIGN_OR_RETURN(Tree tree, GrowTree(t, sample, &raw));
      model.trees.push_back(std::move(tree));
      if (stats_ != nullptr) stats_->tree_seconds.push_back(Since(t0));
      Progress(opts_, static_cast<double>(t + 1) / p_.num_trees, "train");
    }
    for (auto* h : hosts_) CONSORT_RETURN_IF_ERROR(h->Send(Writer(Msg::kEnd).bytes()));
    if (train_raw != nullptr) *train_raw = std::move(raw);
    return model;
  }

 private:
  StatusOr<Tree> GrowTree(int t, const std::vector<uint32_t>& sample, std::vector<double>* raw) {
    const PaillierPublicKey& pk = sk_->public_key();
    std::fill(sampled_.begin(), sampled_.end(), 0);
    for (uint32_t r : sample) sampled_[r] = 1;

    // Encrypt Enc(pack(g, h)) for every sampled row on all threads, a chunk at a time, and
    // stream the chunks: hosts accumulate the root histogram while the next chunk is encrypted.
    for (auto* h : hosts_) {
      Writer w(Msg::kTreeStart);
      w.U32(static_cast<uint32_t>(t)).Blob(internal::PackBits(sampled_));
      CONSORT_RETURN_IF_ERROR(h->Send(w.bytes()));
    }
    const size_t ctb = pk.ciphertext_bytes();
    for (size_t start = 0; start < sample.size(); start += kRowsPerCipherMessage) {
      const size_t count = std::min(kRowsPerCipherMessage, sample.size() - start);
      const auto te = Clock::now();
      const double ce = ProcessCpu();
      Writer c(Msg::kCiphers);
      c.U32(static_cast<uint32_t>(count));
      Bytes& out = c.bytes();
      const size_t base = out.size();
      out.resize(base + count * ctb);
      constexpr size_t kBlock = 64;
      ParallelEach((count + kBlock - 1) / kBlock, opts_.threads, [&](size_t blk) {
        const size_t end = std::min(count, (blk + 1) * kBlock);
        for (size_t i = blk * kBlock; i < end; ++i) {
          const GH v = gh_[sample[start + i]];
          PaillierCiphertext ct = pk.Encrypt(row_packer_->Pack({v.g, v.h}),
                                             producer_ ? producer_->Take() : fast_->Generate());
          pk.SerializeCiphertextTo(ct, out.data() + base + i * ctb);
        }
      });
      if (stats_ != nullptr) {
        stats_->encrypt_seconds += Since(te);
        stats_->encrypt_cpu += ProcessCpu() - ce;
      }
      for (auto* h : hosts_) CONSORT_RETURN_IF_ERROR(h->Send(out));
    }
    if (stats_ != nullptr) stats_->ciphertexts_sent += sample.size() * hosts_.size();

    Tree tree;
    tree.nodes.emplace_back();
    std::vector<GNode> level(1);
    GNode& root = level[0];
    root.rows.resize(n_);
    std::iota(root.rows.begin(), root.rows.end(), 0u);
    for (uint32_t r : sample) root.total += gh_[r];
    root.sampled = sample.size();
    internal::BuildHistogram(bins_, root.rows, sampled_, gh_, &root.local);
    {
      std::vector<GNode*> want = {&root};
      CONSORT_RETURN_IF_ERROR(ReceiveHostHistograms(want));
    }
    std::vector<GNode> leaves;
    for (int depth = 0; depth < p_.max_depth && !level.empty(); ++depth) {
      CONSORT_RETURN_IF_ERROR(CheckCancelled(opts_));
      // Best split of every node.
      std::vector<internal::Split> best(level.size());
      for (size_t k = 0; k < level.size(); ++k) {
        GNode& nd = level[k];
        for (size_t f = 0; f < bins_.features; ++f) {
          internal::ScanFeature(std::span<const GH>(&nd.local[f * width_], width_), nd.total, p_,
                                -1, static_cast<int>(f), &best[k]);
        }
        for (size_t h = 0; h < hosts_.size(); ++h) {
          for (uint32_t s = 0; s < host_features_[h]; ++s) {
            internal::ScanFeature(std::span<const GH>(&nd.host[h][s * width_], width_), nd.total,
                                  p_, static_cast<int>(h), static_cast<int>(s), &best[k]);
          }
        }
      }
      // Host splits: ask each owner for its split id and the left rows.
      std::vector<std::vector<uint8_t>> left(level.size());
      std::vector<uint32_t> record(level.size(), 0);
      for (size_t h = 0; h < hosts_.size(); ++h) {
        Writer w(Msg::kSplitQuery);
        std::vector<size_t> asked;
        for (size_t k = 0; k < level.size(); ++k) {
          if (best[k].valid && best[k].party == static_cast<int>(h)) asked.push_back(k);
        }
        w.U32(static_cast<uint32_t>(asked.size()));
        for (size_t k : asked) {
          w.U32(static_cast<uint32_t>(level[k].id)).U32(static_cast<uint32_t>(best[k].feature));
          w.U32(static_cast<uint32_t>(best[k].bin)).U8(best[k].missing_left ? 1 : 0);
        }
        CONSORT_RETURN_IF_ERROR(hosts_[h]->Send(w.bytes()));
        const auto tw = Clock::now();
        const double cw = ProcessCpu();
        CONSORT_ASSIGN_OR_RETURN(Bytes msg, hosts_[h]->Recv());
        if (stats_ != nullptr) {
          stats_->wait_seconds += Since(tw);
          stats_->wait_cpu += ProcessCpu() - cw;
        }
        Reader r(msg, "split reply");
        CONSORT_RETURN_IF_ERROR(r.Expect(Msg::kSplitReply));
        CONSORT_ASSIGN_OR_RETURN(uint32_t count, r.U32());
        if (count != asked.size()) return r.Error("wrong number of splits");
        for (size_t k : asked) {
          CONSORT_ASSIGN_OR_RETURN(record[k], r.U32());
          CONSORT_ASSIGN_OR_RETURN(ByteSpan bits, r.Blob(n_ / 8 + 1));
          CONSORT_ASSIGN_OR_RETURN(left[k],
                                   internal::UnpackBits(bits, level[k].rows.size(), "split reply"));
        }
        CONSORT_RETURN_IF_ERROR(r.Done());
      }
      // Partition every split node; create the children.
      std::vector<GNode> next;
      std::vector<std::pair<size_t, size_t>> pairs;  // (left, right) in next
      std::vector<size_t> split_nodes;
      for (size_t k = 0; k < level.size(); ++k) {
        GNode& nd = level[k];
        if (!best[k].valid) {
          leaves.push_back(std::move(nd));
          continue;
        }
        const internal::Split& s = best[k];
        TreeNode& tn = tree.nodes[static_cast<size_t>(nd.id)];
        if (s.party < 0) {
          const size_t f = static_cast<size_t>(s.feature);
          left[k].resize(nd.rows.size());
          for (size_t i = 0; i < nd.rows.size(); ++i) {
            const uint8_t code = bins_.at(nd.rows[i], f);
            left[k][i] = code == kMissingBin ? s.missing_left : code <= s.bin;
          }
          tn.feature = s.feature;
          tn.threshold = bins_.cuts[f].Threshold(s.bin);
          tn.missing_left = s.missing_left;
        } else {
          tn.party = s.party;
          tn.host_record = record[k];
        }
        GNode l, r;
        l.id = static_cast<int32_t>(tree.nodes.size());
        r.id = l.id + 1;
        tn.left = l.id;
        tn.right = r.id;
        tree.nodes.emplace_back();
        tree.nodes.emplace_back();
        for (size_t i = 0; i < nd.rows.size(); ++i) {
          GNode& c = left[k][i] ? l : r;
          c.rows.push_back(nd.rows[i]);
          if (sampled_[nd.rows[i]]) {
            c.total += gh_[nd.rows[i]];
            ++c.sampled;
          }
        }
        // The host's bitmap must agree with the histogram it chose from: the left child's
        // sums must be the ones the split was scored with.
        if (l.total.g != s.left.g || l.total.h != s.left.h) {
          return absl::InvalidArgumentError(
              "secureboost split reply: the host's left rows do not match its histogram");
        }
        split_nodes.push_back(k);
        pairs.emplace_back(next.size(), next.size() + 1);
        next.push_back(std::move(l));
        next.push_back(std::move(r));
      }
      const bool need = depth + 1 < p_.max_depth && !pairs.empty();
      for (auto* h : hosts_) {
        Writer w(Msg::kLevel);
        w.U8(need ? 1 : 0).U32(static_cast<uint32_t>(split_nodes.size()));
        for (size_t j = 0; j < split_nodes.size(); ++j) {
          const size_t k = split_nodes[j];
          w.U32(static_cast<uint32_t>(level[k].id));
          w.U32(static_cast<uint32_t>(next[pairs[j].first].id));
          w.U32(static_cast<uint32_t>(next[pairs[j].second].id));
          w.Blob(internal::PackBits(left[k]));
        }
        CONSORT_RETURN_IF_ERROR(h->Send(w.bytes()));
      }
      if (need) {
        std::vector<GNode*> want;
        for (size_t j = 0; j < pairs.size(); ++j) {
          GNode& l = next[pairs[j].first];
          GNode& r = next[pairs[j].second];
          GNode& small = l.sampled <= r.sampled ? l : r;
          internal::BuildHistogram(bins_, small.rows, sampled_, gh_, &small.local);
          want.push_back(&small);
        }
        CONSORT_RETURN_IF_ERROR(ReceiveHostHistograms(want));
        for (size_t j = 0; j < pairs.size(); ++j) {
          const GNode& parent = level[split_nodes[j]];
          GNode& l = next[pairs[j].first];
          GNode& r = next[pairs[j].second];
          const GNode& small = l.sampled <= r.sampled ? l : r;
          GNode& large = l.sampled <= r.sampled ? r : l;
          large.local.resize(parent.local.size());
          for (size_t i = 0; i < parent.local.size(); ++i) {
            large.local[i] = parent.local[i] - small.local[i];
          }
          large.host.resize(hosts_.size());
          for (size_t h = 0; h < hosts_.size(); ++h) {
            large.host[h].resize(parent.host[h].size());
            for (size_t i = 0; i < parent.host[h].size(); ++i) {
              large.host[h][i] = parent.host[h][i] - small.host[h][i];
            }
          }
        }
      }
      level = std::move(next);
    }
    for (GNode& nd : level) leaves.push_back(std::move(nd));
    for (auto* h : hosts_) CONSORT_RETURN_IF_ERROR(h->Send(Writer(Msg::kTreeEnd).bytes()));
    for (const GNode& nd : leaves) {
      const double v = internal::LeafValue(nd.total, p_);
      tree.nodes[static_cast<size_t>(nd.id)].value = v;
      for (uint32_t r : nd.rows) (*raw)[r] += v;
    }
    return tree;
  }

  // Receives one kHists from every host for `want` (in order) and decrypts into node->host.
  Status ReceiveHostHistograms(const std::vector<GNode*>& want) {
    const PaillierPublicKey& pk = sk_->public_key();
    const size_t ctb = pk.ciphertext_bytes();
    for (GNode* nd : want) nd->host.assign(hosts_.size(), {});
    for (size_t h = 0; h < hosts_.size(); ++h) {
      const auto tw = Clock::now();
      const double cw = ProcessCpu();
      CONSORT_ASSIGN_OR_RETURN(Bytes msg, hosts_[h]->Recv());
      if (stats_ != nullptr) {
        stats_->wait_seconds += Since(tw);
        stats_->wait_cpu += ProcessCpu() - cw;
      }
      Reader r(msg, "histograms");
      CONSORT_RETURN_IF_ERROR(r.Expect(Msg::kHists));
      CONSORT_ASSIGN_OR_RETURN(uint32_t count, r.U32());
      if (count != want.size()) return r.Error("wrong number of nodes");
      const size_t entries = static_cast<size_t>(host_features_[h]) * width_;
      const size_t per_node = PackedCount(entries, per_ct_);
      std::vector<PaillierCiphertext> cts;
      cts.reserve(per_node * want.size());
      for (GNode* nd : want) {
        CONSORT_ASSIGN_OR_RETURN(uint32_t id, r.U32());
        if (id != static_cast<uint32_t>(nd->id)) return r.Error("unexpected node id");
        CONSORT_ASSIGN_OR_RETURN(ByteSpan raw, r.Raw(per_node * ctb));
        for (size_t i = 0; i < per_node; ++i) {
          CONSORT_ASSIGN_OR_RETURN(PaillierCiphertext c,
                                   pk.ParseCiphertext(raw.subspan(i * ctb, ctb)));
          cts.push_back(std::move(c));
        }
      }
      CONSORT_RETURN_IF_ERROR(r.Done());
      if (stats_ != nullptr) stats_->ciphertexts_received += cts.size();
      const auto td = Clock::now();
      const double cd = ProcessCpu();
      std::vector<std::vector<int64_t>> slots(cts.size());
      std::atomic<bool> bad{false};
      ParallelEach(cts.size(), opts_.threads, [&](size_t i) {
        auto v = bin_packer_->Unpack(sk_->Decrypt(cts[i]));
        if (!v.ok()) {
          bad = true;
          return;
        }
        slots[i] = std::move(*v);
      });
      if (stats_ != nullptr) {
        stats_->decrypt_seconds += Since(td);
        stats_->decrypt_cpu += ProcessCpu() - cd;
      }
      if (bad) return r.Error("a histogram does not decode (slot overflow or garbage)");
      for (size_t j = 0; j < want.size(); ++j) {
        std::vector<GH>& hist = want[j]->host[h];
        hist.resize(entries);
        for (size_t e = 0; e < entries; ++e) {
          const auto& s = slots[j * per_node + e / per_ct_];
          hist[e] = GH{s[2 * (e % per_ct_)], s[2 * (e % per_ct_) + 1]};
        }
      }
    }
    return absl::OkStatus();
  }

  const FeatureMatrix& x_;
  std::span<const double> y_;
  const std::vector<net::Link*>& hosts_;
  const BoostParams& p_;
  const SecureBoostOptions& opts_;
  SecureBoostStats* stats_;
  size_t n_ = 0, width_ = 0, per_ct_ = 0;
  int slot_bits_ = 0;
  BinnedFeatures bins_;
  std::unique_ptr<PaillierSecretKey> sk_;
  std::unique_ptr<PaillierFastNoise> fast_;
  std::unique_ptr<crypto::PaillierNoiseProducer> producer_;  // declared after fast_: stops first
  uint64_t probe_rng_ = 1;  // only to size the producer (the sample size does not depend on it)
  std::unique_ptr<PaillierPacker> row_packer_, bin_packer_;
  std::vector<uint32_t> host_features_;
  std::vector<GH> gh_;
  std::vector<uint8_t> sampled_;
};

// ------------------------------------------------------------------ host

class Host {
 public:
  Host(const FeatureMatrix& x, net::Link& guest, const BoostParams& params,
       const SecureBoostOptions& opts)
      : x_(x), guest_(guest), p_(params), opts_(opts) {}

  StatusOr<SecureBoostHostModel> Run() {
    CONSORT_RETURN_IF_ERROR(p_.Validate());
    n_ = x_.rows();
    CONSORT_ASSIGN_OR_RETURN(Bytes hello, guest_.Recv());
    Reader r(hello, "hello");
    CONSORT_RETURN_IF_ERROR(r.Expect(Msg::kHello));
    CONSORT_ASSIGN_OR_RETURN(uint32_t version, r.U32());
    CONSORT_ASSIGN_OR_RETURN(uint64_t rows, r.U64());
    CONSORT_ASSIGN_OR_RETURN(uint32_t bins, r.U32());
    CONSORT_ASSIGN_OR_RETURN(uint32_t trees, r.U32());
    CONSORT_ASSIGN_OR_RETURN(uint32_t depth, r.U32());
    CONSORT_ASSIGN_OR_RETURN(uint32_t slot_bits, r.U32());
    CONSORT_ASSIGN_OR_RETURN(uint32_t per_ct, r.U32());
    CONSORT_ASSIGN_OR_RETURN(ByteSpan pkb, r.Blob(4 + crypto::kPaillierMaxBits / 8));
    CONSORT_RETURN_IF_ERROR(r.Done());
    if (version != kVersion) return r.Error("protocol version " + std::to_string(version));
    if (rows != n_) {
      return absl::FailedPreconditionError("secureboost: the guest has " + std::to_string(rows) +
                                           " aligned rows, this host " + std::to_string(n_));
    }
    if (bins != static_cast<uint32_t>(p_.bins) || trees != static_cast<uint32_t>(p_.num_trees) ||
        depth != static_cast<uint32_t>(p_.max_depth)) {
      return absl::FailedPreconditionError(
          "secureboost: the guest's bins/trees/depth differ from this host's parameters");
    }
    const int min_bits = opts_.key_bits >= crypto::kPaillierMinBits ? crypto::kPaillierMinBits
                                                                    : opts_.key_bits;
    CONSORT_ASSIGN_OR_RETURN(PaillierPublicKey pk, PaillierPublicKey::FromBytes(pkb, min_bits));
    pk_ = std::make_unique<PaillierPublicKey>(std::move(pk));
    if (slot_bits > 64 || per_ct == 0 || per_ct > 4096) return r.Error("bad packing");
    slot_bits_ = static_cast<int>(slot_bits);
    per_ct_ = per_ct;
    if (PaillierPacker::SlotBitsFor(uint64_t{1} << kGradientFracBits, n_) > slot_bits_) {
      return r.Error("slots too narrow for the row count");
    }
    CONSORT_RETURN_IF_ERROR(
        PaillierPacker::Create(*pk_, static_cast<int>(2 * per_ct_), slot_bits_).status());
    CONSORT_ASSIGN_OR_RETURN(bins_, BuildBins(x_, p_.bins));
    width_ = static_cast<size_t>(p_.bins) + 1;
    CONSORT_ASSIGN_OR_RETURN(PaillierFastNoise fast, PaillierFastNoise::Create(*pk_));
    fast_ = std::make_unique<PaillierFastNoise>(std::move(fast));
    model_.features = x_.names;
    CONSORT_RETURN_IF_ERROR(
        guest_.Send(Writer(Msg::kHelloAck).U32(static_cast<uint32_t>(x_.features())).bytes()));

    cts_.resize(n_);
    while (true) {
      CONSORT_RETURN_IF_ERROR(CheckCancelled(opts_));
      CONSORT_ASSIGN_OR_RETURN(Bytes msg, guest_.Recv());
      CONSORT_ASSIGN_OR_RETURN(Msg type, internal::PeekType(msg, "guest message"));
      switch (type) {
        case Msg::kTreeStart:
          CONSORT_RETURN_IF_ERROR(TreeStart(msg));
          break;
        case Msg::kSplitQuery:
          CONSORT_RETURN_IF_ERROR(SplitQuery(msg));
          break;
        case Msg::kLevel:
          CONSORT_RETURN_IF_ERROR(Level(msg));
          break;
        case Msg::kTreeEnd:
          nodes_.clear();
          in_tree_ = false;
          break;
        case Msg::kEnd:
          if (in_tree_) return absl::InvalidArgumentError("secureboost: end inside a tree");
          return std::move(model_);
        default:
          return absl::InvalidArgumentError("secureboost: unexpected message type " +
                                            std::to_string(static_cast<int>(type)));
      }
    }
  }

 private:
  Status TreeStart(ByteSpan msg) {
    Reader r(msg, "tree start");
    CONSORT_RETURN_IF_ERROR(r.Expect(Msg::kTreeStart));
    CONSORT_ASSIGN_OR_RETURN(uint32_t t, r.U32());
    CONSORT_ASSIGN_OR_RETURN(ByteSpan bits, r.Blob(n_ / 8 + 1));
    CONSORT_RETURN_IF_ERROR(r.Done());
    if (in_tree_ || t != trees_started_ || t >= static_cast<uint32_t>(p_.num_trees)) {
      return r.Error("unexpected tree " + std::to_string(t));
    }
    ++trees_started_;
    in_tree_ = true;
    CONSORT_ASSIGN_OR_RETURN(sampled_, internal::UnpackBits(bits, n_, "tree start"));
    std::vector<uint32_t> sample;
    for (size_t i = 0; i < n_; ++i) {
      if (sampled_[i]) sample.push_back(static_cast<uint32_t>(i));
    }
    if (sample.empty()) return r.Error("no sampled rows");
    // Feature slots of this tree: a fresh permutation hides which feature a slot is.
    perm_.resize(x_.features());
    std::iota(perm_.begin(), perm_.end(), 0u);
    if (opts_.shuffle_host_features) {
      for (size_t i = perm_.size(); i > 1; --i) {
        uint64_t v;
        crypto::RandomBytes(reinterpret_cast<uint8_t*>(&v), sizeof(v));
        std::swap(perm_[i - 1], perm_[static_cast<size_t>(v % i)]);
      }
    }
    // Root histogram, accumulated chunk by chunk as the ciphertexts arrive.
    Acc root_acc = NewAcc();
    const size_t ctb = pk_->ciphertext_bytes();
    size_t got = 0;
    while (got < sample.size()) {
      CONSORT_ASSIGN_OR_RETURN(Bytes m, guest_.Recv());
      Reader c(m, "ciphertexts");
      CONSORT_RETURN_IF_ERROR(c.Expect(Msg::kCiphers));
      CONSORT_ASSIGN_OR_RETURN(uint32_t count, c.U32());
      if (count == 0 || count > sample.size() - got) return c.Error("wrong count");
      CONSORT_ASSIGN_OR_RETURN(ByteSpan raw, c.Raw(static_cast<size_t>(count) * ctb));
      CONSORT_RETURN_IF_ERROR(c.Done());
      std::atomic<bool> bad{false};
      ParallelEach(count, opts_.threads, [&](size_t i) {
        auto ct = pk_->ParseCiphertext(raw.subspan(i * ctb, ctb));
        if (!ct.ok()) {
          bad = true;
          return;
        }
        cts_[sample[got + i]] = std::move(*ct);
      });
      if (bad) return c.Error("invalid ciphertext");
      Accumulate(std::span<const uint32_t>(sample.data() + got, count), &root_acc);
      got += count;
    }
    nodes_.clear();
    std::vector<uint32_t>& root = nodes_[0];
    root.resize(n_);
    std::iota(root.begin(), root.end(), 0u);
    Writer w(Msg::kHists);
    w.U32(1);
    AppendPacked(0, root_acc, &w);
    return guest_.Send(w.bytes());
  }

  struct Acc {
    std::vector<PaillierCiphertext> acc;  // features x (bins + 1), by feature
    std::vector<uint8_t> set;
  };
  Acc NewAcc() const {
    Acc a;
    a.acc.resize(x_.features() * width_);
    a.set.assign(a.acc.size(), 0);
    return a;
  }

  // Multiplies the ciphertexts of `rows` (sampled ones only) into their bins; threads split
  // the features.
  void Accumulate(std::span<const uint32_t> rows, Acc* a) {
    ParallelEach(x_.features(), opts_.threads, [&](size_t f) {
      for (uint32_t row : rows) {
        if (!sampled_[row]) continue;
        const uint8_t code = bins_.at(row, f);
        const size_t e = f * width_ + (code == kMissingBin ? width_ - 1 : code);
        if (a->set[e]) {
          pk_->AddInPlace(a->acc[e], cts_[row]);
        } else {
          a->acc[e] = cts_[row];
          a->set[e] = 1;
        }
      }
    });
  }

  Status AppendHistogram(uint32_t id, const std::vector<uint32_t>& rows, Writer* w) {
    Acc a = NewAcc();
    Accumulate(rows, &a);
    AppendPacked(id, a, w);
    return absl::OkStatus();
  }

  // The accumulated histogram, packed per_ct_ entries per ciphertext, re-randomized, appended
  // to w as (node id, ciphertexts).
  void AppendPacked(uint32_t id, const Acc& a, Writer* w) {
    const size_t entries = a.acc.size();
    const auto& acc = a.acc;
    const auto& set = a.set;
    // Entry order on the wire: slot s = feature perm_[s].
    const size_t groups = PackedCount(entries, per_ct_);
    std::vector<PaillierCiphertext> out(groups);
    ParallelEach(groups, opts_.threads, [&](size_t g) {
      const size_t first = g * per_ct_;
      const size_t last = std::min(entries, first + per_ct_);
      auto entry = [&](size_t e) -> const PaillierCiphertext* {
        const size_t src = perm_[e / width_] * width_ + e % width_;
        return set[src] ? &acc[src] : nullptr;
      };
      PaillierCiphertext c = pk_->Zero();
      for (size_t e = last; e-- > first;) {
        c = pk_->ShiftLeft(c, 2 * slot_bits_);
        if (const PaillierCiphertext* v = entry(e)) pk_->AddInPlace(c, *v);
      }
      // The guest made every row ciphertext; fresh randomness hides which ones were multiplied.
      out[g] = pk_->Rerandomize(c, fast_->Generate());
    });
    w->U32(id);
    const size_t ctb = pk_->ciphertext_bytes();
    Bytes buf(groups * ctb);
    for (size_t g = 0; g < groups; ++g) pk_->SerializeCiphertextTo(out[g], buf.data() + g * ctb);
    w->Raw(buf);
  }

  Status SplitQuery(ByteSpan msg) {
    Reader r(msg, "split query");
    CONSORT_RETURN_IF_ERROR(r.Expect(Msg::kSplitQuery));
    if (!in_tree_) return r.Error("outside a tree");
    CONSORT_ASSIGN_OR_RETURN(uint32_t count, r.U32());
    if (count > nodes_.size()) return r.Error("too many splits");
    Writer w(Msg::kSplitReply);
    w.U32(count);
    for (uint32_t i = 0; i < count; ++i) {
      CONSORT_ASSIGN_OR_RETURN(uint32_t node, r.U32());
      CONSORT_ASSIGN_OR_RETURN(uint32_t slot, r.U32());
      CONSORT_ASSIGN_OR_RETURN(uint32_t bin, r.U32());
      CONSORT_ASSIGN_OR_RETURN(uint8_t ml, r.U8());
      auto it = nodes_.find(node);
      if (it == nodes_.end()) return r.Error("unknown node");
      if (slot >= x_.features() || bin >= static_cast<uint32_t>(p_.bins) || ml > 1) {
        return r.Error("split out of range");
      }
      const size_t f = perm_[slot];
      HostSplit s{static_cast<int32_t>(f), bins_.cuts[f].Threshold(static_cast<int>(bin)), ml == 1};
      const uint32_t id = static_cast<uint32_t>(model_.splits.size());
      model_.splits.push_back(s);
      std::vector<uint8_t> left(it->second.size());
      for (size_t k = 0; k < left.size(); ++k) {
        const uint8_t code = bins_.at(it->second[k], f);
        left[k] = code == kMissingBin ? s.missing_left : code <= bin;
      }
      w.U32(id).Blob(internal::PackBits(left));
    }
    CONSORT_RETURN_IF_ERROR(r.Done());
    return guest_.Send(w.bytes());
  }

  Status Level(ByteSpan msg) {
    Reader r(msg, "level");
    CONSORT_RETURN_IF_ERROR(r.Expect(Msg::kLevel));
    if (!in_tree_) return r.Error("outside a tree");
    CONSORT_ASSIGN_OR_RETURN(uint8_t need, r.U8());
    CONSORT_ASSIGN_OR_RETURN(uint32_t count, r.U32());
    if (count > nodes_.size() || need > 1) return r.Error("bad header");
    std::map<uint32_t, std::vector<uint32_t>> next;
    std::vector<std::pair<uint32_t, uint32_t>> pairs;
    for (uint32_t i = 0; i < count; ++i) {
      CONSORT_ASSIGN_OR_RETURN(uint32_t node, r.U32());
      CONSORT_ASSIGN_OR_RETURN(uint32_t lid, r.U32());
      CONSORT_ASSIGN_OR_RETURN(uint32_t rid, r.U32());
      CONSORT_ASSIGN_OR_RETURN(ByteSpan bits, r.Blob(n_ / 8 + 1));
      auto it = nodes_.find(node);
      if (it == nodes_.end()) return r.Error("unknown node");
      if (lid == rid || lid <= node || rid <= node || next.count(lid) || next.count(rid) ||
          nodes_.count(lid) || nodes_.count(rid)) {
        return r.Error("bad child ids");
      }
      CONSORT_ASSIGN_OR_RETURN(auto left, internal::UnpackBits(bits, it->second.size(), "level"));
      std::vector<uint32_t>& l = next[lid];
      std::vector<uint32_t>& rr = next[rid];
      for (size_t k = 0; k < left.size(); ++k) (left[k] ? l : rr).push_back(it->second[k]);
      pairs.emplace_back(lid, rid);
    }
    CONSORT_RETURN_IF_ERROR(r.Done());
    nodes_ = std::move(next);
    if (!need) return absl::OkStatus();
    Writer w(Msg::kHists);
    w.U32(static_cast<uint32_t>(pairs.size()));
    for (const auto& [lid, rid] : pairs) {
      const auto& l = nodes_[lid];
      const auto& rr = nodes_[rid];
      const bool left_small = CountSet(sampled_, l) <= CountSet(sampled_, rr);
      CONSORT_RETURN_IF_ERROR(AppendHistogram(left_small ? lid : rid, left_small ? l : rr, &w));
    }
    return guest_.Send(w.bytes());
  }

  const FeatureMatrix& x_;
  net::Link& guest_;
  const BoostParams& p_;
  const SecureBoostOptions& opts_;
  size_t n_ = 0, width_ = 0, per_ct_ = 0;
  int slot_bits_ = 0;
  BinnedFeatures bins_;
  std::unique_ptr<PaillierPublicKey> pk_;
  std::unique_ptr<PaillierFastNoise> fast_;
  std::vector<PaillierCiphertext> cts_;
  std::vector<uint8_t> sampled_;
  std::vector<size_t> perm_;
  std::map<uint32_t, std::vector<uint32_t>> nodes_;
  bool in_tree_ = false;
  uint32_t trees_started_ = 0;
  SecureBoostHostModel model_;
};

void CloseAll(const std::vector<net::Link*>& links) {
  for (auto* l : links) {
    if (l != nullptr) l->Close();
  }
}

// ------------------------------------------------------------------ prediction

Status PredictHostImpl(const SecureBoostHostModel& model, const FeatureMatrix& x,
                       net::Link& guest) {
  if (x.features() != model.features.size()) {
    return absl::InvalidArgumentError("secureboost predict: the model has " +
                                      std::to_string(model.features.size()) +
                                      " features, the input " + std::to_string(x.features()));
  }
  const size_t n = x.rows();
  CONSORT_ASSIGN_OR_RETURN(Bytes hello, guest.Recv());
  Reader r(hello, "predict hello");
  CONSORT_RETURN_IF_ERROR(r.Expect(Msg::kPredictHello));
  CONSORT_ASSIGN_OR_RETURN(uint64_t rows, r.U64());
  CONSORT_RETURN_IF_ERROR(r.Done());
  if (rows != n) {
    return absl::FailedPreconditionError("secureboost predict: the guest has " +
                                         std::to_string(rows) + " aligned rows, this host " +
                                         std::to_string(n));
  }
  CONSORT_RETURN_IF_ERROR(guest.Send(Writer(Msg::kPredictAck).bytes()));
  while (true) {
    CONSORT_ASSIGN_OR_RETURN(Bytes msg, guest.Recv());
    CONSORT_ASSIGN_OR_RETURN(Msg type, internal::PeekType(msg, "predict query"));
    if (type == Msg::kPredictEnd) return absl::OkStatus();
    Reader q(msg, "predict query");
    CONSORT_RETURN_IF_ERROR(q.Expect(Msg::kPredictQuery));
    CONSORT_ASSIGN_OR_RETURN(uint32_t count, q.U32());
    if (count > kQueriesPerMessage) return q.Error("too many queries");
    std::vector<uint8_t> bits(count);
    for (uint32_t i = 0; i < count; ++i) {
      CONSORT_ASSIGN_OR_RETURN(uint32_t id, q.U32());
      CONSORT_ASSIGN_OR_RETURN(uint32_t row, q.U32());
      if (id >= model.splits.size() || row >= n) return q.Error("query out of range");
      const HostSplit& s = model.splits[id];
      const double v = x.columns[static_cast<size_t>(s.feature)][row];
      bits[i] = std::isnan(v) ? s.missing_left : v <= s.threshold;
    }
    CONSORT_RETURN_IF_ERROR(q.Done());
    CONSORT_RETURN_IF_ERROR(guest.Send(Writer(Msg::kPredictReply).Blob(internal::PackBits(bits)).bytes()));
  }
}

StatusOr<std::vector<double>> PredictGuestImpl(const GbdtModel& model, const FeatureMatrix& x,
                                                const std::vector<net::Link*>& hosts,
                                                const SecureBoostOptions& opts) {
  if (x.features() != model.features.size()) {
    return absl::InvalidArgumentError("secureboost predict: the model has " +
                                      std::to_string(model.features.size()) +
                                      " guest features, the input " +
                                      std::to_string(x.features()));
  }
  if (hosts.size() != model.hosts.size()) {
    return absl::FailedPreconditionError("secureboost predict: the model has " +
                                         std::to_string(model.hosts.size()) + " hosts, " +
                                         std::to_string(hosts.size()) + " links given");
  }
  for (size_t h = 0; h < hosts.size(); ++h) {
    if (hosts[h] == nullptr || hosts[h]->peer() != model.hosts[h]) {
      return absl::FailedPreconditionError("secureboost predict: link " + std::to_string(h) +
                                           " is not to host '" + model.hosts[h] + "'");
    }
  }
  const size_t n = x.rows();
  for (auto* h : hosts) {
    CONSORT_RETURN_IF_ERROR(h->Send(Writer(Msg::kPredictHello).U64(n).bytes()));
  }
  for (auto* h : hosts) {
    CONSORT_ASSIGN_OR_RETURN(Bytes ack, h->Recv());
    Reader r(ack, "predict ack");
    CONSORT_RETURN_IF_ERROR(r.Expect(Msg::kPredictAck));
    CONSORT_RETURN_IF_ERROR(r.Done());
  }
  const size_t trees = model.trees.size();
  std::vector<int32_t> pos(trees * n, 0);  // pos[t * n + r]: current node
  while (true) {
    CONSORT_RETURN_IF_ERROR(CheckCancelled(opts));
    // Walk guest nodes; collect host queries.
    std::vector<std::vector<size_t>> pending(hosts.size());
    for (size_t t = 0; t < trees; ++t) {
      const auto& nodes = model.trees[t].nodes;
      for (size_t r = 0; r < n; ++r) {
        int32_t& p = pos[t * n + r];
        while (!nodes[static_cast<size_t>(p)].is_leaf()) {
          const TreeNode& nd = nodes[static_cast<size_t>(p)];
          if (nd.party >= 0) {
            pending[static_cast<size_t>(nd.party)].push_back(t * n + r);
            break;
          }
          const double v = x.columns[static_cast<size_t>(nd.feature)][r];
          const bool left = std::isnan(v) ? nd.missing_left : v <= nd.threshold;
          p = left ? nd.left : nd.right;
        }
      }
    }
    bool any = false;
    for (const auto& q : pending) any |= !q.empty();
    if (!any) break;
    for (size_t h = 0; h < hosts.size(); ++h) {
      const auto& q = pending[h];
      for (size_t start = 0; start < q.size(); start += kQueriesPerMessage) {
        const size_t count = std::min(kQueriesPerMessage, q.size() - start);
        Writer w(Msg::kPredictQuery);
        w.U32(static_cast<uint32_t>(count));
        for (size_t i = start; i < start + count; ++i) {
          const size_t t = q[i] / n, r = q[i] % n;
          w.U32(model.trees[t].nodes[static_cast<size_t>(pos[q[i]])].host_record);
          w.U32(static_cast<uint32_t>(r));
        }
        CONSORT_RETURN_IF_ERROR(hosts[h]->Send(w.bytes()));
        CONSORT_ASSIGN_OR_RETURN(Bytes reply, hosts[h]->Recv());
        Reader rd(reply, "predict reply");
        CONSORT_RETURN_IF_ERROR(rd.Expect(Msg::kPredictReply));
        CONSORT_ASSIGN_OR_RETURN(ByteSpan packed, rd.Blob(count / 8 + 1));
        CONSORT_RETURN_IF_ERROR(rd.Done());
        CONSORT_ASSIGN_OR_RETURN(auto bits, internal::UnpackBits(packed, count, "predict reply"));
        for (size_t i = 0; i < count; ++i) {
          const size_t k = q[start + i];
          const TreeNode& nd = model.trees[k / n].nodes[static_cast<size_t>(pos[k])];
          pos[k] = bits[i] ? nd.left : nd.right;
        }
      }
    }
  }
  for (auto* h : hosts) CONSORT_RETURN_IF_ERROR(h->Send(Writer(Msg::kPredictEnd).bytes()));
  std::vector<double> raw(n, model.base_score);
  for (size_t t = 0; t < trees; ++t) {
    for (size_t r = 0; r < n; ++r) {
      raw[r] += model.trees[t].nodes[static_cast<size_t>(pos[t * n + r])].value;
    }
  }
  return raw;
}

}  // namespace

Bytes SecureBoostHostModel::Serialize() const {
  Json s = Json::array();
  for (const auto& sp : splits) {
    Json t = std::isinf(sp.threshold) ? Json(nullptr) : Json(sp.threshold);
    s.push_back(Json{{"f", sp.feature}, {"t", t}, {"m", sp.missing_left}});
  }
  return ToBytes(Json{{"kind", "secureboost-host"}, {"features", features}, {"splits", s}}.dump());
}

StatusOr<SecureBoostHostModel> SecureBoostHostModel::Parse(ByteSpan bytes) {
  SecureBoostHostModel m;
  try {
    const Json j = Json::parse(ToString(bytes));
    if (!j.is_object() || j.value("kind", "") != "secureboost-host") {
      return absl::InvalidArgumentError("model blob is not a SecureBoost host model");
    }
    m.features = j.at("features").get<std::vector<std::string>>();
    for (const auto& sj : j.at("splits")) {
      HostSplit s;
      s.feature = sj.at("f").get<int32_t>();
      s.threshold = sj.at("t").is_null() ? std::numeric_limits<double>::infinity()
                                         : sj.at("t").get<double>();
      s.missing_left = sj.at("m").get<bool>();
      if (s.feature < 0 || s.feature >= static_cast<int32_t>(m.features.size())) {
        return absl::InvalidArgumentError("host model blob: feature index out of range");
      }
      m.splits.push_back(s);
    }
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(std::string("host model blob: ") + e.what());
  }
  return m;
}

StatusOr<GbdtModel> TrainSecureBoostGuest(const FeatureMatrix& x, std::span<const double> labels,
                                          const std::vector<net::Link*>& hosts,
                                          const BoostParams& params,
                                          const SecureBoostOptions& opts,
                                          std::vector<double>* train_raw,
                                          SecureBoostStats* stats) {
  Guest g(x, labels, hosts, params, opts, stats);
  auto m = g.Run(train_raw);
  if (!m.ok()) CloseAll(hosts);
  return m;
}

StatusOr<SecureBoostHostModel> TrainSecureBoostHost(const FeatureMatrix& x, net::Link& guest,
                                                    const BoostParams& params,
                                                    const SecureBoostOptions& opts) {
  Host h(x, guest, params, opts);
  auto m = h.Run();
  if (!m.ok()) guest.Close();
  return m;
}

StatusOr<std::vector<double>> PredictSecureBoostGuest(const GbdtModel& model,
                                                      const FeatureMatrix& x,
                                                      const std::vector<net::Link*>& hosts,
                                                      const SecureBoostOptions& opts) {
  auto r = PredictGuestImpl(model, x, hosts, opts);
  if (!r.ok()) CloseAll(hosts);
  return r;
}

Status PredictSecureBoostHost(const SecureBoostHostModel& model, const FeatureMatrix& x,
                              net::Link& guest, const SecureBoostOptions& opts) {
  Status st = PredictHostImpl(model, x, guest);
  if (!st.ok()) guest.Close();
  return st;
}

}  // namespace consort::boost
