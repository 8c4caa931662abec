#include "consort/fl/metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

namespace consort::fl {
namespace {

Status CheckInputs(std::span<const double> scores, std::span<const double> labels) {
  if (scores.empty()) return absl::InvalidArgumentError("metrics: no rows");
  if (scores.size() != labels.size()) {
    return absl::InvalidArgumentError("metrics: " + std::to_string(scores.size()) +
                                      " scores but " + std::to_string(labels.size()) + " labels");
  }
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] != 0.0 && labels[i] != 1.0) {
      return absl::InvalidArgumentError("metrics: label at row " + std::to_string(i) +
                                        " is not 0 or 1");
    }
    if (!std::isfinite(scores[i])) {
      return absl::InvalidArgumentError("metrics: score at row " + std::to_string(i) +
                                        " is not finite");
    }
  }
  return OkStatus();
}

// Row indices ordered by descending score.
std::vector<size_t> DescendingOrder(std::span<const double> scores) {
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  return order;
}

Status CheckBothClasses(double positives, double negatives) {
  if (positives == 0 || negatives == 0) {
    return absl::InvalidArgumentError("metrics: AUC/KS need both classes (positives " +
                                      std::to_string(static_cast<int64_t>(positives)) +
                                      ", negatives " +
                                      std::to_string(static_cast<int64_t>(negatives)) + ")");
  }
  return OkStatus();
}

}  // namespace

StatusOr<double> Auc(std::span<const double> scores, std::span<const double> labels) {
  CONSORT_RETURN_IF_ERROR(CheckInputs(scores, labels));
  const double positives = std::accumulate(labels.begin(), labels.end(), 0.0);
  const double negatives = static_cast<double>(labels.size()) - positives;
  CONSORT_RETURN_IF_ERROR(CheckBothClasses(positives, negatives));
  // Walk tie groups from the highest score: every positive in a group beats the negatives
  // below it and ties half with the negatives inside the group.
  std::vector<size_t> order = DescendingOrder(scores);
  double wins = 0, negatives_seen = 0;
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    double group_pos = 0, group_neg = 0;
    while (j < order.size() && scores[order[j]] == scores[order[i]]) {
      (labels[order[j]] == 1.0 ? group_pos : group_neg) += 1;
      ++j;
    }
    // Positives in this group beat all negatives with a strictly lower score.
    wins += group_pos * (negatives - negatives_seen - group_neg) + 0.5 * group_pos * group_neg;
    negatives_seen += group_neg;
    i = j;
  }
  return wins / (positives * negatives);
}

StatusOr<double> Ks(std::span<const double> scores, std::span<const double> labels) {
  CONSORT_RETURN_IF_ERROR(CheckInputs(scores, labels));
  const double positives = std::accumulate(labels.begin(), labels.end(), 0.0);
  const double negatives = static_cast<double>(labels.size()) - positives;
  CONSORT_RETURN_IF_ERROR(CheckBothClasses(positives, negatives));
  std::vector<size_t> order = DescendingOrder(scores);
  double tp = 0, fp = 0, best = 0;
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j < order.size() && scores[order[j]] == scores[order[i]]) {
      (labels[order[j]] == 1.0 ? tp : fp) += 1;
      ++j;
    }
    best = std::max(best, tp / positives - fp / negatives);
    i = j;
  }
  return best;
}

StatusOr<ThresholdMetrics> AtThreshold(std::span<const double> scores,
                                       std::span<const double> labels, double threshold) {
  CONSORT_RETURN_IF_ERROR(CheckInputs(scores, labels));
  ThresholdMetrics m;
  for (size_t i = 0; i < scores.size(); ++i) {
    const bool predicted = scores[i] >= threshold;
    const bool actual = labels[i] == 1.0;
    if (predicted && actual) ++m.true_positive;
    if (predicted && !actual) ++m.false_positive;
    if (!predicted && !actual) ++m.true_negative;
    if (!predicted && actual) ++m.false_negative;
  }
  const double n = static_cast<double>(scores.size());
  m.accuracy = static_cast<double>(m.true_positive + m.true_negative) / n;
  const int64_t predicted_pos = m.true_positive + m.false_positive;
  const int64_t actual_pos = m.true_positive + m.false_negative;
  m.precision = predicted_pos == 0 ? 0.0 : static_cast<double>(m.true_positive) / predicted_pos;
  m.recall = actual_pos == 0 ? 0.0 : static_cast<double>(m.true_positive) / actual_pos;
  return m;
}

StatusOr<double> LogLoss(std::span<const double> probabilities, std::span<const double> labels,
                         double eps) {
  CONSORT_RETURN_IF_ERROR(CheckInputs(probabilities, labels));
  if (!(eps > 0 && eps < 0.5)) return absl::InvalidArgumentError("metrics: eps must be in (0, 0.5)");
  double total = 0;
  for (size_t i = 0; i < probabilities.size(); ++i) {
    const double p = probabilities[i];
    if (p < 0 || p > 1) {
      return absl::InvalidArgumentError("metrics: probability at row " + std::to_string(i) +
                                        " is outside [0, 1]");
    }
    const double clipped = std::clamp(p, eps, 1 - eps);
    total -= labels[i] == 1.0 ? std::log(clipped) : std::log(1 - clipped);
  }
  return total / static_cast<double>(probabilities.size());
}

StatusOr<BinaryMetrics> EvaluateBinary(std::span<const double> probabilities,
                                       std::span<const double> labels) {
  BinaryMetrics m;
  CONSORT_ASSIGN_OR_RETURN(m.auc, Auc(probabilities, labels));
  CONSORT_ASSIGN_OR_RETURN(m.ks, Ks(probabilities, labels));
  CONSORT_ASSIGN_OR_RETURN(m.log_loss, LogLoss(probabilities, labels));
  CONSORT_ASSIGN_OR_RETURN(m.at_half, AtThreshold(probabilities, labels, 0.5));
  return m;
}

}  // namespace consort::fl
