#include "consort/boost/gbdt.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "consort/crypto/random.h"

namespace consort::boost {

Status BoostParams::Validate() const {
  auto bad = [](const std::string& what) { return absl::InvalidArgumentError(what); };
  if (num_trees < 1 || num_trees > 1000) return bad("num_trees must be in [1, 1000]");
  if (max_depth < 1 || max_depth > 12) return bad("max_depth must be in [1, 12]");
  if (!(learning_rate > 0 && learning_rate <= 1)) return bad("learning_rate must be in (0, 1]");
  if (!(min_child_weight >= 0 && std::isfinite(min_child_weight))) {
    return bad("min_child_weight must be finite and >= 0");
  }
  if (!(l2 >= 0 && std::isfinite(l2))) return bad("l2 must be finite and >= 0");
  if (!(min_split_gain >= 0 && std::isfinite(min_split_gain))) {
    return bad("min_split_gain must be finite and >= 0");
  }
  if (!(subsample > 0 && subsample <= 1)) return bad("subsample must be in (0, 1]");
  if (bins < 2 || bins > kMaxBins) {
    return bad("bins must be in [2, " + std::to_string(kMaxBins) + "]");
  }
  return absl::OkStatus();
}

Json BoostParams::ToJson() const {
  return Json{{"num_trees", num_trees},         {"max_depth", max_depth},
              {"learning_rate", learning_rate}, {"min_child_weight", min_child_weight},
              {"l2", l2},                       {"min_split_gain", min_split_gain},
              {"subsample", subsample},         {"bins", bins}};
}

StatusOr<BoostParams> BoostParams::FromJson(const Json& j) {
  BoostParams p;
  if (!j.is_object()) return absl::InvalidArgumentError("boost parameters must be an object");
  auto get_int = [&](const char* k, int* out) -> Status {
    if (!j.contains(k)) return absl::OkStatus();
    if (!j[k].is_number_integer()) {
      return absl::InvalidArgumentError(std::string("'") + k + "' must be an integer");
    }
    const int64_t v = j[k].get<int64_t>();
    if (v < -1000000 || v > 1000000) {
      return absl::InvalidArgumentError(std::string("'") + k + "' out of range");
    }
    *out = static_cast<int>(v);
    return absl::OkStatus();
  };
  auto get_num = [&](const char* k, double* out) -> Status {
    if (!j.contains(k)) return absl::OkStatus();
    if (!j[k].is_number()) {
      return absl::InvalidArgumentError(std::string("'") + k + "' must be a number");
    }
    *out = j[k].get<double>();
    return absl::OkStatus();
  };
  CONSORT_RETURN_IF_ERROR(get_int("num_trees", &p.num_trees));
  CONSORT_RETURN_IF_ERROR(get_int("max_depth", &p.max_depth));
  CONSORT_RETURN_IF_ERROR(get_num("learning_rate", &p.learning_rate));
  CONSORT_RETURN_IF_ERROR(get_num("min_child_weight", &p.min_child_weight));
  CONSORT_RETURN_IF_ERROR(get_num("l2", &p.l2));
  CONSORT_RETURN_IF_ERROR(get_num("min_split_gain", &p.min_split_gain));
  CONSORT_RETURN_IF_ERROR(get_num("subsample", &p.subsample));
  CONSORT_RETURN_IF_ERROR(get_int("bins", &p.bins));
  if (j.contains("seed")) {
    if (!j["seed"].is_number_integer() ||
        (!j["seed"].is_number_unsigned() && j["seed"].get<int64_t>() < 0)) {
      return absl::InvalidArgumentError("'seed' must be a non-negative integer");
    }
    p.seed = j["seed"].get<uint64_t>();
  }
  CONSORT_RETURN_IF_ERROR(p.Validate());
  return p;
}

Bytes GbdtModel::Serialize() const {
  Json trees_json = Json::array();
  for (const auto& t : trees) {
    Json nodes = Json::array();
    for (const auto& n : t.nodes) {
      if (n.is_leaf()) {
        nodes.push_back(Json{{"v", n.value}});
      } else if (n.party < 0) {
        nodes.push_back(Json{{"l", n.left}, {"r", n.right}, {"f", n.feature},
                             {"t", n.threshold}, {"m", n.missing_left}});
      } else {
        nodes.push_back(
            Json{{"l", n.left}, {"r", n.right}, {"p", n.party}, {"s", n.host_record}});
      }
    }
    trees_json.push_back(std::move(nodes));
  }
  Json j{{"kind", "gbdt"},      {"params", params.ToJson()}, {"base_score", base_score},
         {"features", features}, {"hosts", hosts},            {"trees", std::move(trees_json)}};
  // Thresholds may be +infinity (split "not missing"): JSON has no infinity, store null.
  return ToBytes(j.dump());
}

StatusOr<GbdtModel> GbdtModel::Parse(ByteSpan bytes) {
  GbdtModel m;
  try {
    const Json j = Json::parse(ToString(bytes));
    if (!j.is_object() || j.value("kind", "") != "gbdt") {
      return absl::InvalidArgumentError("model blob is not a GBDT model");
    }
    CONSORT_ASSIGN_OR_RETURN(m.params, BoostParams::FromJson(j.at("params")));
    m.base_score = j.at("base_score").get<double>();
    m.features = j.at("features").get<std::vector<std::string>>();
    m.hosts = j.at("hosts").get<std::vector<std::string>>();
    for (const auto& tj : j.at("trees")) {
      Tree t;
      const int32_t count = static_cast<int32_t>(tj.size());
      for (const auto& nj : tj) {
        TreeNode n;
        if (nj.contains("v")) {
          n.value = nj.at("v").get<double>();
        } else {
          n.left = nj.at("l").get<int32_t>();
          n.right = nj.at("r").get<int32_t>();
          if (nj.contains("p")) {
            n.party = nj.at("p").get<int32_t>();
            n.host_record = nj.at("s").get<uint32_t>();
            if (n.party < 0 || n.party >= static_cast<int32_t>(m.hosts.size())) {
              return absl::InvalidArgumentError("model blob: host index out of range");
            }
          } else {
            n.feature = nj.at("f").get<int32_t>();
            n.threshold = nj.at("t").is_null() ? std::numeric_limits<double>::infinity()
                                               : nj.at("t").get<double>();
            n.missing_left = nj.at("m").get<bool>();
            if (n.feature < 0 || n.feature >= static_cast<int32_t>(m.features.size())) {
              return absl::InvalidArgumentError("model blob: feature index out of range");
            }
          }
          // Children come after their parent (trees are stored breadth-first): no cycles.
          const int32_t self = static_cast<int32_t>(t.nodes.size());
          if (n.left <= self || n.right <= self || n.left >= count || n.right >= count) {
            return absl::InvalidArgumentError("model blob: child index out of range");
          }
        }
        t.nodes.push_back(n);
      }
      if (t.nodes.empty()) return absl::InvalidArgumentError("model blob: empty tree");
      m.trees.push_back(std::move(t));
    }
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(std::string("model blob: ") + e.what());
  }
  return m;
}

double Sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }

StatusOr<std::vector<double>> PredictRaw(const GbdtModel& model, const FeatureMatrix& x) {
  if (x.features() != model.features.size()) {
    return absl::InvalidArgumentError("model has " + std::to_string(model.features.size()) +
                                      " features, input has " + std::to_string(x.features()));
  }
  std::vector<double> raw(x.rows(), model.base_score);
  for (const auto& t : model.trees) {
    for (size_t r = 0; r < x.rows(); ++r) {
      const TreeNode* n = &t.nodes[0];
      while (!n->is_leaf()) {
        if (n->party >= 0) return absl::InvalidArgumentError("model has host split nodes");
        const double v = x.columns[static_cast<size_t>(n->feature)][r];
        const bool left = std::isnan(v) ? n->missing_left : v <= n->threshold;
        n = &t.nodes[static_cast<size_t>(left ? n->left : n->right)];
      }
      raw[r] += n->value;
    }
  }
  return raw;
}

namespace internal {

namespace {
constexpr double kScale = static_cast<double>(int64_t{1} << kGradientFracBits);

uint64_t SplitMix(uint64_t* s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
}  // namespace

GH Gradient(double raw, double y) {
  const double p = Sigmoid(raw);
  return {static_cast<int64_t>(std::llround((p - y) * kScale)),
          static_cast<int64_t>(std::llround(p * (1 - p) * kScale))};
}

double FromFixed(int64_t v) { return static_cast<double>(v) / kScale; }

void ScanFeature(std::span<const GH> hist, GH total, const BoostParams& p, int party,
                 int feature, Split* best) {
  const int bins = static_cast<int>(hist.size()) - 1;
  const GH missing = hist[static_cast<size_t>(bins)];
  const double gt = FromFixed(total.g), ht = FromFixed(total.h);
  const double parent = gt * gt / (ht + p.l2);
  GH acc;
  for (int b = 0; b < bins; ++b) {
    acc += hist[static_cast<size_t>(b)];
    for (int ml = 0; ml < 2; ++ml) {
      GH left = acc;
      if (ml) left += missing;
      const GH right = total - left;
      if (left.h <= 0 || right.h <= 0) continue;
      const double hl = FromFixed(left.h), hr = FromFixed(right.h);
      if (hl < p.min_child_weight || hr < p.min_child_weight) continue;
      const double gl = FromFixed(left.g), gr = FromFixed(right.g);
      const double gain = 0.5 * (gl * gl / (hl + p.l2) + gr * gr / (hr + p.l2) - parent);
      if (!(gain > p.min_split_gain)) continue;
      if (!best->valid || gain > best->gain) {
        *best = Split{true, gain, party, feature, b, ml == 1, left};
      }
    }
  }
}

double LeafValue(GH total, const BoostParams& p) {
  return -p.learning_rate * FromFixed(total.g) / (FromFixed(total.h) + p.l2);
}

double BaseScore(std::span<const double> labels) {
  double s = 0;
  for (double y : labels) s += y;
  double mean = labels.empty() ? 0.5 : s / static_cast<double>(labels.size());
  mean = std::clamp(mean, 1e-6, 1 - 1e-6);
  return std::log(mean / (1 - mean));
}

std::vector<uint32_t> SampleRows(size_t n, double subsample, uint64_t* rng_state) {
  std::vector<uint32_t> rows(n);
  std::iota(rows.begin(), rows.end(), 0u);
  if (subsample >= 1.0) return rows;
  size_t k = static_cast<size_t>(std::llround(subsample * static_cast<double>(n)));
  k = std::clamp<size_t>(k, 1, n);
  // Partial Fisher-Yates: the first k positions are a uniform k-subset.
  for (size_t i = 0; i < k; ++i) {
    const size_t j = i + static_cast<size_t>(SplitMix(rng_state) % (n - i));
    std::swap(rows[i], rows[j]);
  }
  rows.resize(k);
  std::sort(rows.begin(), rows.end());
  return rows;
}

void BuildHistogram(const BinnedFeatures& b, std::span<const uint32_t> rows,
                    std::span<const uint8_t> sampled, std::span<const GH> gh,
                    std::vector<GH>* hist) {
  const size_t width = static_cast<size_t>(b.bins) + 1;
  hist->assign(b.features * width, GH{});
  for (uint32_t r : rows) {
    if (!sampled[r]) continue;
    const GH v = gh[r];
    const uint8_t* codes = &b.codes[static_cast<size_t>(r) * b.features];
    for (size_t f = 0; f < b.features; ++f) {
      const size_t bin = codes[f] == kMissingBin ? static_cast<size_t>(b.bins) : codes[f];
      (*hist)[f * width + bin] += v;
    }
  }
}

Status CheckLabels(std::span<const double> labels) {
  size_t pos = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] != 0.0 && labels[i] != 1.0) {
      return absl::InvalidArgumentError("label must be 0 or 1 (row " + std::to_string(i + 1) + ")");
    }
    pos += labels[i] == 1.0;
  }
  if (pos == 0 || pos == labels.size()) {
    return absl::InvalidArgumentError("labels must contain both classes");
  }
  return absl::OkStatus();
}

}  // namespace internal
}  // namespace consort::boost
