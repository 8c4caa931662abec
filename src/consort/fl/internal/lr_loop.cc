#include "consort/fl/internal/lr_loop.h"

#include <algorithm>
#include <random>

namespace consort::fl::internal {

std::vector<size_t> Permutation(size_t n, uint64_t seed, uint64_t stream) {
  std::vector<size_t> p(n);
  for (size_t i = 0; i < n; ++i) p[i] = i;
  // mt19937_64 output is specified by the standard; the modulo reduction is ours (not
  // std::uniform_int_distribution, whose algorithm differs between libraries).
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull ^ (stream + 0x632BE59BD9B4E019ull));
  for (size_t i = n; i > 1; --i) {
    size_t j = static_cast<size_t>(rng() % i);
    std::swap(p[i - 1], p[j]);
  }
  return p;
}

Split SplitRows(size_t n, double validation_fraction, uint64_t seed) {
  Split s;
  size_t nval = static_cast<size_t>(std::llround(validation_fraction * static_cast<double>(n)));
  if (validation_fraction > 0 && nval == 0) nval = 1;
  std::vector<size_t> p = Permutation(n, seed, /*stream=*/0xFFFF'FFFFull);
  s.validation.assign(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(nval));
  s.train.assign(p.begin() + static_cast<std::ptrdiff_t>(nval), p.end());
  std::sort(s.validation.begin(), s.validation.end());
  std::sort(s.train.begin(), s.train.end());
  return s;
}

std::vector<std::vector<size_t>> EpochBatches(const std::vector<size_t>& train,
                                              size_t batch_size, uint64_t seed, int epoch) {
  std::vector<size_t> order = Permutation(train.size(), seed, static_cast<uint64_t>(epoch));
  const size_t b = batch_size == 0 ? train.size() : std::min(batch_size, train.size());
  std::vector<std::vector<size_t>> batches;
  for (size_t i = 0; i < order.size(); i += b) {
    std::vector<size_t> batch;
    for (size_t j = i; j < std::min(order.size(), i + b); ++j) batch.push_back(train[order[j]]);
    batches.push_back(std::move(batch));
  }
  return batches;
}

double LearningRate(const LrParams& p, int epoch) {
  if (p.schedule == LrSchedule::kInverseTime) return p.learning_rate / (1.0 + p.decay * epoch);
  return p.learning_rate;
}

void GradientStep(const LrParams& p, double lr, size_t batch, std::span<const double> grad_sum,
                  std::span<double> w, bool last_is_intercept) {
  const double inv = 1.0 / static_cast<double>(batch);
  for (size_t i = 0; i < w.size(); ++i) {
    const bool regularize = !(last_is_intercept && i + 1 == w.size());
    double g = grad_sum[i] * inv;
    if (regularize) g += p.l2 * w[i];
    w[i] -= lr * g;
    if (regularize && p.l1 > 0) {
      const double t = lr * p.l1;
      w[i] = w[i] > t ? w[i] - t : (w[i] < -t ? w[i] + t : 0.0);
    }
  }
}

StopRule::Decision StopRule::Observe(double loss, bool* improved) {
  *improved = !best_.has_value() || loss < *best_;
  Decision d = Decision::kContinue;
  if (*improved) {
    best_ = loss;
    bad_epochs_ = 0;
  } else {
    ++bad_epochs_;
  }
  if (p_.early_stopping_rounds > 0 && p_.validation_fraction > 0 &&
      bad_epochs_ >= p_.early_stopping_rounds) {
    d = Decision::kEarlyStop;
  } else if (p_.tolerance > 0 && previous_.has_value() &&
             std::fabs(loss - *previous_) < p_.tolerance) {
    d = Decision::kConverged;
  }
  previous_ = loss;
  return d;
}

Json StopRule::State() const {
  Json j = {{"bad_epochs", bad_epochs_}};
  if (previous_) j["previous"] = *previous_;
  if (best_) j["best"] = *best_;
  return j;
}

Status StopRule::Restore(const Json& state) {
  if (!state.is_object() || !state.contains("bad_epochs") ||
      !state["bad_epochs"].is_number_integer()) {
    return absl::InvalidArgumentError("stop rule state: malformed");
  }
  bad_epochs_ = state["bad_epochs"].get<int>();
  previous_.reset();
  best_.reset();
  if (state.contains("previous")) {
    if (!state["previous"].is_number()) return absl::InvalidArgumentError("stop rule: previous");
    previous_ = state["previous"].get<double>();
  }
  if (state.contains("best")) {
    if (!state["best"].is_number()) return absl::InvalidArgumentError("stop rule: best");
    best_ = state["best"].get<double>();
  }
  return OkStatus();
}

double Sigmoid(double z) {
  return z >= 0 ? 1.0 / (1.0 + std::exp(-z)) : std::exp(z) / (1.0 + std::exp(z));
}

}  // namespace consort::fl::internal
