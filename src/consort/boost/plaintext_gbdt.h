#pragma once
// Plaintext reference GBDT: the same binning (quantile_bins.h), fixed-point gradients, split
// search and level-wise growth with histogram subtraction as SecureBoost (secureboost.h), on
// one party's full feature matrix. SecureBoost's tests check their models against it; the
// boost bench reports both per tree.
// Thread safety: pure function.

#include <span>
#include <vector>

#include "consort/boost/gbdt.h"
#include "consort/boost/quantile_bins.h"

namespace consort::boost {

// Trains on x (rows x features) and 0/1 labels. `train_raw`, when set, receives the final raw
// scores of the training rows. InvalidArgument for bad params, labels or shapes.
StatusOr<GbdtModel> TrainPlaintextGbdt(const FeatureMatrix& x, std::span<const double> labels,
                                       const BoostParams& params,
                                       std::vector<double>* train_raw = nullptr);

}  // namespace consort::boost
