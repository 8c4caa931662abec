#pragma once
// Binary-classification metrics for federated learning (fl/): AUC with ties, KS, accuracy /
// precision / recall at a threshold, log-loss. Pure functions, thread-safe, no allocation
// beyond a sort index. `scores` are real-valued (probabilities for LogLoss); `labels` must be
// exactly 0 or 1. All return InvalidArgument for empty input, mismatched lengths, labels other
// than 0/1 or non-finite scores; Auc/Ks also when only one class is present.

#include <cstdint>
#include <span>

#include "consort/common/status.h"

namespace consort::fl {

// Area under the ROC curve = P(score_pos > score_neg) + 0.5 P(score_pos == score_neg)
// (Mann-Whitney U with average ranks for tied scores).
StatusOr<double> Auc(std::span<const double> scores, std::span<const double> labels);

// Kolmogorov-Smirnov statistic: max over thresholds t of TPR(t) - FPR(t), where every tie
// group of equal scores moves together (score >= t is predicted positive). In [0, 1].
StatusOr<double> Ks(std::span<const double> scores, std::span<const double> labels);

struct ThresholdMetrics {
  int64_t true_positive = 0, false_positive = 0, true_negative = 0, false_negative = 0;
  double accuracy = 0;   // (tp + tn) / n
  double precision = 0;  // tp / (tp + fp); 0 when nothing is predicted positive
  double recall = 0;     // tp / (tp + fn); 0 when there are no positives
};
// Predicted positive iff score >= threshold.
StatusOr<ThresholdMetrics> AtThreshold(std::span<const double> scores,
                                       std::span<const double> labels, double threshold);

// Mean binary cross-entropy -[y log p + (1-y) log(1-p)], with p clipped to [eps, 1 - eps].
// InvalidArgument also when a probability is outside [0, 1].
StatusOr<double> LogLoss(std::span<const double> probabilities, std::span<const double> labels,
                         double eps = 1e-15);

// All of the above at once (threshold 0.5 for the threshold metrics).
struct BinaryMetrics {
  double auc = 0, ks = 0, log_loss = 0;
  ThresholdMetrics at_half;
};
StatusOr<BinaryMetrics> EvaluateBinary(std::span<const double> probabilities,
                                       std::span<const double> labels);

}  // namespace consort::fl
