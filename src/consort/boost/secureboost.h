#pragma once
// SecureBoost: vertical (hetero) gradient boosting between a guest, who holds the labels and
// some features, and one or more hosts, who hold other features of the same rows (aligned
// beforehand, psi/align.h).
//
// Paper: K. Cheng, T. Fan, Y. Jin, Y. Liu, T. Chen, D. Papadopoulos, Q. Yang, "SecureBoost: A
// Lossless Federated Learning Framework", IEEE Intelligent Systems 36(6), 2021 (arXiv
// 1901.08755, 2019), sections 4-5 (Algorithms 1-3); as in FATE's hetero SecureBoost.
//
// Message flow, per tree (guest G, every host H; G drives, H answers):
//   G -> H  kTreeStart  sampled-row bitmap (row subsampling), then kCiphers: Enc(pack(g_i, h_i))
//                       for every sampled row i (one Paillier ciphertext carries both values,
//                       fixed point, crypto::PaillierPacker), streamed in chunks of 2048 rows:
//                       H accumulates the root histogram while G encrypts the next chunk
//   H -> G  kHists      root histogram: per host feature and bin, the product of the row
//                       ciphertexts (= encrypted sums), many bins packed into one ciphertext
//                       (ShiftLeft + Add), re-randomized
//   per level:  G decrypts, derives each sibling's histogram by subtraction (parent - smaller
//               child, in plaintext), scans guest and host candidates (gbdt.h ScanFeature)
//   G -> H  kSplitQuery (node, feature slot, bin, missing direction) for H's winning splits
//   H -> G  kSplitReply opaque split id + the left-row bitmap of the node
//   G -> H  kLevel      every split's left-row bitmap (all hosts track the node partition);
//                       H answers kHists for the child with fewer sampled rows of each split
//   G -> H  kTreeEnd; after the last tree kEnd.
// Prediction: G walks the trees; at a host node it asks that host (kPredictQuery: split id,
// row) level by level; the host answers one bit per query. Rounds: <= max_depth per batch.
// Cost per tree: G encrypts the sampled rows once; H performs (rows in the nodes it builds) x
// (its features) ciphertext multiplications: <= 2 n F per tree with subtraction at depth 3.
//
// Security: semi-honest guest and hosts, no collusion between the guest and a host. Paillier
// (2048-bit by default: 112-bit, crypto/paillier.h) with DJN short-exponent noise (extra
// assumption stated in paillier.h). Lossless: the guest obtains exactly the fixed-point sums a
// plaintext GBDT computes (plaintext_gbdt.h), so the model is the same.
// Leaks: the guest learns, for every node it grows, the per-bin sums of g and h over each host
// feature's bins (the host features' bin histograms weighted by the gradients), the number of
// host features and bins, and for every host split it picks the rows that go left (the
// instance partition, as in FATE) and the split's bin index within a feature slot that the
// host permutes per tree; it learns no host feature name, value or threshold (the model keeps
// a host split as an opaque (host, split id)). Every host learns the number of rows, which rows are sampled
// for each tree, the partition of rows into nodes at every level (guest splits included) and
// which of its own splits were chosen; nothing about labels or gradients beyond Paillier
// ciphertexts. Hosts learn nothing about each other. In prediction the guest learns each
// host node's direction for the rows that reach it, and the host learns which rows reach each
// of its nodes. The guest keeps the tree structure and leaf values; hosts keep their thresholds.
// Side channels: see paillier.h (fixed-base table lookups).

#include <atomic>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "consort/boost/gbdt.h"
#include "consort/boost/quantile_bins.h"
#include "consort/net/link.h"

namespace consort::boost {

struct SecureBoostOptions {
  int threads = 2;               // worker threads of this party (encryption / histograms)
  int key_bits = 2048;           // guest's Paillier modulus
  int noise_window_bits = 11;    // DJN fixed-base window (guest table: 2 x 24 x 2^11 values)
  bool shuffle_host_features = true;  // hosts permute their feature slots per tree
  // Guest: one background thread precomputes the next tree's encryption noise while the hosts
  // build histograms (exactly one value per encryption; bounded to one tree ahead).
  bool precompute_noise = true;
  std::function<void(double, const std::string&)> progress;  // fraction in [0, 1], stage
  const std::atomic<bool>* cancelled = nullptr;             // stop with Cancelled when set
};

// Timings of the guest's side (seconds), for benchmarks.
struct SecureBoostStats {
  std::vector<double> tree_seconds;
  double setup_seconds = 0;    // key generation and noise tables
  double encrypt_seconds = 0;  // gradient encryption (all threads, wall)
  double decrypt_seconds = 0;  // histogram decryption (wall)
  double wait_seconds = 0;     // waiting for hosts (wall)
  // CPU seconds of the whole process during those phases (getrusage): when the hosts run as
  // threads of the same process (the bench), a per-phase CPU breakdown; the noise producer's
  // work lands in whatever phase it runs in.
  double encrypt_cpu = 0, decrypt_cpu = 0, wait_cpu = 0;
  uint64_t ciphertexts_sent = 0, ciphertexts_received = 0;
};

// Guest. `hosts` in a fixed order (TreeNode::party indexes it; GbdtModel::hosts gets their
// peer names). Returns the guest's model (structure, guest thresholds, leaf values); hosts'
// thresholds stay with them. `train_raw` receives the training rows' final raw scores.
// Errors: InvalidArgument (bad params, labels, shapes, or a malformed host message),
// FailedPrecondition (a host disagrees on row count or parameters), Unavailable /
// DeadlineExceeded (link), Cancelled. On error every link is closed.
StatusOr<GbdtModel> TrainSecureBoostGuest(const FeatureMatrix& x, std::span<const double> labels,
                                          const std::vector<net::Link*>& hosts,
                                          const BoostParams& params,
                                          const SecureBoostOptions& opts = {},
                                          std::vector<double>* train_raw = nullptr,
                                          SecureBoostStats* stats = nullptr);

// A host's part of the model: the thresholds of its splits, by split id.
struct HostSplit {
  int32_t feature = 0;
  double threshold = 0;  // left iff x <= threshold (+infinity: every non-missing value)
  bool missing_left = false;
};
struct SecureBoostHostModel {
  std::vector<std::string> features;
  std::vector<HostSplit> splits;
  Bytes Serialize() const;
  // InvalidArgument on malformed input.
  static StatusOr<SecureBoostHostModel> Parse(ByteSpan bytes);
};

// Host: answers the guest until the guest ends training. `params` must equal the guest's
// (bins, trees, depth are checked: FailedPrecondition otherwise). Errors as the guest's.
StatusOr<SecureBoostHostModel> TrainSecureBoostHost(const FeatureMatrix& x, net::Link& guest,
                                                    const BoostParams& params,
                                                    const SecureBoostOptions& opts = {});

// Joint prediction: raw scores (log-odds) of the rows of x (aligned with every host's rows),
// known to the guest only. `hosts` in the model's order (GbdtModel::hosts names them;
// FailedPrecondition if a link's peer differs). Errors as training.
StatusOr<std::vector<double>> PredictSecureBoostGuest(const GbdtModel& model,
                                                      const FeatureMatrix& x,
                                                      const std::vector<net::Link*>& hosts,
                                                      const SecureBoostOptions& opts = {});
// Host side of prediction: answers direction queries for its splits on x's rows.
Status PredictSecureBoostHost(const SecureBoostHostModel& model, const FeatureMatrix& x,
                              net::Link& guest, const SecureBoostOptions& opts = {});

}  // namespace consort::boost
