#pragma once
// Gradient-boosted decision trees for binary classification (logistic loss, second order,
// XGBoost-style gain), the parts shared by the plaintext reference trainer (plaintext_gbdt.h)
// and SecureBoost (secureboost.h): hyper-parameters, the tree model, fixed-point gradients and
// the split search over (gradient, hessian) histograms.
//
// Gradients are fixed point: g = round((p - y) 2^F), h = round(p (1 - p) 2^F) with F =
// kGradientFracBits, so histogram sums are exact integers whether they are added in plaintext
// or under Paillier: SecureBoost and the plaintext trainer see identical sums and pick identical
// splits (up to ties between features, whose order SecureBoost may permute per host).
// Thread safety: plain values and pure functions.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "consort/common/bytes.h"
#include "consort/common/json.h"
#include "consort/common/status.h"
#include "consort/boost/quantile_bins.h"

namespace consort::boost {

inline constexpr int kGradientFracBits = 24;

struct BoostParams {
  int num_trees = 30;
  int max_depth = 3;             // levels of splits; leaves at depth <= max_depth
  double learning_rate = 0.3;
  double min_child_weight = 1.0;  // minimum hessian sum in each child
  double l2 = 1.0;                // lambda in the gain and leaf weight
  double min_split_gain = 0.0;    // a split must gain strictly more
  double subsample = 1.0;         // fraction of rows drawn (without replacement) per tree
  int bins = 32;
  uint64_t seed = 0;              // row subsampling; 0 = from the CSPRNG

  // InvalidArgument naming the bad field.
  Status Validate() const;
  Json ToJson() const;
  // Reads the fields present in `j` over the defaults; InvalidArgument on a wrong type/range.
  static StatusOr<BoostParams> FromJson(const Json& j);
};

struct TreeNode {
  int32_t left = -1, right = -1;  // children; -1 for a leaf
  int32_t party = -1;             // -1: a local (guest) feature; k >= 0: host k (SecureBoost)
  int32_t feature = -1;           // local feature index (party == -1)
  double threshold = 0;           // go left iff x <= threshold (local features)
  bool missing_left = false;      // where a missing value goes (local features)
  uint32_t host_record = 0;       // host k's opaque split id (party >= 0)
  double value = 0;               // leaf: the score contribution (learning rate applied)
  bool is_leaf() const { return left < 0; }
};

struct Tree {
  std::vector<TreeNode> nodes;  // nodes[0] is the root
};

// A model as the guest (or the plaintext trainer) holds it.
struct GbdtModel {
  BoostParams params;
  double base_score = 0;                // initial raw score (log-odds of the label mean)
  std::vector<std::string> features;    // local feature names, in TreeNode::feature order
  std::vector<std::string> hosts;       // SecureBoost: host party names, by TreeNode::party
  std::vector<Tree> trees;

  Bytes Serialize() const;
  // InvalidArgument on malformed input (bad JSON, child indices out of range or cyclic, a
  // party index without a host).
  static StatusOr<GbdtModel> Parse(ByteSpan bytes);
};

// Raw scores (log-odds) of a model without host nodes. InvalidArgument if the model has host
// nodes or the feature count differs.
StatusOr<std::vector<double>> PredictRaw(const GbdtModel& model, const FeatureMatrix& x);
double Sigmoid(double z);

namespace internal {

struct GH {
  int64_t g = 0, h = 0;
  GH& operator+=(const GH& o) {
    g += o.g;
    h += o.h;
    return *this;
  }
  GH operator-(const GH& o) const { return {g - o.g, h - o.h}; }
};

// Fixed-point gradient and hessian of the logistic loss at raw score `raw` for label y.
GH Gradient(double raw, double y);
double FromFixed(int64_t v);

// The best split found so far for one node.
struct Split {
  bool valid = false;
  double gain = 0;
  int party = -1;    // -1 local, else host index
  int feature = -1;  // local feature, or the host's feature slot in this tree's layout
  int bin = 0;       // left = bins 0..bin (plus missing when missing_left)
  bool missing_left = false;
  GH left;
};

// Scans one feature's histogram hist[0..bins] (hist[bins] = missing) of a node with totals
// `total`; replaces *best when a candidate gains strictly more. Candidates in a fixed order:
// bin 0..bins-1, missing right before missing left.
void ScanFeature(std::span<const GH> hist, GH total, const BoostParams& p, int party,
                 int feature, Split* best);
// Leaf contribution: -learning_rate * G / (H + l2).
double LeafValue(GH total, const BoostParams& p);
// log(mean / (1 - mean)) of 0/1 labels (clamped).
double BaseScore(std::span<const double> labels);
// Per-tree row sample: sorted row indices, round(subsample * n) of them (>= 1), drawn without
// replacement from `rng_state` (a splitmix64 state the caller keeps across trees).
std::vector<uint32_t> SampleRows(size_t n, double subsample, uint64_t* rng_state);
// Adds rows `rows` (with sampled[r] set) of local features into hist (features x (bins + 1)).
void BuildHistogram(const BinnedFeatures& b, std::span<const uint32_t> rows,
                    std::span<const uint8_t> sampled, std::span<const GH> gh,
                    std::vector<GH>* hist);
// Label check: every label 0 or 1. InvalidArgument otherwise / when only one class.
Status CheckLabels(std::span<const double> labels);

}  // namespace internal
}  // namespace consort::boost
