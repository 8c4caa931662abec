#pragma once
// Plaintext logistic regression: the reference trainer that the federated protocols
// (hetero_lr.h) are checked against. Runs on the joined plaintext table in one process.
// Mini-batch gradient descent on the mean log-loss, L2 (added to the gradient) and L1
// (proximal soft-thresholding after each step), learning-rate schedule (constant or
// inverse-time decay per epoch), convergence tolerance on the monitored loss, early stopping
// on a validation split, per-column standardization fitted on the training rows.
// Every random choice (validation split, batch order) comes from `seed`, through the same
// helpers as the federated trainers, so both see the same batches.
// Leaks: everything (reference only). Thread safety: pure functions.

#include <cstdint>
#include <string>
#include <vector>

#include "consort/common/json.h"
#include "consort/common/status.h"

namespace consort::fl {

// Row-major dense matrix of doubles.
struct Matrix {
  size_t rows = 0;
  size_t cols = 0;
  std::vector<double> data;  // rows * cols
  double at(size_t r, size_t c) const { return data[r * cols + c]; }
  // The columns [begin, end) of every row.
  Matrix Columns(size_t begin, size_t end) const;
  // The given rows, in that order.
  Matrix Rows(const std::vector<size_t>& rows) const;
};

enum class LrSchedule { kConstant, kInverseTime };
enum class Standardize { kNone, kZScore, kMinMax };

struct LrParams {
  int epochs = 10;              // maximum number of passes over the training rows (>= 1)
  size_t batch_size = 256;      // 0 = full batch
  double learning_rate = 0.15;  // > 0
  LrSchedule schedule = LrSchedule::kConstant;
  double decay = 0.0;           // inverse-time: lr_e = lr / (1 + decay * e), e = epoch from 0
  double l1 = 0.0, l2 = 0.0;    // >= 0; the intercept is not regularized
  // Stop when |loss_e - loss_{e-1}| < tolerance (0 = off). The monitored loss is the
  // validation log-loss when there is a validation split, else the training log-loss.
  double tolerance = 0.0;
  double validation_fraction = 0.0;  // in [0, 0.5]; rows held out for monitoring
  // Stop after this many epochs without a better validation loss and keep the best weights
  // (0 = off; needs validation_fraction > 0).
  int early_stopping_rounds = 0;
  bool fit_intercept = true;
  Standardize standardize = Standardize::kZScore;
  uint64_t seed = 1;  // validation split and batch order (all parties must agree)
};
// InvalidArgument naming the first bad field.
Status ValidateLrParams(const LrParams& p);
// Reads the fields above from JSON (keys as the field names; "schedule": "constant" |
// "inverse_time"; "standardize": "none" | "zscore" | "minmax"), starting from defaults.
// InvalidArgument naming the field on a wrong type, unknown enum value or bad value.
StatusOr<LrParams> LrParamsFromJson(const Json& j);
Json LrParamsToJson(const LrParams& p);

// Per-column affine map x -> (x - offset) * scale, fitted on the training rows.
struct Scaler {
  std::vector<double> offset, scale;
  static Scaler Fit(const Matrix& x, const std::vector<size_t>& rows, Standardize mode);
  void Apply(Matrix& x) const;  // CHECKs the column count
  Json ToJson() const;
  static StatusOr<Scaler> FromJson(const Json& j, size_t cols);
};

struct LrTrainReport {
  int epochs_run = 0;
  bool converged = false;       // stopped by the tolerance
  bool early_stopped = false;   // stopped by early stopping (best weights kept)
  std::vector<double> monitored_loss;  // per epoch, when monitoring was on
  std::vector<size_t> train_rows, validation_rows;  // the split used (row indices)
};

struct PlainLrModel {
  Scaler scaler;
  std::vector<double> weights;  // one per column
  double intercept = 0;
  LrTrainReport report;
  // Probabilities for raw (unscaled) rows with the training columns.
  std::vector<double> PredictProba(const Matrix& raw) const;
};

// Trains on x (rows x features) with labels in {0, 1}. InvalidArgument on bad params, a
// label other than 0/1, a non-finite feature, or fewer than 2 training rows.
StatusOr<PlainLrModel> TrainPlaintextLr(const Matrix& x, const std::vector<double>& labels,
                                        const LrParams& params);

}  // namespace consort::fl
