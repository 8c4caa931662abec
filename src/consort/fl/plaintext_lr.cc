#include "consort/fl/plaintext_lr.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "consort/fl/internal/lr_loop.h"
#include "consort/fl/metrics.h"

namespace consort::fl {
namespace {

Status Bad(const std::string& field, const std::string& why) {
  return absl::InvalidArgumentError("lr param '" + field + "': " + why);
}

template <typename T>
Status ReadNumber(const Json& j, const char* key, T* out) {
  if (!j.contains(key)) return OkStatus();
  const Json& v = j.at(key);
  if (!v.is_number()) return Bad(key, "must be a number");
  if constexpr (std::is_integral_v<T>) {
    if (!v.is_number_integer()) return Bad(key, "must be an integer");
    if (std::is_unsigned_v<T> && v.get<int64_t>() < 0 && !v.is_number_unsigned()) {
      return Bad(key, "must be >= 0");
    }
  }
  *out = v.get<T>();
  return OkStatus();
}

}  // namespace

Matrix Matrix::Columns(size_t begin, size_t end) const {
  Matrix m{rows, end - begin, {}};
  m.data.reserve(rows * m.cols);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = begin; c < end; ++c) m.data.push_back(at(r, c));
  }
  return m;
}

Matrix Matrix::Rows(const std::vector<size_t>& idx) const {
  Matrix m{idx.size(), cols, {}};
  m.data.reserve(idx.size() * cols);
  for (size_t r : idx) {
    m.data.insert(m.data.end(), data.begin() + static_cast<std::ptrdiff_t>(r * cols),
                  data.begin() + static_cast<std::ptrdiff_t>((r + 1) * cols));
  }
  return m;
}

Status ValidateLrParams(const LrParams& p) {
  if (p.epochs < 1 || p.epochs > 100000) return Bad("epochs", "must be in [1, 100000]");
  if (!(p.learning_rate > 0) || !std::isfinite(p.learning_rate)) {
    return Bad("learning_rate", "must be > 0");
  }
  if (!(p.decay >= 0) || !std::isfinite(p.decay)) return Bad("decay", "must be >= 0");
  if (!(p.l1 >= 0) || !std::isfinite(p.l1)) return Bad("l1", "must be >= 0");
  if (!(p.l2 >= 0) || !std::isfinite(p.l2)) return Bad("l2", "must be >= 0");
  if (!(p.tolerance >= 0) || !std::isfinite(p.tolerance)) return Bad("tolerance", "must be >= 0");
  if (!(p.validation_fraction >= 0 && p.validation_fraction <= 0.5)) {
    return Bad("validation_fraction", "must be in [0, 0.5]");
  }
  if (p.early_stopping_rounds < 0) return Bad("early_stopping_rounds", "must be >= 0");
  if (p.early_stopping_rounds > 0 && p.validation_fraction == 0) {
    return Bad("early_stopping_rounds", "needs validation_fraction > 0");
  }
  if (p.batch_size > (size_t{1} << 24)) return Bad("batch_size", "must be <= 2^24");
  return OkStatus();
}

StatusOr<LrParams> LrParamsFromJson(const Json& j) {
  if (!j.is_object()) return absl::InvalidArgumentError("lr params must be a JSON object");
  LrParams p;
  CONSORT_RETURN_IF_ERROR(ReadNumber(j, "epochs", &p.epochs));
  CONSORT_RETURN_IF_ERROR(ReadNumber(j, "batch_size", &p.batch_size));
  CONSORT_RETURN_IF_ERROR(ReadNumber(j, "learning_rate", &p.learning_rate));
  CONSORT_RETURN_IF_ERROR(ReadNumber(j, "decay", &p.decay));
  CONSORT_RETURN_IF_ERROR(ReadNumber(j, "l1", &p.l1));
  CONSORT_RETURN_IF_ERROR(ReadNumber(j, "l2", &p.l2));
  CONSORT_RETURN_IF_ERROR(ReadNumber(j, "tolerance", &p.tolerance));
  CONSORT_RETURN_IF_ERROR(ReadNumber(j, "validation_fraction", &p.validation_fraction));
  CONSORT_RETURN_IF_ERROR(ReadNumber(j, "early_stopping_rounds", &p.early_stopping_rounds));
  CONSORT_RETURN_IF_ERROR(ReadNumber(j, "seed", &p.seed));
  if (j.contains("fit_intercept")) {
    if (!j["fit_intercept"].is_boolean()) return Bad("fit_intercept", "must be a boolean");
    p.fit_intercept = j["fit_intercept"].get<bool>();
  }
  if (j.contains("schedule")) {
    const Json& s = j["schedule"];
    if (s == "constant") p.schedule = LrSchedule::kConstant;
    else if (s == "inverse_time") p.schedule = LrSchedule::kInverseTime;
    else return Bad("schedule", "must be \"constant\" or \"inverse_time\"");
  }
  if (j.contains("standardize")) {
    const Json& s = j["standardize"];
    if (s == "none") p.standardize = Standardize::kNone;
    else if (s == "zscore") p.standardize = Standardize::kZScore;
    else if (s == "minmax") p.standardize = Standardize::kMinMax;
    else return Bad("standardize", "must be \"none\", \"zscore\" or \"minmax\"");
  }
  CONSORT_RETURN_IF_ERROR(ValidateLrParams(p));
  return p;
}

Json LrParamsToJson(const LrParams& p) {
  return Json{{"epochs", p.epochs},
              {"batch_size", p.batch_size},
              {"learning_rate", p.learning_rate},
              {"schedule", p.schedule == LrSchedule::kConstant ? "constant" : "inverse_time"},
              {"decay", p.decay},
              {"l1", p.l1},
              {"l2", p.l2},
              {"tolerance", p.tolerance},
              {"validation_fraction", p.validation_fraction},
              {"early_stopping_rounds", p.early_stopping_rounds},
              {"fit_intercept", p.fit_intercept},
              {"standardize", p.standardize == Standardize::kNone    ? "none"
                              : p.standardize == Standardize::kZScore ? "zscore"
                                                                      : "minmax"},
              {"seed", p.seed}};
}

Scaler Scaler::Fit(const Matrix& x, const std::vector<size_t>& rows, Standardize mode) {
  Scaler s;
  s.offset.assign(x.cols, 0.0);
  s.scale.assign(x.cols, 1.0);
  if (mode == Standardize::kNone || rows.empty()) return s;
  for (size_t c = 0; c < x.cols; ++c) {
    if (mode == Standardize::kZScore) {
      double mean = 0;
      for (size_t r : rows) mean += x.at(r, c);
      mean /= static_cast<double>(rows.size());
      double var = 0;
      for (size_t r : rows) var += (x.at(r, c) - mean) * (x.at(r, c) - mean);
      var /= static_cast<double>(rows.size());
      s.offset[c] = mean;
      s.scale[c] = var > 1e-24 ? 1.0 / std::sqrt(var) : 1.0;
    } else {
      double lo = x.at(rows[0], c), hi = lo;
      for (size_t r : rows) {
        lo = std::min(lo, x.at(r, c));
        hi = std::max(hi, x.at(r, c));
      }
      s.offset[c] = lo;
      s.scale[c] = hi - lo > 1e-12 ? 1.0 / (hi - lo) : 1.0;
    }
  }
  return s;
}

void Scaler::Apply(Matrix& x) const {
  CONSORT_CHECK(x.cols == offset.size());
  for (size_t r = 0; r < x.rows; ++r) {
    for (size_t c = 0; c < x.cols; ++c) {
      double& v = x.data[r * x.cols + c];
      v = (v - offset[c]) * scale[c];
    }
  }
}

Json Scaler::ToJson() const { return Json{{"offset", offset}, {"scale", scale}}; }

StatusOr<Scaler> Scaler::FromJson(const Json& j, size_t cols) {
  try {
    Scaler s;
    s.offset = j.at("offset").get<std::vector<double>>();
    s.scale = j.at("scale").get<std::vector<double>>();
    if (s.offset.size() != cols || s.scale.size() != cols) {
      return absl::InvalidArgumentError("scaler: expected " + std::to_string(cols) + " columns");
    }
    return s;
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(std::string("scaler: malformed: ") + e.what());
  }
}

std::vector<double> PlainLrModel::PredictProba(const Matrix& raw) const {
  Matrix x = raw;
  scaler.Apply(x);
  std::vector<double> out(x.rows);
  for (size_t r = 0; r < x.rows; ++r) {
    double z = intercept;
    for (size_t c = 0; c < x.cols; ++c) z += weights[c] * x.at(r, c);
    out[r] = internal::Sigmoid(z);
  }
  return out;
}

StatusOr<PlainLrModel> TrainPlaintextLr(const Matrix& raw, const std::vector<double>& labels,
                                        const LrParams& params) {
  CONSORT_RETURN_IF_ERROR(ValidateLrParams(params));
  if (raw.rows != labels.size() || raw.data.size() != raw.rows * raw.cols) {
    return absl::InvalidArgumentError("plaintext lr: shape mismatch");
  }
  for (double y : labels) {
    if (y != 0.0 && y != 1.0) return absl::InvalidArgumentError("plaintext lr: label not 0/1");
  }
  for (double v : raw.data) {
    if (!std::isfinite(v)) return absl::InvalidArgumentError("plaintext lr: non-finite feature");
  }
  PlainLrModel model;
  internal::Split split = internal::SplitRows(raw.rows, params.validation_fraction, params.seed);
  if (split.train.size() < 2) return absl::InvalidArgumentError("plaintext lr: too few rows");
  model.scaler = Scaler::Fit(raw, split.train, params.standardize);
  Matrix x = raw;
  model.scaler.Apply(x);

  // Parameter vector: features then the intercept.
  const size_t d = x.cols;
  std::vector<double> w(d + 1, 0.0), best_w = w;
  auto score = [&](size_t r) {
    double z = params.fit_intercept ? w[d] : 0.0;
    for (size_t c = 0; c < d; ++c) z += w[c] * x.at(r, c);
    return z;
  };
  internal::StopRule stop(params);
  const std::vector<size_t>& monitor_rows =
      split.validation.empty() ? split.train : split.validation;
  std::vector<double> grad(d + 1);
  for (int epoch = 0; epoch < params.epochs; ++epoch) {
    const double lr = internal::LearningRate(params, epoch);
    for (const auto& batch : internal::EpochBatches(split.train, params.batch_size, params.seed,
                                                    epoch)) {
      std::fill(grad.begin(), grad.end(), 0.0);
      for (size_t r : batch) {
        const double diff = internal::Sigmoid(score(r)) - labels[r];
        for (size_t c = 0; c < d; ++c) grad[c] += diff * x.at(r, c);
        grad[d] += diff;
      }
      if (!params.fit_intercept) grad[d] = 0;
      internal::GradientStep(params, lr, batch.size(), grad, w, /*last_is_intercept=*/true);
    }
    model.report.epochs_run = epoch + 1;
    if (!stop.monitoring()) continue;
    std::vector<double> p, y;
    for (size_t r : monitor_rows) {
      p.push_back(internal::Sigmoid(score(r)));
      y.push_back(labels[r]);
    }
    CONSORT_ASSIGN_OR_RETURN(double loss, LogLoss(p, y));
    model.report.monitored_loss.push_back(loss);
    bool improved = false;
    auto decision = stop.Observe(loss, &improved);
    if (improved) best_w = w;
    if (decision == internal::StopRule::Decision::kEarlyStop) {
      model.report.early_stopped = true;
      w = best_w;
      break;
    }
    if (decision == internal::StopRule::Decision::kConverged) {
      model.report.converged = true;
      break;
    }
  }
  model.weights.assign(w.begin(), w.begin() + static_cast<std::ptrdiff_t>(d));
  model.intercept = params.fit_intercept ? w[d] : 0.0;
  model.report.train_rows = std::move(split.train);
  model.report.validation_rows = std::move(split.validation);
  return model;
}

}  // namespace consort::fl
