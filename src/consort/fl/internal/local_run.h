#pragma once
// Runs both parties of hetero LR in one process, one thread each, over in-memory links (and,
// for kMpc, a dealer thread over in-memory links). For tests and benchmarks.

#include <vector>

#include "consort/fl/hetero_lr.h"

namespace consort::fl::internal {

struct LocalHeteroRun {
  StatusOr<HeteroLrResult> guest = absl::UnknownError("not run");
  StatusOr<HeteroLrResult> host = absl::UnknownError("not run");
  double seconds = 0;
  uint64_t dealer_bytes = 0;  // kMpc: bytes on the dealer links, both directions
};

LocalHeteroRun RunHeteroLrLocal(HeteroLrVariant variant, const Matrix& guest_x,
                                const std::vector<double>& labels, const Matrix& host_x,
                                const LrParams& params, const PaillierOptions& paillier = {},
                                MpcSigmoid sigmoid = MpcSigmoid::kAccurate);

}  // namespace consort::fl::internal
