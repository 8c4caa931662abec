#include "consort/boost/plaintext_gbdt.h"

#include "consort/crypto/random.h"

namespace consort::boost {

using internal::GH;

StatusOr<GbdtModel> TrainPlaintextGbdt(const FeatureMatrix& x, std::span<const double> labels,
                                       const BoostParams& params, std::vector<double>* train_raw) {
  CONSORT_RETURN_IF_ERROR(params.Validate());
  const size_t n = x.rows();
  if (n == 0 || labels.size() != n) {
    return absl::InvalidArgumentError("features have " + std::to_string(n) + " rows, labels " +
                                      std::to_string(labels.size()));
  }
  CONSORT_RETURN_IF_ERROR(internal::CheckLabels(labels));
  CONSORT_ASSIGN_OR_RETURN(BinnedFeatures b, BuildBins(x, params.bins));
  const size_t width = static_cast<size_t>(params.bins) + 1;

  GbdtModel model;
  model.params = params;
  model.features = x.names;
  model.base_score = internal::BaseScore(labels);
  std::vector<double> raw(n, model.base_score);
  uint64_t rng = params.seed;
  if (rng == 0) crypto::RandomBytes(reinterpret_cast<uint8_t*>(&rng), sizeof(rng));

  std::vector<GH> gh(n);
  std::vector<uint8_t> sampled(n);
  struct Work {
    int32_t node;
    std::vector<uint32_t> rows;
    GH total;
    std::vector<GH> hist;
  };
  for (int t = 0; t < params.num_trees; ++t) {
    for (size_t r = 0; r < n; ++r) gh[r] = internal::Gradient(raw[r], labels[r]);
    const std::vector<uint32_t> sample = internal::SampleRows(n, params.subsample, &rng);
    std::fill(sampled.begin(), sampled.end(), 0);
    Work root{0, {}, {}, {}};
    root.rows.resize(n);
    for (size_t r = 0; r < n; ++r) root.rows[r] = static_cast<uint32_t>(r);
    for (uint32_t r : sample) {
      sampled[r] = 1;
      root.total += gh[r];
    }
    internal::BuildHistogram(b, root.rows, sampled, gh, &root.hist);
    Tree tree;
    tree.nodes.emplace_back();
    std::vector<Work> level;
    level.push_back(std::move(root));
    std::vector<Work> leaves;
    for (int depth = 0; depth < params.max_depth && !level.empty(); ++depth) {
      std::vector<Work> next;
      for (Work& w : level) {
        internal::Split best;
        for (size_t f = 0; f < b.features; ++f) {
          internal::ScanFeature(std::span<const GH>(&w.hist[f * width], width), w.total, params,
                                -1, static_cast<int>(f), &best);
        }
        if (!best.valid) {
          leaves.push_back(std::move(w));
          continue;
        }
        Work l{static_cast<int32_t>(tree.nodes.size()), {}, best.left, {}};
        Work r{static_cast<int32_t>(tree.nodes.size() + 1), {}, w.total - best.left, {}};
        size_t ls = 0, rs = 0;
        const size_t f = static_cast<size_t>(best.feature);
        for (uint32_t row : w.rows) {
          const uint8_t code = b.at(row, f);
          const bool left = code == kMissingBin ? best.missing_left : code <= best.bin;
          (left ? l.rows : r.rows).push_back(row);
          (left ? ls : rs) += sampled[row];
        }
        TreeNode& node = tree.nodes[static_cast<size_t>(w.node)];
        node.left = l.node;
        node.right = r.node;
        node.feature = best.feature;
        node.threshold = b.cuts[f].Threshold(best.bin);
        node.missing_left = best.missing_left;
        tree.nodes.emplace_back();
        tree.nodes.emplace_back();
        if (depth + 1 < params.max_depth) {
          // Histogram subtraction: build the child with fewer sampled rows, derive the other.
          Work& small = ls <= rs ? l : r;
          Work& large = ls <= rs ? r : l;
          internal::BuildHistogram(b, small.rows, sampled, gh, &small.hist);
          large.hist.resize(w.hist.size());
          for (size_t i = 0; i < w.hist.size(); ++i) large.hist[i] = w.hist[i] - small.hist[i];
        }
        next.push_back(std::move(l));
        next.push_back(std::move(r));
      }
      level = std::move(next);
    }
    for (Work& w : level) leaves.push_back(std::move(w));
    for (const Work& w : leaves) {
      const double v = internal::LeafValue(w.total, params);
      tree.nodes[static_cast<size_t>(w.node)].value = v;
      for (uint32_t row : w.rows) raw[row] += v;
    }
    model.trees.push_back(std::move(tree));
  }
  if (train_raw != nullptr) *train_raw = std::move(raw);
  return model;
}

}  // namespace consort::boost
