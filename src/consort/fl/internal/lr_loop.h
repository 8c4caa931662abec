#pragma once
// Pieces shared by the plaintext and the federated LR trainers so that all of them see the
// same validation split, batch order, learning rates and updates for the same seed.

#include <cmath>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "consort/common/json.h"
#include "consort/fl/plaintext_lr.h"

namespace consort::fl::internal {

// Deterministic Fisher-Yates shuffle of [0, n) from (seed, stream) (std::mt19937_64, so the
// same on every party built with this code).
std::vector<size_t> Permutation(size_t n, uint64_t seed, uint64_t stream);

struct Split {
  std::vector<size_t> train, validation;  // row indices, each in increasing order
};
Split SplitRows(size_t n, double validation_fraction, uint64_t seed);

// Batches of one epoch: the training rows in a seeded order, cut into batch_size pieces.
std::vector<std::vector<size_t>> EpochBatches(const std::vector<size_t>& train,
                                              size_t batch_size, uint64_t seed, int epoch);

double LearningRate(const LrParams& p, int epoch);

// w -= lr * (grad_sum / batch + l2 * w), then L1 soft-thresholding; the intercept (the last
// entry when last_is_intercept) skips both penalties.
void GradientStep(const LrParams& p, double lr, size_t batch, std::span<const double> grad_sum,
                  std::span<double> w, bool last_is_intercept);

// What to do after an epoch, from the monitored loss (guest side).
class StopRule {
 public:
  explicit StopRule(const LrParams& p) : p_(p) {}
  bool monitoring() const {
    return p_.tolerance > 0 || (p_.early_stopping_rounds > 0 && p_.validation_fraction > 0);
  }
  enum class Decision { kContinue, kConverged, kEarlyStop };
  // `improved` is set when this epoch's weights are the best so far (snapshot them).
  Decision Observe(double loss, bool* improved);
  // For checkpoints: the rule's memory as JSON, and back (InvalidArgument if malformed).
  Json State() const;
  Status Restore(const Json& state);

 private:
  LrParams p_;
  std::optional<double> previous_, best_;
  int bad_epochs_ = 0;
};

double Sigmoid(double z);

}  // namespace consort::fl::internal
