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
                                MpcSigmoid sigmoid = MpcSigmoid::kAccurate,
                                const HeteroLrHooks& guest_hooks = {},
                                const HeteroLrHooks& host_hooks = {});

// The guest and two hosts over the three-party replicated backend (three_party.h, no dealer):
// guest = party 0, hosts = parties 1 and 2.
struct LocalThreePartyRun {
  StatusOr<HeteroLrResult> guest = absl::UnknownError("not run");
  std::vector<StatusOr<HeteroLrResult>> hosts;
  double seconds = 0;
};
LocalThreePartyRun RunHeteroLrLocalThreeParty(const Matrix& guest_x,
                                              const std::vector<double>& labels,
                                              const Matrix& host1_x, const Matrix& host2_x,
                                              const LrParams& params,
                                              MpcSigmoid sigmoid = MpcSigmoid::kAccurate);

}  // namespace consort::fl::internal
